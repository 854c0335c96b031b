"""The root typer app: discovers one module per subcommand and turns every error into one line + exit code."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Annotated, Any

import typer
from releng.errors import ReleaseError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from krel import ui
from krel.logfilter import install_secret_filter, mask

log = logging.getLogger("krel")


class KrelGroup(TyperGroup):
    """The one place errors are caught: one red line, exit 1 (2 for usage), the traceback only at debug level.

    typer's own exits and usage errors pass through; anything else (a bug, an OS error) still gets one line that
    names the command, with every secret masked.
    """

    def invoke(self, ctx: Any) -> Any:
        command = _command_path(self, ctx)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except ReleaseError as exc:
            _fail(str(exc), exc.exit_code, fold=False)
        except UnicodeDecodeError as exc:
            _fail(f"{command}: input is not UTF-8 text ({exc.reason} at byte {exc.start})", 1)
        except OSError as exc:
            _fail(f"{command}: {_os_error(exc)}", 1)
        except Exception as exc:  # the last line of defence: one line instead of a traceback
            _fail(
                f"{command}: internal error ({type(exc).__name__}: {exc}); "
                "rerun with --log-level debug for the traceback",
                1,
            )


def _fail(message: str, exit_code: int, fold: bool = True) -> None:
    """Log the traceback at debug level, print the masked message, exit.

    Text from outside our error tree (exception messages) is folded onto one line; releng errors keep theirs.
    """
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        log.exception("traceback")
    ui.error_line(ui.one_line(mask(message)) if fold else mask(message))
    raise typer.Exit(exit_code) from None


def _os_error(exc: OSError) -> str:
    """`<reason>: <path>` for file errors, the error's own text otherwise."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{reason}: {' -> '.join(paths)}" if paths else reason


def _command_path(group: TyperGroup, ctx: Any) -> str:
    """`krel <command> [<subcommand>]` from the arguments still to be parsed, for naming it in error lines."""
    words = ["krel"]
    args = [*getattr(ctx, "_protected_args", []), *ctx.args]
    command: Any = group
    for arg in args[:2]:
        get = getattr(command, "get_command", None)
        found = get(ctx, arg) if get is not None else None
        if found is None:
            break
        words.append(arg)
        command = found
    return " ".join(words)


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
