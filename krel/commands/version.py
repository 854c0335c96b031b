"""`krel version`: version, git commit and Python."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import releng
import typer

from krel import ui
from krel.options import JsonOpt


def _commit() -> str:
    root = Path(__file__).resolve().parents[2]
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
    info = {"version": releng.__version__, "commit": _commit(), "python": platform.python_version()}
    if json_out:
        ui.print_json(info)
        return
    ui.table("krel", ["field", "value"], list(info.items()))


def register(app: typer.Typer) -> None:
    app.command("version")(version)
