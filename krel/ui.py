"""Everything rich: consoles, step headers, progress bars, tables, prompts; honours NO_COLOR and CI."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from releng.errors import UsageError
from rich.console import Console
from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:  # rich.progress and rich.table are imported where drawn: every command starts faster without them
    from rich.progress import Progress, TaskID

# Whole escape sequences first (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, two-byte `ESC x`), then every other
# control character: C0 except tab and newline (CR rewrites the line), DEL, and C1 (0x9b is a one-byte CSI).
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """Text safe for a terminal: escape sequences and control characters of untrusted text removed."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", str(value)))


class _SafeConsole(Console):
    """A Console that cleans every printed string and, unless a caller asks, reads no markup or emoji codes in it.

    Untrusted text (PR bodies, branch names, server replies) meets the terminal here: a `[/x]` in a build version
    must not be read as a style tag, an ESC from a PR body must not reach the terminal.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(clean(o) if isinstance(o, str) else o for o in objects), **kwargs)


def _console(stderr: bool) -> Console:
    ci = os.environ.get("CI", "").lower() == "true"
    # rich honours NO_COLOR itself; in CI there is no terminal to animate.
    return _SafeConsole(
        stderr=stderr,
        highlight=False,
        soft_wrap=True,
        markup=False,
        emoji=False,
        force_interactive=False if ci else None,
    )


# The key under which `--json` is remembered in click's context meta (shared by every context of one run).
JSON_MODE = "krel.json"

console = _console(stderr=False)
err_console = _console(stderr=True)


def interactive() -> bool:
    """A person is at the keyboard: stdin and stdout are TTYs and CI is not set."""
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("CI", "").lower() != "true"


_json_written = False  # this command printed its JSON document (stdout holds exactly one)


def print_json(data: Any) -> None:
    """Machine-readable output for CI: plain JSON on stdout, never styled."""
    global _json_written
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
    _json_written = True


def json_written(reset: bool = False) -> bool:
    """Whether a JSON document went to stdout since the last reset (the root resets it per command)."""
    global _json_written
    written = _json_written
    if reset:
        _json_written = False
    return written


def one_line(message: str) -> str:
    """A message as one clean line: control characters removed, line breaks folded into spaces."""
    return " ".join(clean(message).split())


def error_line(message: str) -> None:
    """`error: <message>` in red; the message is shown as clean text, never read as markup.

    A releng error keeps its own line breaks (the promoter lists one `file:line: problem` per line).
    """
    err_console.print(Text.assemble(("error:", "bold red"), " ", clean(message)), highlight=False)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; elsewhere (pipes, CI logs) TSV: the column names, then one record per line.

    Off a terminal rich would force 80 columns and fold digests, ids and paths mid-token; a tab-separated record
    never wraps and `cut -f` reads it.
    """
    if not console.is_terminal:
        _tsv(columns)
        for r in rows:
            _tsv(r)
        return
    from rich.table import Table

    # Cells are Text: rich would read a str cell as markup (and a `[/x]` in it as a broken tag).
    t = Table(title=Text(clean(title)), show_lines=False)
    for c in columns:
        t.add_column(Text(clean(c)), overflow="fold")
    for r in rows:
        t.add_row(*[Text(clean(v)) for v in r])
    console.print(t)


def records(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; elsewhere (pipes, CI logs) one tab-separated record per line, for grep and cut."""
    if console.is_terminal:
        table(title, columns, rows)
        return
    for r in rows:
        _tsv(r)


def _tsv(cells: Sequence[Any]) -> None:
    """One tab-separated line on stdout (written directly: rich would expand the tabs); tabs and line breaks inside a
    cell become spaces so a record stays one line."""
    sys.stdout.write("\t".join(" ".join(clean(v).replace("\t", " ").splitlines()) for v in cells) + "\n")
    sys.stdout.flush()


# Cloud Build (and the local runner, which writes the same log) starts every line with its step.
_STEP_PREFIX = re.compile(r'Step #\d+(?: - "[^"\n]*")?: ')


class JobLog:
    """A job's log as it streams in, printed line by line and cleaned; a record row (a tab-separated line of a table
    the job printed) loses the `Step #N - "id": ` prefix, so a pipe reading the stream gets records `cut -f` reads."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._partial = ""  # a line the runner has not finished yet

    def write(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.out.write(clean(record_row(line)) + "\n")
        self.out.flush()

    def close(self) -> None:
        """Print a last line that had no line break."""
        if self._partial:
            self.out.write(clean(record_row(self._partial)) + "\n")
            self.out.flush()
            self._partial = ""


def record_row(line: str) -> str:
    """A log line without the step prefix when what follows is a record (has a tab); any other line as it is."""
    prefix = _STEP_PREFIX.match(line)
    if prefix is not None and "\t" in line[prefix.end() :]:
        return line[prefix.end() :]
    return line


def confirm(question: str, yes: bool, attempts: int = 3) -> bool:
    """yes/no prompt on a TTY (up to `attempts` tries); without a TTY only --yes confirms."""
    if yes:
        return True
    if not interactive():
        raise UsageError(f"{question!r} needs an answer: pass --yes to confirm when not on a terminal")
    for _ in range(attempts):
        answer = console.input(f"{question} (yes/no) ").strip().lower()
        if answer in ("yes", "y"):
            return True
        if answer in ("no", "n"):
            return False
    return False


class RichReporter:
    """The releng Reporter rendered with rich: numbered step headers and one progress bar per task."""

    def __init__(self, job: str = "", quiet: bool = False) -> None:
        self.job = job
        self.quiet = quiet
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._tails: dict[str, TaskID] = {}

    def step(self, index: int, total: int, title: str) -> None:
        self._end_tails()
        if not self.quiet:
            header = Text.assemble((f"[step {index}/{total}]", "bold"), " ", one_line(title))
            err_console.rule(header, align="left")

    def info(self, message: str) -> None:
        if not self.quiet:
            err_console.print(message, markup=False)

    def progress(self, task: str, done: int, total: int) -> None:
        if self.quiet or self._progress is None:
            return
        if task not in self._tasks:
            # The progress column reads markup: task names (file names) are escaped.
            self._tasks[task] = self._progress.add_task(escape(one_line(task)), total=total)
        self._progress.update(self._tasks[task], completed=done, total=total)

    def output(self, task: str, line: str) -> None:
        """A live tail on a TTY: the command's last line with the time since its first; the job log has them all."""
        if self.quiet or self._progress is None or not line.strip():
            return
        text = escape(f"{one_line(task)}: {one_line(line)}"[:120])
        if task not in self._tails:
            self._tails[task] = self._progress.add_task(text, total=None, tail=True)
        self._progress.update(self._tails[task], description=text)

    def _end_tails(self) -> None:
        if self._progress is not None:
            for task in self._tails.values():
                self._progress.remove_task(task)
        self._tails.clear()

    @contextmanager
    def live(self, bytes_mode: bool = False) -> Iterator[RichReporter]:
        if self.quiet or not err_console.is_terminal:
            # No bar to draw in CI or a pipe; a Live display would still leave a stray blank line there.
            yield self
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        counts = DownloadColumn() if bytes_mode else TextColumn("{task.completed}/{task.total}")
        # a command's live tail (output) has no count or end: its elapsed time instead
        columns.append(_either(counts, TimeElapsedColumn()))
        columns.append(_either(TimeRemainingColumn(), TextColumn("")))
        with Progress(*columns, console=err_console, transient=True, disable=self.quiet) as p:
            self._progress = p
            try:
                yield self
            finally:
                self._progress = None
                self._tasks.clear()
                self._tails.clear()


def _either(bar: Any, tail: Any) -> Any:
    """A progress column drawn by `bar` for progress tasks and by `tail` for a command's live tail."""
    from rich.progress import ProgressColumn, Task

    class Either(ProgressColumn):
        def render(self, task: Task) -> Any:
            return (tail if task.fields.get("tail") else bar).render(task)

    return Either()
