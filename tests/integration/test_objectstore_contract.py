"""One table of behaviours every ObjectStore must show, run against file:// and the real GCS emulator alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from releng.objectstore import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    PreconditionFailedError,
    open_store,
)

from tests.fixtures.gcs import GCSEmulator


@pytest.fixture(params=["file", "gs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """A store rooted at a prefix, so keys are always relative to the store URL."""
    if request.param == "file":
        return open_store((tmp_path / "bucket" / "root").as_uri())
    emulator: GCSEmulator = request.getfixturevalue("gcs_emulator")
    request.getfixturevalue("monkeypatch").setenv("STORAGE_EMULATOR_HOST", emulator.host)
    return open_store(emulator.new_bucket() + "/root")


def test_write_once_read_many(store: ObjectStore) -> None:
    assert store.put_new("release/v1/a.txt", b"A", "text/plain") is True
    assert store.put_new("release/v1/a.txt", b"A") is False
    with pytest.raises(ObjectExistsError):
        store.put_new("release/v1/a.txt", b"B")
    assert store.get("release/v1/a.txt") == b"A"
    assert store.md5("release/v1/a.txt") == hashlib.md5(b"A").hexdigest()
    with store.reader("release/v1/a.txt") as r:
        assert r.read() == b"A"


def test_listing_is_sorted_relative_and_prefix_filtered(store: ObjectStore) -> None:
    for key in ["release/v1.10/x", "release/v1.1/y", "release/v1.1/sub/z", "stage/q"]:
        store.put_new(key, key.encode())
    assert [(i.key, i.size) for i in store.list("release/v1.1")] == [
        ("release/v1.1/sub/z", 18), ("release/v1.1/y", 14), ("release/v1.10/x", 15)]
    assert [i.key for i in store.list("release/v1.1/")] == ["release/v1.1/sub/z", "release/v1.1/y"]
    assert [i.key for i in store.list()][-1] == "stage/q"
    assert list(store.list("nothing/")) == []


def test_generations(store: ObjectStore) -> None:
    assert store.read_generation("m.txt") is None
    g1 = store.put_if_generation("m.txt", b"v1", None)
    assert store.read_generation("m.txt") == (b"v1", g1)
    with pytest.raises(PreconditionFailedError):
        store.put_if_generation("m.txt", b"v0", None)
    g2 = store.put_if_generation("m.txt", b"v2", g1)
    with pytest.raises(PreconditionFailedError):
        store.put_if_generation("m.txt", b"stale", g1)
    assert store.read_generation("m.txt") == (b"v2", g2)
    assert {i.key: i.generation for i in store.list("m")}["m.txt"] == g2


def test_copy_and_missing(store: ObjectStore, tmp_path: Path) -> None:
    store.put_new("stage/a", b"payload")
    assert store.copy_to("stage/a", store, "release/a") is True
    assert store.copy_to("stage/a", store, "release/a") is False
    store.download("release/a", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == b"payload"
    for call in (lambda: store.get("nope"), lambda: store.md5("nope"), lambda: store.copy_to("nope", store, "x")):
        with pytest.raises(ObjectNotFoundError):
            call()
    assert not store.exists("nope")
