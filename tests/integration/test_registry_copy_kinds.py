"""Copy correctness against real docker-registry processes: foreign (non-distributable) layers, Docker schema 1
(signed the libtrust way; digests cover the payload, not the re-signed bytes), manifest lists nested three deep,
and two lists sharing a child copied into one repository at the same time."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from releng.errors import ReleaseError
from releng.registry import oci
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import LocalRegistry, start_local_registry

SCHEMA1_ON = "compatibility:\n  schema1:\n    enabled: true\n"
# Foreign layers name where they live; distribution checks those URLs against this list.
FOREIGN_URLS = "validation:\n  manifests:\n    urls:\n      allow: ['^https://']\n"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, LocalRegistry]]:
    """Source and destination registries that accept schema-1 pushes (off by default since distribution 2.8)."""
    root = tmp_path_factory.mktemp("copy-kinds")
    src = start_local_registry(root / "src", extra_config=SCHEMA1_ON + FOREIGN_URLS)
    dst = start_local_registry(root / "dst", extra_config=SCHEMA1_ON + FOREIGN_URLS)
    yield src, dst
    src.stop()
    dst.stop()


@pytest.fixture
def clients(pair: tuple[LocalRegistry, LocalRegistry]) -> Iterator[tuple[RegistryClient, RegistryClient]]:
    with RegistryClient(pair[0].host, retry_budget=5) as src, RegistryClient(pair[1].host, retry_budget=5) as dst:
        yield src, dst


def _desc(data: bytes, media_type: str, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": oci.sha256_digest(data), "size": len(data), **extra}


def _image(client: RegistryClient, repo: str, name: str, foreign: list[dict[str, object]] | None = None) -> str:
    """Push a small Docker v2 image (config + one layer, plus foreign layer descriptors); its digest."""
    config = json.dumps({"architecture": name, "os": "linux", "rootfs": {"type": "layers"}}).encode()
    layer = f"layer of {name}\n".encode()
    client.push_blob(repo, config)
    client.push_blob(repo, layer)
    manifest = {"schemaVersion": 2, "mediaType": oci.DOCKER_MANIFEST, "config": _desc(config, oci.DOCKER_CONFIG),
                "layers": [*(foreign or []), _desc(layer, oci.DOCKER_LAYER_GZIP)]}
    raw = json.dumps(manifest, indent=2).encode()
    return client.put_manifest(repo, oci.sha256_digest(raw), raw, oci.DOCKER_MANIFEST)


def _index(client: RegistryClient, repo: str, children: list[str], media_type: str = oci.OCI_INDEX) -> str:
    entries = []
    for digest in children:
        raw, child_type, _ = client.get_manifest(repo, digest)
        entries.append({"mediaType": child_type, "digest": digest, "size": len(raw)})
    raw = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}).encode()
    return client.put_manifest(repo, oci.sha256_digest(raw), raw, media_type)


# -- foreign layers -----------------------------------------------------------------------------------------------

FOREIGN = {
    "docker-foreign": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "oci-nondistributable": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
}


@pytest.mark.parametrize("media_type", FOREIGN.values(), ids=FOREIGN.keys())
def test_foreign_layers_are_not_copied(clients: tuple[RegistryClient, RegistryClient], media_type: str) -> None:
    src, dst = clients
    base = f"windows base layer {media_type}".encode()  # never uploaded anywhere: it lives at its URL
    foreign = _desc(base, media_type, urls=["https://mcr.microsoft.com/v2/windows/blobs/" + oci.sha256_digest(base)])
    repo = f"win/{media_type.rsplit('.', 2)[-2]}"
    digest = _image(src, repo, "amd64", [foreign])
    result = copy_image(src, repo, digest, dst, repo, ["ltsc2022"])
    assert result.blobs_foreign == 1 and result.blobs_copied == 2
    head = dst.head_manifest(repo, "ltsc2022")
    assert head is not None and head.digest == digest
    assert not dst.blob_exists(repo, oci.sha256_digest(base))
    again = copy_image(src, repo, digest, dst, repo, ["ltsc2022"])
    assert not again.changed and again.tags_present == ["ltsc2022"]


# -- schema 1 -----------------------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_schema1(manifest: dict[str, object]) -> bytes:
    """A schema-1 manifest signed as libtrust does: pretty JSON (3 spaces), a JWS (ES256) spliced in before the
    closing brace; the protected header records where the payload ends (formatLength) and how (formatTail)."""
    content = json.dumps(manifest, indent=3).encode()
    end = len(content[: content.rstrip().rindex(b"}")].rstrip())
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    header = {"formatLength": end, "formatTail": _b64(content[end:]), "time": "2016-01-01T00:00:00Z"}
    protected = _b64(json.dumps(header).encode())
    r, s = decode_dss_signature(key.sign(f"{protected}.{_b64(content)}".encode(), ec.ECDSA(hashes.SHA256())))
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x.to_bytes(32, "big")),
           "y": _b64(numbers.y.to_bytes(32, "big"))}
    signatures = [{"header": {"jwk": jwk, "alg": "ES256"},
                   "signature": _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")), "protected": protected}]
    block = json.dumps(signatures, indent=3).replace("\n", "\n   ")
    return content[:end] + f',\n   "signatures": {block}'.encode() + content[end:]


def _schema1(client: RegistryClient, repo: str, tag: str) -> tuple[str, list[str]]:
    layers = [f"schema1 layer {i} of {repo}".encode() for i in range(2)]
    for layer in layers:
        client.push_blob(repo, layer)
    sums = [oci.sha256_digest(x) for x in layers]
    manifest = {"schemaVersion": 1, "name": repo, "tag": tag, "architecture": "amd64",
                # Old images repeat layers (the empty one): copies must not trip over the duplicate.
                "fsLayers": [{"blobSum": sums[1]}, {"blobSum": sums[0]}, {"blobSum": sums[1]}],
                "history": [{"v1Compatibility": json.dumps({"id": c * 64})} for c in "abc"]}
    raw = sign_schema1(manifest)
    digest = client.put_manifest(repo, tag, raw, oci.SCHEMA1_SIGNED)
    assert digest == oci.sha256_digest(json.dumps(manifest, indent=3).encode())  # the payload's, not the bytes'
    return digest, sums


def test_schema1_is_copied_by_digest_with_its_layers(clients: tuple[RegistryClient, RegistryClient]) -> None:
    src, dst = clients
    digest, layers = _schema1(src, "old/pause", "2.0")
    raw, media_type, got = src.get_manifest("old/pause", digest)
    assert media_type == oci.SCHEMA1_SIGNED and got == digest
    assert hashlib.sha256(raw).hexdigest() != digest.split(":")[1]  # the registry re-signed: bytes differ
    result = copy_image(src, "old/pause", digest, dst, "backup/pause", ["2.0"])
    assert result.manifests_copied == 1 and result.blobs_copied == 2
    head = dst.head_manifest("backup/pause", "2.0")
    assert head is not None and head.digest == digest
    assert all(dst.blob_exists("backup/pause", layer) for layer in layers)
    again = copy_image(src, "old/pause", digest, dst, "backup/pause", ["2.0"])
    assert not again.changed


SCHEMA1_HOSTILE = {
    "no-signatures": b'{"schemaVersion": 1, "fsLayers": []}',
    "protected-not-base64": b'{"schemaVersion": 1, "signatures": [{"protected": "%%%"}]}',
    "protected-not-json": b'{"signatures": [{"protected": "' + _b64(b"nope").encode() + b'"}]}',
    "format-length-too-big": b'{"signatures": [{"protected": "'
    + _b64(b'{"formatLength": 99999, "formatTail": "fQ"}').encode() + b'"}]}',
    "format-length-negative": b'{"signatures": [{"protected": "'
    + _b64(b'{"formatLength": -1, "formatTail": "fQ"}').encode() + b'"}]}',
    "not-json": b"\xff\xfe",
}


@pytest.mark.parametrize("raw", SCHEMA1_HOSTILE.values(), ids=SCHEMA1_HOSTILE.keys())
def test_unreadable_signed_schema1_is_one_line(raw: bytes) -> None:
    with pytest.raises(ReleaseError) as err:
        oci.manifest_digest(raw, oci.SCHEMA1_SIGNED, "reg/old@sha256:x")
    assert str(err.value).startswith("reg/old@sha256:x: ") and "\n" not in str(err.value)


FSLAYERS_HOSTILE = {
    "missing": {},
    "not-a-list": {"fsLayers": "x"},
    "entry-not-object": {"fsLayers": ["sha256:" + "a" * 64]},
    "no-blobsum": {"fsLayers": [{}]},
    "bad-digest": {"fsLayers": [{"blobSum": "sha256:XYZ"}]},
    "digest-with-newline": {"fsLayers": [{"blobSum": "sha256:" + "a" * 64 + "\n"}]},
}


@pytest.mark.parametrize("doc", FSLAYERS_HOSTILE.values(), ids=FSLAYERS_HOSTILE.keys())
def test_bad_fslayers_are_one_line(doc: dict[str, object]) -> None:
    with pytest.raises(ReleaseError, match=r"^reg/old: schema-1 manifest has"):
        oci.schema1_layers(doc, "reg/old")


# -- nested manifest lists ----------------------------------------------------------------------------------------

def test_lists_nested_three_deep_copy_children_first(clients: tuple[RegistryClient, RegistryClient]) -> None:
    src, dst = clients
    repo = "nested/app"
    leaves = [_image(src, repo, arch) for arch in ("amd64", "arm64", "s390x")]
    inner = _index(src, repo, leaves[:2], oci.DOCKER_MANIFEST_LIST)
    middle = _index(src, repo, [inner, leaves[2]])
    top = _index(src, repo, [middle])
    result = copy_image(src, repo, top, dst, repo, ["v1"])
    assert result.manifests_copied == 6  # 3 images, 3 lists; a list is only PUT after its children
    for digest in (*leaves, inner, middle, top):
        assert dst.head_manifest(repo, digest) is not None, digest
    assert not copy_image(src, repo, top, dst, repo, ["v1"]).changed


def test_two_lists_sharing_a_child_copied_at_once(clients: tuple[RegistryClient, RegistryClient]) -> None:
    src, dst = clients
    repo = "shared/app"
    shared, left, right = (_image(src, repo, arch) for arch in ("amd64", "arm64", "ppc64le"))
    lists = [_index(src, repo, [shared, left]), _index(src, repo, [shared, right])]
    for round_ in range(3):
        target = f"shared/round{round_}"
        start = threading.Barrier(2)

        def copy(digest: str, target: str = target, start: threading.Barrier = start) -> int:
            start.wait()
            return copy_image(src, repo, digest, dst, target, [digest.split(":")[1][:12]]).manifests_copied

        t0 = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            copied = list(pool.map(copy, lists))
        assert time.monotonic() - t0 < 30
        assert sum(copied) == 5, copied  # shared, left, right, two lists: the shared child once
        for digest in (shared, left, right, *lists):
            assert dst.head_manifest(target, digest) is not None


def test_foreign_layer_in_source_index_child(clients: tuple[RegistryClient, RegistryClient],
                                             tmp_path: Path) -> None:
    src, dst = clients
    base = b"nanoserver base"
    foreign = _desc(base, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    urls=["https://mcr.microsoft.com/v2/nanoserver/blobs/" + oci.sha256_digest(base)])
    repo = "win/multi"
    index = _index(src, repo, [_image(src, repo, "amd64", [foreign]), _image(src, repo, "arm64")])
    result = copy_image(src, repo, index, dst, repo, ["1.0"])
    assert result.blobs_foreign == 1 and result.manifests_copied == 3
