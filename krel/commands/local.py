"""`krel local up|down|status`: the local services the `local` profile uses, kept running between commands."""

from __future__ import annotations

import dataclasses
import os

import typer
from releng import localservices
from releng.localservices import ServiceStatus

from krel import ui
from krel.options import JsonOpt, krel_home

local_app = typer.Typer(
    name="local",
    help=(
        "Start, stop and show the local services of the `local` profile (the loopback registry at "
        f"KREL_LOCAL_REGISTRY, default {localservices.DEFAULT_REGISTRY}); data, log and pid under "
        "$KREL_HOME/registry.\n\n"
        "Examples:\n\n"
        "  krel local up\n\n"
        "  KREL_LOCAL_REGISTRY=127.0.0.1:5001 krel local up\n\n"
        "  krel local status --json\n\n"
        "  krel local down"
    ),
    no_args_is_help=True,
)


def _address() -> str:
    return os.environ.get("KREL_LOCAL_REGISTRY") or localservices.DEFAULT_REGISTRY


def _show(services: list[ServiceStatus], json_out: bool) -> None:
    if json_out:
        ui.print_json([dataclasses.asdict(s) for s in services])
        return
    ui.table(
        "local services",
        ["service", "state", "address", "pid", "data", "log"],
        [[s.name, s.state, s.address, s.pid or "-", s.data_dir, s.log] for s in services],
    )


@local_app.command("up")
def up(json_out: JsonOpt = False) -> None:
    """Start the local registry (idempotent); it keeps running after this command.

    Example: krel local up
    """
    _show(localservices.up(krel_home(), _address()), json_out)


@local_app.command("down")
def down(json_out: JsonOpt = False) -> None:
    """Stop the local registry (idempotent); its images stay for the next `krel local up`.

    Example: krel local down
    """
    _show(localservices.down(krel_home(), _address()), json_out)


@local_app.command("status")
def status(json_out: JsonOpt = False) -> None:
    """Show whether each local service runs, where, and its data and log.

    Example: krel local status --json
    """
    _show(localservices.status(krel_home(), _address()), json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
