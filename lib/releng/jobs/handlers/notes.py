"""The WriteNotes handler: write_changelog from the step's values, committed locally, never pushed."""

from __future__ import annotations

import logging
from pathlib import Path

from releng import git, layout
from releng.changelog import ChangelogOptions, revisions, write_changelog
from releng.errors import UsageError
from releng.github import open_pull_requests
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import handles
from releng.jobs.steps import WriteNotes
from releng.notes import gather

log = logging.getLogger(__name__)


def _start_rev(repo: Path, tag: str, end: str) -> str | None:
    """krel's start tag; a repository's first release has none, so its notes start at the root commit."""
    try:
        start = revisions.start_tag(repo, tag, end)
    except UsageError:
        start = None
    if start is not None and git.ref_exists(repo, f"refs/tags/{start}"):
        return None  # write_changelog applies the same rule itself
    root = git.root_commits(repo, end)[-1]
    log.info("%s: no earlier release tag to start from; notes cover the history from %s", tag, root[:12])
    return root


@handles(WriteNotes)
def write_notes(step: WriteNotes, clients: Clients) -> None:
    """krel stage GenerateChangelog); idempotent: a rerun commits nothing."""
    repo = Path(step.repo)
    prs = open_pull_requests(
        step.org,
        step.repo_name,
        token=clients.github.token or None,
        replay_dir=Path(step.replay_dir) if step.replay_dir else None,
        api_url=clients.github.api_url,
    )
    branch = step.branch or revisions.release_branch(step.tag)
    end = revisions.end_revision(repo, branch, step.remote)
    tars = Path(step.tars_dir)
    release_images = layout.images_dir(tars.parent)
    images = gather.images_from_dir(release_images) if release_images.is_dir() else []
    result = write_changelog(
        ChangelogOptions(
            repo=repo,
            tag=step.tag,
            pull_requests=prs,
            author=step.author,
            branch=branch,
            start_rev=_start_rev(repo, step.tag, end),
            tars_dir=tars if tars.is_dir() else None,
            images=tuple((name, tuple(arches)) for name, arches in images),
            download_url=step.download_url,
            image_registry=step.image_registry,
            html_file=Path(step.html_file),
            json_file=Path(step.json_file),
            push="none",
            remote=step.remote,
            master=step.default_branch,
            template_dir=Path(step.template_dir) if step.template_dir else None,
            signing_key_url=step.signing_key_url,
        ),
        progress=lambda done, total: clients.report.progress("pull requests", done, total),
    )
    counts = ", ".join(f"{heading}: {n}" for heading, n in sorted(result.counts.items())) or "no notes"
    clients.report.info(
        f"{result.path} for {step.tag} since {result.start_rev} ({counts}); {len(result.commits)} commits"
    )
