"""`krel release`: publish a staged build (copy to release/, markers, git pushes, GitHub page)."""

from __future__ import annotations

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
    open_profile,
)


def release(
    build_version: Annotated[
        str, typer.Option("--build-version", metavar="VERSION", help="The build version krel stage printed."),
    ] = "",
    branch: BranchOpt = "master",
    release_type: TypeOpt = "alpha",
    profile: ProfileOpt = DEFAULT_PROFILE,
    nomock: NomockOpt = False,
    plan: PlanOpt = False,
    submit_job: SubmitOpt = False,
    stream: StreamOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Release a staged build: verify, validate images, copy to release/, markers, push git objects.

    Example: krel release --type rc --branch release-1.30 --build-version v1.30.0-rc.0.3+0123456789abcd
    """
    options = JobOptions(
        branch=branch,
        release_type=release_type,
        build_version=build_version or None,
        profile=open_profile(profile),
        home=krel_home(),
        nomock=nomock,
    )
    if submit_job:
        submit("release", options, stream, yes, json_out)
        return
    # the end of a successful run (the release-cut issue, the release's announcement) happens where the job runs
    finish = None if plan else cutflow.job_end("release", options)
    run_job("release", options, nomock, plan, json_out, yes, finish=finish)


def register(app: typer.Typer) -> None:
    app.command("release")(release)
