"""Every command's help says what each value is: no Python types (`<str>`, `<bool>`, `<path>`, `<list[Path]>`),
choices listed and offered by completion, a default shown once; bad choices are one usage line (issue 12 item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from releng import github
from releng.errors import UsageError
from releng.promo import snapshot
from typer import _click as click
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from krel import options
from krel.app import app
from krel.commands import release_notes

# What a value is, in capitals (BRANCH, DIR, FILE|DIR, FROM=TO, HOST:PORT, REGISTRY[/PREFIX], FILE...), or a closed
# set of lower-case choices in brackets ([graphql|rest]). typer renders a Python type as `<...>`: never allowed.
METAVAR = re.compile(r"[A-Z][A-Z0-9_]*(?:[|=:/]?\[?/?[A-Z][A-Z0-9_]*\]?)*(?:\.\.\.)?")
CHOICES = re.compile(r"\[[a-z0-9-]+(?:\|[a-z0-9-]+)+\]")


def _commands() -> list[tuple[str, click.Command]]:
    """(path, command) for the root and every command and subcommand, loaded the way a run loads them."""
    found: list[tuple[str, click.Command]] = []

    def walk(path: str, command: click.Command) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(f"{path} {name}", sub)

    walk("krel", typer.main.get_command(app))
    return found


COMMANDS = _commands()


def _params(command: click.Command) -> tuple[click.Context, list[click.Parameter]]:
    ctx = click.Context(command, info_name=command.name)
    return ctx, command.get_params(ctx)


def test_every_command_is_walked() -> None:
    paths = {path for path, _ in COMMANDS}
    # a sample across groups: the walk reaches nested subcommands, not only the root's listing
    assert {"krel stage", "krel promote images", "krel release-notes validate", "krel announce send"} <= paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_no_python_type_in_help(path: str, command: click.Command) -> None:
    ctx, params = _params(command)
    problems = []
    for param in params:
        shown = param.display_type_rich(ctx)  # type: ignore[attr-defined]
        name = "/".join(param.opts)
        if isinstance(param, TyperOption) and param.is_flag:
            if shown:
                problems.append(f"{name}: a flag shows {shown!r}")
        elif isinstance(param, TyperArgument):
            if shown or not METAVAR.fullmatch(param.metavar or ""):
                problems.append(f"{name}: argument shows {param.metavar!r} {shown!r}")
        elif not (METAVAR.fullmatch(shown or "") or CHOICES.fullmatch(shown or "")):
            problems.append(f"{name}: shows {shown!r}, expected what the value is (BRANCH, DIR, FILE, ...)")
    assert not problems, f"{path}: " + "; ".join(problems)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_a_default_is_shown_once(path: str, command: click.Command) -> None:
    ctx, params = _params(command)
    twice = []
    for param in params:
        record = param.get_help_record(ctx)
        if record and "[default:" in record[1] and "default" in (getattr(param, "help", "") or "").lower():
            twice.append(f"{'/'.join(param.opts)}: {record[1]!r}")
    assert not twice, f"{path}: the default is both in the text and in [default: ...]: {twice}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_choices_are_offered_by_completion(path: str, command: click.Command) -> None:
    ctx, params = _params(command)
    for param in params:
        shown = param.display_type_rich(ctx)  # type: ignore[attr-defined]
        if isinstance(param, TyperOption) and CHOICES.fullmatch(shown or ""):
            names = shown.strip("[]").split("|")
            offered = [item.value for item in param.shell_complete(ctx, "")]
            assert offered == names, f"{path} {'/'.join(param.opts)}: completion offers {offered}, help shows {names}"


def test_choice_lists_are_the_library_values() -> None:
    assert snapshot.FORMATS == ("yaml", "csv", "json")
    for source in options.PR_SOURCES:  # every listed source is one the library opens
        github.open_pull_requests("o", "r", token="t", replay_dir=None, record_dir=None, cache_dir=None,
                                  api_url="http://127.0.0.1:9", source=source)
    with pytest.raises(UsageError):
        github.open_pull_requests("o", "r", token="t", replay_dir=None, record_dir=None, cache_dir=None,
                                  api_url="http://127.0.0.1:9", source="svn")
    assert release_notes.FORMATS == ("markdown", "json")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["release-notes", "--format", "html"], id="notes-format-unknown"),
        pytest.param(["release-notes", "--format", "JSON"], id="notes-format-case"),
        pytest.param(["release-notes", "--format", "json\x1b[31m"], id="notes-format-escape"),
        pytest.param(["release-notes", "--source", "svn"], id="notes-source-unknown"),
        pytest.param(["release-notes", "--source", ""], id="notes-source-empty"),
        pytest.param(["changelog", "--tag", "v1.0.0", "--source", "[/x]"], id="changelog-source-markup"),
        pytest.param(["changelog", "--tag", "v1.0.0", "--source", "rest;id"], id="changelog-source-shell"),
        pytest.param(["promote", "snapshot", "127.0.0.1:9/x", "--output", "xml"], id="snapshot-output-unknown"),
        pytest.param(["promote", "snapshot", "127.0.0.1:9/x", "-o", "yaml\n"], id="snapshot-output-newline"),
        pytest.param(["--log-level", "verbose", "version"], id="root-log-level-unknown"),
    ],
)
def test_a_bad_choice_is_one_usage_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    monkeypatch.setenv("KREL_HOME", str(tmp_path))
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing read or written before the usage error
