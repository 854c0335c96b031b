"""The file promotion plan (pure): per file and destination filestore, copy, skip as identical, or refuse, decided
from observed facts; the original overwrote a destination with other content, here that is a conflict."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from releng.promo.files.manifest import FileManifest

COPY = "copy"  # missing in the destination: copied from the source (sha256 checked on the bytes read)
IDENTICAL = "identical"  # the destination already holds exactly the manifest's sha256
CONFLICT = "conflict"  # the destination holds other content: never overwritten
LOST = "lost"  # missing in the source, so nothing to copy
UNREADABLE = "unreadable"  # the source or the destination could not be read
# After apply: a copy ends as one of these.
COPIED = "copied"
FAILED = "failed"
FAILING = frozenset({CONFLICT, LOST, UNREADABLE, FAILED})


@dataclass(frozen=True)
class SourceState:
    """What the source filestore holds under a name: present or not, or why it could not be asked."""

    present: bool = False
    error: str = ""


@dataclass(frozen=True)
class DestState:
    """What a destination holds under a name: the sha256 of its content (None when absent), or a read error."""

    sha256: str | None = None
    error: str = ""


@dataclass(frozen=True)
class Facts:
    """Observed state keyed by (filestore base, file name)."""

    sources: Mapping[tuple[str, str], SourceState]
    dests: Mapping[tuple[str, str], DestState]


@dataclass(frozen=True)
class FileOp:
    """One file for one destination: what to do (or what was done) and why."""

    manifest: str
    name: str
    sha256: str
    src: str
    dest: str
    action: str
    detail: str = ""

    @property
    def src_url(self) -> str:
        return f"{self.src}/{self.name}"

    @property
    def dest_url(self) -> str:
        return f"{self.dest}/{self.name}"

    @property
    def failed(self) -> bool:
        return self.action in FAILING

    def describe(self) -> str:
        """One line: destination, action, detail."""
        return f"{self.dest_url}: {self.action}" + (f": {self.detail}" if self.detail else "")

    def as_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "name": self.name, "sha256": self.sha256, "source": self.src_url,
                "destination": self.dest_url, "action": self.action, "detail": self.detail}


def conflict_detail(found: str, expected: str, origin: str) -> str:
    """The refusal for a destination with other content, naming both hashes."""
    return f"exists with sha256 {found}, the manifest ({origin}) says {expected}; refusing to overwrite it"


def _decide(sha256: str, origin: str, src: SourceState, dest: DestState) -> tuple[str, str]:
    if dest.error:
        return UNREADABLE, dest.error
    if dest.sha256 == sha256:
        return IDENTICAL, ""
    if dest.sha256 is not None:
        return CONFLICT, conflict_detail(dest.sha256, sha256, origin)
    if src.error:
        return UNREADABLE, src.error
    if not src.present:
        return LOST, "not in the source filestore; nothing to copy"
    return COPY, ""


def plan_files(manifests: Iterable[FileManifest], facts: Facts) -> tuple[FileOp, ...]:
    """Every (file, destination) pair of every manifest, in manifest order, with its action."""
    ops: list[FileOp] = []
    for m in manifests:
        src = m.src.base
        for f in m.files:
            source = facts.sources.get((src, f.name), SourceState(error="not observed"))
            for dest in m.destinations:
                state = facts.dests.get((dest.base, f.name), DestState(error="not observed"))
                action, detail = _decide(f.sha256, f.origin, source, state)
                ops.append(FileOp(m.origin, f.name, f.sha256, src, dest.base, action, detail))
    return tuple(ops)
