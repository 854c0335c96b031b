"""Pure parts of the registry client: references, challenges, the token bucket, manifests, tarball determinism."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.errors import ReleaseError, UsageError
from releng.registry import auth, imagetar, oci
from releng.registry.credentials import Credentials, EnvPair
from releng.registry.ratelimit import TokenBucket
from releng.registry.reference import ImageRef, parse_image_ref

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/staging/foo:tag", ImageRef("127.0.0.1:5000", "staging/foo", "tag")),
        (f"127.0.0.1:5000/staging/foo@{D}", ImageRef("127.0.0.1:5000", "staging/foo", None, D)),
        (f"gcr.io/k8s-staging-foo/a/b:v1.2@{D}", ImageRef("gcr.io", "k8s-staging-foo/a/b", "v1.2", D)),
        ("us-docker.pkg.dev/proj/images/kube-proxy", ImageRef("us-docker.pkg.dev", "proj/images/kube-proxy")),
        ("localhost/foo:latest", ImageRef("localhost", "foo", "latest")),
    ],
)
def test_parse_image_ref(text: str, expected: ImageRef) -> None:
    ref = parse_image_ref(text)
    assert ref == expected
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("foo/bar:tag", "expected REGISTRY/REPO"),
        ("gcr.io", "expected REGISTRY/REPO"),
        ("gcr.io/Foo:tag", "invalid repository path"),
        ("gcr.io/foo:-bad", "invalid tag"),
        ("gcr.io/foo@sha256:ABC", "digest must be"),
        ("gcr.io/foo@md5:" + "a" * 32, "digest must be"),
    ],
)
def test_parse_image_ref_rejects(text: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        parse_image_ref(text)


def test_parse_image_ref_require_ref() -> None:
    with pytest.raises(UsageError, match="needs a :tag"):
        parse_image_ref("gcr.io/foo", require_ref=True)
    assert parse_image_ref("gcr.io/foo:v1").ref == "v1"
    assert parse_image_ref(f"gcr.io/foo:v1@{D}").ref == D


@given(st.text(max_size=80))
def test_parse_image_ref_only_raises_usage_error(text: str) -> None:
    try:
        ref = parse_image_ref(text)
    except UsageError:
        return
    assert ref.repo and ref.host


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
            "bearer",
            {"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull"},
        ),
        ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
        ('bearer realm="http://127.0.0.1:1/t"', "bearer", {"realm": "http://127.0.0.1:1/t"}),
    ],
)
def test_parse_challenge(header: str, scheme: str, params: dict[str, str]) -> None:
    assert auth.parse_challenge(header) == auth.Challenge(scheme, params)


@pytest.mark.parametrize(
    ("host", "google"),
    [
        ("gcr.io", True),
        ("us.gcr.io", True),
        ("us-central1-docker.pkg.dev", True),
        ("127.0.0.1:5000", False),
        ("registry.k8s.io", False),
        ("evilgcr.io", False),
    ],
)
def test_google_hosts(host: str, google: bool) -> None:
    assert auth.is_google_host(host) is google
    assert (Credentials()(host).name == "google") is google
    assert Credentials(None, EnvPair("user", "pw", host))(host).name == "KREL_REGISTRY_USERNAME"


def test_basic_credentials_never_in_repr() -> None:
    creds = auth.basic("robot", "s3cret-value")
    assert "s3cret" not in repr(creds)
    assert creds.headers(()) == {}  # nothing is sent until the registry asks for basic auth


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == []
    bucket.acquire()
    assert clock.slept == [pytest.approx(0.1)]
    for _ in range(10):
        bucket.acquire()
    assert clock.now == pytest.approx(101.1)


def test_token_bucket_pause_stops_everyone_and_empties_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, burst=50, clock=clock, sleep=clock.sleep)
    bucket.pause(2.0)
    bucket.pause(0.5)  # a shorter pause does not shorten the first
    bucket.acquire()
    assert clock.now == pytest.approx(102.01)
    assert bucket.pauses == 1


def test_token_bucket_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_manifest_helpers() -> None:
    doc = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": oci.OCI_MANIFEST, "digest": D, "size": 7,
                       "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}],
    }
    [(desc, platform)] = oci.children(doc, "x")
    assert desc == oci.Descriptor(D, oci.OCI_MANIFEST, 7)
    assert platform == oci.Platform("linux", "arm", "v7")
    assert oci.media_type_of(doc, oci.OCI_INDEX) == oci.OCI_INDEX
    with pytest.raises(ReleaseError, match="malformed descriptor"):
        oci.blobs({"config": {"digest": D}}, "x")
    with pytest.raises(ReleaseError, match="invalid digest"):
        oci.blobs({"layers": [{"digest": "sha256:xyz", "size": 1}]}, "x")
    with pytest.raises(ReleaseError, match="not valid JSON"):
        oci.parse_manifest(b"{", "here")


def test_build_image_tarball_is_deterministic(tmp_path: Path) -> None:
    files = {"b.txt": b"bee", "a/x.bin": b"\x00\x01"}
    one = imagetar.build_image_tarball(tmp_path / "1.tar", files, "arm64", repo_tag="r.example/foo-arm64:v1")
    two = imagetar.build_image_tarball(tmp_path / "2.tar", dict(reversed(files.items())), "arm64",
                                       repo_tag="r.example/foo-arm64:v1")
    assert hashlib.sha256(one.read_bytes()).digest() == hashlib.sha256(two.read_bytes()).digest()
    with tarfile.open(one) as tar:
        assert all(m.mtime == 0 for m in tar.getmembers())
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        layer = tar.extractfile(manifest[0]["Layers"][0]).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        assert inner.getnames() == ["a/x.bin", "b.txt"]
    info = imagetar.tarball_info(one)
    assert info == imagetar.TarballInfo(("r.example/foo-arm64:v1",), "arm64", "linux")
    other = imagetar.build_image_tarball(tmp_path / "3.tar", files, "amd64", repo_tag="r.example/foo-arm64:v1")
    assert other.read_bytes() != one.read_bytes()


def test_tarball_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    with pytest.raises(ReleaseError, match="cannot be read as a tar"):
        imagetar.tarball_info(bad)
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(ReleaseError, match=r"missing entry manifest\.json"):
        imagetar.tarball_info(empty)


@pytest.mark.parametrize(
    ("key", "platform"),
    [
        ("amd64", {"architecture": "amd64", "os": "linux"}),
        ("arm/v7", {"architecture": "arm", "os": "linux", "variant": "v7"}),
        ("windows/amd64", {"architecture": "amd64", "os": "windows"}),
        ("linux/arm64/v8", {"architecture": "arm64", "os": "linux", "variant": "v8"}),
    ],
)
def test_platform_keys(key: str, platform: dict[str, str]) -> None:
    assert imagetar._platform(key) == platform


@pytest.mark.parametrize(
    ("have", "want", "covered"),
    [
        (("repository:a:pull,push",), ("repository:a:pull",), True),
        (("repository:a:pull",), ("repository:a:pull,push",), False),
        (("repository:a:pull,push", "repository:b:pull"), ("repository:b:pull",), True),
        (("repository:a:*",), ("repository:a:pull,push",), True),
        (("repository:a:pull",), ("repository:b:pull",), False),
        (("repository:a:pull",), (), False),
    ],
)
def test_token_scope_coverage(have: tuple[str, ...], want: tuple[str, ...], covered: bool) -> None:
    cache = auth._TokenCache()
    assert cache.claim(have, None) is None
    cache.release(have, "tok", 60.0)
    assert (cache.get(want) == "tok") is covered


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_manifestish = st.fixed_dictionaries(
    {},
    optional={
        "manifests": _json | st.lists(st.fixed_dictionaries({}, optional={"digest": st.just(D) | _json,
                                                                            "size": _json, "platform": _json})),
        "config": _json,
        "layers": _json,
        "mediaType": _json,
    },
)


@given(_manifestish)
def test_manifest_readers_only_raise_release_error(doc: dict[str, object]) -> None:
    raw = json.dumps(doc).encode()
    try:
        parsed = oci.parse_manifest(raw, "fuzz")
        oci.children(parsed, "fuzz")
        oci.blobs(parsed, "fuzz")
        oci.media_type_of(parsed, "x")
    except ReleaseError:
        pass


@given(manifest=_json, config=_json)
def test_tarball_info_only_raises_release_error(tmp_path_factory: pytest.TempPathFactory, manifest: object,
                                                config: object) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "img.tar"
    if isinstance(manifest, list) and manifest and isinstance(manifest[0], dict):
        manifest[0]["Config"] = "config.json"
    entries = {"manifest.json": json.dumps(manifest).encode(), "config.json": json.dumps(config).encode()}
    path.write_bytes(imagetar._tar_bytes(entries))
    with contextlib.suppress(ReleaseError):
        imagetar.tarball_info(path)
