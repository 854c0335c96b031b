"""The package tools (dpkg-deb, rpmbuild, rpmsign, apt-ftparchive, createrepo_c, gpg), run with a fixed environment:
no user macros or config (HOME is a scratch dir), C locale, UTC; a failure is one line naming the tool."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from releng.errors import ReleaseError

_TIMEOUT_S = 300
# apt package of each tool, for the error that says what to install
PROVIDED_BY = {"dpkg-deb": "dpkg", "rpmbuild": "rpm", "rpmsign": "rpm", "apt-ftparchive": "apt-utils",
               "createrepo_c": "createrepo-c", "gpg": "gnupg", "gpgconf": "gnupg", "rpm": "rpm"}


class ToolError(ReleaseError):
    """A package tool is missing or failed."""

    @classmethod
    def failed(cls, argv: list[str], output: str) -> ToolError:
        lines = [line for line in output.strip().splitlines() if line.strip()]
        tail = lines[-1] if lines else "no output"
        return cls(f"{argv[0]} failed: {tail}")


def which(tool: str) -> str:
    """The tool's path; ToolError naming the Debian package to install when it is missing."""
    found = shutil.which(tool)
    if found is None:
        raise ToolError(f"{tool} not found: install the Debian package {PROVIDED_BY.get(tool, tool)}")
    return found


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, home: Path | None = None,
        stdin: bytes | None = None) -> bytes:
    """Run one tool, return its stdout; ToolError with the last line of its output on failure."""
    full = [which(argv[0]), *argv[1:]]
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    if home is not None:
        base["HOME"] = str(home)
    try:
        proc = subprocess.run(full, cwd=cwd, env={**base, **(env or {})}, input=stdin if stdin is not None else b"",
                              capture_output=True, check=False, timeout=_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"{argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise ToolError.failed(argv, (proc.stderr or proc.stdout).decode(errors="replace"))
    return proc.stdout
