"""OCI / Docker media types, descriptors and the few manifest fields the client reads."""

from __future__ import annotations

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

INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGE_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES
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


def media_type_of(doc: dict[str, Any], fallback: str) -> str:
    """The manifest's own mediaType field, or fallback (OCI manifests may omit it)."""
    value = doc.get("mediaType")
    return value if isinstance(value, str) and value else fallback


def canonical_json(doc: Any) -> bytes:
    """Stable JSON bytes for manifests we build: sorted keys, no spaces, so digests are reproducible."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
