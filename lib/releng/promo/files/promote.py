"""`krel promote files`: read the manifests, observe source and destinations, plan, and (with confirm) copy.

Each copy goes through a local spool: the source's bytes are hashed as they are read, compared with the manifest,
and exactly those bytes are written with a does-not-exist precondition. There is no server-side copy, so an object
replaced in the source after it was checked can never reach a destination. Per-file failures are collected.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releng.digests import HashingReader, hash_stream
from releng.errors import ReleaseError, UsageError
from releng.objectstore import ObjectExistsError, ObjectStore, open_store
from releng.promo.files import plan
from releng.promo.files.manifest import FileManifest, read_manifest, read_manifests_dir
from releng.promo.files.plan import DestState, Facts, FileOp, SourceState
from releng.report import NullReporter, Reporter

Opener = Callable[[str], ObjectStore]


@dataclass(frozen=True)
class FilePromoteOptions:
    """Everything `krel promote files` needs, as plain values."""

    filestores: Path | None = None
    files: Path | None = None
    manifests_dir: Path | None = None
    confirm: bool = False


class FilePromotionError(ReleaseError):
    """Some files could not be promoted; one line per failure."""

    @classmethod
    def for_ops(cls, failed: list[FileOp], total: int) -> FilePromotionError:
        head = f"promote files: {len(failed)} of {total} file copies not promoted:"
        return cls("\n".join([head, *(f"  {op.describe()}" for op in failed)]))


@dataclass(frozen=True)
class FilePromotionResult:
    """What a run planned or did, per file and destination."""

    mode: str  # "dry-run" | "confirm"
    manifests: int
    ops: tuple[FileOp, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(op.action for op in self.ops))

    def failures(self) -> list[FileOp]:
        return [op for op in self.ops if op.failed]

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "manifests": self.manifests, "counts": self.counts(),
                "files": [op.as_dict() for op in self.ops]}

    def error(self) -> FilePromotionError | None:
        failed = self.failures()
        return FilePromotionError.for_ops(failed, len(self.ops)) if failed else None


def load_manifests(options: FilePromoteOptions) -> list[FileManifest]:
    """--filestores F --files F|DIR, or --manifests DIR (not both): the merged manifests."""
    pair = options.filestores is not None or options.files is not None
    if pair == (options.manifests_dir is not None):
        raise UsageError("give either --filestores FILE with --files FILE|DIR, or --manifests DIR")
    if options.manifests_dir is not None:
        return read_manifests_dir(options.manifests_dir)
    if options.filestores is None or options.files is None:
        raise UsageError("--filestores and --files go together: the filestores manifest and the files manifest(s)")
    return [read_manifest(options.filestores, options.files)]


class _Stores:
    """Each filestore opened once; a store that cannot be opened fails only the files that need it."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._open: dict[str, ObjectStore | ReleaseError] = {}

    def get(self, base: str) -> ObjectStore:
        if base not in self._open:
            try:
                self._open[base] = self._opener(base)
            except ReleaseError as exc:
                self._open[base] = exc
        found = self._open[base]
        if isinstance(found, ReleaseError):
            raise found
        return found


def _sha256_of(store: ObjectStore, name: str) -> str:
    with store.reader(name) as stream:
        return hash_stream(stream, ("sha256",))["sha256"]


def _source_state(stores: _Stores, base: str, name: str) -> SourceState:
    try:
        return SourceState(present=stores.get(base).exists(name))
    except ReleaseError as exc:
        return SourceState(error=str(exc))


def _dest_state(stores: _Stores, base: str, name: str) -> DestState:
    try:
        store = stores.get(base)
        return DestState(sha256=_sha256_of(store, name) if store.exists(name) else None)
    except ReleaseError as exc:
        return DestState(error=str(exc))


def observe(manifests: Iterable[FileManifest], stores: _Stores) -> Facts:
    """Read-only: whether each file is in its source, and the sha256 of each destination copy that exists."""
    sources: dict[tuple[str, str], SourceState] = {}
    dests: dict[tuple[str, str], DestState] = {}
    for m in manifests:
        for f in m.files:
            key = (m.src.base, f.name)
            if key not in sources:
                sources[key] = _source_state(stores, *key)
            for d in m.destinations:
                if (d.base, f.name) not in dests:
                    dests[(d.base, f.name)] = _dest_state(stores, d.base, f.name)
    return Facts(sources=sources, dests=dests)


def _spool(store: ObjectStore, name: str, path: Path) -> str:
    """Copy the object into path, hashing the bytes on the way; their sha256."""
    with store.reader(name) as stream, open(path, "xb") as out:
        reader = HashingReader(stream, ("sha256",))
        try:
            while view := reader.read_view():
                out.write(view)
        finally:
            reader.close()
    return reader.hasher.hexdigests()["sha256"]


def _write(stores: _Stores, op: FileOp, spooled: Path) -> FileOp:
    """Write the verified bytes to one destination; never over other content."""
    try:
        dest = stores.get(op.dest)
        written = dest.put_new(op.name, spooled, content_type=mimetypes.guess_type(op.name)[0])
    except ObjectExistsError:
        # Someone wrote the name between observe and now: name both hashes, as the planned refusal does.
        found = _dest_state(stores, op.dest, op.name)
        detail = plan.conflict_detail(found.sha256 or "?", op.sha256, op.manifest) if not found.error else found.error
        return dataclasses.replace(op, action=plan.CONFLICT, detail=detail)
    except ReleaseError as exc:
        return dataclasses.replace(op, action=plan.FAILED, detail=str(exc))
    return dataclasses.replace(op, action=plan.COPIED if written else plan.IDENTICAL)


def _copy_one(stores: _Stores, ops: list[FileOp], scratch: Path) -> list[FileOp]:
    """One source file to each destination that lacks it: read and check once, write to each."""
    first = ops[0]
    spooled = scratch / "spool"
    try:
        got = _spool(stores.get(first.src), first.name, spooled)
        if got != first.sha256:
            detail = (f"sha256 of the bytes read from {first.src_url} is {got}, the manifest says {first.sha256}; "
                      "nothing copied")
            return [dataclasses.replace(op, action=plan.FAILED, detail=detail) for op in ops]
        return [_write(stores, op, spooled) for op in ops]
    except ReleaseError as exc:
        return [dataclasses.replace(op, action=plan.FAILED, detail=str(exc)) for op in ops]
    except OSError as exc:  # the local spool (disk full, permissions)
        detail = f"cannot spool {first.src_url} locally: {exc.strerror or exc}"
        return [dataclasses.replace(op, action=plan.FAILED, detail=detail) for op in ops]
    finally:
        spooled.unlink(missing_ok=True)


def apply(ops: tuple[FileOp, ...], stores: _Stores, report: Reporter) -> tuple[FileOp, ...]:
    """Run every planned copy; the other ops are returned as planned. Failures are recorded, the rest still run."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, op in enumerate(ops):
        if op.action == plan.COPY:
            groups.setdefault((op.manifest, op.src, op.name), []).append(i)
    done = list(ops)
    scratch = Path(tempfile.mkdtemp(prefix="krel-promote-files-"))
    try:
        for n, indexes in enumerate(groups.values(), 1):
            results = _copy_one(stores, [ops[i] for i in indexes], scratch)
            for i, result in zip(indexes, results, strict=True):
                done[i] = result
            report.progress("promote files", n, len(groups))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # our own temp dir
    return tuple(done)


def promote_files(
    options: FilePromoteOptions, report: Reporter | None = None, opener: Opener = open_store
) -> FilePromotionResult:
    """kpromo run files: plan every file for every destination (dry run), copy with options.confirm."""
    report = report or NullReporter()
    manifests = load_manifests(options)
    stores = _Stores(opener)
    ops = plan.plan_files(manifests, observe(manifests, stores))
    if options.confirm:
        ops = apply(ops, stores, report)
    return FilePromotionResult("confirm" if options.confirm else "dry-run", len(manifests), ops)
