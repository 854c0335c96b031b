"""`krel ff`: merge the default branch into the latest release branch before its official release (krel's rules)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from releng import git
from releng.errors import ReleaseError, UsageError
from releng.profile import Author
from releng.releaseissue import issue_title
from releng.version import is_release_branch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastForwardOptions:
    """Everything `prepare_fast_forward` needs; `push` comes from targets.git_push ("push" or "dry-run")."""

    repo: Path  # work tree; cloned from upstream_url when it does not exist yet
    upstream_url: str
    author: Author
    branch: str = ""  # empty: the latest release-X.Y branch on the remote
    ref: str = "origin/master"
    default_branch: str = "master"
    remote: str = "origin"
    push: bool = False
    # title -> URL of that open issue ('' when none): krel's release-cut guard; None skips it (no repository set)
    open_issue: Callable[[str], str] | None = None
    cut_issue_title: str = "Cut {version} release"


@dataclass(frozen=True)
class FastForward:
    """The prepared fast-forward: the merge is done locally; `push_fast_forward` publishes it."""

    repo: Path
    remote: str
    branch: str
    ref: str
    push: bool  # False: `git push --dry-run`
    noop: str = ""  # why nothing needs doing ("" when there is a merge to push)
    release_rev: str = ""  # remote release branch before the merge
    head_rev: str = ""  # merge result
    commits: tuple[git.Commit, ...] = ()  # first-parent commits of ref that the merge brings in
    tag: str = ""  # the tag both the default branch and the merge base describe to
    cloned: bool = False  # the work tree was cloned by this run (only then may --cleanup remove it)

    @property
    def pushes(self) -> str:
        """The refspec that will be pushed."""
        return f"refs/heads/{self.branch}:refs/heads/{self.branch}"


class FastForwardError(ReleaseError):
    """The release branch cannot be fast-forwarded."""

    @classmethod
    def tag_mismatch(cls, default_tag: str, base_tag: str, branch: str) -> FastForwardError:
        return cls(
            f"ff: unable to fast forward {branch}: tag {default_tag!r} does not match {base_tag!r} "
            "(only the latest release branch can be fast-forwarded)"
        )


def _open_repo(options: FastForwardOptions) -> tuple[Path, bool]:
    repo = options.repo
    if (repo / ".git").exists():
        git.fetch(repo, options.remote)
        return repo, False
    if repo.exists() and not repo.is_dir():
        raise UsageError(f"ff: --repo {repo} is not a directory; pass an empty or git directory")
    if repo.exists() and any(repo.iterdir()):
        raise UsageError(f"ff: {repo} exists but is not a git work tree; pass an empty or git directory with --repo")
    log.info("cloning %s into %s", options.upstream_url, repo)
    git.clone(options.upstream_url, repo)
    return repo, True


def _select_branch(options: FastForwardOptions, url: str) -> tuple[str, str]:
    """(branch, noop reason); krel: no branch given -> latest release branch, no-op once vX.Y.0 is on the remote."""
    if options.branch:
        if not is_release_branch(options.branch):
            raise UsageError(f"ff: {options.branch} is not a release branch: expected release-X.Y")
        return options.branch, ""
    branch = git.latest_release_branch(url)
    if branch is None:
        raise UsageError(f"ff: no release branch on {url}; pass one with --branch release-X.Y")
    official = f"v{branch.removeprefix('release-')}.0"
    if official in git.ls_remote_tags(url):
        return branch, f"{branch} already has its official tag {official}; nothing to fast-forward"
    return branch, ""


def prepare_fast_forward(options: FastForwardOptions) -> FastForward:
    """Check krel's rules and merge `ref` into the release branch locally; nothing leaves the machine."""
    repo, cloned = _open_repo(options)
    url = git.remote_url(repo, options.remote)
    branch, noop = _select_branch(options, url)
    base = FastForward(
        repo=repo, remote=options.remote, branch=branch, ref=options.ref, push=options.push, cloned=cloned
    )
    if noop:
        return dataclasses.replace(base, noop=noop)
    if not git.remote_branch_exists(url, branch):
        raise ReleaseError(f"ff: branch {branch} does not exist on the remote {options.remote}")
    cut = _release_cut_in_progress(options, branch)
    if cut:
        return dataclasses.replace(base, noop=cut)
    remote_branch = f"{options.remote}/{branch}"
    remote_default = f"{options.remote}/{options.default_branch}"
    release_rev = git.rev_parse(repo, remote_branch)
    git.rev_parse(repo, options.ref)  # a clear error for an unknown --ref

    merge_base = git.merge_base(repo, remote_default, remote_branch)
    default_tag = _describe(repo, remote_default)
    base_tag = _describe(repo, merge_base)
    if default_tag != base_tag:
        raise FastForwardError.tag_mismatch(default_tag, base_tag, branch)
    log.info("latest tag on %s and on the merge base is %s", options.default_branch, default_tag)

    commits = tuple(git.first_parent_commits(repo, options.ref, remote_branch))
    if git.is_ancestor(repo, options.ref, remote_branch):
        noop = f"{branch} already contains {options.ref}"
        return dataclasses.replace(base, noop=noop, release_rev=release_rev, tag=default_tag)

    previous = git.current_branch(repo) or git.rev_parse(repo, "HEAD")
    # The local branch is reset to the remote one; an earlier dry run's merge may go, other work may not.
    local = f"refs/heads/{branch}"
    if git.ref_exists(repo, local) and git.own_commits(repo, local, remote_branch, options.ref):
        raise ReleaseError(f"ff: local branch {branch} in {repo} has commits not on {remote_branch}; push or drop them")
    try:
        git.checkout(repo, branch, force_create=True, start=remote_branch)
        head_rev = git.merge(repo, options.ref, author=options.author)
    finally:
        # krel restores the branch that was checked out before the run.
        if previous != branch:
            git.checkout(repo, previous)
    return dataclasses.replace(base, release_rev=release_rev, head_rev=head_rev, commits=commits, tag=default_tag)


def cut_issue_title(pattern: str, branch: str) -> str:
    """The release-cut issue's title for release-X.Y: the pattern with {version} as vX.Y.0 (krel branchToVersion),
    the title `krel release-issue open --tag vX.Y.0` gives the issue it keeps."""
    return issue_title(pattern, f"v{branch.removeprefix('release-')}.0")


def _release_cut_in_progress(options: FastForwardOptions, branch: str) -> str:
    """Why to skip (krel, kubernetes/release#2814): the cut issue is open, and a merge now could conflict with the
    sources the cut already staged. '' when there is no such issue or no repository to ask."""
    if options.open_issue is None:
        return ""
    title = cut_issue_title(options.cut_issue_title, branch)
    found = options.open_issue(title)
    return f"the release cut issue {title!r} is open ({found}); skipping the fast-forward" if found else ""


def push_fast_forward(ff: FastForward) -> str:
    """Push the merged release branch (`git push --dry-run` unless the targets push); returns git's report."""
    if ff.noop:
        return ff.noop
    return git.push(ff.repo, ff.remote, [ff.pushes], dry_run=not ff.push)


def cleanup(ff: FastForward) -> str:
    """krel's --cleanup: remove the work tree, but only one this run cloned (never an operator's own repo)."""
    if not ff.cloned:
        return f"kept {ff.repo}: it existed before this run"
    shutil.rmtree(ff.repo, ignore_errors=True)
    return f"removed {ff.repo}"


def _describe(repo: Path, rev: str) -> str:
    return git.describe(repo, rev, match="v*", abbrev=0)
