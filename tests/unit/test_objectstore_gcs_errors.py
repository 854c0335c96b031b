"""gs:// paths the emulator cannot show: 412 from a real precondition, and vendor errors turned into one line.

The fake stands in for the few client calls involved (bucket, get_blob, blob, uploads); the real emulator tests
in tests/integration cover everything else.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud.storage import exceptions as gcs_exc
from releng.errors import ReleaseError
from releng.objectstore import ObjectExistsError, PreconditionFailedError
from releng.objectstore.gcs import GCSStore


class FakeBlob:
    def __init__(self, bucket: FakeBucket, name: str) -> None:
        self.bucket, self.name = bucket, name
        stored = bucket.objects.get(name)
        self.generation = stored[1] if stored else None
        self.md5_hash = base64.b64encode(hashlib.md5(stored[0]).digest()).decode() if stored else None

    def exists(self, retry: Any = None) -> bool:
        # A writer that wins the race after this check is what the precondition is for.
        return self.bucket.visible

    def _upload(self, **kwargs: Any) -> None:
        self.bucket.calls.append(kwargs)
        if self.bucket.error is not None:
            raise self.bucket.error

    def upload_from_string(self, data: bytes, **kwargs: Any) -> None:
        self._upload(**kwargs)

    def upload_from_file(self, stream: Any, **kwargs: Any) -> None:
        self._upload(**kwargs)

    def rewrite(self, source: FakeBlob, **kwargs: Any) -> tuple[str | None, int, int]:
        self._upload(**kwargs)
        return None, 0, 0


class FakeBucket:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, int]] = {}
        self.calls: list[dict[str, Any]] = []
        self.error: Exception | None = None
        self.visible = False
        self.bucket_exists = True

    def get_blob(self, name: str, retry: Any = None) -> FakeBlob | None:
        return FakeBlob(self, name) if name in self.objects else None

    def blob(self, name: str, chunk_size: int | None = None) -> FakeBlob:
        return FakeBlob(self, name)

    def exists(self, retry: Any = None) -> bool:
        return self.bucket_exists


class FakeClient:
    api_endpoint = "https://storage.googleapis.com"

    def __init__(self) -> None:
        self.the_bucket = FakeBucket()

    def bucket(self, name: str) -> FakeBucket:
        return self.the_bucket


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def store(client: FakeClient) -> GCSStore:
    return GCSStore.from_url("gs://kubernetes-release/release", client=client)


def test_marker_write_sends_generation_and_maps_412(client: FakeClient, store: GCSStore) -> None:
    client.the_bucket.objects["release/release/stable.txt"] = (b"v1.0.0", 17)
    client.the_bucket.error = gexc.PreconditionFailed("conditionNotMet")
    with pytest.raises(PreconditionFailedError, match=r"gs://kubernetes-release/release/release/stable.txt changed "
                                                      r"under us: expected it generation 17; re-read it and retry"):
        store.put_if_generation("release/stable.txt", b"v1.0.1", 17)
    assert client.the_bucket.calls[-1]["if_generation_match"] == 17


def test_marker_create_sends_zero(client: FakeClient, store: GCSStore) -> None:
    client.the_bucket.error = gexc.PreconditionFailed("conditionNotMet")
    with pytest.raises(PreconditionFailedError, match="expected it to be absent"):
        store.put_if_generation("release/latest.txt", b"v1.1.0-rc.0", None)
    assert client.the_bucket.calls[-1]["if_generation_match"] == 0


@pytest.mark.parametrize(("winner", "expected"), [(b"same", False), (b"different", ObjectExistsError)])
def test_put_new_race_lost_to_412(client: FakeClient, store: GCSStore, winner: bytes, expected: object) -> None:
    # exists() said no, then another writer got there first: the server answers 412 and we compare contents.
    client.the_bucket.error = gexc.PreconditionFailed("conditionNotMet")
    client.the_bucket.objects["release/v1/a"] = (winner, 3)
    if expected is False:
        assert store.put_new("v1/a", b"same") is False
    else:
        with pytest.raises(ObjectExistsError, match="gs://kubernetes-release/release/v1/a already exists"):
            store.put_new("v1/a", b"same")
    assert client.the_bucket.calls[-1]["if_generation_match"] == 0


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (gexc.Forbidden("no"), r"gs://kubernetes-release/release/k: cannot write: permission denied \(403\)"),
        (gexc.ServiceUnavailable("down"), r"release/k: cannot write: 503 down"),
        (gexc.NotFound("gone"), r"release/k: cannot write: not found \(404\)"),
        (gcs_exc.DataCorruption(None, "md5 mismatch"), r"release/k: cannot write: the transfer was corrupted"),
        (gcs_exc.InvalidResponse(None, "bad"), r"release/k: cannot write: unexpected response"),
        (OSError(5, "Input/output error"), r"release/k: cannot write: Input/output error"),
    ],
)
def test_vendor_errors_become_one_line(client: FakeClient, store: GCSStore, error: Exception, message: str) -> None:
    client.the_bucket.error = error
    with pytest.raises(ReleaseError, match=message) as info:
        store.put_new("k", b"x")
    assert type(info.value) is ReleaseError
    assert "\n" not in str(info.value)


def test_missing_bucket_named(client: FakeClient, store: GCSStore) -> None:
    client.the_bucket.error = gexc.NotFound("no bucket")
    client.the_bucket.bucket_exists = False
    with pytest.raises(ReleaseError, match=r"^gs://kubernetes-release: bucket does not exist"):
        store.put_new("k", b"x")


@pytest.mark.parametrize("url", ["gs://", "gs://b?x=1", "gs:///path"])
def test_bad_gs_urls(client: FakeClient, url: str) -> None:
    with pytest.raises(ReleaseError, match="expected gs://bucket"):
        GCSStore.from_url(url, client=client)


@pytest.mark.parametrize(("winner", "same"), [(b"kubectl", True), (b"other", False)])
def test_server_side_copy_race_lost_to_412(client: FakeClient, winner: bytes, same: bool) -> None:
    src = GCSStore.from_url("gs://kubernetes-release/stage", client=client)
    dst = GCSStore.from_url("gs://kubernetes-release/release", client=client)
    client.the_bucket.objects["stage/v1/kubectl"] = (b"kubectl", 5)
    client.the_bucket.objects["release/v1/kubectl"] = (winner, 6)  # appears after dst.exists() said no
    client.the_bucket.error = gexc.PreconditionFailed("conditionNotMet")
    if same:
        assert src.copy_to("v1/kubectl", dst, "v1/kubectl") is False
    else:
        with pytest.raises(ObjectExistsError):
            src.copy_to("v1/kubectl", dst, "v1/kubectl")
    assert client.the_bucket.calls[-1]["if_generation_match"] == 0
