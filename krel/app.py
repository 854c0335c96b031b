"""The root typer app: discovers one module per subcommand and turns releng errors into one line + exit code."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Annotated, Any

import typer
from releng.errors import ReleaseError
from typer.core import TyperGroup

from krel import ui
from krel.logfilter import install_secret_filter

log = logging.getLogger("krel")


class KrelGroup(TyperGroup):
    """Catches ReleaseError once, at the top: one red line, exit 1 (2 for usage), traceback only in debug."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ReleaseError as exc:
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                log.exception("traceback")
            ui.error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=KrelGroup,
    name="krel",
    help="krel: release-engineering toolbox. Mock is the default everywhere; --nomock targets production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    log_level: Annotated[
        str, typer.Option("--log-level", "-l", help="trace, debug, info, warn, error (default info).")
    ] = "info",
) -> None:
    """krel: cut, stage, release, announce and promote, offline by default.

    Examples:
      krel version
      krel stage --branch release-1.30 --type rc --profile local
    """
    level = {"trace": logging.DEBUG, "warn": logging.WARNING}.get(log_level.lower())
    level = level or logging.getLevelNamesMapping().get(log_level.upper())
    if level is None:
        raise typer.BadParameter(f"unknown log level {log_level!r}", param_hint="--log-level")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO; keep that for debug runs only.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    install_secret_filter()


def _register_commands() -> None:
    import krel.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"krel.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()
