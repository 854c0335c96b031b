"""OCI / Docker media types, descriptors and the few manifest fields the client reads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from releng import safeload
from releng.errors import ReleaseError
from releng.registry.reference import DIGEST

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"

# Docker schema 1 (deprecated, still in old production repositories): copied as opaque bytes with its fsLayers.
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
# Foreign / non-distributable layers (Windows base images): registries do not hold them, so copies skip them.
FOREIGN_LAYER_TYPES = frozenset({
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
})

INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGE_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
SCHEMA1_TYPES = frozenset({SCHEMA1, SCHEMA1_SIGNED})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES | SCHEMA1_TYPES
ACCEPT = ", ".join(sorted(MANIFEST_TYPES))
MAX_MANIFEST_BYTES = 4 << 20  # registries refuse manifests over 4 MiB (distribution spec)



@dataclass(frozen=True)
class Descriptor:
    """What a registry says about one manifest or blob: digest, media type and size in bytes."""

    digest: str
    media_type: str
    size: int

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class Platform:
    """The os/architecture(/variant) of one entry of a manifest list."""

    os: str
    architecture: str
    variant: str | None = None


def sha256_digest(data: bytes) -> str:
    """The `sha256:<hex>` digest of data."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """Return digest unchanged if it is `sha256:<64 lower-case hex>`, else raise ReleaseError."""
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise ReleaseError(f"invalid digest {digest!r}: expected sha256:<64 lower-case hex digits>")
    return digest


def parse_manifest(raw: bytes, where: str) -> dict[str, Any]:
    """Decode a manifest's JSON, naming where it came from when it is not a JSON object."""
    try:
        doc = safeload.load_json(raw, where, max_bytes=MAX_MANIFEST_BYTES)  # bounded: size, depth, UTF-8
    except safeload.InputError as exc:
        raise ReleaseError(f"{where}: manifest is not valid JSON ({exc.problem})") from None
    if not isinstance(doc, dict):
        raise ReleaseError(f"{where}: manifest is not a JSON object")
    return doc


def _descriptor(entry: Any, where: str) -> Descriptor:
    try:
        return Descriptor(check_digest(entry["digest"]), str(entry.get("mediaType", "")), int(entry["size"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReleaseError(f"{where}: malformed descriptor in manifest ({exc})") from None


def children(doc: dict[str, Any], where: str) -> list[tuple[Descriptor, Platform | None]]:
    """The child manifests of a manifest list / OCI index, with their platforms."""
    out: list[tuple[Descriptor, Platform | None]] = []
    entries = doc.get("manifests") or []
    if not isinstance(entries, list):
        raise ReleaseError(f"{where}: manifest list has no list of manifests")
    for entry in entries:
        if not isinstance(entry, dict):
            raise ReleaseError(f"{where}: malformed descriptor in manifest list")
        desc = _descriptor(entry, where)
        plat = entry.get("platform")
        platform = (
            Platform(str(plat.get("os", "")), str(plat.get("architecture", "")), plat.get("variant"))
            if isinstance(plat, dict)
            else None
        )
        out.append((desc, platform))
    return out


def blobs(doc: dict[str, Any], where: str) -> list[Descriptor]:
    """The config and layer blobs of an image manifest (config first)."""
    out = []
    if "config" in doc:
        out.append(_descriptor(doc["config"], where))
    layers = doc.get("layers") or []
    if not isinstance(layers, list):
        raise ReleaseError(f"{where}: image manifest has no list of layers")
    out.extend(_descriptor(layer, where) for layer in layers)
    return out


def is_foreign(blob: Descriptor) -> bool:
    """Whether a layer is foreign (non-distributable): the image points at it elsewhere, registries do not hold it."""
    return blob.media_type in FOREIGN_LAYER_TYPES


def schema1_layers(doc: dict[str, Any], where: str) -> list[str]:
    """The distinct fsLayers blob digests of a schema-1 manifest (it repeats the empty layer), in order."""
    layers = doc.get("fsLayers")
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ReleaseError(f"{where}: schema-1 manifest has no list of fsLayers")
    try:
        return list(dict.fromkeys(check_digest(x["blobSum"]) for x in layers))
    except (KeyError, ReleaseError):
        raise ReleaseError(f"{where}: schema-1 manifest has an fsLayers entry without a sha256 blobSum") from None


def manifest_digest(raw: bytes, media_type: str, where: str) -> str:
    """The digest a registry gives these manifest bytes: their sha256, except for a signed schema-1 manifest,
    whose digest covers the payload without its signatures (registries re-sign it, so the bytes change)."""
    if media_type != SCHEMA1_SIGNED:
        return sha256_digest(raw)
    return sha256_digest(_schema1_payload(raw, where))


def _schema1_payload(raw: bytes, where: str) -> bytes:
    # libtrust's JWS: every signature's protected header says where the payload ends (formatLength) and how it
    # closes (formatTail); the signatures block sits in between.
    doc = parse_manifest(raw, where)
    try:
        protected = doc["signatures"][0]["protected"]
        header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
        length, tail = int(header["formatLength"]), header["formatTail"]
        tail_bytes = base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
        raise ReleaseError(f"{where}: signed schema-1 manifest has no readable signature header") from None
    if not 0 < length <= len(raw):
        raise ReleaseError(f"{where}: signed schema-1 manifest's formatLength {length} is out of range")
    return raw[:length] + tail_bytes


def media_type_of(doc: dict[str, Any], fallback: str) -> str:
    """The manifest's own mediaType field, or fallback (OCI manifests may omit it)."""
    value = doc.get("mediaType")
    return value if isinstance(value, str) and value else fallback


def canonical_json(doc: Any) -> bytes:
    """Stable JSON bytes for manifests we build: sorted keys, no spaces, so digests are reproducible."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
