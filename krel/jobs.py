"""The CLI edge for jobs: secrets read once, clients for the chosen targets, run or submit a job, follow it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import releng
from releng import gcb
from releng.errors import ReleaseError
from releng.gcb.base import SUCCESS, Job, JobRunner
from releng.gcb.config import GcbOptions, validate
from releng.jobs import run as jobrun
from releng.jobs.clients import FaultHooks, Secrets, open_clients
from releng.jobs.handlers.artifacts import job_artifacts
from releng.jobs.options import JobOptions
from releng.packages import keys as package_keys
from releng.profile import Profile, Targets
from releng.signing import release as signed

from krel import ui
from krel.options import (
    confirm_production,
    force_build_krel,
    github_api_url,
    github_token,
    krel_home,
    local_replay_dir,
    targets_for,
)
from krel.registries import credentials as registry_credentials

# Points the Cloud Build client at another endpoint (a local server in tests and demos).
ENDPOINT_ENV = "KREL_CLOUDBUILD_ENDPOINT"


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


def secrets() -> Secrets:
    """The secrets a job's clients use, read from the environment once, here."""
    return Secrets(
        credentials=_credentials(),
        github_token=github_token(),
        github_api_url=github_api_url(),
        registry_credentials=registry_credentials(),
        packages_key_env={name: os.environ[name] for name in package_keys.ENV_NAMES if os.environ.get(name)},
    )


def _with_signing(name: str, options: JobOptions, nomock: bool, job_secrets: Secrets, load_key: bool
                  ) -> tuple[JobOptions, Secrets]:
    """What the chosen targets sign goes into the options (the plan shows it); their key, loaded here at the edge
    (mock's throwaway key made on first use), into the secrets: the handlers get it through the clients only."""
    signing = options.profile.signing_for(nomock)
    options = dataclasses.replace(options, signing=signing)
    if not (load_key and signing.signs()):
        return options, job_secrets
    if name == "release" and not nomock and not signed.key_path(signing, options.home, nomock, os.environ).exists():
        # A mock release signs nothing, and a new throwaway key could check nothing the stage signed (a job on
        # another machine than its stage's): VerifySignatures checks with the key the stage published.
        return options, job_secrets
    key = signed.load_key(signing, options.home, nomock, os.environ)
    return options, dataclasses.replace(job_secrets, signing_key=key)


def submit(name: str, options: JobOptions, stream: bool, yes: bool, json_out: bool) -> None:
    """Hand the job to the gcbmgr submitter: it runs `krel <name> …` on Cloud Build or the local runner."""
    gcb_options = GcbOptions(
        job=name,
        branch=options.branch,
        release_type=options.release_type,
        build_version=options.build_version or "",
        nomock=options.nomock,
        log_level=log_level(),
        replay_dir=options.replay_dir if name == "stage" and options.notes else "",
    )
    submit_job(gcb_options, options.profile, yes=yes, stream=stream, json_out=json_out)


def send_question(recipients: Sequence[str]) -> str:
    """The one question before an announcement goes out (krel announce send, and krel release when it announces)."""
    return f"Send email to {', '.join(recipients)}?"


def confirm_release_announce(profile: Profile, nomock: bool, yes: bool) -> None:
    """krel release with [release] announce: announce send's question, asked before the release writes anything
    (by whoever submits a release job: the job itself runs with --yes)."""
    if profile.release.announce:
        confirm_production(profile, nomock, send_question(targets_for(profile, nomock).mail_to), yes)


# What the CLI does after a successful run, before the summary (krel.cutflow: the release-cut issue, the
# announcement); the fields it returns join the summary.
JobEnd = Callable[[jobrun.JobResult, dt.datetime], dict[str, object]]


def run_job(
    name: str, options: JobOptions, nomock: bool, plan_only: bool, json_out: bool, yes: bool = False,
    finish: JobEnd | None = None,
) -> jobrun.JobResult:
    """Shared by stage and release: plan or run (after the production question with --nomock), then render."""
    targets = targets_for(options.profile, nomock)
    if not plan_only:
        question = f"Really run krel {name} --nomock, writing to {targets.bucket} and {targets.registry}?"
        confirm_production(options.profile, nomock, question, yes)
        if name == "release":
            confirm_release_announce(options.profile, nomock, yes)
    reporter = ui.RichReporter(name, quiet=json_out)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # One line per registry request drowns the step headers; --log-level debug brings them back.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    options, job_secrets = _with_signing(name, options, nomock, secrets(), load_key=not plan_only)
    with open_clients(options.profile, targets, job_secrets, report=reporter, hooks=_hooks()) as clients:
        if plan_only:
            result = jobrun.run(name, options, targets, clients, plan_only=True)
            if json_out:
                ui.print_json(result.plan.as_json())
            else:
                ui.table(f"krel {name} plan ({result.build_version})", ["#", "step", "does"],
                         [(i, s.title, s.describe()) for i, s in enumerate(result.plan.steps, 1)])
            return result
        started = dt.datetime.now(dt.UTC)
        with reporter.live(bytes_mode=True):
            result = jobrun.run(name, options, targets, clients)
        # every file (URL, size, sha256) and image (digest) the run staged or released, read while clients are open
        listed = job_artifacts(result.plan, clients)
    ended = finish(result, started) if finish else {}
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
        **ended,
    }
    if json_out:
        ui.print_json({**summary, "artifacts": listed})
    else:
        ui.table(f"krel {name} done", ["field", "value"], [(k, _cell(v)) for k, v in summary.items() if v != ""])
        show_artifacts(listed)
        if result.next_command:
            ui.console.print(f"To release this staged build, run:\n  {result.next_command}", markup=False)
    return result


def show_artifacts(listed: Sequence[Mapping[str, Any]]) -> None:
    """What `--json` lists (and artifacts.json holds) as two tables, files (size, sha256, URL) and images (digest):
    rich on a terminal, elsewhere a header line and one tab-separated record per line (ui.table)."""
    files = [(a["version"], f["name"], f["size"], f["sha256"], f["url"]) for a in listed for f in a["files"]]
    images = [(a["version"], i["ref"], i["digest"]) for a in listed for i in a["images"]]
    if files:
        ui.table("artifacts: files", ["version", "file", "size", "sha256", "url"], files)
    if images:
        ui.table("artifacts: images", ["version", "image", "digest"], images)


def _cell(value: object) -> object:
    """A summary value in one table cell: lists joined, records (the release issue, the announcement) as key: value."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return value


def open_job_runner(profile: Profile, runner: str, project: str, targets: Targets) -> JobRunner:
    """The runner chosen by --runner (or the profile), with settings read here at the CLI edge."""
    settings = gcb.RunnerSettings(
        home=krel_home(),
        project=project or targets.gcb_project,
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
    # cleaned line by line (the log carries build output and PR text); record rows without the step prefix
    log = ui.JobLog(sys.stderr if json_out else sys.stdout)
    try:
        final = runner.stream(job.id, log.write)
    except KeyboardInterrupt:
        raise ReleaseError(f"stopped following job {job.id}; it goes on: krel gcbmgr --job {job.id} --stream") from None
    finally:
        log.close()
    if json_out:
        ui.print_json(final.as_dict())
    if final.status != SUCCESS:
        detail = f": {final.detail}" if final.detail else ""
        raise ReleaseError(f"job {final.id} finished with status {final.status}{detail}")
    return final


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
    # The environment and the choice of targets, both made here at the edge; the library reads options.targets.
    options = dataclasses.replace(options, force_build_krel=force_build_krel(),
                                  targets=targets_for(profile, options.nomock))
    validate(options)
    if options.replay_dir and (runner or profile.gcb.runner) == "local":
        # The local job runs in its own directory: hand it an absolute path that exists now.
        options = dataclasses.replace(options, replay_dir=local_replay_dir(options.replay_dir))
    question = f"Really submit a --nomock release job against the {options.branch} branch?"
    confirm_production(profile, options.nomock, question, yes)
    if options.release:
        confirm_release_announce(profile, options.nomock, yes)
    jobs = open_job_runner(profile, runner, options.project, options.chosen_targets())
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
