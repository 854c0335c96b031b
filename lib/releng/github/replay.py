"""krel's record/replay format: `GetPullRequest-<seq>.json` holding {"Result": <PR object>, "LastPage": n}."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from releng import safeload
from releng.github.base import GitHubError, Progress, PullRequests, from_rest
from releng.notes.pullrequest import PullRequest

_NAME = re.compile(r"^GetPullRequest-(\d+)\.json$")
_MAX_RECORD = 16 << 20  # one PR as the REST API returns it is tens of KiB


class ReplayPullRequests:
    """Serves recorded pull requests by number; no network, no token."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not directory.is_dir():
            raise GitHubError(f"replay directory {directory} does not exist")
        files: dict[int, Path] = {}
        for path in directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                files[int(match.group(1))] = path
        if not files:
            raise GitHubError(f"replay directory {directory} holds no GetPullRequest-<seq>.json files")
        # krel replays calls by sequence number, so a gap means a recorded answer is lost.
        seqs = sorted(files)
        missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
        if missing:
            raise GitHubError(
                f"replay directory {directory}: GetPullRequest-{missing[0]}.json is missing "
                f"(recording runs {seqs[0]}…{seqs[-1]})"
            )
        self._by_number: dict[int, PullRequest] = {}
        for seq in seqs:
            path = files[seq]
            try:
                record = safeload.load_json(safeload.read_text(path, max_bytes=_MAX_RECORD), str(path))
            except safeload.InputError as exc:
                raise GitHubError(f"replay file {exc}") from None
            if not isinstance(record, dict) or "Result" not in record:
                raise GitHubError(f"replay file {path}: expected an object with a \"Result\" key")
            pr = from_rest(record["Result"], f"replay file {path}")
            self._by_number[pr.number] = pr

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return 0

    def get(self, numbers: Sequence[int], progress: Progress | None = None) -> dict[int, PullRequest]:
        """The recorded pull requests; GitHubError naming the first one that was never recorded."""
        wanted = sorted(set(numbers))
        absent = [n for n in wanted if n not in self._by_number]
        if absent:
            raise GitHubError(
                f"replay directory {self.directory} has no recorded response for pull request #{absent[0]}"
                + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else "")
            )
        if progress:
            progress(len(wanted), len(wanted))
        return {n: self._by_number[n] for n in wanted}


class RecordingPullRequests:
    """Wraps a live source and writes each answer as GetPullRequest-<seq>.json, as krel --record does."""

    def __init__(self, inner: PullRequests, directory: Path) -> None:
        self.inner = inner
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        existing = [int(m.group(1)) for p in directory.iterdir() if (m := _NAME.match(p.name))]
        self._seq = max(existing, default=-1) + 1
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self.inner.requests

    def get(self, numbers: Sequence[int], progress: Progress | None = None) -> dict[int, PullRequest]:
        """Fetch through the live source and write one file per pull request."""
        found = self.inner.get(numbers, progress)
        for n in sorted(found):
            with self._lock:
                seq, self._seq = self._seq, self._seq + 1
            record = {"Result": found[n].to_rest(), "LastPage": 0}
            (self.directory / f"GetPullRequest-{seq}.json").write_text(
                json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
        return found
