"""`krel stage`: build, tag locally and stage a release to the targets' bucket and registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from releng.jobs.options import JobOptions

from krel import cutflow
from krel.jobs import run_job, submit
from krel.options import (
    DEFAULT_PROFILE,
    BranchOpt,
    JsonOpt,
    NomockOpt,
    PlanOpt,
    ProfileOpt,
    StreamOpt,
    SubmitOpt,
    TypeOpt,
    YesOpt,
    krel_home,
    local_replay_dir,
    open_profile,
)


def stage(
    branch: BranchOpt = "master",
    release_type: TypeOpt = "alpha",
    build_version: Annotated[
        str, typer.Option(
            "--build-version",
            metavar="VERSION",
            help="Build to stage (default: the CI marker ci/latest[-X.Y].txt).",
        )
    ] = "",
    replay: Annotated[
        str, typer.Option(
            "--replay",
            metavar="DIR",
            help="Recorded GitHub PR data (krel replay format) for the release notes.",
        )
    ] = "",
    notes: Annotated[
        bool | None,
        typer.Option("--notes/--no-notes", help="Changelog + notes step (default: on with --replay or GITHUB_TOKEN)."),
    ] = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
    nomock: NomockOpt = False,
    plan: PlanOpt = False,
    submit_job: SubmitOpt = False,
    stream: StreamOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Stage a release: tag, build, notes, SBOM, checksums, upload, push images.

    Example: krel stage --branch release-1.30 --type rc --build-version v1.30.0-rc.0.3+0123456789abcd
    Example: krel stage --branch master --type alpha --plan --json
    Example: krel stage --branch master --type alpha --submit --stream
    """
    options = JobOptions(
        branch=branch,
        release_type=release_type,
        build_version=build_version or None,
        profile=open_profile(profile),
        home=krel_home(),
        nomock=nomock,
        notes=bool(replay or os.environ.get("GITHUB_TOKEN")) if notes is None else notes,
        # Checked now when this machine runs the job, so a missing directory fails before building, not after.
        replay_dir=(str(Path(replay).resolve()) if submit_job else local_replay_dir(replay)) if replay else "",
    )
    if submit_job:
        submit("stage", options, stream, yes, json_out)
        return
    # the end of a successful run (the release-cut issue, the release's announcement) happens where the job runs
    finish = None if plan else cutflow.job_end("stage", options)
    run_job("stage", options, nomock, plan, json_out, yes, finish=finish)


def register(app: typer.Typer) -> None:
    app.command("stage")(stage)
