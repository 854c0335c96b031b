"""`krel version`: version, git commit and Python (kept light: `krel version` and `krel --version` load no library)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import releng
import typer

from krel import ui
from krel.options import JsonOpt


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


def version(json_out: JsonOpt = False) -> None:
    """Print krel's version, git commit and Python version.

    Example: krel version --json
    """
    info = build_info()
    if json_out:
        ui.print_json(info)
        return
    ui.table("krel", ["field", "value"], list(info.items()))


def register(app: typer.Typer) -> None:
    app.command("version")(version)
