"""Image signatures in a real registry: cosign's `.sig` manifest, read back by skopeo, checked by openssl."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from releng.registry import imagetar, oci
from releng.registry.client import RegistryClient
from releng.registry.localserver import LocalRegistry
from releng.signing import cosign
from releng.signing.blobs import SignatureError
from releng.signing.keys import SigningKey

from tests.fixtures.registry import RegistryFactory


@pytest.fixture(scope="module")
def reg(registry_factory: RegistryFactory) -> LocalRegistry:
    return registry_factory("sign-images")


@pytest.fixture
def client(reg: LocalRegistry) -> Iterator[RegistryClient]:
    with RegistryClient(reg.host) as c:
        yield c


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "k1")


@pytest.fixture(scope="module")
def other() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "k2")


_counter = iter(range(10_000))


@pytest.fixture
def image(client: RegistryClient, registry_images: dict[str, Path]) -> tuple[str, str]:
    """A fresh repository holding one image; (repo, digest)."""
    repo = f"sign/img{next(_counter)}"
    return repo, imagetar.push_image_tarball(client, registry_images["amd64"], repo, "v1")


def _skopeo_raw(ref: str) -> dict[str, object]:
    out = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         check=True, capture_output=True, text=True, timeout=30)
    doc: dict[str, object] = json.loads(out.stdout)
    return doc


def _openssl_verifies(tmp: Path, key: SigningKey, payload: bytes, signature_b64: str) -> bool:
    (tmp / "pub.pem").write_bytes(key.public_pem())
    (tmp / "payload").write_bytes(payload)
    (tmp / "sig.der").write_bytes(base64.b64decode(signature_b64))
    run = subprocess.run(["openssl", "dgst", "-sha256", "-verify", tmp / "pub.pem", "-signature", tmp / "sig.der",
                          tmp / "payload"], capture_output=True, text=True, timeout=30)
    return run.returncode == 0 and "Verified OK" in run.stdout


def test_payload_is_cosigns_exact_bytes() -> None:
    digest = "sha256:" + "ab" * 32
    assert cosign.simple_signing_payload("gcr.io/p/img", digest) == (
        b'{"critical":{"identity":{"docker-reference":"gcr.io/p/img"},"image":{"docker-manifest-digest":"'
        + digest.encode() + b'"},"type":"cosign container image signature"},"optional":null}')
    assert cosign.signature_tag(digest) == "sha256-" + "ab" * 32 + ".sig"
    assert cosign.signed_digest(cosign.signature_tag(digest)) == digest
    assert cosign.signed_digest("sha256-abc.sig") is None and cosign.signed_digest("v1") is None


def test_sign_store_read_with_skopeo_and_verify_with_openssl(
        client: RegistryClient, image: tuple[str, str], key: SigningKey, other: SigningKey, tmp_path: Path) -> None:
    repo, digest = image
    result = cosign.sign_image(client, repo, digest, key)
    assert result.outcome == "signed" and result.tag == cosign.signature_tag(digest)
    manifest = _skopeo_raw(f"{client.host}/{repo}:{result.tag}")
    assert manifest["mediaType"] == oci.OCI_MANIFEST
    layers = manifest["layers"]
    assert isinstance(layers, list) and len(layers) == 1
    layer = layers[0]
    assert layer["mediaType"] == cosign.SIMPLESIGNING
    payload = client.get_blob(repo, layer["digest"])
    doc = json.loads(payload)
    assert doc["critical"]["image"]["docker-manifest-digest"] == digest
    assert doc["critical"]["identity"]["docker-reference"] == f"{client.host}/{repo}"
    signature = layer["annotations"][cosign.SIGNATURE_ANNOTATION]
    assert _openssl_verifies(tmp_path, key, payload, signature)
    assert not _openssl_verifies(tmp_path, key, payload[:-1] + b" ", signature)  # the payload byte matters
    assert cosign.verify_image(client, repo, digest, key.public) == f"{client.host}/{repo}"
    # A rerun with the same key writes nothing; another key appends a layer as cosign does.
    before = client.head_manifest(repo, result.tag)
    assert cosign.sign_image(client, repo, digest, key).outcome == "present"
    assert client.head_manifest(repo, result.tag) == before
    assert cosign.sign_image(client, repo, digest, other).outcome == "signed"
    again = _skopeo_raw(f"{client.host}/{repo}:{result.tag}")
    assert isinstance(again["layers"], list) and len(again["layers"]) == 2
    cosign.verify_image(client, repo, digest, key.public)
    cosign.verify_image(client, repo, digest, other.public)


def _tamper_layer(client: RegistryClient, repo: str, digest: str,
                  change: Callable[[RegistryClient, str, dict[str, object]], None]) -> None:
    """Rewrite the `.sig` manifest with its first layer changed (what an attacker with push rights could do)."""
    tag = cosign.signature_tag(digest)
    raw, _, _ = client.get_manifest(repo, tag)
    doc = json.loads(raw)
    change(client, repo, doc["layers"][0])
    client.put_manifest(repo, tag, json.dumps(doc).encode(), oci.OCI_MANIFEST)


def _new_payload(payload: bytes) -> Callable[[RegistryClient, str, dict[str, object]], None]:
    def change(client: RegistryClient, repo: str, layer: dict[str, object]) -> None:
        client.push_blob(repo, payload)
        layer["digest"], layer["size"] = oci.sha256_digest(payload), len(payload)
    return change


def _append_to_payload(client: RegistryClient, repo: str, layer: dict[str, object]) -> None:
    """The signed payload plus one newline: still valid JSON naming this digest, so only the signature can tell."""
    _new_payload(client.get_blob(repo, str(layer["digest"])) + b"\n")(client, repo, layer)


def _flip_signature(client: RegistryClient, repo: str, layer: dict[str, object]) -> None:
    annotations = layer["annotations"]
    assert isinstance(annotations, dict)
    der = bytearray(base64.b64decode(annotations[cosign.SIGNATURE_ANNOTATION]))
    der[-1] ^= 1
    annotations[cosign.SIGNATURE_ANNOTATION] = base64.b64encode(bytes(der)).decode()


def _set_signature(value: str) -> Callable[[RegistryClient, str, dict[str, object]], None]:
    def change(client: RegistryClient, repo: str, layer: dict[str, object]) -> None:
        layer["annotations"] = {cosign.SIGNATURE_ANNOTATION: value}
    return change


OTHER_DIGEST = "sha256:" + "cd" * 32
# (id, how to tamper with the stored signature, words the verification error must hold)
TAMPER: list[tuple[str, Callable[[RegistryClient, str, dict[str, object]], None], str]] = [
    ("flipped-signature-byte", _flip_signature, "does not verify"),
    ("truncated-signature", _set_signature("MEUCIQ"), "malformed signature"),
    ("garbage-signature", _set_signature("not base64 at all!"), "malformed signature"),
    ("payload-for-another-digest", _new_payload(cosign.simple_signing_payload("x/y", OTHER_DIGEST)), "not this image"),
    ("payload-one-byte-appended", _append_to_payload, "does not verify"),
    ("payload-not-json", _new_payload(b"\x00\x01binary"), "not a cosign simple-signing document"),
    ("payload-wrong-type", _new_payload(json.dumps({"critical": {"identity": {"docker-reference": "x"}, "image": {
        "docker-manifest-digest": "sha256:" + "0" * 64}, "type": "atomic container signature"}}).encode()),
     "has type"),
    ("annotation-removed", lambda c, r, layer: layer.pop("annotations"), "has no dev.cosignproject.cosign/signature"),
]


@pytest.mark.parametrize(("change", "words"), [t[1:] for t in TAMPER], ids=[t[0] for t in TAMPER])
def test_tampered_signatures_fail_naming_the_image(client: RegistryClient, image: tuple[str, str], key: SigningKey,
                                                    change: Callable[[RegistryClient, str, dict[str, object]], None],
                                                    words: str) -> None:
    repo, digest = image
    cosign.sign_image(client, repo, digest, key)
    _tamper_layer(client, repo, digest, change)
    with pytest.raises(SignatureError) as info:
        cosign.verify_image(client, repo, digest, key.public)
    assert str(info.value).startswith(f"{client.host}/{repo}@{digest}: ") and words in str(info.value)


def test_payload_changed_but_claiming_this_digest_fails_the_signature(
        client: RegistryClient, image: tuple[str, str], key: SigningKey) -> None:
    repo, digest = image
    cosign.sign_image(client, repo, digest, key)
    forged = cosign.simple_signing_payload("evil.example/other", digest)  # same digest, another identity
    _tamper_layer(client, repo, digest, _new_payload(forged))
    with pytest.raises(SignatureError, match=f"no signature verifies with key {key.key_id}"):
        cosign.verify_image(client, repo, digest, key.public)


def test_unsigned_other_key_and_missing_image(client: RegistryClient, image: tuple[str, str], key: SigningKey,
                                              other: SigningKey) -> None:
    repo, digest = image
    with pytest.raises(SignatureError, match=r"no signature \(no sha256-.*\.sig tag"):
        cosign.verify_image(client, repo, digest, key.public)
    cosign.sign_image(client, repo, digest, key)
    with pytest.raises(SignatureError, match=f"no signature verifies with key {other.key_id}"):
        cosign.verify_image(client, repo, digest, other.public)
    with pytest.raises(SignatureError, match="no such image to sign"):
        cosign.sign_image(client, repo, OTHER_DIGEST, key)
    assert client.head_manifest(repo, cosign.signature_tag(OTHER_DIGEST)) is None


def test_appending_keeps_layers_cosign_wrote_verbatim(client: RegistryClient, image: tuple[str, str],
                                                      key: SigningKey, other: SigningKey) -> None:
    """A keyless signature's certificate and bundle annotations (and any other layer) survive krel appending."""
    repo, digest = image
    cosign.sign_image(client, repo, digest, other)
    tag = cosign.signature_tag(digest)
    raw, _, _ = client.get_manifest(repo, tag)
    doc = json.loads(raw)
    doc["layers"][0]["annotations"].update({"dev.sigstore.cosign/certificate": "-----BEGIN CERTIFICATE-----",
                                            "dev.sigstore.cosign/bundle": '{"SignedEntryTimestamp":"x"}'})
    attachment = b"an sbom attachment"
    client.push_blob(repo, attachment)
    doc["layers"].append({"mediaType": "text/spdx", "size": len(attachment), "digest": oci.sha256_digest(attachment)})
    doc["annotations"] = {"org.example/kept": "yes"}
    client.put_manifest(repo, tag, json.dumps(doc).encode(), oci.OCI_MANIFEST)
    assert cosign.sign_image(client, repo, digest, key).outcome == "signed"
    after = _skopeo_raw(f"{client.host}/{repo}:{tag}")
    layers = after["layers"]
    assert isinstance(layers, list) and layers[:2] == doc["layers"] and len(layers) == 3
    assert after["annotations"] == {"org.example/kept": "yes"}
    cosign.verify_image(client, repo, digest, key.public)
    cosign.verify_image(client, repo, digest, other.public)
