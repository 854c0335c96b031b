"""Moving trees: parallel upload of a local directory (hashed in the same read) and prefix-to-prefix sync."""

from __future__ import annotations

import io
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from releng.digests import ALGORITHMS, HashingReader, MultiHasher, hash_file
from releng.errors import ReleaseError
from releng.objectstore.base import (
    ObjectExistsError,
    ObjectInfo,
    ObjectStore,
    PreconditionFailedError,
    Progress,
)
from releng.paths import refuse_special_files

# Files up to this size are read whole and written in one request; bigger ones stream through HashingReader.
SMALL_FILE = 8 * 1024 * 1024

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class UploadedFile:
    """One file of an uploaded tree: its key in the store, size and digests; uploaded=False if it was already there."""

    key: str
    size: int
    sha256: str
    sha512: str
    uploaded: bool = True


@dataclass(frozen=True)
class SyncResult:
    """Keys (in the destination) that sync copied, and those it found already identical."""

    copied: tuple[str, ...]
    skipped: tuple[str, ...]


class _Counter:
    """Thread-safe running total behind a progress(done, total) callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self._progress = total, 0, progress
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        if self._progress is None or n == 0:
            return
        # Reported under the lock so the callback sees done values in increasing order.
        with self._lock:
            self.done += n
            self._progress(self.done, self.total)


def _parallel(fn: Callable[[T], R], items: Iterable[T], workers: int, name: str) -> list[R]:
    """Run fn over items on a thread pool; the first failure cancels what has not started and is raised."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name) as pool:
        futures = [pool.submit(fn, item) for item in items]
        try:
            return [f.result() for f in futures]
        finally:
            pool.shutdown(cancel_futures=True)


def _join(prefix: str, rel: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{rel}" if prefix else rel


def _as_dir(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def _existing(store: ObjectStore, key: str, path: Path) -> UploadedFile:
    sha256, sha512, md5 = hash_file(path, (*ALGORITHMS, "md5"))
    if store.md5(key) != md5:
        raise ObjectExistsError.for_key(store.url, key)
    return UploadedFile(key, path.stat().st_size, sha256, sha512, uploaded=False)


def _upload_one(store: ObjectStore, key: str, path: Path, size: int, counter: _Counter) -> UploadedFile:
    if store.exists(key):
        result = _existing(store, key, path)
        counter.add(size)
        return result
    content_type = mimetypes.guess_type(path.name)[0]
    try:
        if size <= SMALL_FILE:
            data = path.read_bytes()
            hasher = MultiHasher()
            hasher.update(data)
            store.put_new_stream(key, io.BytesIO(data), content_type)
            digests = hasher.hexdigests()
            counter.add(len(data))
        else:
            with open(path, "rb", buffering=0) as raw:
                reader = HashingReader(raw, on_bytes=counter.add)  # type: ignore[arg-type]
                try:
                    store.put_new_stream(key, reader, content_type)  # type: ignore[arg-type]
                finally:
                    reader.close()
                digests = reader.hasher.hexdigests()
                if reader.hasher.size != size:
                    raise ReleaseError(f"{path}: changed size while uploading ({size} -> {reader.hasher.size})")
    except PreconditionFailedError:
        # Someone wrote the key between our check and our write: fine if it is the same content.
        return _existing(store, key, path)
    except OSError as e:
        raise ReleaseError(f"{path}: cannot read for upload to {store.url}/{key}: {e.strerror or e}") from e
    return UploadedFile(key, size, digests["sha256"], digests["sha512"])


def upload_tree(local_dir: Path, store: ObjectStore, prefix: str, workers: int = 4,
                progress: Progress | None = None) -> list[UploadedFile]:
    """Upload every file below local_dir to prefix (never overwriting), sha256+sha512 computed in the same read."""
    if local_dir.is_symlink() or not local_dir.is_dir():
        raise ReleaseError(f"upload: {local_dir} is not a directory")
    files: list[tuple[str, Path, int]] = []
    # A symlink would upload whatever it points to, wherever that is.
    refuse_special_files(local_dir, "upload")
    for dirpath, _, names in os.walk(local_dir):
        for name in names:
            path = Path(dirpath) / name
            files.append((_join(prefix, path.relative_to(local_dir).as_posix()), path, path.stat().st_size))
    counter = _Counter(sum(size for _, _, size in files), progress)
    # Largest first so one big file does not start last and leave the other workers idle.
    files.sort(key=lambda f: -f[2])
    results = _parallel(lambda f: _upload_one(store, f[0], f[1], f[2], counter), files, workers, "upload")
    return sorted(results, key=lambda r: r.key)


def _md5(store: ObjectStore, info: ObjectInfo) -> str:
    return info.md5 if info.md5 is not None else store.md5(info.key)


def sync(src: ObjectStore, src_prefix: str, dst: ObjectStore, dst_prefix: str,
         progress: Progress | None = None, workers: int = 8) -> SyncResult:
    """Copy every object under src_prefix to dst_prefix (server-side where possible).

    Identical objects (size + md5) are skipped; a different object at a destination key stops the sync before
    anything is copied (released objects are immutable).
    """
    sp, dp = _as_dir(src_prefix), _as_dir(dst_prefix)
    sources = list(src.list(sp))
    if not sources:
        raise ReleaseError(f"sync: {src.url}/{sp} holds no objects; expected a staged tree")
    existing = {info.key: info for info in dst.list(dp)}
    pairs = [(info, dp + info.key[len(sp):]) for info in sources]
    counter = _Counter(sum(info.size for info in sources), progress)

    def same(pair: tuple[ObjectInfo, str]) -> bool:
        info, dkey = pair
        there = existing.get(dkey)
        if there is None:
            return False
        if there.size != info.size or _md5(dst, there) != _md5(src, info):
            raise ObjectExistsError.for_key(dst.url, dkey)
        counter.add(info.size)
        return True

    # Observe every conflict first, so a refused sync writes nothing.
    present = _parallel(same, pairs, workers, "sync-check")
    todo = [pair for pair, skip in zip(pairs, present, strict=True) if not skip]

    def copy(pair: tuple[ObjectInfo, str]) -> bool:
        info, dkey = pair
        copied = src.copy_to(info.key, dst, dkey)
        counter.add(info.size)
        return copied

    copied_flags = _parallel(copy, todo, workers, "sync-copy")
    copied = tuple(sorted(dkey for (_, dkey), c in zip(todo, copied_flags, strict=True) if c))
    skipped = tuple(sorted({dkey for _, dkey in pairs} - set(copied)))
    return SyncResult(copied=copied, skipped=skipped)
