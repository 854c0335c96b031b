"""Check everything before publishing anything: each publishing step's refusals, run before the first write.

A release that would stop halfway (a marker moving backwards, a released object with other content, a tag on the
remote at another commit, a published page with other content) stops here instead, with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from releng import git, publish
from releng.backends import Backends
from releng.errors import ReleaseError, StepError
from releng.plan import Step
from releng.steps import (
    CopyToRelease,
    PreflightRelease,
    PublishMarkers,
    PublishNotes,
    PushGitObjects,
    UpdateGitHubPage,
)


def check_tags(b: Backends, step: PushGitObjects) -> None:
    """A tag already on the profile's upstream must name the commit the restored workspace tags (krel's rule)."""
    # The profile's URL, not the restored clone's remote config: the staged archive is not trusted for where.
    remote_tags = git.ls_remote_tags(b.profile.upstream.url)
    repo = Path(step.repo)
    for tag in step.tags:
        local = git.tag_commit(repo, tag)
        if local is None:
            raise ReleaseError(f"tag {tag} is missing in the restored workspace {repo}")
        if tag in remote_tags and remote_tags[tag] != local:
            raise git.TagConflictError.for_tag(tag, remote_tags[tag], local)


CHECKS: dict[type[Step], Callable[[Backends, Any], None]] = {
    CopyToRelease: publish.check_copy_to_release,
    PublishNotes: publish.check_publish_notes,
    PublishMarkers: publish.check_markers,
    PushGitObjects: check_tags,
    UpdateGitHubPage: publish.check_github_page,
}


def preflight_release(b: Backends, step: PreflightRelease) -> None:
    """Run the check of every publishing step; the first refusal stops the release before anything is written."""
    for check in step.checks:
        handler = CHECKS.get(type(check))
        if handler is None:
            raise ReleaseError(f"preflight: no check for step {type(check).__name__}")
        try:
            handler(b, check)
        except ReleaseError as exc:
            # Name both: the preflight stopped the run, and which publishing step would have been refused.
            raise StepError(f"{step.title}: {check.title}", exc) from exc
    b.report.info(f"{len(step.checks)} publishing steps checked; nothing would be refused")
