"""The auditor's state between events: the manifests source, the children cache, held events, the delivery ids
already judged (at-least-once senders), and the reporters. Thread-safe; the HTTP app and `pull` both drive it."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releng.errors import ReleaseError
from releng.promo.audit.children import ChildCache, ChildReader, HeldEvents
from releng.promo.audit.events import INSERT, Event
from releng.promo.audit.report import Reporter, log_verdict
from releng.promo.audit.source import ManifestSource
from releng.promo.audit.verdict import HELD, REJECTED, VERIFIED, PromotedIndex, Verdict, expire, judge


class NotReadyError(ReleaseError):
    """No manifests loaded yet: the event cannot be judged (500, the sender redelivers)."""


@dataclass
class Counts:
    """What the service has seen, for /healthz and the load benchmark."""

    judged: int = 0
    verified: int = 0
    rejected: int = 0
    ignored: int = 0
    duplicates: int = 0


class Auditor:
    """Judges events once each, holds unknown children until their index, and reports every rejection."""

    def __init__(self, source: ManifestSource, reader: ChildReader, reporters: Sequence[Reporter] = (), *,
                 hold_seconds: float = 60.0, remember: int = 200_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.children = ChildCache(reader)
        self.held = HeldEvents()
        self.reporters = list(reporters)
        self.counts = Counts()
        self._hold_seconds = hold_seconds
        self._seen: OrderedDict[str, str] = OrderedDict()
        self._remember = remember
        self._clock = clock
        self._lock = threading.Lock()

    def _index(self) -> PromotedIndex:
        if self.source.index is None:
            raise NotReadyError(f"no manifests loaded from {self.source.url} yet: {self.source.error or 'starting'}")
        return self.source.index

    def _emit(self, verdict: Verdict) -> None:
        log_verdict(verdict)
        if verdict.result == REJECTED:
            for reporter in self.reporters:
                reporter.report(verdict)
        self.counts.judged += 1
        if verdict.result == VERIFIED:
            self.counts.verified += 1
        elif verdict.result == REJECTED:
            self.counts.rejected += 1
        else:
            self.counts.ignored += 1

    def _remember_id(self, event_id: str, result: str) -> None:
        self._seen[event_id] = result
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    def _judge_one(self, index: PromotedIndex, event: Event) -> list[Verdict]:
        verdict = judge(index, event, self.children.parents)
        out = [verdict]
        if verdict.result == HELD:
            for pushed_out in self.held.hold(verdict, self._clock() + self._hold_seconds):
                self._emit(expire(pushed_out))
                out.append(expire(pushed_out))
            return out
        self._emit(verdict)
        if verdict.result == VERIFIED and event.action == INSERT and event.digest \
                and index.tags_of(event.repo, event.digest) is not None:
            children = self.children.learn(event)
            for child in self.held.release(event.repo, children):
                again = judge(index, child, self.children.parents)
                self._emit(again)
                out.append(again)
        return out

    def handle(self, events: Sequence[Event]) -> list[Verdict]:
        """Judge events (a delivery already judged is skipped); raises on internal failure, nothing remembered."""
        with self._lock:
            index = self._index()
            verdicts: list[Verdict] = []
            for event in events:
                if event.id in self._seen:
                    self.counts.duplicates += 1
                    continue
                judged = self._judge_one(index, event)
                self._remember_id(event.id, judged[0].result)
                verdicts.extend(judged)
            return verdicts

    def expire_held(self) -> list[Verdict]:
        """Reject the held events whose index never came in time."""
        with self._lock:
            gone = [expire(v) for v in self.held.expired(self._clock())]
            for verdict in gone:
                self._emit(verdict)
            return gone

    def refresh(self) -> bool:
        """Let the source re-parse if the branch head moved (it rate-limits itself)."""
        return self.source.refresh()

    def status(self) -> dict[str, Any]:
        """Health: manifests head, last refresh error, held events and counts."""
        with self._lock:
            return {"head": self.source.head, "error": self.source.error, "held": len(self.held),
                    "registry_reads": self.children.reads, "manifest_parses": self.source.parses,
                    **self.counts.__dict__}


def open_auditor(repo: str, branch: str, subdir: str, workdir: Path, *, reader: ChildReader,
                 reporters: Sequence[Reporter] = (), interval: float = 30.0, hold_seconds: float = 60.0) -> Auditor:
    """Clone and parse the manifests at the branch head (one line and exit 1 if that fails), ready to judge."""
    source = ManifestSource(repo, branch, subdir, workdir, interval)
    source.load()
    return Auditor(source, reader, reporters, hold_seconds=hold_seconds)
