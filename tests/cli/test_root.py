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


def test_krel_profile_env_is_every_command_default(tmp_path: object) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "KREL_PROFILE": "no-such-profile", "KREL_HOME": str(tmp_path), "CI": "true"}
    for command in (["stage"], ["release", "--build-version", "v1.0.0"], ["gcbmgr"], ["history", "--branch",
                    "master", "--date-from", "2026-01-01"]):
        result = subprocess.run([sys.executable, "-m", "krel", *command], env=env, capture_output=True, text=True)
        assert result.returncode == 2, (command, result.stderr)
        assert "profile 'no-such-profile'" in result.stderr, (command, result.stderr)
