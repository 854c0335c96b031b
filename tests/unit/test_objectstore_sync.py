"""upload_tree and sync on file:// stores: digests from the one read, progress, skip-identical, refuse-different."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from releng.checksums import verify_checksums, write_checksums
from releng.errors import ReleaseError
from releng.objectstore import ObjectExistsError, open_store
from releng.objectstore.local import TMP_DIR
from releng.objectstore.sync import SMALL_FILE, sync, upload_tree


def _artifacts(root: Path) -> dict[str, bytes]:
    files = {
        "kubernetes.tar.gz": os.urandom(SMALL_FILE + 12345),  # streamed path
        "kubernetes-client-linux-amd64.tar.gz": os.urandom(1000),
        "bin/linux/amd64/kubectl": os.urandom(300_000),
        "bin/linux/arm64/kubectl": b"",
        "extra/gce/node.yaml": b"node: yes\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


@pytest.mark.parametrize("workers", [1, 4])
def test_upload_tree_digests_progress_and_content(tmp_path: Path, workers: int) -> None:
    src = tmp_path / "out"
    files = _artifacts(src)
    store = open_store((tmp_path / "bucket").as_uri())
    events: list[tuple[int, int]] = []
    result = upload_tree(src, store, "stage/v1/gcs-stage/v1/", workers=workers,
                         progress=lambda d, t: events.append((d, t)))
    total = sum(len(d) for d in files.values())
    assert [r.key for r in result] == sorted(f"stage/v1/gcs-stage/v1/{k}" for k in files)
    for r in result:
        data = files[r.key.removeprefix("stage/v1/gcs-stage/v1/")]
        assert (r.size, r.sha256, r.sha512, r.uploaded) == (
            len(data), hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest(), True)
        assert store.get(r.key) == data
    assert events[-1] == (total, total)
    assert [d for d, _ in events] == sorted(d for d, _ in events)
    assert not (tmp_path / "bucket" / TMP_DIR).exists()


def test_upload_tree_rerun_skips_identical_and_refuses_changed(tmp_path: Path) -> None:
    src = tmp_path / "out"
    files = _artifacts(src)
    store = open_store((tmp_path / "bucket").as_uri())
    first = upload_tree(src, store, "p")
    again = upload_tree(src, store, "p")
    assert [(r.key, r.sha512) for r in again] == [(r.key, r.sha512) for r in first]
    assert not any(r.uploaded for r in again)
    (src / "bin/linux/amd64/kubectl").write_bytes(b"rebuilt differently")
    with pytest.raises(ObjectExistsError, match="p/bin/linux/amd64/kubectl already exists with different content"):
        upload_tree(src, store, "p")
    assert store.get("p/bin/linux/amd64/kubectl") == files["bin/linux/amd64/kubectl"]


def test_upload_tree_resumes_after_partial_upload(tmp_path: Path) -> None:
    src = tmp_path / "out"
    _artifacts(src)
    store = open_store((tmp_path / "bucket").as_uri())
    # As if a killed run had written one object and left a temp file behind.
    store.put_new("p/extra/gce/node.yaml", b"node: yes\n")
    (tmp_path / "bucket" / TMP_DIR).mkdir(exist_ok=True)
    (tmp_path / "bucket" / TMP_DIR / "4194304999-dead").write_bytes(b"partial")
    result = upload_tree(src, open_store((tmp_path / "bucket").as_uri()), "p")  # a new run: sweeps once
    assert not (tmp_path / "bucket" / TMP_DIR).exists()
    assert [r.uploaded for r in result if r.key.endswith("node.yaml")] == [False]
    assert sum(r.uploaded for r in result) == 4


def test_upload_tree_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"upload: .*nope is not a directory"):
        upload_tree(tmp_path / "nope", open_store(tmp_path.as_uri()), "p")


def test_sync_stage_to_release(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = _artifacts(out)
    write_checksums(out)
    bucket = open_store((tmp_path / "bucket").as_uri())
    upload_tree(out, bucket, "stage/v1.0.0+abc/v1.0.0/gcs-stage/v1.0.0")
    bucket.put_new("stage/v1.0.0+abc/v1.0.0/gcs-stage/v1.0.0-extra", b"not below the prefix")
    events: list[tuple[int, int]] = []
    result = sync(bucket, "stage/v1.0.0+abc/v1.0.0/gcs-stage/v1.0.0", bucket, "release/v1.0.0/",
                  progress=lambda d, t: events.append((d, t)))
    assert len(result.copied) == len(files) * 3 + 2 and result.skipped == ()
    assert all(k.startswith("release/v1.0.0/") for k in result.copied)
    assert verify_checksums(bucket, "release/v1.0.0").files == tuple(sorted(files))
    assert events[-1][0] == events[-1][1]
    again = sync(bucket, "stage/v1.0.0+abc/v1.0.0/gcs-stage/v1.0.0/", bucket, "release/v1.0.0")
    assert again.copied == () and again.skipped == result.copied


def test_sync_refuses_different_and_writes_nothing(tmp_path: Path) -> None:
    src = open_store((tmp_path / "a").as_uri())
    dst = open_store((tmp_path / "b").as_uri())
    for key in ("s/1", "s/2", "s/3"):
        src.put_new(key, key.encode())
    dst.put_new("r/2", b"tampered")
    with pytest.raises(ObjectExistsError, match="r/2 already exists with different content"):
        sync(src, "s", dst, "r")
    assert [i.key for i in dst.list()] == ["r/2"]
    dst2 = open_store((tmp_path / "c").as_uri())
    dst2.put_new("r/2", b"s/3")  # same size, different bytes
    with pytest.raises(ObjectExistsError):
        sync(src, "s", dst2, "r")


def test_sync_empty_source(tmp_path: Path) -> None:
    store = open_store(tmp_path.as_uri())
    with pytest.raises(ReleaseError, match="holds no objects"):
        sync(store, "stage/none", store, "release/none")
