"""The CLI edge for commands that talk to registries (promote, backup): shared options, credentials, cache."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from releng.promo.promote import parse_registry_map
from releng.registry.credentials import Credentials, docker_config_path, env_pair

from krel import ui
from krel.options import krel_home, open_profile

RegistryMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--registry-map", metavar="FROM=TO",
        help="Read and write registry names starting with FROM at TO instead (repeatable), "
        "e.g. gcr.io/k8s-cip-test-prod=127.0.0.1:5001/prod. Also KREL_PROMO_REGISTRY_MAP (comma-separated).",
    ),
]
ThreadsOpt = Annotated[int, typer.Option(
    "--threads", metavar="N", min=1,
    help="Parallel registry requests and copies.",
)]
RateOpt = Annotated[
    float, typer.Option(
        "--rate", metavar="RPS", min=0.1,
        help="Requests per second to each registry host, shared by all threads.",
    )
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file", metavar="FILE",
        help="PEM bundle of a private CA to trust for registries (besides the system's); default: the "
        "profile's nomock.registry_ca.",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Re-read every tag instead of trusting the inventory cache ($KREL_HOME/cache/registry), and stop if "
        "a cached production tag moved.",
    ),
]
MAX_ROWS = 500  # plan rows shown on a terminal; --json has them all


def credentials() -> Credentials:
    # Read once, at the edge; the library only sees values.
    pair = env_pair(os.environ.get("KREL_REGISTRY_USERNAME"), os.environ.get("KREL_REGISTRY_PASSWORD"),
                    os.environ.get("KREL_REGISTRY_HOST"))
    return Credentials(docker_config_path(os.environ.get("DOCKER_CONFIG"), Path.home()), pair,
                       iam_endpoint=os.environ.get("KREL_IAM_CREDENTIALS_ENDPOINT") or None)


def ca_file(option: Path | None, profile: str) -> Path | None:
    """--ca-file, else the CA bundle the profile's nomock targets name: promote, snapshot and backup read and write
    the production registries the manifests and paths name."""
    if option is not None:
        return option
    loaded = open_profile(profile)
    return loaded.registry_ca_file(loaded.nomock)


def cache_dir() -> Path:
    return krel_home() / "cache" / "registry"


def registry_map(items: list[str] | None) -> dict[str, str]:
    env = [i for i in os.environ.get("KREL_PROMO_REGISTRY_MAP", "").split(",") if i.strip()]
    return parse_registry_map([*env, *(items or [])])


class RunStates:
    """Where each planned copy stands after a run: FAILED, done, or planned (a dry run, or a run that stopped)."""

    def __init__(self, failed: Iterable[object], done: Iterable[object]) -> None:
        self._failed = {id(item) for item in failed}
        self._done = {id(item) for item in done}

    def of(self, item: object) -> str:
        return "FAILED" if id(item) in self._failed else "done" if id(item) in self._done else "planned"


def show_plan(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], summary: str, hint: str, *, records: bool
) -> None:
    """A copy plan: its rows (MAX_ROWS of them; --json has all), the summary line, and `hint` when there is one.

    records: off a terminal each row is one bare tab-separated record on stdout and the notes go to stderr (backup);
    otherwise a table with a header line and the notes on stdout (promote).
    """
    out = ui.err_console if records else ui.console
    if rows:
        (ui.records if records else ui.table)(title, columns, rows[:MAX_ROWS])
        if len(rows) > MAX_ROWS:
            out.print(f"... and {len(rows) - MAX_ROWS} more rows (use --json for all)", markup=False)
    out.print(summary, markup=False)
    if hint:
        out.print(hint, markup=False)
