"""`krel stage`: build, tag locally and stage a release to the targets' bucket and registry."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from releng import job
from releng.backends import Backends, FaultHooks
from releng.profile import Profile
from releng.stage import JobOptions

from krel import ui
from krel.options import (
    DEFAULT_PROFILE,
    JsonOpt,
    NomockOpt,
    ProfileOpt,
    YesOpt,
    github_api_url,
    github_token,
    krel_home,
    local_replay_dir,
    open_profile,
)

BranchOpt = Annotated[str, typer.Option("--branch", help="master, main or release-X.Y.")]
TypeOpt = Annotated[str, typer.Option("--type", help="alpha, beta, rc or official.")]
PlanOpt = Annotated[bool, typer.Option("--plan", help="Print the plan (every step and its targets) and stop.")]
SubmitOpt = Annotated[
    bool, typer.Option("--submit", help="Submit the job to the profile's job runner (Cloud Build or local) instead.")
]
StreamOpt = Annotated[bool, typer.Option("--stream", help="With --submit: follow the job's log until it ends.")]


def _credentials() -> frozenset[str]:
    """Which credentials are present (names only; the values stay here at the edge)."""
    present = set()
    if os.environ.get("GITHUB_TOKEN"):
        present.add("GITHUB_TOKEN")
    adc = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or os.environ.get("STORAGE_EMULATOR_HOST") or adc.exists():
        present.add("google-cloud")
    return frozenset(present)


def _hooks() -> FaultHooks:
    # Test-only fault injection, used by the resume tests (SIGKILL at a step boundary or mid-upload).
    at = os.environ.get("KREL_TEST_KILL_AT_STEP", "")
    return FaultHooks(kill_at_step=int(at) if at.isdigit() else None,
                     kill_mid_upload=os.environ.get("KREL_TEST_KILL_MID_UPLOAD") == "1")


def backends_for(profile: Profile, nomock: bool, reporter: ui.RichReporter) -> Backends:
    """Backends for the chosen targets, with secrets read from the environment once, here."""
    return Backends(
        profile=profile,
        targets=profile.targets(nomock),
        author=profile.git_author,
        credentials=_credentials(),
        github_token=github_token(),
        github_api_url=github_api_url(),
        registry_user=os.environ.get("KREL_REGISTRY_USERNAME", ""),
        registry_password=os.environ.get("KREL_REGISTRY_PASSWORD", ""),
        report=reporter,
        hooks=_hooks(),
    )


def submit(name: str, options: JobOptions, stream: bool, yes: bool, json_out: bool) -> None:
    """Hand the job to the gcbmgr submitter: it runs `krel <name> …` on Cloud Build or the local runner."""
    from releng.gcb import GcbOptions

    from krel.commands.gcbmgr import submit_job

    gcb_options = GcbOptions(
        stage=name == "stage",
        release=name == "release",
        branch=options.branch,
        release_type=options.release_type,
        build_version=options.build_version or "",
        nomock=options.nomock,
        log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower(),
        replay_dir=options.replay_dir if name == "stage" and options.notes else "",
    )
    submit_job(gcb_options, options.profile, yes=yes, stream=stream, json_out=json_out)


def run_job(name: str, options: JobOptions, nomock: bool, plan_only: bool, json_out: bool) -> job.JobResult:
    """Shared by stage and release: plan or run, then render the outcome."""
    reporter = ui.RichReporter(name, quiet=json_out)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # One line per registry request drowns the step headers; --log-level debug brings them back.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    backends = backends_for(options.profile, nomock, reporter)
    try:
        if plan_only:
            result = job.run(name, options, backends, plan_only=True)
            if json_out:
                ui.print_json(result.plan.as_json())
            else:
                ui.table(f"krel {name} plan ({result.build_version})", ["#", "step", "does"],
                         [(i, s.title, s.describe()) for i, s in enumerate(result.plan.steps, 1)])
            return result
        with reporter.live(bytes_mode=True):
            result = job.run(name, options, backends)
    finally:
        backends.close()
    targets = backends.targets
    summary = {
        "job": name,
        "build_version": result.build_version,
        "versions": list(result.versions),
        "bucket": targets.bucket,
        "registry": targets.registry,
        "git_push": targets.git_push,
        "work_dir": str(result.job_dir),
        "log": str(result.log_file),
        "resumed": result.resumed,
        "next": result.next_command,
    }
    if json_out:
        ui.print_json(summary)
    else:
        ui.table(f"krel {name} done", ["field", "value"],
                 [(k, ", ".join(v) if isinstance(v, list) else v) for k, v in summary.items() if v != ""])
        if result.next_command:
            ui.console.print(f"To release this staged build, run:\n  {result.next_command}", markup=False)
    return result


def stage(
    branch: BranchOpt = "master",
    release_type: TypeOpt = "alpha",
    build_version: Annotated[
        str, typer.Option("--build-version", help="Build to stage (default: the CI marker ci/latest[-X.Y].txt).")
    ] = "",
    replay: Annotated[
        str, typer.Option("--replay", help="Recorded GitHub PR data (krel replay format) for the release notes.")
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
    run_job("stage", options, nomock, plan, json_out)


def register(app: typer.Typer) -> None:
    app.command("stage")(stage)
