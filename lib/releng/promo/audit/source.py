"""The manifests at the branch head: a shallow, sparse clone, `git ls-remote` at most every N seconds, re-parsed only
when the head moves; a fetch or parse failure keeps the last good manifests and is reported."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from releng import git, names
from releng.errors import ReleaseError, UsageError
from releng.promo.audit.verdict import PromotedIndex
from releng.promo.manifests import parse_thin_dir

log = logging.getLogger(__name__)


class SourceError(ReleaseError):
    """The manifests repository cannot be read or parsed."""


def check_subdir(subdir: str) -> str:
    """The one guard for --thin-manifest-dir: a relative path inside the repository."""
    path = PurePosixPath(subdir)
    if not subdir or path.is_absolute() or ".." in path.parts or subdir.startswith("-") or "\0" in subdir:
        raise UsageError(f"--thin-manifest-dir {subdir!r}: expected a relative directory inside the repository")
    return path.as_posix()


def check_branch(branch: str) -> str:
    """The one guard for --branch: a git branch name (it goes to `git clone --branch` and `ls-remote`)."""
    try:
        names.check_git_ref(branch)
    except names.InvalidValue as exc:
        raise UsageError(f"--branch: {exc}") from None
    return branch


class ManifestSource:
    """The promoted index at the head of url's branch; `error` holds the last refresh failure ("" when fresh)."""

    def __init__(self, url: str, branch: str, subdir: str, workdir: Path, interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.branch, self.subdir = url, check_branch(branch), check_subdir(subdir)
        self._checkout = workdir / "manifests"
        self._interval = interval
        self._clock = clock
        self._checked = float("-inf")
        self.index: PromotedIndex | None = None
        self.error = ""
        self.parses = 0

    def _remote_head(self) -> str:
        heads = git.ls_remote_heads(self.url, self.branch)
        if self.branch not in heads:
            raise SourceError(f"manifests repository {self.url}: no branch {self.branch}")
        return heads[self.branch]

    def _checkout_head(self) -> str:
        if (self._checkout / ".git").is_dir():
            return git.shallow_update(self._checkout, self.branch)
        if self._checkout.exists():
            shutil.rmtree(self._checkout)  # a clone cut short by an earlier failure; ours to remove
        return git.sparse_clone(self.url, self._checkout, self.branch, [self.subdir])

    def _parse(self, head: str) -> PromotedIndex:
        root = self._checkout / self.subdir
        if not root.is_dir():
            raise SourceError(f"manifests repository {self.url}@{head[:12]}: no directory {self.subdir}")
        self.parses += 1
        return PromotedIndex.from_manifests(parse_thin_dir(root), head)

    def load(self) -> PromotedIndex:
        """The first load: clone and parse, raising on failure (the service cannot judge without manifests)."""
        self._checked = self._clock()
        head = self._checkout_head()
        self.index = self._parse(head)
        return self.index

    def refresh(self) -> bool:
        """Re-parse if the branch head moved (asked at most every interval); True if the index changed.

        Never raises: a failure keeps the last good index and is left in `error` for the caller to report.
        """
        now = self._clock()
        if now - self._checked < self._interval:
            return False
        self._checked = now
        try:
            if self.index is not None and self._remote_head() == self.index.head:
                self.error = ""
                return False
            head = self._checkout_head()
            self.index = self._parse(head)
        except (ReleaseError, OSError) as exc:
            self.error = str(exc)
            log.error("manifests not refreshed, still judging with %s: %s", self.head[:12] or "nothing", exc)
            return False
        self.error = ""
        log.info("manifests at %s parsed: %d repositories", head[:12], len(self.index.repos))
        return True

    @property
    def head(self) -> str:
        """The commit the current index was parsed from ("" before the first load)."""
        return self.index.head if self.index else ""
