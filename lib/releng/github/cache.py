"""An on-disk cache of pull requests keyed by repository and number, wrapped around any live source."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from releng.files import UnsafePathError, read_if_exists, write_atomic
from releng.github import names
from releng.github.base import GitHubError, Progress, PullRequests, from_rest
from releng.notes.pullrequest import PullRequest

# A merged PR rarely changes; bodies edited after merge are what maps are for. A week keeps
# reruns during one release free of requests while still picking up late edits for the next one.
DEFAULT_TTL = 7 * 24 * 3600.0


class CachedPullRequests:
    """Serves PRs fetched within `ttl` seconds from <dir>/<org>/<repo>/<n>.json; asks `inner` for the rest."""

    def __init__(
        self,
        inner: PullRequests,
        directory: Path,
        org: str,
        repo: str,
        ttl: float | None = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.root = directory
        # the names become two path components: GitHub's rules keep them inside the cache root
        self.directory = directory / names.owner(org) / names.repository(repo)
        self.ttl = ttl
        self.clock = clock
        self.hits = 0

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self.inner.requests

    def _path(self, number: int) -> Path:
        return self.directory / f"{number}.json"

    def _load(self, number: int) -> PullRequest | None:
        path = self._path(number)
        try:
            raw = read_if_exists(path, base=self.root)
            if raw is None:
                return None
            record = json.loads(raw.decode("utf-8"))
            if self.ttl is not None and self.clock() - float(record["fetched_at"]) > self.ttl:
                return None
            return from_rest(record["pull_request"], str(path))
        except (OSError, ValueError, KeyError, TypeError, GitHubError, UnsafePathError):
            # an unreadable or stale entry is simply fetched again (and a link in its place refused when stored)
            return None

    def _store(self, pr: PullRequest) -> None:
        record = {"fetched_at": self.clock(), "pull_request": pr.to_rest()}
        write_atomic(self._path(pr.number), json.dumps(record), base=self.root)

    def get(self, numbers: Sequence[int], progress: Progress | None = None) -> dict[int, PullRequest]:
        """Fresh cache entries first; the rest from the inner source, then stored."""
        wanted = sorted(set(numbers))
        found: dict[int, PullRequest] = {}
        for n in wanted:
            pr = self._load(n)
            if pr is not None:
                found[n] = pr
        self.hits += len(found)
        missing = [n for n in wanted if n not in found]
        if missing:
            cached = len(found)

            def inner_progress(done: int, total: int) -> None:
                if progress:
                    progress(cached + done, len(wanted))

            fetched = self.inner.get(missing, inner_progress)
            for pr in fetched.values():
                self._store(pr)
            found.update(fetched)
        elif progress:
            progress(len(found), len(wanted))
        return found
