import json

import typer.testing

from krel.app import app


def test_help_lists_commands(cli: typer.testing.CliRunner) -> None:
    result = cli.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "version" in result.output


def test_version_json(cli: typer.testing.CliRunner) -> None:
    result = cli.invoke(app, ["version", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["version"] and len(data["commit"]) in (40, 7)) or data["commit"] == "unknown"
    assert data["python"].startswith("3.")


def test_unknown_command_is_usage_error(cli: typer.testing.CliRunner) -> None:
    assert cli.invoke(app, ["no-such-command"]).exit_code == 2


def test_bad_log_level_is_usage_error(cli: typer.testing.CliRunner) -> None:
    assert cli.invoke(app, ["--log-level", "loud", "version"]).exit_code == 2
