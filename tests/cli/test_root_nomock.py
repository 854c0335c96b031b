"""`krel --nomock <command>` means the same as `krel <command> --nomock` (krel's persistent root flag)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.testing
from releng import git

from krel.app import app
from tests.cli.test_ff_cli import _upstream


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--nomock", "ff"], id="before-the-command"),
        pytest.param(["ff", "--nomock"], id="after-the-command"),
        pytest.param(["--nomock", "ff", "--nomock"], id="both"),
        pytest.param(["--log-level", "warn", "--nomock", "ff"], id="among-root-options"),
    ],
)
def test_nomock_anywhere_pushes(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, argv: list[str]) -> None:
    pair = _upstream(krel_home, tmp_path)
    result = cli.invoke(app, [*argv, "--yes", "--json", "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["push"] == "push" and data["pushed"] is True
    assert git.ls_remote_heads(str(pair.origin))["release-1.29"] == data["head_rev"]


def test_without_nomock_the_push_is_a_dry_run(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    pair = _upstream(krel_home, tmp_path)
    before = git.ls_remote_heads(str(pair.origin))
    result = cli.invoke(app, ["ff", "--non-interactive", "--json", "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["push"] == "dry-run"
    assert git.ls_remote_heads(str(pair.origin)) == before


def test_root_nomock_still_asks_before_pushing(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    """The root flag changes the targets only: the confirmation krel asks for a production push stays."""
    pair = _upstream(krel_home, tmp_path)
    before = git.ls_remote_heads(str(pair.origin))
    result = cli.invoke(app, ["--nomock", "ff", "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 2, result.output  # no TTY, neither --yes nor --non-interactive
    assert git.ls_remote_heads(str(pair.origin)) == before


def test_root_nomock_is_listed_in_root_help(cli: typer.testing.CliRunner) -> None:
    result = cli.invoke(app, ["--help"])
    assert result.exit_code == 0 and "--nomock" in result.output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--nomock=yes", "ff"], "Option '--nomock' does not take a value", id="root-value"),
        pytest.param(["ff", "--nomock=true"], "Option '--nomock' does not take a value", id="command-value"),
        pytest.param(["--no-nomock", "ff"], "No such option: --no-nomock", id="negated"),
        pytest.param(["--nomock", "nosuch"], "No such command 'nosuch'", id="unknown-command"),
        pytest.param(["--nomock"], "Missing command", id="no-command"),
    ],
)
def test_bad_nomock_use_is_one_usage_line(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, argv: list[str], message: str
) -> None:
    pair = _upstream(krel_home, tmp_path)
    before = git.ls_remote_heads(str(pair.origin))
    result = cli.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert git.ls_remote_heads(str(pair.origin)) == before
