"""The root CLI as a newcomer meets it: help lists commands in order without importing them, --version, shell
completion, usage errors as one line, and under --json a JSON error object on stdout as well as the red line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.testing

from krel.app import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "CI": "true", "COLUMNS": "200", **(env or {})})


def test_help_lists_every_command_in_table_order(cli: typer.testing.CliRunner) -> None:
    result = cli.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    visible = [name for name, (_, short) in COMMANDS.items() if short]
    positions = [result.output.find(f"│ {name} ") for name in visible]
    assert all(p > 0 for p in positions), list(zip(visible, positions, strict=True))
    assert positions == sorted(positions)
    assert "fast-forward" not in result.output  # a hidden alias


def test_every_command_module_is_in_the_table() -> None:
    """A command module COMMANDS does not name would still run, but `krel --help` would list it last, unsorted."""
    import pkgutil

    import krel.commands

    modules = {m.name for m in pkgutil.iter_modules(krel.commands.__path__) if not m.name.startswith("_")}
    assert modules <= {module for module, _ in COMMANDS.values()}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_table_entry_resolves_to_its_command(name: str) -> None:
    from typer.main import get_command

    group = get_command(app)
    ctx = group.make_context("krel", [name, "--help"], resilient_parsing=True)
    command = group.get_command(ctx, name)  # type: ignore[attr-defined]
    assert command is not None and command.name == name


def test_help_imports_no_release_library() -> None:
    code = ("import sys\nfrom krel.__main__ import main\nsys.argv = ['krel', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "loaded = sorted(m for m in sys.modules if m.startswith(('releng.', 'krel.commands.', 'httpx')))\n"
            "sys.stderr.write(repr(loaded))\n")
    result = _run("-c", code)
    loaded = set(eval(result.stderr.strip().splitlines()[-1]))
    assert loaded <= {"releng.errors", "releng.secrets"}, loaded  # the error tree and the secret mask are small


def test_version_imports_only_its_own_command() -> None:
    code = ("import sys\nfrom krel.__main__ import main\nsys.argv = ['krel', 'version']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(repr(sorted(m for m in sys.modules if m.startswith(('krel.commands.', 'httpx')))))\n")
    result = _run("-c", code)
    assert result.stderr.strip().splitlines()[-1] == "['krel.commands.version']"


def test_root_version_flag(cli: typer.testing.CliRunner) -> None:
    result = cli.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("krel 0.") and "commit " in result.stdout


def test_show_completion_prints_a_script() -> None:
    result = _run("-m", "krel", "--show-completion", "bash")
    assert result.returncode == 0, result.stderr
    assert "_KREL_COMPLETE" in result.stdout and "complete " in result.stdout


def test_completion_offers_commands_and_choices() -> None:
    env = {"_KREL_COMPLETE": "complete_bash", "COMP_WORDS": "krel st", "COMP_CWORD": "1"}
    result = _run("-m", "krel", env=env)
    assert "stage" in result.stdout.split(), result.stdout + result.stderr
    env = {"_KREL_COMPLETE": "complete_bash", "COMP_WORDS": "krel --log-level ", "COMP_CWORD": "2"}
    result = _run("-m", "krel", env=env)
    assert {"trace", "debug", "info", "warn", "error"} <= set(result.stdout.split()), result.stdout


# Usage errors of every kind, at the root and in a command: one line `error: krel ...: ...`, exit 2.
USAGE_CASES = {
    "unknown-root-option": (["--bogus"], "No such option: --bogus"),
    "unknown-command": (["verson"], "did you mean version?"),
    "unknown-command-far": (["zzzz"], "No such command 'zzzz'"),
    "bad-log-level": (["--log-level", "loud", "version"], "'loud' is not one of"),
    "log-level-missing-value": (["version", "--log-level"], "No such option: --log-level"),
    "unknown-command-option": (["version", "--bogus"], "krel version: No such option: --bogus"),
    "unexpected-argument": (["version", "extra"], "Got unexpected extra argument"),
    "unknown-subcommand": (["local", "sideways"], "No such command 'sideways'"),
    "subcommand-missing": (["local", "status", "--jsn"], "Possible options: --json"),
    "escape-in-option": (["version", "--\x1b[31mred"], "No such option"),
}


@pytest.mark.parametrize(("argv", "needle"), list(USAGE_CASES.values()), ids=list(USAGE_CASES))
def test_usage_error_is_one_line(cli: typer.testing.CliRunner, argv: list[str], needle: str) -> None:
    result = cli.invoke(app, argv)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: krel") and needle in lines[0], lines[0]
    assert "\x1b" not in result.output and "Usage:" not in result.output and "╭" not in result.output


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["version", "--json", "--bogus"], 2),  # usage error: parsing stopped before --json was read
        (["local", "status", "--json", "--profile", "/no/such/profile.toml"], 2),
        (["release-notes", "validate", "/no/such/dir", "--json"], 2),
        (["announce", "send", "--tag", "v1.0.0", "--print-only", "--json"], 1),
    ],
    ids=["usage-error", "bad-profile", "missing-directory", "failure"],
)
def test_json_failure_prints_an_error_object(
    cli: typer.testing.CliRunner, tmp_path: Path, argv: list[str], code: int
) -> None:
    result = cli.invoke(app, argv, env={"KREL_HOME": str(tmp_path)})
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout)
    assert data["exit_code"] == code and data["error"]
    assert data["error"] in result.stderr  # the same message as the red line


def test_failure_without_json_keeps_stdout_empty(cli: typer.testing.CliRunner) -> None:
    result = cli.invoke(app, ["version", "--bogus"])
    assert result.exit_code == 2 and result.stdout == ""
