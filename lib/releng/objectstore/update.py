"""Compare-and-swap over one object: read it with its generation, decide, write under that generation, and on a
lost race read again and decide again. The one loop for version markers and shared JSON objects."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from releng.errors import ReleaseError
from releng.objectstore.base import ObjectStore, PreconditionFailedError

TRIES = 5
PAUSE = 0.05  # seconds between tries: let the other writer finish


class UpdateRaceError(ReleaseError):
    """Every try lost the race: someone else kept writing the object."""

    @classmethod
    def for_key(cls, url: str, key: str, contender: str) -> UpdateRaceError:
        return cls(f"{url}/{key}: generation kept changing; {contender}")


class ReadBackError(ReleaseError):
    """The object reads back other content than was just written (an eventually consistent or tampered store)."""

    @classmethod
    def for_key(cls, url: str, key: str, back: bytes, wrote: bytes) -> ReadBackError:
        shown, wanted = (b.decode("utf-8", "replace").strip() for b in (back, wrote))
        return cls(f"{url}/{key} reads back {shown!r} after writing {wanted!r}")


@dataclass(frozen=True)
class Update:
    """What update() saw and did: the content it decided on (None: absent) and what it wrote (None: left as is)."""

    before: bytes | None
    after: bytes | None


def update(
    store: ObjectStore,
    key: str,
    change: Callable[[bytes | None], bytes | None],
    content_type: str,
    *,
    contender: str,
    read_back: bool = False,
    tries: int = TRIES,
) -> Update:
    """Set key to change(current content) under the generation it was read at; change returns None to leave it.

    A lost race (PreconditionFailedError) reads again and asks change again; after `tries` lost races,
    UpdateRaceError naming the contender. With read_back, the written object is read back and must match.
    """
    for attempt in range(tries):
        if attempt:
            time.sleep(PAUSE)
        current = store.read_generation(key)
        before = current[0] if current else None
        after = change(before)
        if after is None:
            return Update(before, None)
        try:
            store.put_if_generation(key, after, current[1] if current else None, content_type)
        except PreconditionFailedError:
            continue
        if read_back and (back := store.get(key)) != after:
            raise ReadBackError.for_key(store.url, key, back, after)
        return Update(before, after)
    raise UpdateRaceError.for_key(store.url, key, contender)
