"""The root typer app: lists its commands from one table, imports each only when it runs, and turns every error into
one line + exit code (and a JSON error object on stdout under --json)."""

from __future__ import annotations

import importlib
import logging
from difflib import get_close_matches
from typing import Annotated, Any, Literal

import typer
from releng.errors import ReleaseError
from typer import _click as click  # typer vendors click: its commands and usage errors are these classes
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from krel import ui
from krel.logfilter import install_secret_filter, mask
from krel.options import plain_flags
from krel.root import APP_HELP, COMMANDS, LOG_LEVEL, NOMOCK, VERSION
from krel.root import unlisted_commands as _unlisted_commands

log = logging.getLogger("krel")


class KrelGroup(TyperGroup):
    """The one place errors are caught: one red line, exit 1 (2 for usage), the traceback only at debug level.

    typer's own exits pass through; click's usage errors become one line like every other error; anything else (a
    bug, an OS error) still gets one line that names the command, with every secret masked. Commands are loaded
    lazily from COMMANDS.
    """

    _listing = False

    _loaded: dict[str, click.Command]

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        # the root's flags, completion's included (typer adds those after building the group); commands: in _load
        plain_flags(self, recurse=False)
        return super().get_params(ctx)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        """Every command, loaded: for callers that walk the whole tree (tests, docs); a run loads only its own."""
        names = [*COMMANDS, *sorted(_unlisted_commands())]
        found = {name: self.get_command(None, name) for name in names}  # type: ignore[arg-type]
        return {name: command for name, command in found.items() if command is not None}

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._loaded = dict(value)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (_, short) in COMMANDS.items() if short] + sorted(_unlisted_commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is not None and self._listing:
            # `krel --help` and name completion need only the one-line help: no module is imported for them.
            return TyperCommand(cmd_name, help=entry[1], short_help=entry[1], hidden=not entry[1])
        if cmd_name not in self._loaded:
            module = entry[0] if entry else _unlisted_commands().get(cmd_name)
            if module is None:
                return None
            self._loaded.update(_load(module, self.rich_markup_mode))
        return self._loaded.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                exc.message = f"{exc.message.rstrip('.')}; did you mean {' or '.join(matches)}?"
            raise

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        # The root's own options are parsed here, before invoke: a usage error is one line too.
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            _usage_fail(exc, json_mode=False)
            raise  # unreachable: _usage_fail exits

    def invoke(self, ctx: Any) -> Any:
        pending = [*getattr(ctx, "_protected_args", []), *ctx.args]  # invoke consumes them; error lines name them
        ui.json_written(reset=True)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, NoArgsIsHelpError):
            raise
        except UsageError as exc:
            # A usage error can stop parsing before --json is read: the word itself counts then.
            _usage_fail(exc, json_mode=_json_mode(ctx) or "--json" in pending)
        except TyperException:
            raise
        except ReleaseError as exc:
            _fail(str(exc), exc.exit_code, fold=False, json_mode=_json_mode(ctx))
        except Exception as exc:
            _fail(f"{_command_path(self, ctx, pending)}: {_describe(exc)}", 1, json_mode=_json_mode(ctx))


def _describe(exc: Exception) -> str:
    """One line for an error from outside the releng tree."""
    if isinstance(exc, UnicodeDecodeError):
        return f"input is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError):
        return _os_error(exc)
    # the last line of defence (a bug): one line instead of a traceback
    return f"internal error ({type(exc).__name__}: {exc}); rerun with --log-level debug for the traceback"


def _json_mode(ctx: click.Context) -> bool:
    """--json was given somewhere on the command line (krel.options.JsonOpt records it in the shared meta)."""
    return bool(ctx.meta.get(ui.JSON_MODE))


def _load(module_name: str, markup: Any) -> dict[str, click.Command]:
    """Import one command module and return the click commands its `register` adds."""
    module = importlib.import_module(f"krel.commands.{module_name}")
    scratch = typer.Typer(add_completion=False, rich_markup_mode=markup, pretty_exceptions_enable=False)
    module.register(scratch)
    group = typer.main.get_group(scratch)
    return {name: plain_flags(group.commands[name]) for name in group.commands}


def _usage_fail(exc: UsageError, json_mode: bool) -> None:
    """click's usage error (unknown option, missing value, bad choice) as one line, exit 2."""
    path = exc.ctx.command_path if exc.ctx is not None else "krel"
    _fail(f"{path}: {exc.format_message()} (see {path} --help)", 2, json_mode=json_mode)


def _fail(message: str, exit_code: int, fold: bool = True, json_mode: bool = False) -> None:
    """Log the traceback at debug level, print the masked message, exit.

    Text from outside our error tree (exception messages) is folded onto one line; releng errors keep theirs.
    Under --json the same message also goes to stdout as `{"error": ..., "exit_code": ...}` for the CI reading it,
    unless the command already printed its JSON result (a failed job's record): stdout stays one JSON document.
    """
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        log.exception("traceback")
    text = ui.one_line(mask(message)) if fold else mask(message)
    ui.error_line(text)
    if json_mode and not ui.json_written():
        ui.print_json({"error": ui.clean(text), "exit_code": exit_code})
    raise typer.Exit(exit_code) from None


def _os_error(exc: OSError) -> str:
    """`<reason>: <path>` for file errors, the error's own text otherwise."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{reason}: {' -> '.join(paths)}" if paths else reason


def _command_path(group: TyperGroup, ctx: Any, args: list[str]) -> str:
    """`krel <command> [<subcommand>]` from the run's arguments, for naming it in error lines."""
    words = ["krel"]
    command: Any = group
    for arg in args[:2]:
        get = getattr(command, "get_command", None)
        try:
            found = get(ctx, arg) if get is not None else None
        except Exception:  # a command module that fails to import is named by its word alone
            found = None
        if found is None:
            break
        words.append(arg)
        command = found
    return " ".join(words)


app = typer.Typer(
    cls=KrelGroup,
    name="krel",
    help=APP_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


LogLevel = Literal["trace", "debug", "info", "warn", "error"]


def _print_version(value: bool) -> None:
    if value:
        from krel.commands.version import build_info, print_short

        try:
            print_short(build_info())
        except Exception as exc:  # an eager option runs while the root parses, before invoke's error handling
            _fail(f"krel --version: {_describe(exc)}", 1)
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    log_level: Annotated[
        LogLevel,
        typer.Option(*LOG_LEVEL.flags, metavar=LOG_LEVEL.metavar, help=LOG_LEVEL.help),
    ] = "info",
    _version: Annotated[
        bool,
        typer.Option(*VERSION.flags, is_eager=True, callback=_print_version, help=VERSION.help),
    ] = False,
    nomock: Annotated[
        bool, typer.Option(*NOMOCK.flags, help=NOMOCK.help)
    ] = False,
) -> None:
    """krel: cut, stage, release, announce and promote, offline by default.

    Examples:
      krel version
      krel stage --branch release-1.30 --type rc --profile local
    """
    level = {"trace": logging.DEBUG, "warn": logging.WARNING}.get(log_level)
    level = level or logging.getLevelNamesMapping()[log_level.upper()]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO; keep that for debug runs only.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    install_secret_filter()
    if nomock:
        from krel.options import ROOT_NOMOCK  # the shared NomockOpt of every command reads it

        ctx.meta[ROOT_NOMOCK] = True
