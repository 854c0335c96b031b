"""The profile's build command as a process: run with no secrets in its environment, its output streamed line by line
as it comes (to the job log and the reporter's live tail), the last lines kept for the error when it fails."""

from __future__ import annotations

import os
import subprocess
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from releng.secrets import SECRET_ENV

FAILURE_TAIL = 20  # lines of build output shown when the build fails (issue 12: the last stderr line was too little)


@dataclass(frozen=True)
class Finished:
    """How the command ended and its last non-blank output lines (stdout and stderr interleaved as printed)."""

    code: int
    tail: tuple[str, ...]

    @property
    def last(self) -> str:
        return self.tail[-1] if self.tail else "no output"


def build_env(version: str, build_version: str) -> dict[str, str]:
    """The build's environment: ours without secrets (its output goes to logs people share), KREL_VERSION set."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(KREL_VERSION=version, KREL_BUILD_VERSION=build_version)
    return env


def run_streamed(command: str, cwd: Path, env: dict[str, str], on_line: Callable[[str], None]) -> Finished:
    """Run command in a shell, calling on_line with each output line as soon as it is printed; OSError if it
    cannot start."""
    tail: deque[str] = deque(maxlen=FAILURE_TAIL)
    with subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            on_line(line)
            if line.strip():
                tail.append(line)
    return Finished(proc.returncode, tuple(tail))
