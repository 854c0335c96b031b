"""RegistryClient, copy_image and image tarballs against two real Debian docker-registry processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from releng.errors import ReleaseError
from releng.registry import imagetar, oci
from releng.registry.client import ManifestNotFoundError, RegistryClient
from releng.registry.copy import TagMoveError, copy_image
from releng.registry.localserver import LocalRegistry, free_port

from tests.fixtures.registry import RegistryFactory


@pytest.fixture(scope="module")
def regs(registry_factory: RegistryFactory) -> tuple[LocalRegistry, LocalRegistry]:
    return registry_factory("client-staging"), registry_factory("client-prod")


@pytest.fixture
def staging(regs: tuple[LocalRegistry, LocalRegistry]) -> Iterator[RegistryClient]:
    with RegistryClient(regs[0].host) as client:
        yield client


@pytest.fixture
def prod(regs: tuple[LocalRegistry, LocalRegistry]) -> Iterator[RegistryClient]:
    with RegistryClient(regs[1].host) as client:
        yield client


def _skopeo_inspect(ref: str, *raw: str) -> dict[str, object]:
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", *raw, f"docker://{ref}"],
        check=True, capture_output=True, text=True, timeout=30,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_push_docker_save_tarball_and_read_back(staging: RegistryClient, registry_images: dict[str, Path]) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["amd64"], "staging/hello-amd64", "v1")
    head = staging.head_manifest("staging/hello-amd64", "v1")
    assert head is not None
    assert head.digest == digest
    assert head.media_type == oci.DOCKER_MANIFEST
    raw, media_type, got = staging.get_manifest("staging/hello-amd64", digest)
    assert (got, media_type, len(raw)) == (digest, oci.DOCKER_MANIFEST, head.size)
    # skopeo (an independent client) agrees on the digest and sees the platform from the config.
    seen = _skopeo_inspect(f"{staging.host}/staging/hello-amd64:v1")
    assert (seen["Digest"], seen["Architecture"], seen["Os"]) == (digest, "amd64", "linux")
    # Pushing the same tarball again is a no-op with the same digest (deterministic gzip, blobs skipped).
    assert imagetar.push_image_tarball(staging, registry_images["amd64"], "staging/hello-amd64", "v1") == digest
    assert staging.list_tags("staging/hello-amd64") == ["v1"]


def test_push_oci_manifest_variant(staging: RegistryClient, registry_images: dict[str, Path]) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["arm64"], "staging/hello-oci-arm64", "v1",
                                         oci_manifest=True)
    head = staging.head_manifest("staging/hello-oci-arm64", "v1")
    assert head is not None and head.digest == digest and head.media_type == oci.OCI_MANIFEST


def test_push_oci_layout_index(staging: RegistryClient, registry_images: dict[str, Path]) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["oci"], "staging/hello-oci", "multi")
    raw, media_type, _ = staging.get_manifest("staging/hello-oci", "multi")
    assert (oci.sha256_digest(raw), media_type) == (digest, oci.OCI_INDEX)
    kids = oci.children(oci.parse_manifest(raw, "test"), "test")
    assert sorted(p.architecture for _, p in kids if p) == ["amd64", "arm64"]
    for child, _ in kids:
        assert staging.head_manifest("staging/hello-oci", child.digest) is not None


def test_manifest_list_two_arches(staging: RegistryClient, registry_images: dict[str, Path]) -> None:
    per_arch = {
        arch: imagetar.push_image_tarball(staging, registry_images[arch], "staging/hello", f"v1-{arch}")
        for arch in ("amd64", "arm64")
    }
    digest = imagetar.push_manifest_list(staging, "staging/hello", "v1", per_arch)
    raw, media_type, _ = staging.get_manifest("staging/hello", "v1")
    assert oci.sha256_digest(raw) == digest and media_type == oci.DOCKER_MANIFEST_LIST
    listed = {p.architecture: d.digest for d, p in oci.children(json.loads(raw), "t") if p}
    assert listed == per_arch
    seen = _skopeo_inspect(f"{staging.host}/staging/hello:v1", "--raw")
    assert seen["mediaType"] == oci.DOCKER_MANIFEST_LIST
    # Same inputs, same list digest: a rerun of stage does not move the tag.
    assert imagetar.push_manifest_list(staging, "staging/hello", "v1", per_arch) == digest
    with pytest.raises(ReleaseError, match="push the per-arch images before the manifest list"):
        imagetar.push_manifest_list(staging, "staging/hello", "v2", {"s390x": "sha256:" + "0" * 64})


def test_copy_manifest_list_across_registries_preserves_digest(
    staging: RegistryClient, prod: RegistryClient, registry_images: dict[str, Path]
) -> None:
    per_arch = {a: imagetar.push_image_tarball(staging, registry_images[a], "staging/cp", f"v1-{a}")
                for a in ("amd64", "arm64")}
    index = imagetar.push_manifest_list(staging, "staging/cp", "v1", per_arch)
    result = copy_image(staging, "staging/cp", index, prod, "prod/cp", ["v1", "stable"])
    assert result.manifests_copied == 3  # two children, then the list
    assert result.blobs_copied == 4 and result.blobs_mounted == 0
    assert result.tags_added == ["v1", "stable"]
    for tag in ("v1", "stable"):
        head = prod.head_manifest("prod/cp", tag)
        assert head is not None and head.digest == index
    for digest in per_arch.values():
        assert prod.head_manifest("prod/cp", digest) is not None  # children are there, tag-less
    again = copy_image(staging, "staging/cp", index, prod, "prod/cp", ["v1", "stable"])
    assert not again.changed
    assert again.tags_present == ["v1", "stable"] and again.manifests_present == 1


def test_copy_within_registry_mounts_blobs(staging: RegistryClient, registry_images: dict[str, Path]) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["arm64"], "staging/mnt-src", "v1")
    result = copy_image(staging, "staging/mnt-src", digest, staging, "staging/mnt-dst", ["v1"])
    assert (result.blobs_mounted, result.blobs_copied, result.bytes_copied) == (2, 0, 0)
    head = staging.head_manifest("staging/mnt-dst", "v1")
    assert head is not None and head.digest == digest


def test_copy_skips_blobs_already_present(
    staging: RegistryClient, prod: RegistryClient, registry_images: dict[str, Path]
) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["amd64"], "staging/skip", "v1")
    assert copy_image(staging, "staging/skip", digest, prod, "prod/skip").blobs_copied == 2
    assert prod.delete_manifest("prod/skip", digest) is True
    assert prod.delete_manifest("prod/skip", digest) is False
    assert prod.head_manifest("prod/skip", digest) is None
    result = copy_image(staging, "staging/skip", digest, prod, "prod/skip", ["v1"])
    assert (result.manifests_copied, result.blobs_skipped, result.blobs_copied) == (1, 2, 0)


def test_tag_move_is_refused_and_destination_unchanged(
    staging: RegistryClient, prod: RegistryClient, registry_images: dict[str, Path]
) -> None:
    a = imagetar.push_image_tarball(staging, registry_images["amd64"], "staging/mv", "a")
    b = imagetar.push_image_tarball(staging, registry_images["arm64"], "staging/mv", "b")
    copy_image(staging, "staging/mv", a, prod, "prod/mv", ["v1"])
    with pytest.raises(TagMoveError, match=r"tag v1 points at sha256:[0-9a-f]+, refusing to move it"):
        copy_image(staging, "staging/mv", b, prod, "prod/mv", ["v2", "v1"])
    head = prod.head_manifest("prod/mv", "v1")
    assert head is not None and head.digest == a
    assert prod.head_manifest("prod/mv", b) is None
    assert prod.list_tags("prod/mv") == ["v1"]


def test_catalog_paginates_and_tags(staging: RegistryClient, registry_images: dict[str, Path]) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["amd64"], "staging/page/r0", "v1")
    for i in range(1, 5):
        copy_image(staging, "staging/page/r0", digest, staging, f"staging/page/r{i}", ["v1", "v2"])
    assert {f"staging/page/r{i}" for i in range(5)} <= set(staging.catalog(page_size=2))
    assert sorted(staging.list_tags("staging/page/r3")) == ["v1", "v2"]
    assert staging.list_tags("staging/nothing-here", missing_ok=True) == []
    with pytest.raises(ManifestNotFoundError, match=rf"registry {staging.host}, repository staging/nothing-here"):
        staging.list_tags("staging/nothing-here")


def test_missing_manifest_error_names_registry_and_repo(staging: RegistryClient) -> None:
    assert staging.head_manifest("staging/hello-amd64", "no-such-tag") is None
    with pytest.raises(ManifestNotFoundError, match=r"repository staging/hello-amd64: GET manifest .*not found"):
        staging.get_manifest("staging/hello-amd64", "no-such-tag")


def test_unreachable_registry_is_one_clear_line() -> None:
    port = free_port()
    with RegistryClient(f"127.0.0.1:{port}", retries=1, backoff=0.01) as client, \
            pytest.raises(ReleaseError) as err:
        client.list_tags("staging/foo")
    message = str(err.value)
    assert message.startswith(f"registry 127.0.0.1:{port} unreachable")
    assert "\n" not in message


def test_large_blob_streams_across_registries(staging: RegistryClient, prod: RegistryClient, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several 1 MiB chunks plus a tail
    digest = "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()
    assert staging.push_blob("staging/big", big) is True
    assert staging.push_blob("staging/big", big) is False  # present: skipped
    desc = oci.Descriptor(digest, "application/octet-stream", big.stat().st_size)
    prod.push_blob_from(staging, "staging/big", "prod/big", desc)
    with prod.open_blob("prod/big", digest) as chunks:
        assert hashlib.sha256(b"".join(chunks)).hexdigest() == digest.split(":")[1]


def test_parallel_copies_share_clients(staging: RegistryClient, prod: RegistryClient, tmp_path: Path) -> None:
    digests = {}
    for i in range(12):
        tar = imagetar.build_image_tarball(tmp_path / f"p{i}.tar", {"n": str(i).encode()}, "amd64")
        digests[i] = imagetar.push_image_tarball(staging, tar, f"staging/par{i % 3}", f"v{i}")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda i: copy_image(staging, f"staging/par{i % 3}", digests[i], prod, f"prod/par{i % 3}", [f"v{i}"]),
            range(12)))
    assert [r.tags_added for r in results] == [[f"v{i}"] for i in range(12)]
    for i in range(12):
        head = prod.head_manifest(f"prod/par{i % 3}", f"v{i}")
        assert head is not None and head.digest == digests[i]


def _skopeo_copy(src: str, dst: str) -> None:
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", src, dst],
                   check=True, capture_output=True, timeout=60)


def test_tarballs_written_by_skopeo_push_back(staging: RegistryClient, registry_images: dict[str, Path],
                                               tmp_path: Path) -> None:
    digest = imagetar.push_image_tarball(staging, registry_images["arm64"], "staging/sk-src", "v1")
    source = f"docker://{staging.host}/staging/sk-src:v1"
    _skopeo_copy(source, f"docker-archive:{tmp_path / 'docker.tar'}:krel.local/sk:v1")
    _skopeo_copy(source, f"oci-archive:{tmp_path / 'oci.tar'}:v1")
    assert imagetar.tarball_info(tmp_path / "docker.tar").architecture == "arm64"
    # A real docker-save tarball: uncompressed layers re-gzipped the same way give back the very same digest.
    assert imagetar.push_image_tarball(staging, tmp_path / "docker.tar", "staging/sk-docker", "v1") == digest
    oci_digest = imagetar.push_image_tarball(staging, tmp_path / "oci.tar", "staging/sk-oci", "v1")
    raw, media_type, _ = staging.get_manifest("staging/sk-oci", oci_digest)
    assert media_type == oci.OCI_MANIFEST
    assert len(oci.blobs(json.loads(raw), "t")) == 2


def test_index_before_children_is_rejected_so_copy_orders_children_first(
    staging: RegistryClient, prod: RegistryClient, registry_images: dict[str, Path]
) -> None:
    index = imagetar.push_image_tarball(staging, registry_images["oci"], "staging/order", "multi")
    raw, media_type, _ = staging.get_manifest("staging/order", index)
    expected = r"PUT manifest prod/order@sha256:[0-9a-f]+ failed with HTTP 400 \(MANIFEST_BLOB_UNKNOWN\)$"
    with pytest.raises(ReleaseError, match=expected):
        prod.put_manifest("prod/order", index, raw, media_type)
    result = copy_image(staging, "staging/order", index, prod, "prod/order", ["multi"])
    assert result.manifests_copied == 3
