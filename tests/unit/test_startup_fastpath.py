"""The startup fast path (krel/__main__.py): `krel --help`, `krel version` and `krel --version` without typer.

Its help must be typer's, byte for byte, in every mode the environment selects (pipe, colour, NO_COLOR, a TTY, the
widths typer and rich read); every other argv and every environment that changes what typer does must take the
normal route; a bad TERMINAL_WIDTH is one line and exit 2 on either route.
"""

from __future__ import annotations

import os
import platform
import pty
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import get_args

import pytest
import releng

import krel.__main__ as entry
from krel import root
from krel.commands import version

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Everything that steers typer's or rich's rendering, or the route: each case sets what it needs on a clean slate.
STEERING = ("CI", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "TERMINAL_WIDTH",
            "_TYPER_FORCE_DISABLE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "TYPER_USE_RICH",
            entry.FASTPATH_OFF, "_KREL_COMPLETE", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in STEERING}, **extra}


def _run(argv: list[str], extra: dict[str, str], tty: bool = False) -> tuple[int, bytes, bytes]:
    """`python -m krel ARGV`: exit code, stdout (read through a pseudo-terminal when tty), stderr."""
    command = [sys.executable, "-m", "krel", *argv]
    if not tty:
        done = subprocess.run(command, cwd=ROOT, env=_env(extra), capture_output=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # read while the child writes: a full pty buffer would block it
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        child = subprocess.run(command, cwd=ROOT, env=_env(extra), stdout=follower, stderr=subprocess.PIPE,
                               timeout=120)
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    return child.returncode, b"".join(chunks), child.stderr


# Each mode the environment can select; the fast route's page must be the normal route's, byte for byte.
HELP_MODES = {
    "pipe-120-columns": ({"CI": "true", "COLUMNS": "120"}, False),
    "pipe-forced-colour-terminal-width": ({"FORCE_COLOR": "1", "TERMINAL_WIDTH": "76", "COLUMNS": "200"}, False),
    "tty-colour": ({"COLUMNS": "110"}, True),
    "tty-no-color-beats-github-actions": ({"GITHUB_ACTIONS": "true", "NO_COLOR": "1", "COLUMNS": "90"}, True),
    "tty-typer-terminal-disabled": ({"_TYPER_FORCE_DISABLE_TERMINAL": "1", "PY_COLORS": "1", "COLUMNS": "100"}, True),
}


@pytest.mark.parametrize(("extra", "tty"), list(HELP_MODES.values()), ids=list(HELP_MODES))
def test_fast_help_is_typers_help(extra: dict[str, str], tty: bool) -> None:
    with ThreadPoolExecutor(2) as pool:  # side by side: the two routes see the same machine
        fast_run = pool.submit(_run, ["--help"], extra, tty)
        typer_run = pool.submit(_run, ["--help"], {**extra, entry.FASTPATH_OFF: "1"}, tty)
        fast, typer_page = fast_run.result(), typer_run.result()
    assert fast[0] == typer_page[0] == 0, (fast[2], typer_page[2])
    assert fast[1] == typer_page[1], "\n" + fast[1].decode(errors="replace") + typer_page[1].decode(errors="replace")
    page = ANSI.sub("", fast[1].decode())  # and the page carries every option and command of the tables, in order
    assert {f for o in root.OPTIONS for f in o.flags} <= set(page.split())
    rows = page.split(" Commands ", 1)[1].splitlines()[1:]
    named = [row[2:].split()[0] for row in rows if row.startswith("│ ") and row[2] != " "]
    assert named == [name for name, (_, short) in root.COMMANDS.items() if short]


def test_fast_routes_import_neither_typer_nor_markdown() -> None:
    """What makes them fast: the three argv shapes load no typer, no rich.markdown, no pygments, no release library."""
    code = ("import sys\nfrom krel.__main__ import main\n"
            "for argv in (['--help'], ['version'], ['--version']):\n"
            "    sys.argv = ['krel', *argv]\n    main()\n"
            "heavy = ('typer', 'rich.markdown', 'pygments', 'markdown_it', 'pydantic', 'httpx', 'releng.')\n"
            "sys.stderr.write(repr(sorted(m for m in sys.modules if m.startswith(heavy))))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env({"CI": "true"}), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "['releng.errors']"  # krel.ui's error tree; small
    assert done.stdout.count("krel 0.") == 1 and "\ncommit\t" in done.stdout and "Usage: krel" in done.stdout


def test_root_options_and_commands_are_the_tables() -> None:
    """typer's root, as app.py builds it, declares exactly root.OPTIONS (in order) and lists root.COMMANDS."""
    from typer.main import get_command

    from krel.app import LogLevel, app

    group = get_command(app)
    ctx = group.make_context("krel", ["--help"], resilient_parsing=True)
    declared = [(tuple(p.opts + p.secondary_opts), p.help, p.metavar or "", p.hidden)
                for p in group.get_params(ctx)]
    assert declared == [(o.flags, o.help, o.metavar, False) for o in root.OPTIONS]
    assert group.list_commands(ctx) == [name for name, (_, short) in root.COMMANDS.items() if short]
    assert get_args(LogLevel) == root.LOG_LEVELS
    assert group.help == root.APP_HELP


# argv that looks like a fast one but is not: each must reach typer, which answers it (usually a usage error).
NEAR_MISSES = {
    "short-help": ["-h"],
    "help-then-command": ["--help", "version"],
    "command-then-help": ["version", "--help"],
    "version-json": ["version", "--json"],
    "version-twice": ["--version", "version"],
    "version-extra-arg": ["version", "extra"],
    "help-capitalised": ["--Help"],
    "help-trailing-space": ["--help "],
    "help-with-value": ["--help="],
    "help-prefix": ["--hel"],
    "help-word": ["help"],
    "version-capitalised": ["Version"],
    "version-nul": ["version\x00"],
    "root-flag-then-help": ["--nomock", "--help"],
    "log-level-then-version": ["--log-level", "debug", "version"],
    "no-arguments": [],
}


@pytest.mark.parametrize("argv", list(NEAR_MISSES.values()), ids=list(NEAR_MISSES))
def test_near_misses_take_the_normal_route(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name in STEERING:
        monkeypatch.delenv(name, raising=False)
    assert entry._answered(argv) is False
    assert capsys.readouterr() == ("", "")


# Environments in which typer answers differently (or a person asked for typer's own route): the normal route.
TYPER_MODES = {
    "fast-path-off": {entry.FASTPATH_OFF: "1"},
    "fast-path-off-empty": {entry.FASTPATH_OFF: ""},
    "completion-request": {"_KREL_COMPLETE": "complete_bash", "COMP_WORDS": "krel ", "COMP_CWORD": "1"},
    "typer-plain-help": {"TYPER_USE_RICH": "0"},
    "completion-takes-a-shell": {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
}


@pytest.mark.parametrize("extra", list(TYPER_MODES.values()), ids=list(TYPER_MODES))
@pytest.mark.parametrize("argv", [["--help"], ["version"], ["--version"]], ids=["help", "version", "root-version"])
def test_typer_modes_take_the_normal_route(extra: dict[str, str], argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    assert entry._answered(argv) is False
    assert capsys.readouterr() == ("", "")


def test_plain_help_mode_really_is_typers_other_page() -> None:
    """Why TYPER_USE_RICH takes the normal route: typer then prints click's plain page, not the panels."""
    code, out, _ = _run(["--help"], {"TYPER_USE_RICH": "0", "COLUMNS": "100"})
    assert code == 0 and b"Usage: krel [OPTIONS] COMMAND [ARGS]..." in out and "╭".encode() not in out


def test_fast_version_is_the_commands_own_output(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(version, "_commit", lambda: "0123abc")
    assert entry._answered(["version"]) is True
    fast = capsys.readouterr().out
    version.show(version.build_info())
    python = platform.python_version()
    expected = f"field\tvalue\nversion\t{releng.__version__}\ncommit\t0123abc\npython\t{python}\n"
    assert fast == capsys.readouterr().out == expected
    assert entry._answered(["--version"]) is True
    assert capsys.readouterr().out == f"krel {releng.__version__} (commit 0123abc, Python {python})\n"


def test_version_failure_goes_to_the_normal_route(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A build-info lookup that fails prints nothing here: the normal route reports it as one line (exit 1)."""
    def broken() -> str:
        raise RuntimeError("no commit")

    monkeypatch.setattr(version, "_commit", broken)
    assert entry._answered(["version"]) is False
    assert entry._answered(["--version"]) is False
    assert capsys.readouterr() == ("", "")


def test_an_unlisted_command_module_sends_help_to_typer(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Its one-line help lives in the module: only typer (which imports it) can list it."""
    monkeypatch.delenv(entry.FASTPATH_OFF, raising=False)
    monkeypatch.setattr(root, "unlisted_commands", lambda: {"new-thing": "new_thing"})
    assert entry._answered(["--help"]) is False
    assert capsys.readouterr() == ("", "")


# TERMINAL_WIDTH as typer reads it: not a usable number of columns is one line, exit 2, on every route.
BAD_WIDTHS = {
    "word": "abc",
    "zero": "0",
    "negative": "-5",
    "too-wide": "10001",
    "huge": "9" * 400,
    "beyond-int-digit-limit": "9" * 5000,
    "float": "80.5",
    "exponent": "1e3",
    "inner-space": "8 0",
    "escape-sequence": "\x1b[31m80",
    "newline": "80\nrm -rf /",
}


@pytest.mark.parametrize("value", list(BAD_WIDTHS.values()), ids=list(BAD_WIDTHS))
@pytest.mark.parametrize("argv", [["--help"], ["version"], ["stage", "--help"]], ids=["help", "version", "stage"])
def test_bad_terminal_width_is_one_line(value: str, argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TERMINAL_WIDTH", value)
    monkeypatch.setattr(sys, "argv", ["krel", *argv])
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: krel: TERMINAL_WIDTH=") and "\x1b" not in err


@pytest.mark.parametrize("value", ["1", "80", " 80 ", "+80", "10000"])
def test_usable_terminal_widths_pass(value: str) -> None:
    assert entry._columns(value) == int(value)


def test_bad_terminal_width_through_the_real_entry_point() -> None:
    """typer itself would crash with a traceback (int('abc') when its help module loads): the guard comes first."""
    code, out, err = _run(["--help"], {"TERMINAL_WIDTH": "abc", entry.FASTPATH_OFF: "1"})
    assert (code, out) == (2, b"")
    assert err.decode().splitlines() == ["error: krel: TERMINAL_WIDTH='abc' is not a number of columns (1 to 10000)"]


@pytest.mark.parametrize("argv", [["--version"], ["version"]], ids=["root-version", "version"])
def test_normal_route_reports_a_failing_build_info(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the fast path hands a failure: one masked line and exit 1, for the eager --version flag too."""
    from typer.testing import CliRunner

    from krel.app import app

    secret = "ghp_startupFastPathSecret0123456789abcd"

    def broken() -> str:
        raise RuntimeError(f"git answered {secret}")

    monkeypatch.setenv("GITHUB_TOKEN", secret)
    monkeypatch.setattr(version, "_commit", broken)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: krel {argv[0]}: internal error (RuntimeError")
    assert secret not in result.output
