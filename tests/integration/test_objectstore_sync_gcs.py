"""upload_tree, sync and verify_checksums against the real GCS emulator."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from releng.checksums import verify_checksums, write_checksums
from releng.errors import ReleaseError
from releng.objectstore import ObjectExistsError, open_store
from releng.objectstore.sync import SMALL_FILE, sync, upload_tree

from tests.fixtures.gcs import GCSEmulator


def _artifacts(root: Path) -> dict[str, bytes]:
    files = {
        "kubernetes-server-linux-amd64.tar.gz": os.urandom(SMALL_FILE * 2 + 777),  # several resumable chunks
        "bin/linux/amd64/kube-apiserver": os.urandom(200_000),
        "kubernetes-manifests.tar.gz": os.urandom(10),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_upload_tree_to_emulator_streams_and_hashes(gcs_bucket: str, tmp_path: Path) -> None:
    files = _artifacts(tmp_path / "out")
    store = open_store(gcs_bucket)
    events: list[tuple[int, int]] = []
    result = upload_tree(tmp_path / "out", store, "stage/v1/gcs-stage/v1", workers=3,
                         progress=lambda d, t: events.append((d, t)))
    for r in result:
        data = files[r.key.removeprefix("stage/v1/gcs-stage/v1/")]
        assert r.sha256 == hashlib.sha256(data).hexdigest() and r.sha512 == hashlib.sha512(data).hexdigest()
        assert store.get(r.key) == data
    assert events[-1][0] == events[-1][1] == sum(len(d) for d in files.values())
    again = upload_tree(tmp_path / "out", store, "stage/v1/gcs-stage/v1")
    assert not any(r.uploaded for r in again)


def test_stage_to_release_server_side_then_verify(gcs_emulator: GCSEmulator, gcs_bucket: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = _artifacts(out)
    write_checksums(out)
    bucket = open_store(gcs_bucket)
    upload_tree(out, bucket, "stage/v1.0.0/v1.0.0/gcs-stage/v1.0.0")
    prod = open_store(gcs_emulator.new_bucket("prod"))
    result = sync(bucket, "stage/v1.0.0/v1.0.0/gcs-stage/v1.0.0", prod, "release/v1.0.0")
    assert len(result.copied) == 3 * len(files) + 2
    assert verify_checksums(prod, "release/v1.0.0").files == tuple(sorted(files))
    assert sync(bucket, "stage/v1.0.0/v1.0.0/gcs-stage/v1.0.0", prod, "release/v1.0.0").copied == ()
    # A released object is never replaced, even when the staged tree changes.
    bucket.put_new("stage/v1.0.0/v1.0.0/gcs-stage/v1.0.0/zz-new", b"late")
    extra = sync(bucket, "stage/v1.0.0/v1.0.0/gcs-stage/v1.0.0", prod, "release/v1.0.0")
    assert extra.copied == ("release/v1.0.0/zz-new",)
    bad = open_store(gcs_emulator.new_bucket("bad"))
    bad.put_new("release/v1.0.0/kubernetes-manifests.tar.gz", b"0123456789")
    with pytest.raises(ObjectExistsError, match=r"kubernetes-manifests\.tar\.gz already exists"):
        sync(bucket, "stage/v1.0.0/v1.0.0/gcs-stage/v1.0.0", bad, "release/v1.0.0")
    assert [i.key for i in bad.list()] == ["release/v1.0.0/kubernetes-manifests.tar.gz"]


def test_sync_file_to_gs_and_verify_damage(gcs_bucket: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _artifacts(out)
    write_checksums(out)
    local = open_store(tmp_path.as_uri())
    gs = open_store(gcs_bucket)
    sync(local, "out", gs, "release/v2")
    assert len(verify_checksums(gcs_bucket, "release/v2").files) == 3
    gs.put_new("release/v2/bin/linux/amd64/unlisted", b"x")
    with pytest.raises(ReleaseError, match="unlisted is not in SHA256SUMS"):
        verify_checksums(gs, "release/v2")
