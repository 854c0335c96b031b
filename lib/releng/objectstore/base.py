"""The ObjectStore protocol: buckets addressed by URL, keys are '/'-separated paths below that URL."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from releng.digests import hash_file
from releng.errors import ReleaseError, UsageError


class ObjectExistsError(ReleaseError):
    """A write would overwrite an object with different content (released objects are immutable)."""

    @classmethod
    def for_key(cls, url: str, key: str) -> ObjectExistsError:
        return cls(f"{url}/{key} already exists with different content; released objects are never overwritten")


class PreconditionFailedError(ReleaseError):
    """A generation precondition did not hold (someone else wrote the object first)."""

    @classmethod
    def for_key(cls, url: str, key: str, expected: int | None, found: int | None = None) -> PreconditionFailedError:
        want = "to be absent" if expected is None else f"generation {expected}"
        now = "" if found is None else f", found generation {found}"
        return cls(f"{url}/{key} changed under us: expected it {want}{now}; re-read it and retry")


class ObjectNotFoundError(ReleaseError):
    """The object does not exist."""

    @classmethod
    def for_key(cls, url: str, key: str) -> ObjectNotFoundError:
        return cls(f"{url}/{key} does not exist")


def check_key(key: str) -> str:
    """Keys are relative '/'-separated paths with no empty, '.' or '..' parts; returns the key."""
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key or "\0" in key:
        raise UsageError(f"object key {key!r} is invalid: expected a relative path like 'release/v1.2.3/file'")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: key relative to the store URL, size in bytes, and generation where the store has one."""

    key: str
    size: int
    generation: int | None = None
    md5: str | None = None  # hex, when the listing carries it for free (GCS); else ask store.md5(key)


# progress(done_bytes, total_bytes)
Progress = Callable[[int, int], None]


class ObjectStore(Protocol):
    """A bucket (or bucket prefix) holding release objects."""

    url: str

    def exists(self, key: str) -> bool: ...

    def get(self, key: str) -> bytes: ...

    def download(self, key: str, dest: Path) -> None: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def reader(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A binary stream of the object's content, read in chunks."""
        ...

    def md5(self, key: str) -> str:
        """Hex md5 of the object: the identity hash every store can give (GCS stores it server-side)."""
        ...

    def put_new_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        """Write key from a stream with the no-overwrite precondition only (the caller has checked absence).

        Raises PreconditionFailedError when the key appeared meanwhile; a half-written object is never visible.
        """
        ...

    def put_new(self, key: str, data: bytes | Path, content_type: str | None = None) -> bool:
        """Write key unless it exists; identical content is a no-op (returns False); different content raises."""
        ...

    def read_generation(self, key: str) -> tuple[bytes, int] | None:
        """Content and generation of key, or None when absent."""
        ...

    def put_if_generation(self, key: str, data: bytes, generation: int | None, content_type: str | None = None) -> int:
        """Write key only if its generation is still `generation` (None: must not exist); returns the new one."""
        ...

    def copy_to(self, key: str, dest: ObjectStore, dest_key: str) -> bool:
        """Copy one object (server-side when both are on the same cloud); False when already identical there."""
        ...


def _md5_of(data: bytes | Path) -> str:
    if isinstance(data, Path):
        return hash_file(data, ("md5",))[0]
    return hashlib.md5(data).hexdigest()


def _same_or_raise(store: ObjectStore, key: str, md5: str) -> bool:
    if store.md5(key) != md5:
        raise ObjectExistsError.for_key(store.url, key)
    return False


def _open_data(data: bytes | Path) -> BinaryIO:
    if not isinstance(data, Path):
        return io.BytesIO(data)
    try:
        return open(data, "rb")
    except OSError as e:
        raise ReleaseError(f"{data}: cannot read: {e.strerror or e}") from e


def put_new_checked(store: ObjectStore, key: str, data: bytes | Path, content_type: str | None = None) -> bool:
    """put_new for any store: check, then write with the precondition, then re-check if someone won the race.

    The check comes first because the GCS emulator ignores preconditions; the precondition covers real races.
    """
    if store.exists(key):
        return _same_or_raise(store, key, _md5_of(data))
    try:
        with _open_data(data) as stream:
            store.put_new_stream(key, stream, content_type)
    except PreconditionFailedError:
        return _same_or_raise(store, key, _md5_of(data))
    return True


def copy_streamed(src: ObjectStore, key: str, dest: ObjectStore, dest_key: str) -> bool:
    """copy_to between unrelated stores: stream src into dest with the no-overwrite rule; False if already equal."""
    if dest.exists(dest_key):
        return _same_or_raise(dest, dest_key, src.md5(key))
    try:
        with src.reader(key) as stream:
            dest.put_new_stream(dest_key, stream)
    except PreconditionFailedError:
        return _same_or_raise(dest, dest_key, src.md5(key))
    return True
