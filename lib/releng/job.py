"""Run `stage` and `release`: observe the facts, plan, apply with a journal and a log file next to the work tree."""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from releng import build, git, images, layout, preflight, publish, steps, version, workspace
from releng.backends import Backends
from releng.errors import ReleaseError, UsageError
from releng.gcb import read_ci_version
from releng.journal import Journal
from releng.plan import Plan, Step
from releng.release import plan_release
from releng.report import Reporter
from releng.runner import Handler, apply
from releng.stage import JobOptions, StageFacts, job_dir, plan_stage, release_command, validate_options

log = logging.getLogger(__name__)

_HANDLERS: dict[type[Step], Callable[[Backends, Any], None]] = {
    steps.CheckPrerequisites: workspace.check_prerequisites,
    steps.CheckBranchState: workspace.check_branch_state,
    steps.PrepareWorkspace: workspace.prepare_workspace,
    steps.TagVersion: workspace.tag_version,
    steps.BuildVersion: build.build_version,
    steps.VerifyArtifacts: build.verify_artifacts,
    steps.AssembleStage: build.assemble_stage,
    steps.StageSource: workspace.stage_source,
    steps.UploadArtifacts: publish.upload_artifacts,
    steps.PushImages: images.push_images,
    steps.WriteProvenance: publish.write_provenance,
    steps.ArchiveLog: publish.archive_log,
    steps.RestoreWorkspace: workspace.restore_workspace,
    steps.VerifyStaged: publish.verify_staged,
    steps.PreflightRelease: preflight.preflight_release,
    steps.ValidateImages: images.validate_images,
    steps.CopyToRelease: publish.copy_to_release,
    steps.PublishNotes: publish.publish_notes,
    steps.CreateAnnouncement: publish.create_announcement,
    steps.PublishMarkers: publish.publish_markers,
    steps.PushGitObjects: workspace.push_git_objects,
    steps.UpdateGitHubPage: publish.update_github_page,
}


def _write_notes(b: Backends, step: steps.WriteNotes) -> None:
    """The notes step is implemented by the changelog library (imported on use: it pulls in the GitHub clients)."""
    module = importlib.import_module("releng.changelog.step")
    module.write_notes(b, step)


_HANDLERS[steps.WriteNotes] = _write_notes


@dataclass(frozen=True)
class JobResult:
    """What a job did (or, with plan_only, would do)."""

    job: str
    plan: Plan
    build_version: str
    versions: tuple[str, ...]
    job_dir: Path
    log_file: Path
    next_command: str = ""
    resumed: bool = False


def _facts_path(job: Path) -> Path:
    return job / "facts.json"


def _load_facts(job: Path, build_version: str) -> StageFacts | None:
    """A rerun plans with the facts of the first run: its own pushes must not change what it planned."""
    path = _facts_path(job)
    if not path.exists():
        return None
    try:
        facts = StageFacts(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    return facts if facts.build_version == build_version else None


def _refuse_other_staging(b: Backends, bv: str, versions: list[str]) -> None:
    """stage/<bv>/ holds one staging (krel's layout): never mix in the versions of another branch or type."""
    prefix = layout.stage_prefix(bv) + "/"
    try:
        staged = {info.key[len(prefix):].split("/", 1)[0] for info in b.store(b.targets.bucket).list(prefix)}
    except ReleaseError:
        return  # an unreadable bucket is reported by the prerequisites step, with what is missing
    other = sorted(v for v in staged if v.startswith("v") and v not in versions)
    if other:
        raise UsageError(
            f"{b.targets.bucket}/{prefix} already holds {', '.join(other)}, staged with other flags; "
            f"this run computes {', '.join(versions)}: use a newer build version"
        )


def observe(job_name: str, options: JobOptions, b: Backends) -> tuple[StageFacts, Path]:
    """Read-only: the build version, whether the release branch is new, whether notes were staged."""
    # krel: without --build-version, stage takes the CI marker ci/latest[-X.Y].txt of the CI bucket.
    bv = options.build_version or read_ci_version(options.profile.ci_bucket, options.branch)
    job = job_dir(options, b.targets, bv, job_name)
    saved = _load_facts(job, bv)
    if saved is not None:
        if (saved.branch, saved.release_type) != (options.branch, options.release_type):
            raise UsageError(
                f"build version {bv} was already {job_name}d here for --branch {saved.branch} --type "
                f"{saved.release_type}; stage/{bv}/ holds one staging, so use a newer build or the same flags"
            )
        return saved, job
    upstream = options.profile.upstream.url
    branch_is_new = version.is_release_branch(options.branch) and not git.remote_branch_exists(
        upstream, options.branch
    )
    if job_name == "stage":
        _refuse_other_staging(b, bv, version.release_versions(options.release_type, bv, options.branch, branch_is_new))
    notes = False
    if job_name == "release":
        notes = b.store(b.targets.bucket).exists(f"{layout.stage_prefix(bv)}/notes/{layout.NOTES_FILES[0]}")
    return StageFacts(bv, branch_is_new, notes, options.branch, options.release_type), job


class _LogReporter:
    """Passes events on and writes step headers and messages to the job log as well."""

    def __init__(self, inner: Reporter, logger: logging.Logger) -> None:
        self.inner = inner
        self.log = logger

    def step(self, index: int, total: int, title: str) -> None:
        self.log.info("[step %d/%d] %s", index, total, title)
        self.inner.step(index, total, title)

    def progress(self, task: str, done: int, total: int) -> None:
        self.inner.progress(task, done, total)

    def info(self, message: str) -> None:
        self.log.info("%s", message)
        self.inner.info(message)


@contextmanager
def _job_log(path: Path) -> Iterator[logging.Logger]:
    """Send everything the releng loggers say into the job's log file; the reporter owns the console meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("releng")
    saved = root.level, root.propagate
    root.setLevel(logging.DEBUG)
    root.propagate = False
    root.addHandler(handler)
    try:
        yield logging.getLogger("releng.job")
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]
        handler.close()


@contextmanager
def _exclusive(job: Path) -> Iterator[None]:
    job.mkdir(parents=True, exist_ok=True)
    fd = os.open(job / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError(f"another krel job is running in {job}") from None
        yield
    finally:
        os.close(fd)


def _bound(b: Backends) -> dict[type[Step], Handler]:
    counter = iter(range(1, 1_000_000))

    def bind(fn: Callable[[Backends, Any], None]) -> Handler:
        def handler(step: Any) -> None:
            if b.hooks.kill_at_step == next(counter):
                b.hooks.kill()
            fn(b, step)

        return handler

    return {kind: bind(fn) for kind, fn in _HANDLERS.items()}


def run(job_name: str, options: JobOptions, b: Backends, plan_only: bool = False) -> JobResult:
    """Observe, plan and (unless plan_only) apply the stage or release job."""
    validate_options(options, require_build_version=job_name == "release")
    facts, job = observe(job_name, options, b)
    planner = plan_stage if job_name == "stage" else plan_release
    plan = planner(options, b.targets, facts)
    versions = tuple(s.version for s in plan.steps if isinstance(s, steps.TagVersion)) or tuple(
        s.version for s in plan.steps if isinstance(s, steps.PublishMarkers)
    )
    log_file = job / f"{job_name}.log"
    next_command = release_command(options, facts.build_version) if job_name == "stage" else ""
    journal_path = job / "journal.jsonl"
    resumed = journal_path.exists()
    result = JobResult(job_name, plan, facts.build_version, versions, job, log_file, next_command, resumed)
    if plan_only:
        return result
    with _exclusive(job):
        _facts_path(job).write_text(json.dumps(asdict(facts), sort_keys=True))
        with _job_log(log_file) as logger:
            report = _LogReporter(b.report, logger)
            b.report = report
            logger.info("krel %s %s: versions %s (%s)", job_name, facts.build_version, ", ".join(versions),
                        "resuming" if resumed else "new run")
            apply(plan, _bound(b), Journal(journal_path), report)
            if next_command:
                logger.info("To release this staged build, run: %s", next_command)
    return result

