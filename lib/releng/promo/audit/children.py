"""Children of promoted manifest lists (read once per list digest) and the child events held until their index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from releng.promo.audit.events import Event
from releng.promo.audit.verdict import Verdict
from releng.registry import oci
from releng.registry.pool import Registries

# (host, repository path, digest) -> the digests of its children (empty for a single-platform image).
ChildReader = Callable[[str, str, str], tuple[str, ...]]


def registry_children(registries: Registries) -> ChildReader:
    """Read a manifest from its registry and return its children: the auditor's only registry read."""

    def read(host: str, path: str, digest: str) -> tuple[str, ...]:
        raw, media_type, _ = registries.client(host).get_manifest(path, digest)
        if media_type not in oci.INDEX_TYPES:
            return ()
        where = f"{host}/{path}@{digest}"
        return tuple(desc.digest for desc, _ in oci.children(oci.parse_manifest(raw, where), where))

    return read


def read_while_held(read: ChildReader, held: HeldEvents) -> ChildReader:
    """A reader that asks the registry only while some event waits for its index (`krel audit check` is offline: a
    promoted digest with nothing held needs no read, and a file of plain events must judge with no network)."""

    def maybe(host: str, path: str, digest: str) -> tuple[str, ...]:
        return read(host, path, digest) if len(held) else ()

    return maybe


class ChildCache:
    """child digest -> the list digests holding it; each (repository, digest) is read at most once."""

    def __init__(self, reader: ChildReader) -> None:
        self._reader = reader
        self.parents: dict[str, frozenset[str]] = {}
        self._read: set[tuple[str, str]] = set()
        self.reads = 0

    def learn(self, event: Event) -> tuple[str, ...]:
        """After a promoted digest landed: its children (read once; none for a known single-platform type)."""
        key = (event.repo, event.digest)
        if key in self._read:
            return ()
        # A registry notification names the media type: a single-platform manifest needs no read at all.
        if event.media_type and event.media_type not in oci.INDEX_TYPES:
            self._read.add(key)
            return ()
        self.reads += 1
        children = self._reader(event.host, event.path, event.digest)
        self._read.add(key)  # after the read: a failed read is retried with the redelivered event
        for child in children:
            self.parents[child] = self.parents.get(child, frozenset()) | {event.digest}
        return children


@dataclass
class _Held:
    verdict: Verdict
    deadline: float


class HeldEvents:
    """Unknown untagged digests waiting for their index, each until a deadline; at most `limit` at a time."""

    def __init__(self, limit: int = 100_000) -> None:
        self._held: dict[str, _Held] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, verdict: Verdict, deadline: float) -> list[Verdict]:
        """Hold verdict's event; returns the oldest held verdicts pushed out when over the limit."""
        self._held[verdict.event.id] = _Held(verdict, deadline)
        overflow = []
        while len(self._held) > self._limit:
            oldest = next(iter(self._held))
            overflow.append(self._held.pop(oldest).verdict)
        return overflow

    def release(self, repo: str, children: tuple[str, ...]) -> list[Event]:
        """The held events that are children just learned (same repository), removed from the hold."""
        wanted = set(children)
        found = [k for k, h in self._held.items() if h.verdict.event.repo == repo and h.verdict.event.digest in wanted]
        return [self._held.pop(k).verdict.event for k in found]

    def expired(self, now: float) -> list[Verdict]:
        """The held verdicts whose deadline has passed, removed from the hold."""
        gone = [k for k, h in self._held.items() if h.deadline <= now]
        return [self._held.pop(k).verdict for k in gone]
