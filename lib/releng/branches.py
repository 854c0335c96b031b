"""The branches a job can run on as `--branch` completion offers them: the release-X.Y branches of the profile's
repository when it is on this machine, else of the git repository in the current directory, else the pattern."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from releng import git
from releng.version import DEFAULT_BRANCHES, release_branch_minor

# What completion offers when no repository answers: the names validate_branch accepts, release-X.Y as its prefix.
PATTERN = (*DEFAULT_BRANCHES, "release-")


def offered(upstream_url: str | None, cwd: Path) -> list[str]:
    """master/main and the release-X.Y branches (newest first) of the first repository that has any; the pattern's
    `release-` when it has no release branch yet; PATTERN when no repository answers.

    Only a repository on this machine is read (`git ls-remote` of a file:// or /path upstream, `git for-each-ref`
    of the cwd's clone): completion never waits on the network, and a git failure only means "not found here".
    """
    readers: tuple[Callable[[], list[str]], ...] = (lambda: _upstream_heads(upstream_url),
                                                    lambda: git.local_branches(cwd))
    for read in readers:
        try:
            found = choices(read())
        except git.GitError:
            continue
        if found:
            return found if any(map(release_branch_minor, found)) else [*found, "release-"]
    return list(PATTERN)


def choices(names: Iterable[str]) -> list[str]:
    """master/main (those present) then the release-X.Y branches, newest first, each once; other names dropped."""
    present = set(names)
    releases = sorted({n for n in present if release_branch_minor(n)}, key=lambda n: release_branch_minor(n) or (0, 0),
                      reverse=True)
    return [b for b in DEFAULT_BRANCHES if b in present] + releases


def _upstream_heads(url: str | None) -> list[str]:
    if not url or not url.startswith(("file://", "/")):
        return []  # a remote URL: asking it would wait on the network
    return list(git.ls_remote_heads(url))
