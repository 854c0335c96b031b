"""Options shared by several commands, and the edge where the environment is read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from releng.profile import Profile, load_profile

ProfileOpt = Annotated[
    str, typer.Option("--profile", help="Release profile: a built-in name (kubernetes, local) or a TOML path.")
]
NomockOpt = Annotated[bool, typer.Option("--nomock", help="Target production (default: mock targets).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Answer yes to confirmations (needed without a TTY).")]

DEFAULT_PROFILE = os.environ.get("KREL_PROFILE", "local")


def krel_home() -> Path:
    """KREL_HOME, default ~/.krel: where the local profile keeps buckets, jobs, caches and the outbox."""
    return Path(os.environ.get("KREL_HOME") or Path.home() / ".krel").expanduser().resolve()


def profile_variables() -> dict[str, str]:
    return {
        "krel_home": str(krel_home()),
        "local_registry": os.environ.get("KREL_LOCAL_REGISTRY", "127.0.0.1:5000"),
    }


def open_profile(name: str) -> Profile:
    """Load the profile named on the command line with this machine's placeholders."""
    return load_profile(name, profile_variables())
