"""The hashing engine: several digests of one byte stream in one read, each on its own thread (a leaf module)."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from releng.errors import ReleaseError

# Large chunks keep the per-chunk thread hand-off cheap next to the hashing; hashlib drops the GIL for big buffers.
CHUNK = 4 * 1024 * 1024
ALGORITHMS = ("sha256", "sha512")

# Chunks a hasher may have queued; with one chunk in its hands and one in the writer's, this bounds the buffers.
QUEUE_DEPTH = 4


class _Buffers:
    """Reusable read buffers: reading into them avoids allocating (and page-faulting) a new 4 MiB bytes per chunk.

    Made on demand, up to `count`: a small object needs one or two, and zero-filling six 4 MiB buffers per object
    dominated verifying a release of small files."""

    def __init__(self, count: int, size: int) -> None:
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._size, self._left = size, count

    def take(self) -> bytearray:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if self._left > 0:  # only the reader's thread takes, so the count needs no lock
            self._left -= 1
            return bytearray(self._size)
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
            self._pool = _Buffers(QUEUE_DEPTH + 2, self._buffer_size(size))
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

    def _buffer_size(self, size: int) -> int:
        """What is left of a regular file (+1 so the end shows as an empty read; at least 64 KiB, in case it grows or
        reports no size, as /proc files do), else `size`."""
        try:
            left = os.fstat(self._raw.fileno()).st_size - self._raw.tell()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
            return size
        return min(size, max(1 << 16, left + 1))

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
