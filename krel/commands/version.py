"""`krel version`: version, git commit and Python. Importing this module loads neither typer nor any library (the
command is declared in `register`), so the fast path in krel/__main__.py answers `krel version` and `krel --version`
with these same functions."""

import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import releng

from krel import ui

if TYPE_CHECKING:
    import typer


def build_info() -> dict[str, str]:
    """krel's version, the commit it was built from, and this Python."""
    return {"version": releng.__version__, "commit": _commit(), "python": platform.python_version()}


def _commit() -> str:
    """The commit a wheel was built from (krel/_build_info.py, written by setup.py), else the checkout's HEAD."""
    try:
        from krel._build_info import COMMIT  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _checkout_commit()
    return str(COMMIT) or "unknown"


def _checkout_commit() -> str:
    # Only the checkout's own repository: an installed copy inside some other repository must not report that one.
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return "unknown"
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def show(info: dict[str, str], json_out: bool = False) -> None:
    """`krel version`: the build info as JSON, a table on a terminal, TSV elsewhere."""
    if json_out:
        ui.print_json(info)
        return
    ui.table("krel", ["field", "value"], list(info.items()))


def print_short(info: dict[str, str]) -> None:
    """`krel --version`: one line."""
    ui.console.out(f"krel {info['version']} (commit {info['commit']}, Python {info['python']})", highlight=False)


def register(app: "typer.Typer") -> None:
    # typer and the shared options are imported here, when the command is built: no `from __future__ import
    # annotations` in this module, so the annotation below is evaluated now and typer reads the option from it.
    from krel.options import JsonOpt

    def version(json_out: JsonOpt = False) -> None:
        """Print krel's version, git commit and Python version.

        Example: krel version --json
        """
        show(build_info(), json_out)

    app.command("version")(version)
