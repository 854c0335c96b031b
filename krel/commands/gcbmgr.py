"""`krel gcbmgr`: submit stage/release jobs to Cloud Build or the local runner, stream them, list recent jobs."""

from __future__ import annotations

import dataclasses
import getpass
import logging
import os
import sys
from typing import Annotated

import releng
import typer
from releng import gcb
from releng.errors import ReleaseError
from releng.gcb.base import SUCCESS, Job, JobRunner
from releng.gcb.config import GcbOptions, validate
from releng.profile import Profile

from krel import ui
from krel.options import (
    DEFAULT_PROFILE,
    JsonOpt,
    NomockOpt,
    ProfileOpt,
    YesOpt,
    krel_home,
    local_replay_dir,
    open_profile,
)

# Points the Cloud Build client at another endpoint (a local server in tests and demos).
ENDPOINT_ENV = "KREL_CLOUDBUILD_ENDPOINT"

RunnerOpt = Annotated[
    str, typer.Option("--runner", help="Job runner: local (this machine) or gcb (Cloud Build); default from profile.")
]
ProjectOpt = Annotated[str, typer.Option("--project", help="Cloud Build project (default: the profile's gcb_project).")]


def open_job_runner(profile: Profile, runner: str, project: str, nomock: bool) -> JobRunner:
    """The runner chosen by --runner (or the profile), with settings read here at the CLI edge."""
    settings = gcb.RunnerSettings(
        home=krel_home(),
        project=project or profile.targets(nomock).gcb_project,
        api_endpoint=os.environ.get(ENDPOINT_ENV, ""),
    )
    return gcb.open_runner(runner or profile.gcb.runner, settings)


def current_user() -> str:
    """Who submits: GCP_USER_TAG-style name from the OS account (krel used the gcloud account)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def log_level() -> str:
    """The root --log-level, passed on to the job's own krel run."""
    return logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()


def stream_to_end(runner: JobRunner, job: Job, json_out: bool) -> Job:
    """Tail the job's log (stderr with --json, so stdout stays JSON) and fail unless it succeeded."""
    out = sys.stderr if json_out else sys.stdout

    def write(text: str) -> None:
        out.write(ui.clean(text))  # the job's log carries build output and PR text: no escapes reach the terminal
        out.flush()

    try:
        final = runner.stream(job.id, write)
    except KeyboardInterrupt:
        raise ReleaseError(f"stopped following job {job.id}; it goes on: krel gcbmgr --job {job.id} --stream") from None
    if json_out:
        ui.print_json(final.as_dict())
    if final.status != SUCCESS:
        detail = f": {final.detail}" if final.detail else ""
        raise ReleaseError(f"job {final.id} finished with status {final.status}{detail}")
    return final


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
    branch: Annotated[str, typer.Option("--branch", help="master or release-X.Y.")] = "master",
    release_type: Annotated[str, typer.Option("--type", help="alpha, beta, rc or official.")] = "alpha",
    build_version: Annotated[
        str, typer.Option("--build-version", help="Build to stage/release (stage default: the CI version marker).")
    ] = "",
    build_at_head: Annotated[
        bool, typer.Option("--build-at-head", help="Stage the branch's current head (git ls-remote).")
    ] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Wait for the job, printing its log.")] = False,
    list_jobs: Annotated[int, typer.Option("--list-jobs", help="How many recent jobs to list (negative: 5).")] = 5,
    job_id: Annotated[str, typer.Option("--job", help="Show one job (with --stream: tail it to the end).")] = "",
    cancel: Annotated[str, typer.Option("--cancel", help="Cancel the job with this id.")] = "",
    retry: Annotated[
        str, typer.Option("--retry", help="Run this job's request again as a new job (stage/release resume).")
    ] = "",
    gcp_user: Annotated[str, typer.Option("--gcp-user", help="User tag for the job (default: this account).")] = "",
    replay: Annotated[
        str,
        typer.Option(
            "--replay",
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
        stage=stage,
        release=release,
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
    if options.job_type:
        submit_job(options, prof, runner=runner, yes=yes, stream=stream, json_out=json_out)
        return
    jobs = open_job_runner(prof, runner, project, nomock)
    if cancel:
        _show(jobs.cancel(cancel), json_out)
    elif retry:
        job = jobs.retry(retry)
        if stream:
            stream_to_end(jobs, job, json_out)
        else:
            _show(job, json_out)
    elif job_id:
        job = jobs.get(job_id)
        if stream:
            stream_to_end(jobs, job, json_out)
        else:
            _show(job, json_out)
    else:
        listed = jobs.list_jobs(limit=options.last_jobs)
        if json_out:
            ui.print_json([j.as_dict() for j in listed])
            return
        ui.table(f"Last {options.last_jobs} jobs ({jobs.name})", COLUMNS, job_rows(listed))


def submit_job(
    options: GcbOptions,
    profile: Profile,
    *,
    runner: str = "",
    yes: bool = False,
    stream: bool = False,
    json_out: bool = False,
) -> Job:
    """Confirm --nomock, submit and optionally stream: gcbmgr --stage|--release, and stage/release --submit."""
    validate(options)
    if options.replay_dir and (runner or profile.gcb.runner) == "local":
        # The local job runs in its own directory: hand it an absolute path that exists now.
        options = dataclasses.replace(options, replay_dir=local_replay_dir(options.replay_dir))
    if options.nomock:
        question = f"Really submit a --nomock release job against the {options.branch} branch?"
        if not ui.confirm(question, yes):
            raise ReleaseError(f"--nomock {options.job_type} job for {options.branch} not submitted (not confirmed)")
    jobs = open_job_runner(profile, runner, options.project, options.nomock)
    user = options.gcp_user or current_user()
    job = gcb.submit(options, profile, jobs, gcp_user=user, git_tag=f"v{releng.__version__}")
    if not json_out:
        ui.err_console.print(
            f"Submitted {job.kind} job {job.id} ({jobs.name}, {job.status}); log: {job.log_url}", markup=False
        )
    if stream:
        return stream_to_end(jobs, job, json_out)
    if json_out:
        ui.print_json(job.as_dict())
    else:
        ui.console.print(job.id, markup=False)
    return job


def _show(job: Job, json_out: bool) -> None:
    if json_out:
        ui.print_json(job.as_dict())
        return
    ui.table(f"Job {job.id}", COLUMNS, job_rows([job]))
    if job.detail:
        ui.console.print(job.detail, markup=False)


def register(app: typer.Typer) -> None:
    app.command("gcbmgr")(gcbmgr)
