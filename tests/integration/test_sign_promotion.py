"""Signatures in promotion, on two real registries: a promoted digest's `.sig` tag travels with it, --sign-key adds
the promoter's signature in each destination, the dry run plans both and writes nothing, and an existing production
signature tag on another manifest is never moved."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from releng.promo.promote import PromoteOptions, promote_images
from releng.promo.signatures import COPY_SIGNATURE, SIGN
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import LocalRegistry
from releng.registry.pool import Registries
from releng.signing import cosign
from releng.signing.blobs import SignatureError
from releng.signing.keys import SigningKey

from tests.fixtures.registry import RegistryFactory

_names = count()


@pytest.fixture(scope="module")
def pair(registry_factory: RegistryFactory) -> tuple[LocalRegistry, LocalRegistry]:
    return registry_factory("sigpromo-staging"), registry_factory("sigpromo-prod")


@pytest.fixture
def clients(pair: tuple[LocalRegistry, LocalRegistry]) -> Iterator[tuple[RegistryClient, RegistryClient]]:
    with RegistryClient(pair[0].host) as staging, RegistryClient(pair[1].host) as prod:
        yield staging, prod


@pytest.fixture
def registries() -> Iterator[Registries]:
    with Registries(rate=500, retries=1) as r:
        yield r


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {name: SigningKey(ec.generate_private_key(ec.SECP256R1()), name) for name in ("release", "promoter", "x")}


def _setup(tmp_path: Path, staging: RegistryClient, prod: RegistryClient, images: dict[str, Path],
           arch: str = "amd64") -> tuple[str, str, Path]:
    """A staging image in a fresh repository and a manifest promoting it as 1.0; (image name, digest, manifest)."""
    name = f"app{next(_names)}"
    digest = imagetar.push_image_tarball(staging, images[arch], f"stg/{name}", "1.0")
    manifest = tmp_path / "promoter-manifest.yaml"
    manifest.write_text(f"registries:\n- name: {staging.host}/stg\n  src: true\n- name: {prod.host}/prod\n"
                        f"images:\n- name: {name}\n  dmap:\n    \"{digest}\": [\"1.0\"]\n")
    return name, digest, manifest


def _layers(host: str, repo: str, digest: str) -> list[dict[str, object]]:
    out = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{host}/{repo}:{cosign.signature_tag(digest)}"],
                         check=True, capture_output=True, text=True, timeout=30)
    layers: list[dict[str, object]] = json.loads(out.stdout)["layers"]
    return layers


def test_dry_run_plans_signatures_and_writes_nothing(tmp_path: Path, clients: tuple[RegistryClient, RegistryClient],
                                                     registries: Registries, keys: dict[str, SigningKey],
                                                     registry_images: dict[str, Path]) -> None:
    staging, prod = clients
    name, digest, manifest = _setup(tmp_path, staging, prod, registry_images)
    cosign.sign_image(staging, f"stg/{name}", digest, keys["release"])
    result = promote_images(PromoteOptions(manifest=manifest, sign_key=keys["promoter"]), registries)
    assert result.error() is None
    assert result.signatures is not None
    assert [(s.action, s.dst_repo) for s in result.signatures.steps] == [
        (COPY_SIGNATURE, f"{prod.host}/prod/{name}"), (SIGN, f"{prod.host}/prod/{name}")]
    assert result.as_dict()["signatures"]["steps"][1]["signature"] == keys["promoter"].key_id
    assert prod.list_tags(f"prod/{name}", missing_ok=True) == []


def test_confirm_copies_the_signature_and_signs(tmp_path: Path, clients: tuple[RegistryClient, RegistryClient],
                                                registries: Registries, keys: dict[str, SigningKey],
                                                registry_images: dict[str, Path]) -> None:
    staging, prod = clients
    name, digest, manifest = _setup(tmp_path, staging, prod, registry_images)
    cosign.sign_image(staging, f"stg/{name}", digest, keys["release"])
    staged_sig = staging.head_manifest(f"stg/{name}", cosign.signature_tag(digest))
    assert staged_sig is not None
    result = promote_images(PromoteOptions(manifest=manifest, confirm=True, sign_key=keys["promoter"]), registries)
    assert result.error() is None, result.error()
    assert [o.error for o in result.signature_outcomes] == ["", ""]
    repo = f"prod/{name}"
    assert sorted(prod.list_tags(repo)) == ["1.0", cosign.signature_tag(digest)]
    # the staging signature travelled unchanged (first layer), the promoter's was appended
    layers = _layers(prod.host, repo, digest)
    assert len(layers) == 2
    cosign.verify_image(prod, repo, digest, keys["release"].public)
    cosign.verify_image(prod, repo, digest, keys["promoter"].public)
    with pytest.raises(SignatureError):
        cosign.verify_image(prod, repo, digest, keys["x"].public)
    # a rerun has nothing to copy, so nothing to sign
    again = promote_images(PromoteOptions(manifest=manifest, confirm=True, sign_key=keys["promoter"]), registries)
    assert again.error() is None and again.signatures is None and not again.outcomes


def test_unsigned_source_without_key_adds_no_signature(tmp_path: Path, clients: tuple[RegistryClient, RegistryClient],
                                                       registries: Registries,
                                                       registry_images: dict[str, Path]) -> None:
    staging, prod = clients
    name, _digest, manifest = _setup(tmp_path, staging, prod, registry_images)
    result = promote_images(PromoteOptions(manifest=manifest, confirm=True), registries)
    assert result.error() is None
    assert result.signatures is not None and result.signatures.steps == []
    assert prod.list_tags(f"prod/{name}") == ["1.0"]


def test_existing_production_signature_is_never_moved(tmp_path: Path,
                                                      clients: tuple[RegistryClient, RegistryClient],
                                                      registries: Registries, keys: dict[str, SigningKey],
                                                      registry_images: dict[str, Path]) -> None:
    staging, prod = clients
    name, digest, manifest = _setup(tmp_path, staging, prod, registry_images)
    repo = f"prod/{name}"
    cosign.sign_image(staging, f"stg/{name}", digest, keys["release"])
    # production already holds the digest (untagged) with someone else's signature
    copy_image(staging, f"stg/{name}", digest, prod, repo, ())
    cosign.sign_image(prod, repo, digest, keys["x"])
    before = prod.head_manifest(repo, cosign.signature_tag(digest))
    dry = promote_images(PromoteOptions(manifest=manifest), registries)
    assert dry.signatures is not None and len(dry.signatures.conflicts) == 1
    assert "signature conflict" in str(dry.error())
    result = promote_images(PromoteOptions(manifest=manifest, confirm=True), registries)
    error = str(result.error())
    assert f"{prod.host}/{repo}:{cosign.signature_tag(digest)} points at {before.digest if before else ''}" in error
    assert prod.head_manifest(repo, cosign.signature_tag(digest)) == before
    assert "1.0" in prod.list_tags(repo)  # the image's own tag was still promoted
    with pytest.raises(SignatureError):
        cosign.verify_image(prod, repo, digest, keys["release"].public)
