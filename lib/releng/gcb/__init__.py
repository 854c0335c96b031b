"""Stage/release jobs on Cloud Build or the local runner: observe, plan the build request, submit."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from releng import git, version
from releng.errors import ReleaseError, UsageError
from releng.gcb.base import BuildRequest, Job, JobRunner
from releng.gcb.config import GcbFacts, GcbOptions, build_request, validate
from releng.jobs.observe import read_ci_version
from releng.objectstore import open_store
from releng.profile import Profile, RunnerName

# Where Kubernetes pins its cross-build (kube-cross / k8s-cloud-builder) image version.
KUBE_CROSS_FILE = "build/build-image/cross/VERSION"
_IMAGE_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


@dataclass(frozen=True)
class RunnerSettings:
    """Where runners keep or send jobs; values come from the CLI edge (KREL_HOME, --project, env)."""

    home: Path  # KREL_HOME: the local runner keeps jobs under home/jobs
    project: str = ""  # Cloud Build project
    api_endpoint: str = ""  # Cloud Build endpoint override, e.g. http://127.0.0.1:PORT for a local server


def _local(settings: RunnerSettings) -> JobRunner:
    from releng.gcb.local import LocalRunner

    return LocalRunner(settings.home / "jobs")


def _cloudbuild(settings: RunnerSettings) -> JobRunner:
    from releng.gcb.cloudbuild import CloudBuildRunner

    return CloudBuildRunner(settings.project, api_endpoint=settings.api_endpoint)


# Keyed by the profile's gcb.runner values (RunnerName): the profile accepts exactly these.
RUNNERS: dict[RunnerName, Callable[[RunnerSettings], JobRunner]] = {"local": _local, "gcb": _cloudbuild}


def open_runner(name: str, settings: RunnerSettings) -> JobRunner:
    """The job runner called `name` (local or gcb)."""
    factory = RUNNERS.get(cast(RunnerName, name))  # --runner is untrusted: an unknown name finds nothing
    if factory is None:
        raise UsageError(f"--runner: unknown job runner {name!r}: expected one of {', '.join(RUNNERS)}")
    return factory(settings)


def observe(options: GcbOptions, profile: Profile, *, gcp_user: str, git_tag: str) -> GcbFacts:
    """Read-only facts: the build version (flag, branch head, or CI marker) and whether the branch is new."""
    url = profile.upstream.url
    branch_is_new = version.is_release_branch(options.branch) and not git.remote_branch_exists(url, options.branch)
    if options.fast_forward:
        build_version = ""  # the fast-forward job finds its branch itself (krel ff: the latest release branch)
    elif options.build_version:
        build_version = options.build_version
    elif options.build_at_head:
        build_version = _build_version_at_head(url, options.branch)
    else:
        build_version = read_ci_version(open_store(profile.ci_bucket), profile.ci_bucket, options.branch)
    cross, cross_latest = kube_cross_versions(url, profile.upstream.default_branch, options.branch, branch_is_new)
    return GcbFacts(
        build_version=build_version,
        branch_is_new=branch_is_new,
        gcp_user=gcp_user,
        git_tag=git_tag,
        kube_cross_version=cross,
        kube_cross_version_latest=cross_latest,
    )


def kube_cross_versions(url: str, default_branch: str, branch: str, branch_is_new: bool) -> tuple[str, str]:
    """The builder image version on the branch and on the default branch (krel kubecross ForBranch/Latest).

    Read from KUBE_CROSS_FILE in the upstream; a branch that does not exist yet, or a project without the file,
    uses the default branch's version, and "latest" when there is none at all.
    """
    refs = [default_branch] if branch_is_new or branch == default_branch else [default_branch, branch]
    with tempfile.TemporaryDirectory(prefix="krel-cross-") as tmp:
        repo = git.init(Path(tmp), bare=True)
        # One commit per ref and only the blobs that are read (fetched lazily by `git show`).
        git.fetch_branches(repo, url, refs, filter="blob:none", depth=1)
        found = {r: (git.show_file(repo, f"refs/heads/{r}", KUBE_CROSS_FILE) or "").strip() for r in refs}
    for ref, value in found.items():
        if value and _IMAGE_TAG.fullmatch(value) is None:
            raise ReleaseError(f"{url} {ref}:{KUBE_CROSS_FILE}: {value[:60]!r} is not an image tag")
    latest = found[default_branch] or "latest"
    return found.get(branch) or latest, latest


def _build_version_at_head(url: str, branch: str) -> str:
    heads = git.ls_remote_heads(url, branch)
    if branch not in heads:
        raise UsageError(f"--build-at-head: branch {branch} does not exist on {url}")
    with tempfile.TemporaryDirectory(prefix="krel-head-") as tmp:
        repo = git.init(Path(tmp), bare=True)
        # Commits and tags only: describe needs no trees or blobs.
        git.fetch_branches(repo, url, [branch], filter="tree:0", tags=True)
        return version.build_version_from_describe(git.describe(repo, heads[branch]))


def plan(options: GcbOptions, profile: Profile, facts: GcbFacts, runner: JobRunner, project: str = "") -> BuildRequest:
    """The build request for this runner (pure given the facts)."""
    return build_request(options, profile, facts, runner=runner.name, krel_command=runner.krel_command, project=project)


def submit(
    options: GcbOptions, profile: Profile, runner: JobRunner, *, gcp_user: str, git_tag: str, project: str = ""
) -> Job:
    """Validate, observe, plan and submit a stage or release job (krel gcbmgr / stage --submit / release --submit)."""
    validate(options)
    if not options.job:
        raise UsageError("--stage/--release: choose the job to submit")
    facts = observe(options, profile, gcp_user=gcp_user, git_tag=git_tag)
    return runner.submit(plan(options, profile, facts, runner, project))


__all__ = [
    "RUNNERS",
    "BuildRequest",
    "GcbFacts",
    "GcbOptions",
    "Job",
    "JobRunner",
    "RunnerSettings",
    "observe",
    "open_runner",
    "plan",
    "submit",
    "validate",
]
