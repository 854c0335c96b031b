"""Entry point: `krel` and `python -m krel`.

`krel --help`, `krel version` and `krel --version` are answered here without building the typer app: importing
typer and its help renderer costs more than the 1.5x of a bare `import typer, rich` that issue 12 allows. The help is
drawn from krel/root.py, the data app.py builds typer's from, in typer's layout; the version by the version command's
own functions. Every other argv takes the normal route, and so do these when KREL_NO_FASTPATH is set or an
environment variable changes what typer would do. tests/unit/test_startup_fastpath.py holds the two routes equal.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from krel import root

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.highlighter import RegexHighlighter
    from rich.text import Text

FASTPATH_OFF = "KREL_NO_FASTPATH"
_MAX_COLUMNS = 10_000  # rich pads every line to the width: a larger one is a mistake, not a terminal
# Completion mode (typer reads `_<PROG>_COMPLETE` whatever the argv), click's plain help instead of rich, and
# completion options that take a shell name: typer answers those differently, so they take the normal route.
_TYPER_MODES = ("_KREL_COMPLETE", "TYPER_USE_RICH", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")

# typer.rich_utils' look, for the one page drawn here (typer 0.29: its STYLE_* constants and highlighters).
_THEME = {"option": "bold cyan", "switch": "bold green", "negative_option": "bold magenta",
          "negative_switch": "bold red", "types": "bold yellow", "types_sep": "dim", "usage": "yellow"}
_OPTION_MARKS = [r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])", r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
                 r"(?P<types>\<[^\>]+\>)", r"(?P<usage>Usage: )"]
_TYPE_MARKS = [r"^(?P<types_sep>(\[|<))", r"(?P<types_sep>\|)", r"(?P<types_sep>(\]|>))(\.\.\.)?$"]


def main() -> None:
    _check_terminal_width()
    if not _answered(sys.argv[1:]):
        from krel.app import app  # the root group turns releng errors into one line and exit code 1/2

        app(prog_name="krel")


def _check_terminal_width() -> None:
    """TERMINAL_WIDTH sets the help's width (typer's rule): a value that is not a number of columns would crash
    typer's help with a traceback, or draw it in no columns at all; one line and exit 2 instead, on either route."""
    value = os.environ.get("TERMINAL_WIDTH")
    if value and _columns(value) is None:
        from krel import ui

        ui.error_line(f"krel: TERMINAL_WIDTH={value!r} is not a number of columns (1 to {_MAX_COLUMNS})")
        sys.exit(2)


def _columns(value: str) -> int | None:
    """A width as typer reads it (int()), if it is a usable one."""
    try:
        width = int(value)
    except ValueError:
        return None
    return width if 0 < width <= _MAX_COLUMNS else None


def _answered(args: list[str]) -> bool:
    """Answer the three cheap questions directly; False sends the argv down the normal route."""
    if any(name in os.environ for name in (FASTPATH_OFF, *_TYPER_MODES)):
        return False
    if args == ["--help"]:
        return _print_help()
    if args in (["version"], ["--version"]):
        return _print_version(short=args[0] == "--version")
    return False


def _print_version(short: bool) -> bool:
    from krel.commands import version

    try:
        info = version.build_info()
    except Exception:  # the normal route reports it as one line, the same way as every other error
        return False
    (version.print_short if short else version.show)(info)
    return True


def _print_help() -> bool:
    """typer's top-level help (usage, help text, Options, Commands) from the same tables; rich only."""
    if root.unlisted_commands():  # a module the table does not name: its help is in the module, so typer draws it
        return False
    from rich.align import Align
    from rich.console import Console, Group
    from rich.padding import Padding
    from rich.theme import Theme

    marks = _highlighter(_OPTION_MARKS)
    console = Console(theme=Theme(_THEME), highlighter=marks, color_system="auto", force_terminal=_force_terminal(),
                      width=_columns(os.environ.get("TERMINAL_WIDTH", "")))
    console.print(Padding(marks(root.USAGE), 1), style="bold")
    console.print(Padding(Align(Group(*_help_text(marks)), pad=False), (0, 1, 1, 1)))
    console.print(_options_panel(marks))
    console.print(_commands_panel(marks))
    sys.stdout.write("\n")  # click echoes the (empty) plain help after typer's panels
    return True


def _force_terminal() -> bool | None:
    """typer's rule: colour forced by GITHUB_ACTIONS, FORCE_COLOR or PY_COLORS, unless _TYPER_FORCE_DISABLE_TERMINAL."""
    if os.environ.get("_TYPER_FORCE_DISABLE_TERMINAL"):
        return False
    return True if any(os.environ.get(n) for n in ("GITHUB_ACTIONS", "FORCE_COLOR", "PY_COLORS")) else None


def _highlighter(patterns: list[str]) -> RegexHighlighter:
    from rich.highlighter import RegexHighlighter

    class Marks(RegexHighlighter):
        highlights = patterns

    return Marks()


def _markup(text: str, marks: RegexHighlighter, style: str = "") -> Text:
    """A help text as typer shows it: rich markup read, options and <placeholders> highlighted.

    No `:name:` emoji codes (loading rich's emoji table alone costs a tenth of the budget): typer would replace them,
    and the test that compares the two routes byte for byte fails if a help text ever holds one.
    """
    from rich.text import Text

    return marks(Text.from_markup(text, style=style, emoji=False))


def _help_text(marks: RegexHighlighter) -> list[RenderableType]:
    """The first paragraph of the app's help as is, the rest dimmed (typer's rule)."""
    from rich.text import Text

    first, *rest = root.APP_HELP.split("\n\n")
    parts: list[RenderableType] = [_markup(first.replace("\n", " ").strip(), marks)]
    if rest:
        parts += [Text(""), _markup("\n\n".join(rest), marks, style="dim")]
    return parts


def _options_panel(marks: RegexHighlighter) -> RenderableType:
    from rich.columns import Columns
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    types = _highlighter(_TYPE_MARKS)
    table = Table(highlight=True, show_header=False, expand=True, box=None, show_lines=False, leading=0,
                  pad_edge=False, padding=(0, 1))
    for option in root.OPTIONS:
        longs = ",".join(f for f in option.flags if f.startswith("--"))
        shorts = ",".join(f for f in option.flags if not f.startswith("--"))
        cells: list[RenderableType] = [_markup(option.help, marks)]
        if option.default is not None:
            cells.append(Text(f"[default: {option.default}]", style="dim"))
        # typer's row: long flags, short flags, the `--no-x` forms (none at the root), value placeholder, help
        table.add_row(marks(longs), marks(shorts), Text(""), Text(""),
                      types(Text(option.metavar, style="bold yellow", overflow="fold")), Columns(cells))
    return Panel(table, border_style="dim", title=Text("Options"), title_align="left")


def _commands_panel(marks: RegexHighlighter) -> RenderableType:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    shown = [(name, short) for name, (_, short) in root.COMMANDS.items() if short]
    table = Table(highlight=False, show_header=False, expand=True, box=None, show_lines=False, leading=0,
                  pad_edge=False, padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True, width=max(len(name) for name, _ in shown))
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for name, short in shown:
        table.add_row(Text(name), _markup(short.strip(), marks))
    return Panel(table, border_style="dim", title=Text("Commands"), title_align="left")


if __name__ == "__main__":
    sys.exit(main())
