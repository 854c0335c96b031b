"""Image signatures as cosign stores them: a simple-signing payload per image digest, signed, kept in the image's
repository as an OCI manifest tagged `sha256-<hex>.sig` whose layers carry the signatures in an annotation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from releng import safeload
from releng.errors import ReleaseError
from releng.registry import oci
from releng.registry.client import RegistryClient
from releng.registry.pool import Registries
from releng.registry.reference import ImageRef, parse_image_ref
from releng.signing.blobs import Outcome, SignatureError, decode_signature, sign_blob
from releng.signing.keys import SigningKey, VerifyKey
from releng.signing.tags import SIG_TAG as SIG_TAG
from releng.signing.tags import signature_tag as signature_tag
from releng.signing.tags import signed_digest as signed_digest

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
# A payload is a few hundred bytes; a layer claiming more is not one krel or cosign wrote.
MAX_PAYLOAD = 64 * 1024
# cosign's config: zero times, empty os/architecture, one diff_id per layer.
_ZERO_TIME = "0001-01-01T00:00:00Z"


def simple_signing_payload(docker_reference: str, digest: str) -> bytes:
    """The payload cosign signs, byte for byte as Go's encoding/json writes its struct (field order, no spaces)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": oci.check_digest(digest)},
            "type": SIGNATURE_TYPE,
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SignatureLayer:
    """One layer of a `.sig` manifest: the payload blob's descriptor and its base64 signature annotation."""

    digest: str
    size: int
    signature: str


@dataclass(frozen=True)
class SignResult:
    """What sign_image did: "signed" (a layer added) or "present" (this key had signed the digest already)."""

    reference: str
    tag: str
    outcome: str
    key_id: str


def _where(client: RegistryClient, repo: str, digest: str) -> str:
    return f"{client.host}/{repo}@{digest}"


def _layers(doc: dict[str, Any], where: str) -> list[SignatureLayer]:
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise SignatureError(f"{where}: signature manifest has no list of layers")
    out = []
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLESIGNING:
            continue  # cosign tolerates other layers (attachments); they carry no simple-signing signature
        annotations = layer.get("annotations")
        signature = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        size = layer.get("size")
        digest = layer.get("digest")
        if not isinstance(signature, str) or not isinstance(size, int) or not isinstance(digest, str):
            raise SignatureError(f"{where}: a signature layer has no {SIGNATURE_ANNOTATION}, size or digest")
        out.append(SignatureLayer(oci.check_digest(digest), size, signature))
    return out


def _sig_where(client: RegistryClient, repo: str, digest: str) -> str:
    return f"{_where(client, repo, digest)}: {signature_tag(digest)}"


def _read_manifest(client: RegistryClient, repo: str, digest: str) -> dict[str, Any] | None:
    """The `.sig` manifest of repo@digest as a document, None when the image has no signature tag."""
    tag = signature_tag(digest)
    if client.head_manifest(repo, tag) is None:
        return None
    raw, _media_type, _ = client.get_manifest(repo, tag)
    return oci.parse_manifest(raw, _sig_where(client, repo, digest))


def read_signatures(client: RegistryClient, repo: str, digest: str) -> list[SignatureLayer] | None:
    """The simple-signing layers under the digest's `.sig` tag, None when the image has no signature tag."""
    doc = _read_manifest(client, repo, digest)
    return None if doc is None else _layers(doc, _sig_where(client, repo, digest))


def _payload(client: RegistryClient, repo: str, layer: SignatureLayer, where: str) -> bytes:
    if layer.size > MAX_PAYLOAD:
        raise SignatureError(f"{where}: signature payload {layer.digest} is {layer.size} bytes, not a payload")
    return client.get_blob(repo, layer.digest)  # checked against its digest by the client


def _fields(payload: bytes, where: str) -> tuple[object, object, str]:
    """(type, docker-manifest-digest, docker-reference) of a simple-signing payload; SignatureError otherwise."""
    try:
        doc = safeload.load_json(payload, where, max_bytes=MAX_PAYLOAD)
        critical = doc["critical"]
        fields = critical["type"], critical["image"]["docker-manifest-digest"], critical["identity"]["docker-reference"]
    except (ReleaseError, KeyError, TypeError):
        fields = None
    if fields is None or not isinstance(fields[2], str):
        raise SignatureError(f"{where}: signature payload is not a cosign simple-signing document")
    return fields[0], fields[1], fields[2]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_payload(payload: bytes, digest: str, where: str) -> str:
    """The docker-reference of a payload that signs `digest`; SignatureError saying what else it signs."""
    kind, claimed, reference = _fields(payload, where)
    if kind != SIGNATURE_TYPE:
        raise SignatureError(f"{where}: signature payload has type {_short(kind)}, expected {SIGNATURE_TYPE!r}")
    if claimed != digest:
        raise SignatureError(f"{where}: signature payload signs {_short(claimed)}, not this image")
    return reference


def _verifies(client: RegistryClient, repo: str, digest: str, layer: SignatureLayer, key: VerifyKey,
              where: str) -> str:
    """The payload's docker-reference when this layer is `key`'s valid signature of `digest`; SignatureError else."""
    payload = _payload(client, repo, layer, where)
    reference = check_payload(payload, digest, where)
    if not key.verify(payload, decode_signature(layer.signature, where)):
        raise SignatureError.mismatch(where, key)
    return reference


def verify_image(client: RegistryClient, repo: str, digest: str, key: VerifyKey) -> str:
    """Check that `repo@digest` has a cosign signature by `key`; returns the signed docker-reference.

    As `cosign verify --key`: any one simple-signing layer whose payload names this digest and whose signature
    verifies is enough. Otherwise SignatureError naming the image and the most telling reason.
    """
    where = _where(client, repo, digest)
    layers = read_signatures(client, repo, digest)
    if layers is None:
        raise SignatureError(f"{where}: no signature (no {signature_tag(digest)} tag in {repo})")
    if not layers:
        raise SignatureError(f"{where}: the {signature_tag(digest)} manifest holds no simple-signing layer")
    failures: list[str] = []
    for layer in layers:
        try:
            return _verifies(client, repo, digest, layer, key, where)
        except SignatureError as exc:
            failures.append(str(exc).removeprefix(f"{where}: "))
    raise SignatureError(f"{where}: no signature verifies with key {key.key_id} ({'; '.join(failures)})")


def _config(layers: list[dict[str, Any]]) -> bytes:
    doc = {
        "architecture": "", "created": _ZERO_TIME, "history": [{"created": _ZERO_TIME}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]}, "config": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _manifest(config: bytes, layers: list[dict[str, Any]], previous: dict[str, Any] | None) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {"mediaType": oci.OCI_CONFIG, "size": len(config), "digest": oci.sha256_digest(config)},
        "layers": layers,
    }
    if previous is not None and isinstance(previous.get("annotations"), dict):
        doc["annotations"] = previous["annotations"]
    return json.dumps(doc, separators=(",", ":")).encode()


def _signed_by(client: RegistryClient, repo: str, digest: str, layers: list[SignatureLayer], key: VerifyKey) -> bool:
    where = _where(client, repo, digest)
    for layer in layers:
        try:
            _verifies(client, repo, digest, layer, key, where)
        except SignatureError:
            continue
        return True
    return False


def sign_image(client: RegistryClient, repo: str, digest: str, key: SigningKey,
               docker_reference: str | None = None) -> SignResult:
    """Sign `repo@digest` as `cosign sign --key` does and store it under the `.sig` tag.

    A `.sig` manifest already there gains a layer (cosign appends), unless it already holds a valid signature by
    this key for this digest: then nothing is written, so a rerun is a no-op.
    """
    where = _where(client, repo, digest)
    if client.head_manifest(repo, digest) is None:
        raise SignatureError(f"{where}: no such image to sign")
    tag = signature_tag(digest)
    previous = _read_manifest(client, repo, digest)
    existing = _layers(previous, _sig_where(client, repo, digest)) if previous is not None else []
    if _signed_by(client, repo, digest, existing, key.public):
        return SignResult(where, tag, "present", key.key_id)
    payload = simple_signing_payload(docker_reference or f"{client.host}/{repo}", digest)
    layer = {"mediaType": SIMPLESIGNING, "size": len(payload), "digest": oci.sha256_digest(payload),
             "annotations": {SIGNATURE_ANNOTATION: sign_blob(key, payload)}}
    # cosign appends: the layers already there stay byte for byte (other keys', keyless certificates and bundles)
    kept = [x for x in (previous or {}).get("layers") or [] if isinstance(x, dict) and "digest" in x]
    layers = [*kept, layer]
    config = _config(layers)
    client.push_blob(repo, payload)
    client.push_blob(repo, config)
    client.put_manifest(repo, tag, _manifest(config, layers, previous), oci.OCI_MANIFEST)
    return SignResult(where, tag, "signed", key.key_id)


def _resolve(registries: Registries, ref: ImageRef) -> tuple[RegistryClient, str]:
    """The client and the digest `ref` names (a tag is resolved once: what is signed is always a digest)."""
    client = registries.client(ref.host)
    if ref.digest:
        return client, ref.digest
    found = client.head_manifest(ref.repo, ref.ref)
    if found is None:
        raise SignatureError(f"{ref}: no such image")
    return client, found.digest


def parse_refs(refs: Sequence[str]) -> list[ImageRef]:
    """Every reference parsed before any registry is asked: a typo is a usage error, not a half-done run."""
    return [parse_image_ref(ref, require_ref=True) for ref in refs]


def _each_image(registries: Registries, refs: Sequence[str],
                action: Callable[[RegistryClient, ImageRef, str], str]) -> list[Outcome]:
    """Run `action(client, ref, digest)` per image; a failure is that image's outcome, not the end of the run."""
    outcomes = []
    for ref in parse_refs(refs):
        try:
            client, digest = _resolve(registries, ref)
            outcomes.append(Outcome(str(ref), True, action(client, ref, digest)))
        except ReleaseError as exc:
            outcomes.append(Outcome(str(ref), False, str(exc)))
    return outcomes


def sign_images(registries: Registries, refs: Sequence[str], key: SigningKey) -> list[Outcome]:
    """Sign each image by digest in its own repository (`krel sign images`); failures are reported per image."""
    def sign(client: RegistryClient, ref: ImageRef, digest: str) -> str:
        result = sign_image(client, ref.repo, digest, key)
        return f"{result.outcome} {digest} as {result.tag}"
    return _each_image(registries, refs, sign)


def verify_images(registries: Registries, refs: Sequence[str], key: VerifyKey) -> list[Outcome]:
    """Check each image's cosign signature with `key` (`krel verify images`)."""
    def verify(client: RegistryClient, ref: ImageRef, digest: str) -> str:
        return f"{digest} signed by key {key.key_id} as {verify_image(client, ref.repo, digest, key)}"
    return _each_image(registries, refs, verify)
