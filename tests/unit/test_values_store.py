"""The one compare-and-swap helper over a store object (objectstore.update), the marker rule it is fed with, and
the bucket keys layout.py owns; against a real file:// store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from releng import layout, markers
from releng.errors import ReleaseError
from releng.objectstore import open_store
from releng.objectstore.base import ObjectStore
from releng.objectstore.local import LocalStore
from releng.objectstore.update import ReadBackError, Update, UpdateRaceError, update


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return open_store(f"file://{tmp_path}/bucket")


def _set(name: str, value: str):  # type: ignore[no-untyped-def]
    def change(content: bytes | None) -> bytes | None:
        data = json.loads(content) if content else {}
        if data.get(name) == value:
            return None
        return json.dumps({**data, name: value}, sort_keys=True).encode()
    return change


def test_update_creates_changes_and_leaves(store: ObjectStore) -> None:
    first = update(store, "release/index.json", _set("v1", "a"), "application/json", contender="x")
    assert first == Update(None, b'{"v1": "a"}')
    second = update(store, "release/index.json", _set("v2", "b"), "application/json", contender="x")
    assert second.before == b'{"v1": "a"}' and store.get("release/index.json") == b'{"v1": "a", "v2": "b"}'
    same = update(store, "release/index.json", _set("v2", "b"), "application/json", contender="x")
    assert same == Update(b'{"v1": "a", "v2": "b"}', None)


def test_a_lost_race_reads_again_and_decides_on_the_new_content(store: ObjectStore, tmp_path: Path) -> None:
    other = LocalStore(f"file://{tmp_path}/bucket")  # a second writer on the same bucket
    calls: list[bytes | None] = []

    def change(content: bytes | None) -> bytes | None:
        calls.append(content)
        if len(calls) == 1:
            other.put_if_generation("k.json", b'{"other": "1"}', None)  # wins the race under our feet
        return _set("mine", "2")(content)

    done = update(store, "k.json", change, "application/json", contender="someone else")
    assert calls == [None, b'{"other": "1"}']
    assert done.after == b'{"mine": "2", "other": "1"}' and store.get("k.json") == done.after


def test_every_try_lost_is_one_error_naming_the_contender(store: ObjectStore, tmp_path: Path) -> None:
    other = LocalStore(f"file://{tmp_path}/bucket")
    count = iter(range(100))

    def change(content: bytes | None) -> bytes:
        other.put_new(f"gen-{next(count)}", b"")  # not the key: keep the key moving instead
        current = other.read_generation("m")
        other.put_if_generation("m", b"theirs", current[1] if current else None)
        return b"mine"

    with pytest.raises(UpdateRaceError, match=r"/m: generation kept changing; another release is writing markers$"):
        update(store, "m", change, "text/plain", contender="another release is writing markers", tries=3)
    assert store.get("m") == b"theirs"


def test_read_back_refuses_a_store_that_returns_other_bytes(store: ObjectStore, tmp_path: Path) -> None:
    class Lying(LocalStore):
        def get(self, key: str) -> bytes:
            return b"v0.0.1\n"

    lying = Lying(f"file://{tmp_path}/bucket")
    with pytest.raises(ReadBackError, match=r"/m reads back 'v0\.0\.1' after writing 'v1\.2\.3'"):
        update(lying, "m", lambda _: b"v1.2.3", "text/plain", contender="x", read_back=True)


# markers.moved_content: the forward-only rule as update()'s change function
@pytest.mark.parametrize(("content", "version", "guarded", "expected"), [
    (None, "v1.2.3", True, b"v1.2.3"),
    (b"v1.2.2\n", "v1.2.3", True, b"v1.2.3"),
    (b"v1.2.3", "v1.2.3", True, None),
    (b"v1.3.0", "v1.2.3", False, None),  # a wider marker held by a newer line stays
    (b"v1.2.3-rc.1", "v1.2.3", True, b"v1.2.3"),
])
def test_moved_content(content: bytes | None, version: str, guarded: bool, expected: bytes | None) -> None:
    assert markers.moved_content("file:///b", "release/latest.txt", content, version, guarded) == expected


@pytest.mark.parametrize(("content", "message"), [
    (b"v1.3.0", r"file:///b/release/latest-1\.txt holds v1\.3\.0, newer than v1\.2\.3; markers never move backwards"),
    (b"garbage", r"published version marker holds 'garbage': expected a version like v1\.20\.0"),
    (b"\xff\xfe", "published version marker holds '\ufffd\ufffd'"),  # undecodable: one readable error
    (b"v1.2.3\nv9.9.9", r"published version marker holds 'v1\.2\.3\\nv9\.9\.9'"),
])
def test_moved_content_refuses(content: bytes, message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        markers.moved_content("file:///b", "release/latest-1.txt", content, "v1.2.3", guarded=True)


@pytest.mark.parametrize(("key", "expected"), [
    (layout.stage_prefix("v1.30.0-alpha.1.5+abc"), "stage/v1.30.0-alpha.1.5+abc"),
    (layout.gcs_stage_prefix("v1.30.0-5+abc", "v1.30.1"), "stage/v1.30.0-5+abc/v1.30.1/gcs-stage/v1.30.1"),
    (layout.images_prefix("v1.30.0-5+abc", "v1.30.1"), "stage/v1.30.0-5+abc/v1.30.1/release-images"),
    (layout.staged_tree("v1.30.1"), "v1.30.1/gcs-stage/v1.30.1"),
    (layout.staged_images("v1.30.1"), "v1.30.1/release-images"),
    (layout.ci_key("v1.30.0-5+abc"), "ci/v1.30.0-5+abc"),
    (layout.ci_marker_key("master"), "ci/latest.txt"),
    (layout.ci_marker_key("release-1.30"), "ci/latest-1.30.txt"),
    (layout.release_prefix("v1.30.1"), "release/v1.30.1"),
    (layout.release_key("v1.30.1", "announcement.html"), "release/v1.30.1/announcement.html"),
    (layout.marker_key("stable-1.30.txt"), "release/stable-1.30.txt"),
    (str(layout.stage_tree_dir(Path("/o"), "v1.30.1")), "/o/gcs-stage/v1.30.1"),
    (str(layout.images_dir(Path("/o"))), "/o/release-images"),
    (str(layout.gcs_stage_dir(Path("/j"), "v1.30.1")), "/j/_output-v1.30.1/gcs-stage/v1.30.1"),
    (layout.staged_source("v1.30.0-5+abc"), "stage/v1.30.0-5+abc/src.tar.gz"),
    (layout.staged_notes("v1.30.0-5+abc"), "stage/v1.30.0-5+abc/notes"),
    (layout.staged_logs("v1.30.0-5+abc"), "stage/v1.30.0-5+abc/logs"),
    (layout.release_root(), "release/"),
    (layout.staged_provenance("bv"), "stage/bv/provenance.json"),
    (layout.staged_envelope("bv"), "stage/bv/provenance.intoto.jsonl"),
])
def test_layout_owns_the_keys(key: str, expected: str) -> None:
    assert key == expected


def test_markermove_moves_forward_and_reads_back(store: ObjectStore) -> None:
    from releng import markermove

    key = "release/latest-1.30.txt"
    moved = markermove.move(store, key, "v1.30.1", guarded=True, contender="x")
    assert store.get(key) == b"v1.30.1" and markermove.describe(key, "v1.30.1", moved) == f"{key} -> v1.30.1"
    kept = markermove.move(store, "release/latest.txt", "v1.30.0", guarded=False, contender="x")
    assert kept.after is not None  # absent: created
    stays = markermove.move(store, "release/latest.txt", "v1.29.9", guarded=False, contender="x")
    assert markermove.describe("release/latest.txt", "v1.29.9", stays) == "release/latest.txt holds v1.30.0; not moved"
    with pytest.raises(ReleaseError, match=r"holds v1\.30\.1, newer than v1\.30\.0; markers never move backwards"):
        markermove.move(store, key, "v1.30.0", guarded=True, contender="x")
    assert store.get(key) == b"v1.30.1"


@pytest.mark.parametrize(("key", "version"), [
    ("stage/bv/v1.30.1/gcs-stage/v1.30.1/kubernetes.tar.gz", "v1.30.1"),
    ("stage/bv/v1.31.0-alpha.0/gcs-stage/v1.31.0-alpha.0/SHA256SUMS", "v1.31.0-alpha.0"),
    ("stage/bv/v1.30.1/gcs-stage", None),  # the directory itself, no object below it
    ("stage/bv/v1.30.1/release-images/amd64/x.tar", None),
    ("stage/bv/src.tar.gz", None),
    ("stage/bv/notes/release-notes.json", None),
    ("stage/other/v1.30.1/gcs-stage/v1.30.1/x", None),  # another build's stage
    ("stage/bvx/v1.30.1/gcs-stage/v1.30.1/x", None),  # a build version that only starts the same
])
def test_staged_version(key: str, version: str | None) -> None:
    assert layout.staged_version("stage/bv", key) == version
