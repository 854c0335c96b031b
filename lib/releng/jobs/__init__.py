"""The stage and release jobs: each a small record naming its planner, looked up by name (run.py runs one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from releng.errors import UsageError
from releng.jobs.options import JobFacts, JobOptions, release_command
from releng.jobs.release import plan_release
from releng.jobs.stage import plan_stage
from releng.plan import Plan
from releng.profile import Targets


@dataclass(frozen=True)
class Job:
    """What differs between stage and release; everything else is the same observe, plan, apply."""

    name: str
    planner: Callable[[JobOptions, Targets, JobFacts], Plan]
    stages: bool  # writes stage/<bv>/ (refuses another staging there) rather than publishing it
    needs_build_version: bool  # release publishes a build stage printed; stage may take the CI marker
    next_command: Callable[[JobOptions, str], str] | None = None  # the command to run after this job


JOBS: dict[str, Job] = {
    "stage": Job("stage", plan_stage, stages=True, needs_build_version=False, next_command=release_command),
    "release": Job("release", plan_release, stages=False, needs_build_version=True),
}


def job_named(name: str) -> Job:
    """The job record for name; a name that is not a job is a usage error."""
    try:
        return JOBS[name]
    except KeyError:
        raise UsageError(f"unknown job {name!r}: expected one of {', '.join(JOBS)}") from None
