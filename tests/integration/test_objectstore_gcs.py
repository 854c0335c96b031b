"""gs:// store against the real gcp-storage-emulator through the real google-cloud-storage client."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import pytest
from releng.errors import ReleaseError
from releng.objectstore import (
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    open_store,
)
from releng.objectstore.gcs import GCSStore

from tests.fixtures.gcs import GCSEmulator


def test_open_store_uses_emulator_from_env(gcs_bucket: str) -> None:
    store = open_store(f"{gcs_bucket}/stage/")
    assert isinstance(store, GCSStore)
    assert store.url == f"{gcs_bucket}/stage"
    assert store.put_new("v1.0.0/kubernetes.tar.gz", b"tar", "application/gzip") is True
    assert store.get("v1.0.0/kubernetes.tar.gz") == b"tar"
    assert store.exists("v1.0.0/kubernetes.tar.gz") and not store.exists("v1.0.0/nope")
    root = open_store(gcs_bucket)
    assert [i.key for i in root.list()] == ["stage/v1.0.0/kubernetes.tar.gz"]
    info = next(iter(store.list("v1.0.0/")))
    assert (info.key, info.size, info.md5) == ("v1.0.0/kubernetes.tar.gz", 3, hashlib.md5(b"tar").hexdigest())
    assert info.generation is not None


def test_never_overwrite_checks_before_writing(gcs_bucket: str) -> None:
    # The emulator ignores if_generation_match=0, so this passes only because put_new checks first.
    store = open_store(gcs_bucket)
    store.put_new("release/v1.0.0/a", b"one")
    assert store.put_new("release/v1.0.0/a", b"one") is False
    with pytest.raises(ObjectExistsError, match=f"{gcs_bucket}/release/v1.0.0/a already exists"):
        store.put_new("release/v1.0.0/a", b"two")
    assert store.get("release/v1.0.0/a") == b"one"


def test_large_file_resumable_upload_and_reader(gcs_bucket: str, tmp_path: Path) -> None:
    data = os.urandom(20 * 1024 * 1024 + 5)
    src = tmp_path / "big.tar"
    src.write_bytes(data)
    store = open_store(gcs_bucket)
    assert store.put_new("stage/big.tar", src) is True
    assert store.md5("stage/big.tar") == hashlib.md5(data).hexdigest()
    assert store.put_new("stage/big.tar", src) is False
    with store.reader("stage/big.tar") as r:
        assert r.read(1024) == data[:1024]
    store.download("stage/big.tar", tmp_path / "dl" / "big.tar")
    assert (tmp_path / "dl" / "big.tar").read_bytes() == data


def test_generation_guarded_markers(gcs_bucket: str) -> None:
    store = open_store(gcs_bucket)
    g1 = store.put_if_generation("release/stable.txt", b"v1.0.0", None)
    assert store.read_generation("release/stable.txt") == (b"v1.0.0", g1)
    with pytest.raises(PreconditionFailedError, match="expected it to be absent"):
        store.put_if_generation("release/stable.txt", b"v2", None)
    g2 = store.put_if_generation("release/stable.txt", b"v1.0.1", g1)
    assert g2 != g1
    with pytest.raises(PreconditionFailedError, match=f"expected it generation {g1}"):
        store.put_if_generation("release/stable.txt", b"v0.9", g1)
    assert store.get("release/stable.txt") == b"v1.0.1"
    assert store.read_generation("release/none.txt") is None


def test_markers_are_served_uncached(gcs_emulator: GCSEmulator, gcs_bucket: str) -> None:
    open_store(gcs_bucket).put_if_generation("release/latest.txt", b"v1.1.0-rc.0", None)
    blob = gcs_emulator.client().bucket(gcs_bucket[5:]).get_blob("release/latest.txt")
    assert blob.cache_control == "private, max-age=0, no-transform"
    assert blob.content_type == "text/plain"


def test_server_side_copy_across_buckets(gcs_emulator: GCSEmulator, gcs_bucket: str) -> None:
    src = open_store(f"{gcs_bucket}/stage/v1")
    dst = open_store(gcs_emulator.new_bucket("release"))
    src.put_new("gcs-stage/v1/kubectl", b"kubectl")
    assert src.copy_to("gcs-stage/v1/kubectl", dst, "release/v1/kubectl") is True
    assert dst.get("release/v1/kubectl") == b"kubectl"
    assert src.copy_to("gcs-stage/v1/kubectl", dst, "release/v1/kubectl") is False
    src.put_new("gcs-stage/v1/other", b"other")
    with pytest.raises(ObjectExistsError):
        src.copy_to("gcs-stage/v1/other", dst, "release/v1/kubectl")
    with pytest.raises(ObjectNotFoundError):
        src.copy_to("gcs-stage/v1/missing", dst, "release/v1/missing")


def test_copy_between_file_and_gs(gcs_bucket: str, tmp_path: Path) -> None:
    local = open_store((tmp_path / "bucket").as_uri())
    gs = open_store(gcs_bucket)
    local.put_new("a/b", b"from disk")
    assert local.copy_to("a/b", gs, "x/b") is True
    assert gs.copy_to("x/b", local, "y/b") is True
    assert local.get("y/b") == b"from disk"
    assert gs.copy_to("x/b", local, "a/b") is False


def test_missing_bucket_is_one_line(gcs_emulator: GCSEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.host)
    store = open_store("gs://no-such-bucket-krel/stage")
    with pytest.raises(ReleaseError, match="gs://no-such-bucket-krel: bucket does not exist"):
        store.put_new("k", b"x")
    with pytest.raises(ReleaseError, match="gs://no-such-bucket-krel: bucket does not exist"):
        list(store.list())
    with pytest.raises(ReleaseError, match="bucket does not exist"):
        store.get("k")


def test_missing_object(gcs_bucket: str) -> None:
    store = open_store(gcs_bucket)
    with pytest.raises(ObjectNotFoundError, match="/nope does not exist"):
        store.get("nope")
    with pytest.raises(ObjectNotFoundError):
        store.md5("nope")
    with pytest.raises(ObjectNotFoundError), store.reader("nope"):
        pass


def test_unreachable_endpoint_fails_fast_with_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    store = open_store("gs://kubernetes-release/stage")
    start = time.monotonic()
    with pytest.raises(ReleaseError, match=rf"gs://kubernetes-release/stage/k: .*127.0.0.1:{port} is unreachable") as e:
        store.exists("k")
    assert time.monotonic() - start < 15
    assert "\n" not in str(e.value)


def test_missing_credentials_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(ReleaseError, match="no Google credentials found; set GOOGLE_APPLICATION_CREDENTIALS"):
        open_store("gs://kubernetes-release")


def test_md5_is_the_servers(gcs_emulator: GCSEmulator, gcs_bucket: str) -> None:
    store = open_store(gcs_bucket)
    store.put_new("k", b"hello")
    blob = gcs_emulator.client().bucket(gcs_bucket[5:]).get_blob("k")
    assert base64.b64decode(blob.md5_hash).hex() == store.md5("k") == hashlib.md5(b"hello").hexdigest()
