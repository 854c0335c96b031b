"""The CLI edge for commands that talk to registries (promote, backup): shared options, credentials, cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from releng.promo.promote import parse_registry_map
from releng.registry.credentials import Credentials, docker_config_path, env_pair

from krel.options import krel_home

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
        help="PEM bundle of a private CA to trust for registries (besides the system's).",
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
    return Credentials(docker_config_path(os.environ.get("DOCKER_CONFIG"), Path.home()), pair)


def cache_dir() -> Path:
    return krel_home() / "cache" / "registry"


def registry_map(items: list[str] | None) -> dict[str, str]:
    env = [i for i in os.environ.get("KREL_PROMO_REGISTRY_MAP", "").split(",") if i.strip()]
    return parse_registry_map([*env, *(items or [])])
