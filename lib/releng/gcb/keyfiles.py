"""Signing keys handed to a Cloud Build job as Secret Manager values, turned into the key files krel reads.

Cloud Build puts a secret into a step's environment as its value; krel's key loaders take a file ($KREL_SIGNING_KEY,
$KREL_PACKAGES_GPG_KEY_FILE). Inside the job, `python3 -m releng.gcb.keyfiles COMMAND…` writes each value named in
KEYS to a 0600 file in a 0700 directory of its own, runs COMMAND with the file variable pointing at it (the value
itself left out of its environment), and removes the directory when COMMAND ends. A profile maps its secrets to
these variables in `gcb.secrets` (`release-signing-key=KREL_SIGNING_KEY_DATA`); passwords map straight to
KREL_SIGNING_KEY_PASSWORD and KREL_PACKAGES_GPG_PASSPHRASE, which krel reads as values already.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType


@dataclass(frozen=True)
class KeyVariable:
    """A key's value variable (the secret's env in gcb.secrets), the file variable krel reads, the file's name."""

    data_env: str
    path_env: str
    file_name: str


SIGNING_KEY = KeyVariable("KREL_SIGNING_KEY_DATA", "KREL_SIGNING_KEY", "signing.key")  # PEM (releng.signing.keys)
PACKAGES_KEY = KeyVariable("KREL_PACKAGES_GPG_KEY_DATA", "KREL_PACKAGES_GPG_KEY_FILE", "packages.asc")  # armoured
KEYS = (SIGNING_KEY, PACKAGES_KEY)


@contextmanager
def key_files(environ: Mapping[str, str], scratch: Path | None = None) -> Iterator[dict[str, str]]:
    """environ with each key value written to a file and replaced by the file's path; the files are removed after."""
    present = [k for k in KEYS if environ.get(k.data_env)]
    env = {name: value for name, value in environ.items() if name not in {k.data_env for k in KEYS}}
    if not present:
        yield env
        return
    directory = Path(tempfile.mkdtemp(prefix="krel-keys-", dir=scratch))  # 0700, ours alone
    try:
        for key in present:
            path = directory / key.file_name
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(_with_final_newline(environ[key.data_env]))
            env[key.path_env] = str(path)
        yield env
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _with_final_newline(text: str) -> str:
    # Secret Manager keeps what was uploaded; an armoured block without its last newline is still read by gpg,
    # but a PEM reader is stricter about the END line.
    return text if text.endswith("\n") else text + "\n"


def run(command: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run command with the key files in place; its exit status (128+N when a signal ended it, as a shell says)."""
    with key_files(environ) as env:
        child = subprocess.Popen(list(command), env=env)

        def forward(signum: int, _frame: FrameType | None) -> None:
            child.send_signal(signum)  # a cancelled build stops krel, and the key files still go

        previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            code = child.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: python -m releng.gcb.keyfiles COMMAND [ARG…]\n")
        return 2
    try:
        return run(argv[1:], os.environ)
    except OSError as exc:
        sys.stderr.write(f"keyfiles: cannot run {argv[1]!r}: {exc.strerror}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
