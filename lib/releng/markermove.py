"""Moving one version marker in a bucket: forward only (markers.py's rule), under a generation precondition, read
back after the write. Used by `krel release` (release/ markers) and `krel ci-build` (ci/ markers)."""

from __future__ import annotations

import functools

from releng import markers
from releng.objectstore.base import ObjectStore
from releng.objectstore.update import Update, update


def move(store: ObjectStore, key: str, version: str, *, guarded: bool, contender: str) -> Update:
    """Set the marker at key to version unless it holds a newer one; `after` is None when it stays.

    A guarded (minor line) marker holding a newer version raises MarkerBackwardsError; a lost race re-reads.
    """
    change = functools.partial(markers.moved_content, store.url, key, version=version, guarded=guarded)
    return update(store, key, change, "text/plain", contender=contender, read_back=True)


def describe(key: str, version: str, done: Update) -> str:
    """One line for the report: `<key> -> <version>`, or `<key> holds <v>; not moved`."""
    if done.after is None:
        return f"{key} holds {markers.published(done.before)}; not moved"
    return f"{key} -> {version}"
