"""Committing a changelog: files written and removed in the work tree, never through a link, put back on failure."""

from __future__ import annotations

import contextlib
import fnmatch
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from releng import git
from releng.changelog import revisions
from releng.errors import ReleaseError
from releng.files import UnsafePathError, check_writable, read_if_exists, remove, write_atomic
from releng.profile import Author
from releng.version import parse_tag

if TYPE_CHECKING:
    from releng.changelog import ChangelogOptions

MASTER_MESSAGE = "CHANGELOG: Update directory for {tag} release"
BRANCH_MESSAGE = "Update CHANGELOG/CHANGELOG-{major}.{minor}.md for {tag}"


def commit_both(
    options: ChangelogOptions, branch: str, path: str, readme: str, merged: str, readme_text: str
) -> list[str]:
    """krel's two commits: the file on master, then the same file on the release branch."""
    repo, tag, master = options.repo, options.tag, options.master
    version = parse_tag(tag)
    original = git.current_branch(repo) or git.rev_parse(repo, "HEAD")
    commits: list[str] = []
    try:
        git.checkout(repo, master)
        message = MASTER_MESSAGE.format(tag=tag)
        sha = _commit_files(repo, {path: merged, readme: readme_text}, [], message, options.author)
        if sha:
            commits.append(sha)
        if branch != master:
            git.checkout(repo, branch)
            # the first X.Y.0 prunes every other minor's changelog from the release branch
            pruned = _other_changelogs(repo, path) if revisions.needs_draft(tag) else []
            message = BRANCH_MESSAGE.format(major=version.major, minor=version.minor, tag=tag)
            sha = _commit_files(repo, {path: merged}, pruned, message, options.author)
            if sha:
                commits.append(sha)
    finally:
        git.checkout(repo, original)
    return commits


def _commit_files(repo: Path, writes: dict[str, str], removals: list[str], message: str, author: Author) -> str | None:
    """Write and remove repo files, then commit them; on failure every file krel touched is put back as it was."""
    touched = [*writes, *removals]
    for rel in touched:
        check_writable(repo / rel, base=repo)
    _check_clean(repo, touched)
    before = {rel: read_if_exists(repo / rel, base=repo) for rel in touched}
    done: list[str] = []
    try:
        for rel, text in writes.items():
            done.append(rel)
            write_atomic(repo / rel, text, base=repo)
        for rel in removals:
            done.append(rel)
            remove(repo / rel, base=repo)
        return git.commit_paths(repo, touched, message, author)
    except (ReleaseError, OSError):
        _restore(repo, before, done)
        raise


def _check_clean(repo: Path, paths: list[str]) -> None:
    """Refuse to overwrite uncommitted or untracked content at the paths krel writes: it is not krel's to lose."""
    dirty = git.dirty_paths(repo, paths)
    if dirty:
        listed = ", ".join(dirty)
        raise ReleaseError(f"{repo}: {listed}: uncommitted content krel would overwrite; commit or remove it first")


def _restore(repo: Path, before: dict[str, bytes | None], done: list[str]) -> None:
    """Put back what krel changed before a failed commit: only its own files, never through a link."""
    git.unstage(repo, done)
    for rel in done:
        previous = before[rel]
        # best effort: the failure being reported matters more than a file that cannot be put back
        with contextlib.suppress(ReleaseError, OSError):
            if previous is None:
                remove(repo / rel, base=repo)
            else:
                write_atomic(repo / rel, previous, base=repo)


def _other_changelogs(repo: Path, path: str) -> list[str]:
    """Tracked CHANGELOG/CHANGELOG-*.md files other than path (untracked files are not krel's to delete)."""
    listed = git.tracked_files(repo, "CHANGELOG/")
    return sorted(
        rel for rel in listed
        if rel != path and PurePosixPath(rel).parent.as_posix() == "CHANGELOG"
        and fnmatch.fnmatchcase(PurePosixPath(rel).name, "CHANGELOG-*.md")
    )


def check_tree(repo: Path, ref: str, paths: list[str]) -> None:
    """Refuse a branch whose tree has a symbolic link (mode 120000) at one of paths or a directory above them."""
    prefixes = sorted({p for rel in paths for p in _prefixes(rel)})
    for mode, name in git.tree_modes(repo, ref, prefixes):
        if mode == "120000":
            raise UnsafePathError.in_tree(name, ref)


def _prefixes(rel: str) -> list[str]:
    parts = PurePosixPath(rel).parts
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def show(repo: Path, ref: str, path: str) -> str | None:
    """A file of a branch as text; a file that is not UTF-8 is one error naming it."""
    try:
        return git.show_file(repo, ref, path)
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"{ref}:{path} is not UTF-8 text (byte {exc.start}): krel edits UTF-8 only") from None


def check_not_behind(repo: Path, remote: str, branches: list[str]) -> None:
    """Fetch, then refuse a local branch its remote-tracking branch is ahead of (its commit could not be pushed)."""
    git.fetch(repo, remote)
    for branch in branches:
        local, tracking = f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"
        if not (git.ref_exists(repo, local) and git.ref_exists(repo, tracking)):
            continue
        if not git.is_ancestor(repo, tracking, local):
            behind = git.count_commits(repo, local, tracking)
            raise ReleaseError(
                f"{branch} is {behind} commit(s) behind {remote}/{branch}: update it (git pull --ff-only) and rerun"
            )


def heads(repo: Path, branches: list[str]) -> dict[str, str | None]:
    """Where each local branch is now (None: not created yet), to rewind to after a failed push."""
    return {b: git.rev_parse(repo, f"refs/heads/{b}") if git.ref_exists(repo, f"refs/heads/{b}") else None
            for b in branches}


def push_or_rewind(repo: Path, remote: str, branches: list[str], before: dict[str, str | None], dry_run: bool) -> str:
    """Push the branches; when the push fails, move them back to `before`, so no commit is left behind."""
    try:
        return git.push(repo, remote, branches, dry_run=dry_run)
    except ReleaseError as exc:
        _rewind(repo, before)
        raise ReleaseError(f"push to {remote} failed, the changelog commits were undone: {exc}") from None


def _rewind(repo: Path, before: dict[str, str | None]) -> None:
    current = git.current_branch(repo)
    for branch, sha in before.items():
        ref = f"refs/heads/{branch}"
        now = git.rev_parse(repo, ref) if git.ref_exists(repo, ref) else None
        if now == sha or now is None:
            continue
        if branch == current:
            if sha is not None:
                git.reset_keep(repo, sha)
        else:
            git.update_ref(repo, ref, sha, now)
