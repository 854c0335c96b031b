"""Artifact digests: sha256 and sha512 in one read of each file, and krel's checksum file layout."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from releng.errors import ReleaseError

if TYPE_CHECKING:
    from releng.objectstore.base import ObjectStore

# Large chunks keep the per-chunk thread hand-off cheap next to the hashing; hashlib drops the GIL for big buffers.
CHUNK = 4 * 1024 * 1024
ALGORITHMS = ("sha256", "sha512")
SUMS_FILES = {"sha256": "SHA256SUMS", "sha512": "SHA512SUMS"}
_SKIP_SUFFIXES = (".sha256", ".sha512")


def is_checksum_file(name: str) -> bool:
    """True for the files write_checksums produces (never themselves checksummed, as in krel)."""
    base = name.rsplit("/", 1)[-1]
    return base in SUMS_FILES.values() or base.endswith(_SKIP_SUFFIXES)


# Chunks a hasher may have queued; with one chunk in its hands and one in the writer's, this bounds the buffers.
QUEUE_DEPTH = 4


class _Buffers:
    """Reusable read buffers: reading into them avoids allocating (and page-faulting) a new 4 MiB bytes per chunk."""

    def __init__(self, count: int, size: int) -> None:
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(bytearray(size))

    def take(self) -> bytearray:
        return self._free.get()

    def give(self, buf: bytearray) -> None:
        self._free.put(buf)


class _Lease:
    """The users of one filled buffer (each hasher, plus the writer); the last release returns it to the pool."""

    def __init__(self, pool: _Buffers, buf: bytearray, users: int) -> None:
        self._pool, self._buf, self._users = pool, buf, users
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self._pool.give(self._buf)


class _Hasher(threading.Thread):
    """Feeds one hashlib object from its own queue, so each digest runs on its own core."""

    def __init__(self, name: str) -> None:
        super().__init__(name=f"hash-{name}", daemon=True)
        self.hash = hashlib.new(name)
        self.chunks: queue.Queue[tuple[bytes | memoryview, _Lease | None] | None] = queue.Queue(maxsize=QUEUE_DEPTH)

    def run(self) -> None:
        while (item := self.chunks.get()) is not None:
            chunk, lease = item
            self.hash.update(chunk)
            del chunk
            if lease is not None:
                lease.release()


class MultiHasher:
    """Several digests of one byte stream, computed concurrently in threads while the caller reads or writes."""

    def __init__(self, algorithms: Iterable[str] = ALGORITHMS) -> None:
        self._hashers = [_Hasher(name) for name in algorithms]
        for hasher in self._hashers:
            hasher.start()
        self._closed = False
        self.size = 0

    @property
    def count(self) -> int:
        """How many digests (threads) share each chunk."""
        return len(self._hashers)

    def update(self, chunk: bytes | memoryview, lease: _Lease | None = None) -> None:
        """Queue one chunk for every digest; a leased buffer is reused only after each of them released it."""
        self.size += len(chunk)
        for hasher in self._hashers:
            hasher.chunks.put((chunk, lease))

    def close(self) -> None:
        """Stop the threads after the queued chunks are hashed (also on error paths)."""
        if not self._closed:
            self._closed = True
            for hasher in self._hashers:
                hasher.chunks.put(None)
            for hasher in self._hashers:
                hasher.join()

    def hexdigests(self) -> dict[str, str]:
        """Finish and return {algorithm: hex digest}."""
        self.close()
        return {h.hash.name: h.hash.hexdigest() for h in self._hashers}


class HashingReader:
    """A read-only file object that hashes what passes through it, for streaming uploads with one read."""

    def __init__(self, raw: BinaryIO, algorithms: Iterable[str] = ALGORITHMS,
                 on_bytes: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self.hasher = MultiHasher(algorithms)
        self._on_bytes = on_bytes
        self._pool: _Buffers | None = None
        self._held: _Lease | None = None

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if chunk:
            self.hasher.update(chunk)
            if self._on_bytes is not None:
                self._on_bytes(len(chunk))
        return chunk

    def read_view(self, size: int = CHUNK) -> memoryview:
        """Zero-copy read for writers that consume each chunk before asking for the next: the view is valid until
        the next call. Empty at the end."""
        self._release_held()
        if self._pool is None:
            self._pool = _Buffers(QUEUE_DEPTH + 2, size)
        buf = self._pool.take()
        view = memoryview(buf)[:size]
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            n = readinto(view)
        else:
            data = self._raw.read(size)
            n = len(data)
            view[:n] = data
        if not n:
            self._pool.give(buf)
            return memoryview(b"")
        self._held = _Lease(self._pool, buf, self.hasher.count + 1)
        self.hasher.update(view[:n], self._held)
        if self._on_bytes is not None:
            self._on_bytes(n)
        return view[:n]

    def _release_held(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        # Uploaders must not rewind: a second pass would be hashed twice.
        return False

    def tell(self) -> int:
        return self.hasher.size

    def close(self) -> None:
        self._release_held()
        self.hasher.close()


def hash_stream(stream: BinaryIO, algorithms: Iterable[str] = ALGORITHMS,
                on_bytes: Callable[[int], None] | None = None) -> dict[str, str]:
    """Read a stream once into reused buffers, computing every digest concurrently; {algorithm: hex}."""
    reader = HashingReader(stream, algorithms, on_bytes)
    try:
        while reader.read_view():
            pass
    finally:
        reader.close()
    return reader.hasher.hexdigests()


def hash_file(path: Path | str, algorithms: Iterable[str] = ALGORITHMS) -> tuple[str, ...]:
    """Hex digests of one file in a single read, both digests concurrent; (sha256, sha512) by default."""
    names = tuple(algorithms)
    try:
        with open(path, "rb", buffering=0) as f:
            digests = hash_stream(f, names)  # type: ignore[arg-type]
    except OSError as e:
        raise ReleaseError(f"checksums: cannot read {path}: {e.strerror or e}") from e
    return tuple(digests[n] for n in names)


def hash_files(paths: Iterable[Path], workers: int = 2) -> dict[Path, tuple[str, str]]:
    """(sha256, sha512) of many files; a few files at once keeps both cores busy when one digest is faster."""
    todo = list(paths)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hash-file") as pool:
        results = list(pool.map(lambda p: hash_file(p), todo))
    return {p: (r[0], r[1]) for p, r in zip(todo, results, strict=True)}


def _tree_files(root: Path) -> list[Path]:
    files = [Path(d) / f for d, _, names in os.walk(root) for f in names]
    return sorted(p for p in files if not is_checksum_file(p.name))


def write_checksums(root: Path, workers: int = 2) -> dict[str, tuple[str, str]]:
    """krel layout: `<file>.sha256`/`<file>.sha512` (hex only) per file, plus SHA256SUMS/SHA512SUMS over the tree."""
    if not root.is_dir():
        raise ReleaseError(f"checksums: {root} is not a directory")
    digests = hash_files(_tree_files(root), workers=workers)
    by_rel = {p.relative_to(root).as_posix(): d for p, d in digests.items()}
    try:
        for path, (sha256, sha512) in digests.items():
            path.with_name(path.name + ".sha256").write_text(sha256)
            path.with_name(path.name + ".sha512").write_text(sha512)
        for index, algorithm in enumerate(ALGORITHMS):
            lines = "".join(f"{d[index]}  {rel}\n" for rel, d in sorted(by_rel.items()))
            (root / SUMS_FILES[algorithm]).write_text(lines)
    except OSError as e:
        raise ReleaseError(f"checksums: cannot write checksum files under {root}: {e.strerror or e}") from e
    return by_rel


@dataclass(frozen=True)
class Verified:
    """Result of verify_checksums: the relative paths that were checked against both sums files."""

    files: tuple[str, ...]


class ChecksumMismatchError(ReleaseError):
    """A staged file does not match its recorded digest."""

    @classmethod
    def for_file(cls, where: str, rel: str, algorithm: str, want: str, got: str) -> ChecksumMismatchError:
        return cls(f"{where}/{rel}: {algorithm} is {got[:16]}…, expected {want[:16]}… from {SUMS_FILES[algorithm]}")


def _parse_sums(text: str, where: str, sums_name: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or not rel or not digest.isalnum():
            raise ReleaseError(f"{where}/{sums_name}:{number}: expected '<hex>  <path>', got {line[:60]!r}")
        entries[rel] = digest.lower()
    return entries


def verify_checksums(source: ObjectStore | Path | str, prefix: str = "", workers: int = 4) -> Verified:
    """Check every file listed in SHA256SUMS/SHA512SUMS (and its .sha256/.sha512 files) under prefix.

    source is a store, a local directory (Path) or a store URL (str).
    """
    from releng.objectstore import open_store

    if isinstance(source, Path):
        store = open_store(source.resolve().as_uri())
    elif isinstance(source, str):
        store = open_store(source)
    else:
        store = source
    base = prefix.strip("/")
    where = f"{store.url}/{base}" if base else store.url

    def key(rel: str) -> str:
        return f"{base}/{rel}" if base else rel

    sums = {}
    for algorithm, sums_name in SUMS_FILES.items():
        if not store.exists(key(sums_name)):
            raise ReleaseError(f"{where}: {sums_name} is missing; expected checksums written by the stage step")
        sums[algorithm] = _parse_sums(store.get(key(sums_name)).decode(), where, sums_name)
    if set(sums["sha256"]) != set(sums["sha512"]):
        odd = sorted(set(sums["sha256"]) ^ set(sums["sha512"]))
        raise ReleaseError(f"{where}: SHA256SUMS and SHA512SUMS list different files (e.g. {odd[0]})")
    listed = {info.key[len(base) + 1:] if base else info.key for info in store.list(f"{base}/" if base else "")}
    unlisted = sorted(rel for rel in listed if not is_checksum_file(rel) and rel not in sums["sha256"])
    if unlisted:
        raise ReleaseError(f"{where}: {unlisted[0]} is not in SHA256SUMS ({len(unlisted)} unlisted files)")

    def check(rel: str) -> None:
        if rel not in listed:
            raise ReleaseError(f"{where}/{rel}: listed in SHA256SUMS but missing")
        with store.reader(key(rel)) as stream:
            got = hash_stream(stream)
        for algorithm in ALGORITHMS:
            want = sums[algorithm][rel]
            if got[algorithm] != want:
                raise ChecksumMismatchError.for_file(where, rel, algorithm, want, got[algorithm])
            side = f"{rel}.{algorithm}"
            if side in listed and store.get(key(side)).decode().strip().lower() != want:
                raise ReleaseError(f"{where}/{side}: does not match {SUMS_FILES[algorithm]}")

    files = sorted(sums["sha256"])
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="verify") as pool:
        try:
            for future in [pool.submit(check, rel) for rel in files]:
                future.result()
        finally:
            pool.shutdown(cancel_futures=True)
    return Verified(tuple(files))
