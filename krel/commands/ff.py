"""`krel ff`: fast-forward the latest release branch with the default branch (push is a dry run in mock)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from releng import fastforward
from releng.fastforward import FastForward, FastForwardOptions, prepare_fast_forward, push_fast_forward
from releng.profile import Profile

from krel import ui
from krel.options import (
    DEFAULT_PROFILE,
    JsonOpt,
    NomockOpt,
    ProfileOpt,
    ProjectOpt,
    RunnerOpt,
    StreamOpt,
    YesOpt,
    complete_branch,
    confirm_production,
    github_api_url,
    github_token,
    krel_home,
    open_profile,
    targets_for,
)

PUSH_QUESTION = "Are you ready to push the local branch fast-forward changes upstream?"


def ff(
    branch: Annotated[
        str, typer.Option(
            "--branch", metavar="BRANCH",
            help="Release branch (default: the latest release-X.Y on the remote).", autocompletion=complete_branch,
        )
    ] = "",
    ref: Annotated[str, typer.Option(
        "--ref", metavar="REF",
        help="What to merge (default: origin/<default branch>).",
    )] = "",
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo", metavar="DIR",
            help="Work tree to use (cloned from the profile's upstream when missing).",
        ),
    ] = None,
    cleanup: Annotated[
        bool, typer.Option("--cleanup", help="Remove the work tree afterwards (only when this run cloned it).")
    ] = False,
    non_interactive: Annotated[
        bool, typer.Option("--non-interactive", help="Push without asking (as krel's --non-interactive).")
    ] = False,
    submit: Annotated[
        bool,
        typer.Option("--submit", help="Run as a fast-forward job on the profile's job runner (Cloud Build or local)."),
    ] = False,
    stream: StreamOpt = False,
    runner: RunnerOpt = "",
    project: ProjectOpt = "",
    nomock: NomockOpt = False,
    yes: YesOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = False,
) -> None:
    """Merge the default branch into the latest release branch and push it (`git push --dry-run` in mock).

    krel's rules: release-X.Y branches only; no-op once vX.Y.0 is on the remote (when --branch is not given);
    the latest tag of the default branch must equal that of the merge base, so only the latest branch moves.

    No fast-forward while the release team's "Cut vX.Y.0 release" issue is open (the profile's upstream
    cut_issue_repo; kubernetes/release#2814). With --submit the job runs `krel ff --non-interactive` on the latest
    release branch, as krel's fast-forward job does (--branch, --ref and --repo stay here).

    Example: krel ff --profile local --non-interactive
    Example: krel ff --branch release-1.30 --repo /tmp/k8s --nomock
    Example: krel ff --submit --stream --nomock --yes
    """
    prof = open_profile(profile)
    if submit:
        _submit(prof, nomock, runner, project, stream, yes, json_out)
        return
    targets = targets_for(prof, nomock)
    if non_interactive:  # interactively, PUSH_QUESTION is asked before the push
        confirm_production(prof, nomock, f"Really fast-forward and push to {prof.upstream.url} (--nomock)?", yes)
    upstream = prof.upstream
    options = FastForwardOptions(
        repo=repo or krel_home() / "workspaces" / prof.name / "ff" / upstream.repo,
        upstream_url=upstream.url,
        author=prof.git_author,
        branch=branch,
        ref=ref or f"{upstream.remote}/{upstream.default_branch}",
        default_branch=upstream.default_branch,
        remote=upstream.remote,
        push=targets.git_push == "push",
        open_issue=_cut_issue_lookup(prof),
        cut_issue_title=upstream.cut_issue_title,
    )
    prepared = prepare_fast_forward(options)
    try:
        _run(prepared, non_interactive, yes, json_out)
    finally:
        if cleanup:
            ui.err_console.print(fastforward.cleanup(prepared), markup=False)


def _cut_issue_lookup(prof: Profile) -> Callable[[str], str] | None:
    """title -> URL of that open issue in the profile's cut_issue_repo, with the token and API URL read here."""
    repository = prof.cut_issue_repository()  # the repository `krel release-issue` keeps the cut's issue in
    if not repository:
        return None
    token, api_url = github_token(), github_api_url()

    def lookup(title: str) -> str:
        from releng.github.issues import open_issue_titled

        return open_issue_titled(repository, title, token, api_url)

    return lookup


def _submit(prof: Profile, nomock: bool, runner: str, project: str, stream: bool, yes: bool, json_out: bool) -> None:
    """krel ff --submit: the fast-forward job (templates/cloudbuild/fast-forward.yaml) on the job runner."""
    from releng.gcb.config import GcbOptions

    from krel.jobs import log_level, submit_job

    options = GcbOptions(job="fast-forward", nomock=nomock, log_level=log_level(), project=project)
    submit_job(options, prof, runner=runner, yes=yes, stream=stream, json_out=json_out)


def _run(prepared: FastForward, non_interactive: bool, yes: bool, json_out: bool) -> None:
    summary = {
        "branch": prepared.branch,
        "ref": prepared.ref,
        "repo": str(prepared.repo),
        "tag": prepared.tag,
        "release_rev": prepared.release_rev,
        "head_rev": prepared.head_rev,
        "commits": len(prepared.commits),
        "push": "push" if prepared.push else "dry-run",
        "noop": prepared.noop,
    }
    if prepared.noop:
        if json_out:
            ui.print_json({**summary, "pushed": False})
        else:
            ui.console.print(f"nothing to do: {prepared.noop}", markup=False, highlight=False)
        return
    if not json_out:
        ui.table(f"fast-forward {prepared.branch} with {prepared.ref}", ["field", "value"], list(summary.items())[:-1])
        ui.table("commits to merge", ["sha", "subject"], [(c.sha[:12], c.subject) for c in prepared.commits])
        ui.console.print(
            f"Look around in {prepared.repo} before pushing: `git show {prepared.branch}` shows the merge and "
            f"`git log {prepared.release_rev[:12]}..{prepared.head_rev[:12]}` what it brings in.",
            markup=False,
            highlight=False,
        )
    if not non_interactive and not ui.confirm(PUSH_QUESTION, yes):
        ui.err_console.print("not pushed", markup=False)
        raise typer.Exit(1)
    report = push_fast_forward(prepared)
    if json_out:
        ui.print_json({**summary, "pushed": prepared.push, "report": report})
        return
    verb = "pushed" if prepared.push else "dry-run push (mock)"
    ui.console.print(f"{verb}: {prepared.pushes}\n{report.strip()}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ff")(ff)
    app.command("fast-forward", hidden=True)(ff)
