"""The ObjectStore protocol: buckets addressed by URL, keys are '/'-separated paths below that URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from releng.errors import ReleaseError


class ObjectExistsError(ReleaseError):
    """A write would overwrite an object with different content (released objects are immutable)."""

    @classmethod
    def for_key(cls, url: str, key: str) -> ObjectExistsError:
        return cls(f"{url}/{key} already exists with different content; released objects are never overwritten")


class PreconditionFailedError(ReleaseError):
    """A generation precondition did not hold (someone else wrote the object first)."""


class ObjectNotFoundError(ReleaseError):
    """The object does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: key relative to the store URL, size in bytes, and generation where the store has one."""

    key: str
    size: int
    generation: int | None = None


# progress(done_bytes, total_bytes)
Progress = Callable[[int, int], None]


class ObjectStore(Protocol):
    """A bucket (or bucket prefix) holding release objects."""

    url: str

    def exists(self, key: str) -> bool: ...

    def get(self, key: str) -> bytes: ...

    def download(self, key: str, dest: Path) -> None: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

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
