"""The pull-request flags are one group (issue 15 item 8): declared once in krel.options, shown by every command that
reads GitHub, and handed to the command as one frozen PullRequestOptions built from what was given."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from krel.app import app
from krel.options import NO_PULL_REQUEST_FLAGS, PullRequestOptions, pull_request_options

FLAGS = ["--replay", "--record", "--org", "--repo-name", "--source", "--cache-dir", "--no-cache", "--github-api-url"]


def _app(seen: list[PullRequestOptions]) -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.command()
    @pull_request_options
    def notes(tag: str, pull_requests: PullRequestOptions = NO_PULL_REQUEST_FLAGS, json_out: bool = False) -> None:
        seen.append(pull_requests)

    return app


def test_the_command_sees_one_group_typer_sees_the_flags() -> None:
    command = typer.main.get_command(_app([]))
    names = [opt for param in command.params for opt in param.opts]
    assert names == ["tag", *FLAGS, "--json-out"]  # in place of the group, in the group's order
    assert dataclasses.fields(PullRequestOptions) and PullRequestOptions.__dataclass_params__.frozen  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param([], NO_PULL_REQUEST_FLAGS, id="none-given"),
        pytest.param(
            ["--replay", "rec", "--org", "o", "--repo-name", "r", "--source", "rest", "--no-cache",
             "--github-api-url", "http://127.0.0.1:9"],
            PullRequestOptions(replay=Path("rec"), org="o", repo_name="r", source="rest", no_cache=True,
                               api_url="http://127.0.0.1:9"),
            id="all-given",
        ),
        pytest.param(
            ["--record", "out", "--cache-dir", "c"],
            PullRequestOptions(record=Path("out"), cache_dir=Path("c")),
            id="record-and-cache",
        ),
    ],
)
def test_the_group_holds_what_was_given(argv: list[str], expected: PullRequestOptions) -> None:
    seen: list[PullRequestOptions] = []
    result = CliRunner().invoke(_app(seen), ["v1.0.0", *argv])
    assert result.exit_code == 0, result.output
    assert seen == [expected]


def test_release_notes_and_changelog_show_the_group_once() -> None:
    root = typer.main.get_command(app)
    for name in ("changelog", "release-notes"):
        command = root.get_command(None, name)  # type: ignore[attr-defined]  # loads this command's module only
        opts = [opt for param in command.params for opt in param.opts]
        assert [opt for opt in opts if opt in FLAGS] == FLAGS, name
