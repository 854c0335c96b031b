"""file:// object store: no-overwrite writes, generations, listing, copies and URL handling."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from releng.errors import ReleaseError, UsageError
from releng.objectstore import (
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    open_store,
)
from releng.objectstore.local import TMP_DIR, LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = open_store((tmp_path / "bucket").as_uri())
    assert isinstance(s, LocalStore)
    return s


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket/x", "unsupported scheme: expected one of file://, gs://"),
        ("bucket/x", "unsupported scheme"),
        ("file://host/x", "expected file:///absolute/path"),
        ("file:relative", "expected file:///absolute/path"),
    ],
)
def test_bad_urls_are_usage_errors(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        open_store(url)


def test_localhost_and_trailing_slash(tmp_path: Path) -> None:
    s = open_store(f"file://localhost{tmp_path}/b/")
    assert isinstance(s, LocalStore)
    assert s.root == tmp_path / "b"
    assert s.url == f"file://localhost{tmp_path}/b"


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/.", "a\\b", f"x/{TMP_DIR}/y"])
def test_invalid_keys(store: LocalStore, key: str) -> None:
    with pytest.raises(UsageError, match="invalid"):
        store.put_new(key, b"x")


def test_put_new_get_and_identical_rewrite(store: LocalStore) -> None:
    assert store.put_new("release/v1.0.0/kubernetes.tar.gz", b"tarball") is True
    assert store.get("release/v1.0.0/kubernetes.tar.gz") == b"tarball"
    assert store.exists("release/v1.0.0/kubernetes.tar.gz")
    assert store.put_new("release/v1.0.0/kubernetes.tar.gz", b"tarball") is False


def test_put_new_refuses_different_content(store: LocalStore) -> None:
    store.put_new("release/v1.0.0/a", b"one")
    with pytest.raises(ObjectExistsError, match=r"release/v1.0.0/a already exists with different content"):
        store.put_new("release/v1.0.0/a", b"two")
    assert store.get("release/v1.0.0/a") == b"one"


def test_put_new_from_path(store: LocalStore, tmp_path: Path) -> None:
    src = tmp_path / "file.bin"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    assert store.put_new("k/file.bin", src) is True
    assert store.get("k/file.bin") == src.read_bytes()
    assert store.put_new("k/file.bin", src) is False
    assert store.md5("k/file.bin") == __import__("hashlib").md5(src.read_bytes()).hexdigest()


def test_put_new_stream_precondition(store: LocalStore) -> None:
    store.put_new_stream("a/b", io.BytesIO(b"first"))
    with pytest.raises(PreconditionFailedError, match="expected it to be absent"):
        store.put_new_stream("a/b", io.BytesIO(b"second"))
    assert store.get("a/b") == b"first"
    assert not (store.root / TMP_DIR).exists()


def test_failed_stream_leaves_no_object(store: LocalStore) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("disk on fire")
            return b"x" * 1024

    with pytest.raises(ReleaseError, match="cannot write: disk on fire"):
        store.put_new_stream("half/written", Broken())  # type: ignore[arg-type]
    assert not store.exists("half/written")
    assert not (store.root / TMP_DIR).exists()
    assert [i.key for i in store.list()] == []


def test_missing_objects(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFoundError, match="nope does not exist"):
        store.get("nope")
    with pytest.raises(ObjectNotFoundError):
        store.download("nope", tmp_path / "out")
    with pytest.raises(ObjectNotFoundError):
        store.copy_to("nope", store, "other")
    assert store.read_generation("nope") is None
    assert not store.exists("nope")
    assert list(store.list()) == []


def test_list_prefix_is_a_string_prefix_and_sorted(store: LocalStore) -> None:
    for key in ["release/v1.2.4/b", "release/v1.2.3/a", "release/v1.2.3/sub/c", "stage/x", "release/latest.txt"]:
        store.put_new(key, key.encode())
    (store.root / TMP_DIR).mkdir()
    (store.root / TMP_DIR / "1-junk").write_bytes(b"a writer's temp file")
    assert [i.key for i in store.list("release/v1.2.")] == ["release/v1.2.3/a", "release/v1.2.3/sub/c",
                                                            "release/v1.2.4/b"]
    assert [i.key for i in store.list("release/v1.2.3/")] == ["release/v1.2.3/a", "release/v1.2.3/sub/c"]
    assert next(i.key for i in store.list("rel")) == "release/latest.txt"
    assert len(list(store.list())) == 5
    info = next(iter(store.list("stage/")))
    assert (info.key, info.size) == ("stage/x", 7)
    assert info.generation == (store.root / "stage/x").stat().st_mtime_ns


def test_generations_move_forward_and_guard_writes(store: LocalStore) -> None:
    g1 = store.put_if_generation("release/stable.txt", b"v1.0.0", None, "text/plain")
    assert store.read_generation("release/stable.txt") == (b"v1.0.0", g1)
    with pytest.raises(PreconditionFailedError, match="expected it to be absent, found generation"):
        store.put_if_generation("release/stable.txt", b"v9", None)
    g2 = store.put_if_generation("release/stable.txt", b"v1.0.1", g1)
    assert g2 > g1
    with pytest.raises(PreconditionFailedError, match=f"expected it generation {g1}, found generation {g2}"):
        store.put_if_generation("release/stable.txt", b"v0.9", g1)
    assert store.read_generation("release/stable.txt") == (b"v1.0.1", g2)
    with pytest.raises(PreconditionFailedError):
        store.put_if_generation("release/other.txt", b"v1", 12345)


def test_concurrent_marker_writers_one_wins(store: LocalStore) -> None:
    g0 = store.put_if_generation("m.txt", b"v0", None)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        try:
            store.put_if_generation("m.txt", f"v{n}".encode(), g0)
            results.append("ok")
        except PreconditionFailedError:
            results.append("lost")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 7 + ["ok"]


def test_copy_to_links_and_refuses_different(store: LocalStore, tmp_path: Path) -> None:
    other = open_store((tmp_path / "other").as_uri())
    store.put_new("stage/v1/a.tar.gz", b"aaa")
    assert store.copy_to("stage/v1/a.tar.gz", other, "release/v1/a.tar.gz") is True
    assert other.get("release/v1/a.tar.gz") == b"aaa"
    assert (store.root / "stage/v1/a.tar.gz").stat().st_ino == (other.root / "release/v1/a.tar.gz").stat().st_ino  # type: ignore[attr-defined]
    assert store.copy_to("stage/v1/a.tar.gz", other, "release/v1/a.tar.gz") is False
    store.put_new("stage/v1/b", b"bbb")
    with pytest.raises(ObjectExistsError):
        store.copy_to("stage/v1/b", other, "release/v1/a.tar.gz")


def test_download_and_reader(store: LocalStore, tmp_path: Path) -> None:
    store.put_new("x/y", b"payload")
    store.download("x/y", tmp_path / "dl" / "y")
    assert (tmp_path / "dl" / "y").read_bytes() == b"payload"
    with store.reader("x/y") as r:
        assert r.read(3) == b"pay"


def test_unwritable_bucket_is_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    s = open_store(blocker.as_uri() + "/bucket")
    with pytest.raises(ReleaseError, match=r"bucket/k: cannot write") as info:
        s.put_new("k", b"x")
    assert "\n" not in str(info.value)


def test_put_new_from_missing_path(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"missing\.bin: cannot read: No such file"):
        store.put_new("k", tmp_path / "missing.bin")


def test_temp_files_of_dead_writers_are_swept(tmp_path: Path) -> None:
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    tmp_dir = tmp_path / "bucket" / TMP_DIR
    tmp_dir.mkdir(parents=True)
    (tmp_dir / f"{dead.pid}-abc").write_bytes(b"half an object from a killed run")
    (tmp_dir / "1-live").write_bytes(b"pid 1 is alive: not ours to remove")
    store = open_store((tmp_path / "bucket").as_uri())
    store.put_new("a", b"x")
    assert sorted(p.name for p in tmp_dir.iterdir()) == ["1-live"]


@settings(max_examples=200, deadline=None)
@given(url=st.text(max_size=60).map(lambda t: "file:" + t), key=st.text(max_size=40))
def test_url_and_key_parse_or_raise_ours(url: str, key: str) -> None:
    try:
        store = open_store(url)
        assert isinstance(store, LocalStore)
        path = store.path(key)
    except ReleaseError as e:
        assert "\n" not in str(e) or "\n" in url + key
    else:
        assert store.root in path.parents


@pytest.mark.parametrize("prefix", ["../", "a/../../", "/etc/"])
def test_list_prefix_cannot_escape_the_bucket(store: LocalStore, prefix: str) -> None:
    with pytest.raises(UsageError):
        list(store.list(prefix))


def test_many_concurrent_writers_share_the_temp_dir(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """No thread removes the temp dir between another's mkdir and open (a release copy failed so under load)."""
    from concurrent.futures import ThreadPoolExecutor

    from releng.objectstore import local

    missing: list[str] = []

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return open(path, *args, **kwargs)
        except FileNotFoundError:
            missing.append(str(path))
            raise

    monkeypatch.setattr(local, "open", counting_open, raising=False)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda n: store.put_new(f"k/{n}", str(n).encode() * 5000), range(3000)))
    assert all(results)
    assert missing == []
    assert len(list(store.list("k/"))) == 3000
    assert not (store.root / TMP_DIR).exists()


def test_temp_dir_removed_while_the_first_writer_sweeps_it(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store's first writers arrive together: one may remove the emptied temp dir just as another lists it (the
    release copy of stop 19's CI failed so: `cannot write: No such file or directory`)."""
    tmp_dir = store.root / TMP_DIR
    tmp_dir.mkdir(parents=True)
    real_iterdir = Path.iterdir

    def removed_first(self: Path) -> Iterator[Path]:
        if self == tmp_dir:
            self.rmdir()  # another writer's _release_temp, just before the listing
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", removed_first)
    assert store.put_new("k/first", b"data")
    assert store.get("k/first") == b"data"
