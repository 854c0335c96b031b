"""Observe (read-only): the facts a job is planned from, read once and kept in facts.json for a rerun."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from releng import git, layout, version
from releng.errors import ReleaseError, UsageError
from releng.jobs.clients import Clients
from releng.jobs.options import JobFacts, JobOptions, facts_for, job_dir
from releng.objectstore import ObjectNotFoundError, ObjectStore
from releng.profile import Targets


def read_ci_version(store: ObjectStore, ci_bucket: str, branch: str) -> str:
    """The CI version marker ci/latest[-X.Y].txt of the profile's CI bucket (krel GetKubeVersionForBranch)."""
    key = layout.ci_marker_key(branch)
    try:
        text = store.get(key).decode("utf-8", "replace").strip()
    except ObjectNotFoundError:
        raise ReleaseError(
            f"--build-version: not given and no CI version marker {ci_bucket.rstrip('/')}/{key}; "
            "pass --build-version or publish a CI build for the branch"
        ) from None
    try:
        version.parse_build_version(text)
    except UsageError as exc:
        raise ReleaseError(f"CI version marker {ci_bucket.rstrip('/')}/{key}: {exc}") from None
    return text


def facts_path(job: Path) -> Path:
    return job / "facts.json"


def _load_facts(job: Path, options: JobOptions, build_version: str) -> JobFacts | None:
    """A rerun plans with the facts of the first run: its own pushes must not change what it planned."""
    path = facts_path(job)
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        if saved["build_version"] != build_version:
            return None
        # The saved branch and type, not this run's: observe refuses a mismatch with one line.
        observed = dataclasses.replace(options, branch=str(saved.get("branch", "")),
                                       release_type=str(saved.get("release_type", "")))
        return facts_for(observed, build_version, bool(saved["branch_is_new"]), bool(saved.get("notes_staged")))
    except (ValueError, TypeError, KeyError, UsageError):
        return None


def _refuse_other_staging(clients: Clients, bucket: str, bv: str, versions: tuple[str, ...]) -> None:
    """stage/<bv>/ holds one staging (krel's layout): never mix in the versions of another branch or type."""
    prefix = layout.stage_prefix(bv) + "/"
    try:
        staged = {info.key[len(prefix):].split("/", 1)[0] for info in clients.store(bucket).list(prefix)}
    except ReleaseError:
        return  # an unreadable bucket is reported by the prerequisites step, with what is missing
    other = sorted(v for v in staged if v.startswith("v") and v not in versions)
    if other:
        raise UsageError(
            f"{bucket}/{prefix} already holds {', '.join(other)}, staged with other flags; "
            f"this run computes {', '.join(versions)}: use a newer build version"
        )


def observe(
    job_name: str, options: JobOptions, targets: Targets, clients: Clients, *, stages: bool
) -> tuple[JobFacts, Path]:
    """Read-only: the build version, whether the release branch is new, whether notes were staged.

    stages: the job writes stage/<bv>/ (refuse another staging there) rather than publishing it (look for notes).
    """
    ci_bucket = options.profile.ci_bucket
    # krel: without --build-version, stage takes the CI marker ci/latest[-X.Y].txt of the CI bucket.
    bv = options.build_version or read_ci_version(clients.store(ci_bucket), ci_bucket, options.branch)
    job = job_dir(options, targets, bv, job_name)
    saved = _load_facts(job, options, bv)
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
    if stages:
        facts = facts_for(options, bv, branch_is_new)
        _refuse_other_staging(clients, targets.bucket, bv, facts.versions)
        return facts, job
    notes = clients.store(targets.bucket).exists(f"{layout.staged_notes(bv)}/{layout.NOTES_FILES[0]}")
    return facts_for(options, bv, branch_is_new, notes), job
