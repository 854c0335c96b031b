"""--type and --runner are choices (help shows them, completion offers them); a bad value is one usage line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng import gcb, version
from typer.testing import CliRunner

from krel import options
from krel.app import app


def test_choices_are_the_library_values() -> None:
    assert options.RELEASE_TYPES == version.RELEASE_TYPES
    assert tuple(gcb.RUNNERS) == options.RUNNER_NAMES


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["stage", "--type", "nightly"], id="stage-type-unknown"),
        pytest.param(["stage", "--type", "RC"], id="stage-type-upper-case"),
        pytest.param(["release", "--type", "rc\n", "--build-version", "v1.0.0"], id="release-type-newline"),
        pytest.param(["gcbmgr", "--stage", "--type", "[/x]"], id="gcbmgr-type-markup"),
        pytest.param(["gcbmgr", "--runner", "cloud"], id="gcbmgr-runner-unknown"),
        pytest.param(["history", "--runner", "gcb;rm -rf /"], id="history-runner-shell"),
        pytest.param(["stage", "--submit", "--runner", "\x1b]0;pwned\x07"], id="stage-runner-osc"),
        pytest.param(["ff", "--submit", "--runner", "Local"], id="ff-runner-case"),
    ],
)
def test_bad_choice_is_one_usage_line(krel_home: Path, cli: CliRunner, argv: list[str]) -> None:
    result = cli.invoke(app, argv)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--type" in lines[0] or "--runner" in lines[0]
    assert "\x1b" not in result.stderr
    assert not (krel_home / "buckets").exists() and not (krel_home / "jobs").exists()


@pytest.mark.parametrize(("command", "shown"), [("stage", "alpha|beta|rc|official"), ("gcbmgr", "local|gcb"),
                                                ("history", "local|gcb"), ("release", "VERSION")])
def test_help_shows_the_choices(cli: CliRunner, command: str, shown: str) -> None:
    result = cli.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert shown in result.stdout
