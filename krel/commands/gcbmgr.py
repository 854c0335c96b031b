"""`krel gcbmgr`: submit stage/release jobs to Cloud Build or the local runner, stream them, list recent jobs."""

from __future__ import annotations

from typing import Annotated

import typer
from releng.gcb.base import Job, JobRunner
from releng.gcb.config import GcbOptions, job_choice, validate

from krel import ui
from krel.jobs import log_level, open_job_runner, stream_to_end, submit_job
from krel.options import (
    DEFAULT_PROFILE,
    BranchOpt,
    JsonOpt,
    NomockOpt,
    ProfileOpt,
    ProjectOpt,
    RunnerOpt,
    TypeOpt,
    YesOpt,
    open_profile,
    targets_for,
)

COLUMNS = ["ID", "Job", "Status", "Branch", "Type", "Build version", "Created", "Duration"]


def job_rows(jobs: list[Job]) -> list[list[str]]:
    """Table rows; local ids are shortened (any unique prefix works with --job/--cancel)."""
    rows = []
    for job in jobs:
        subs = job.substitutions
        duration = str(job.duration).split(".")[0] if job.duration is not None else ""
        created = job.create_time.strftime("%Y-%m-%d %H:%M") if job.create_time else ""
        rows.append(
            [
                job.id[:8] if job.runner == "local" else job.id,
                f"{'' if subs.get('_NOMOCK') else 'mock '}{job.kind}",
                job.status,
                subs.get("_RELEASE_BRANCH", ""),
                subs.get("_TYPE", ""),
                subs.get("_BUILDVERSION", ""),
                created,
                duration,
            ]
        )
    return rows


def gcbmgr(
    stage: Annotated[bool, typer.Option("--stage", help="Submit a stage job.")] = False,
    release: Annotated[bool, typer.Option("--release", help="Submit a release job (needs --build-version).")] = False,
    branch: BranchOpt = "master",
    release_type: TypeOpt = "alpha",
    build_version: Annotated[
        str, typer.Option(
            "--build-version",
            metavar="VERSION",
            help="Build to stage/release (stage default: the CI version marker).",
        )
    ] = "",
    build_at_head: Annotated[
        bool, typer.Option("--build-at-head", help="Stage the branch's current head (git ls-remote).")
    ] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Wait for the job, printing its log.")] = False,
    list_jobs: Annotated[
        int, typer.Option("--list-jobs", metavar="N", help="How many recent jobs to list (negative: 5)."),
    ] = 5,
    job_id: Annotated[
        str, typer.Option("--job", metavar="ID", help="Show one job (with --stream: tail it to the end)."),
    ] = "",
    cancel: Annotated[str, typer.Option("--cancel", metavar="ID", help="Cancel the job with this id.")] = "",
    retry: Annotated[
        str, typer.Option(
            "--retry",
            metavar="ID",
            help="Run this job's request again as a new job (stage/release resume).",
        )
    ] = "",
    gcp_user: Annotated[
        str, typer.Option("--gcp-user", metavar="USER", help="User tag for the job (default: this account)."),
    ] = "",
    replay: Annotated[
        str,
        typer.Option(
            "--replay",
            metavar="DIR",
            help="With --stage: recorded GitHub PR data for the job's release notes (local runner: a directory here; "
            "gcb: a path inside the job's workspace).",
        ),
    ] = "",
    runner: RunnerOpt = "",
    project: ProjectOpt = "",
    nomock: NomockOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Submit stage/release jobs, or list the last jobs when neither --stage nor --release is given.

    Example: krel gcbmgr --stage --branch release-1.30 --type rc --stream
    Example: krel gcbmgr --stage --replay ./recording --stream
    Example: krel gcbmgr --release --branch release-1.30 --type rc --build-version v1.30.1-rc.0.5+3ff09514d162b0
    Example: krel gcbmgr --list-jobs 10 --json
    Example: krel gcbmgr --retry 3f2a9c1e --stream
    """
    options = GcbOptions(
        job=job_choice(stage, release),
        branch=branch,
        release_type=release_type,
        build_version=build_version,
        build_at_head=build_at_head,
        nomock=nomock,
        log_level=log_level(),
        gcp_user=gcp_user,
        project=project,
        list_jobs=list_jobs,
        replay_dir=replay,
    )
    validate(options)
    prof = open_profile(profile)
    if options.job:
        submit_job(options, prof, runner=runner, yes=yes, stream=stream, json_out=json_out)
        return
    jobs = open_job_runner(prof, runner, project, targets_for(prof, nomock))
    if cancel:
        _cancel(jobs, cancel, json_out)
    elif retry:
        _follow_or_show(jobs, jobs.retry(retry), stream, json_out)
    elif job_id:
        _follow_or_show(jobs, jobs.get(job_id), stream, json_out)
    else:
        _list(jobs, options.last_jobs, json_out)


# gcbmgr's modes besides submitting (submit_job, above): cancel, retry, show or follow one job, list recent jobs.
def _cancel(jobs: JobRunner, job_id: str, json_out: bool) -> None:
    _show(jobs.cancel(job_id), json_out)


def _follow_or_show(jobs: JobRunner, job: Job, stream: bool, json_out: bool) -> None:
    """--job/--retry: tail the job to its end with --stream, else show its row."""
    if stream:
        stream_to_end(jobs, job, json_out)
    else:
        _show(job, json_out)


def _list(jobs: JobRunner, last: int, json_out: bool) -> None:
    listed = jobs.list_jobs(limit=last)
    if json_out:
        ui.print_json([j.as_dict() for j in listed])
        return
    ui.table(f"Last {last} jobs ({jobs.name})", COLUMNS, job_rows(listed))


def _show(job: Job, json_out: bool) -> None:
    if json_out:
        ui.print_json(job.as_dict())
        return
    ui.table(f"Job {job.id}", COLUMNS, job_rows([job]))
    if job.detail:
        ui.console.print(job.detail, markup=False)


def register(app: typer.Typer) -> None:
    app.command("gcbmgr")(gcbmgr)
