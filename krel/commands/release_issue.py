"""`krel release-issue open|update|close`: the cut's tracking issue in the release team's repository."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from releng.profile import Profile
from releng.releaseissue import cut, tracker
from releng.releaseissue.api import IssueClient

from krel import ui
from krel.jobs import open_job_runner
from krel.options import (
    DEFAULT_PROFILE,
    ApiUrlOpt,
    JsonOpt,
    ProfileOpt,
    ProjectOpt,
    RunnerOpt,
    github_api_url,
    github_token,
    open_profile,
    targets_for,
)

release_issue_app = typer.Typer(
    name="release-issue",
    help=(
        "The release-cut tracking issue (\"Cut vX.Y.Z release\"): open it, keep its checklist up to date, close it.\n\n"
        "Example: krel release-issue open --tag v1.30.0-rc.1"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

TagOpt = Annotated[str, typer.Option("--tag", "-t", metavar="TAG", help="The cut's release tag, e.g. v1.30.0-rc.1.")]


def _client(prof: Profile, tag: str, api_url: str | None) -> tuple[cut.CutIssue, IssueClient]:
    issue = cut.cut_issue(prof, tag)
    return issue, tracker.open_client(issue, github_token(), github_api_url(api_url))


def _show(outcome: tracker.Outcome, what: str, json_out: bool) -> None:
    if json_out:
        ui.print_json(outcome.as_json())
        return
    ui.err_console.print(f"{what}: #{outcome.number} {outcome.title} ({outcome.state})", markup=False)
    ui.console.print(outcome.url, markup=False, highlight=False)


@release_issue_app.command("open")
def open_cmd(
    tag: TagOpt,
    profile: ProfileOpt = DEFAULT_PROFILE,
    api_url: ApiUrlOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open the cut's issue in the profile's release-team repository ([release_issue] repo), or reuse the open one.

    Example: krel release-issue open --tag v1.30.0-rc.1 --profile kubernetes
    """
    prof = open_profile(profile)
    issue, client = _client(prof, tag, api_url)
    try:
        outcome = tracker.open_issue(client, prof, issue, dt.datetime.now(dt.UTC).date().isoformat())
    finally:
        client.close()
    _show(outcome, "opened" if outcome.created else "already open", json_out)


@release_issue_app.command("update")
def update_cmd(
    tag: TagOpt,
    runner: RunnerOpt = "",
    project: ProjectOpt = "",
    profile: ProfileOpt = DEFAULT_PROFILE,
    api_url: ApiUrlOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tick the checklist and fill in each step's job link, duration and result from the job history.

    Rerunning changes nothing when nothing new happened; text outside krel's block is never touched.

    Example: krel release-issue update --tag v1.30.0-rc.1
    """
    prof = open_profile(profile)
    jobs = open_job_runner(prof, runner, project, targets_for(prof, nomock=False)).list_jobs(
        tags=(cut.cut_issue(prof, tag).tag,)
    )
    issue, client = _client(prof, tag, api_url)
    try:
        outcome = tracker.update_issue(client, prof, issue, tracker.history_evidence(jobs))
    finally:
        client.close()
    _show(outcome, "updated" if outcome.changed else "up to date", json_out)


@release_issue_app.command("close")
def close_cmd(
    tag: TagOpt,
    force: Annotated[
        bool, typer.Option("--force", help="Close even though the announcement is not ticked.")
    ] = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    api_url: ApiUrlOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Close the cut's issue once the announcement has been sent (krel announce send ticks it).

    Example: krel release-issue close --tag v1.30.0-rc.1
    """
    prof = open_profile(profile)
    issue, client = _client(prof, tag, api_url)
    try:
        outcome = tracker.close_issue(client, issue, force=force)
    finally:
        client.close()
    _show(outcome, "closed", json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(release_issue_app, name="release-issue")
