"""The checks a job runs before it writes: prerequisites up front, and every publishing step's refusals at release.

A release that would stop halfway (a marker moving backwards, a released object with other content, a tag on the
remote at another commit, a published page with other content) stops here instead, with nothing written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from releng import layout
from releng.errors import ReleaseError, StepError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import CHECKS, handles
from releng.jobs.steps import CheckPrerequisites, PreflightRelease

_GIB = 1024**3


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@handles(CheckPrerequisites)
def check_prerequisites(step: CheckPrerequisites, clients: Clients) -> None:
    """krel CheckPrerequisites: tools on PATH, free disk, credentials for the targets."""
    missing = [tool for tool in step.tools if shutil.which(tool) is None]
    if missing:
        raise ReleaseError(f"required tools not found on PATH: {', '.join(missing)}")
    free = shutil.disk_usage(_existing_parent(Path(step.workdir))).free
    if free < step.min_free_gib * _GIB:
        raise ReleaseError(
            f"only {free / _GIB:.1f} GiB free for {step.workdir}; the profile's build.min_free_gib wants "
            f"{step.min_free_gib} GiB"
        )
    absent = [name for name in step.credentials if name not in clients.credentials]
    if absent:
        raise ReleaseError(f"credentials missing for the targets: {', '.join(absent)} (set them in the environment)")
    for url in step.buckets:
        # Reachable and listable now, rather than failing after an hour of building.
        next(iter(clients.store(url).list(layout.release_root())), None)
    for host in step.registries:
        clients.registry(host).ping()


@handles(PreflightRelease)
def preflight_release(step: PreflightRelease, clients: Clients) -> None:
    """Run the check of every publishing step; the first refusal stops the release before anything is written."""
    for check in step.checks:
        handler = CHECKS.get(type(check))
        if handler is None:
            raise ReleaseError(f"preflight: no check for step {type(check).__name__}")
        try:
            handler(check, clients)
        except ReleaseError as exc:
            # Name both: the preflight stopped the run, and which publishing step would have been refused.
            raise StepError(f"{step.title}: {check.title}", exc) from exc
    clients.report.info(f"{len(step.checks)} publishing steps checked; nothing would be refused")
