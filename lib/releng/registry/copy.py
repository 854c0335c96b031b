"""Copy an image by digest between repositories or registries, byte for byte, so the digest is preserved.

Manifest lists at any depth (children first), Docker schema 1 (opaque bytes and their fsLayers), and images with
foreign layers (the manifest is copied, the layers registries do not hold are not).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from releng.registry import oci
from releng.registry.client import RegistryClient, RegistryError
from releng.registry.oci import Descriptor


class TagMoveError(RegistryError):
    """A destination tag already points at another digest; production tags never move."""

    @classmethod
    def for_tag(cls, host: str, repo: str, tag: str, current: str, wanted: str) -> TagMoveError:
        return cls(
            f"registry {host}, repository {repo}: tag {tag} points at {current}, refusing to move it to {wanted}"
        )


@dataclass
class CopyResult:
    """What one copy_image call did; a rerun of a finished copy reports only *_present / skipped counts."""

    digest: str
    manifests_copied: int = 0
    manifests_present: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    blobs_foreign: int = 0
    bytes_copied: int = 0
    tags_added: list[str] = field(default_factory=list)
    tags_present: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.manifests_copied or self.tags_added)


class _KeyedLocks:
    """A lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, str], tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: tuple[str, str, str]) -> Iterator[None]:
        with self._lock:
            lock, users = self._held.get(key, (threading.Lock(), 0))
            self._held[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._held[key]
                if users == 1:
                    del self._held[key]
                else:
                    self._held[key] = (lock, users - 1)


# Two copies writing the same manifest or blob into one repository (two lists sharing a child) take turns: the
# second then finds it present instead of racing the first (registries can answer DIGEST_INVALID to such races).
_WRITES = _KeyedLocks()


def _copy_blob(src: RegistryClient, src_repo: str, dst: RegistryClient, dst_repo: str, blob: Descriptor,
               result: CopyResult) -> None:
    if oci.is_foreign(blob):
        # crane and skopeo do the same: the image names where to fetch these, registries do not store them.
        result.blobs_foreign += 1
        return
    with _WRITES.hold((dst.host, dst_repo, blob.digest)):
        _push_blob(src, src_repo, dst, dst_repo, blob, result)


def _push_blob(src: RegistryClient, src_repo: str, dst: RegistryClient, dst_repo: str, blob: Descriptor,
               result: CopyResult) -> None:
    # Within one registry, mount from the source repo (a metadata-only link); across registries, a mount POST from
    # the destination repo itself finds a blob that is already there and otherwise opens the upload.
    same_registry = src.host == dst.host and src_repo != dst_repo
    outcome = dst.push_blob_from(src, src_repo, dst_repo, blob, mount_from=src_repo if same_registry else None)
    if outcome == "copied":
        result.blobs_copied += 1
        result.bytes_copied += blob.size
    elif outcome == "mounted":
        result.blobs_mounted += 1
    else:
        result.blobs_skipped += 1


def _copy_manifest(src: RegistryClient, src_repo: str, dst: RegistryClient, dst_repo: str, digest: str,
                   result: CopyResult, ref: str | None = None) -> tuple[bytes, str]:
    """Copy one manifest and everything under it (children before the index: the registry checks them).

    The manifest is PUT under ref (a tag) when given: that stores it by digest too, saving one PUT per image.
    """
    raw, media_type, _ = src.get_manifest(src_repo, digest)
    where = f"{src.host}/{src_repo}@{digest}"
    doc = oci.parse_manifest(raw, where)
    if media_type in oci.INDEX_TYPES:
        for child, _platform in oci.children(doc, where):
            _copy_child(src, src_repo, dst, dst_repo, child.digest, result)
    elif media_type in oci.IMAGE_TYPES:
        for blob in oci.blobs(doc, where):
            _copy_blob(src, src_repo, dst, dst_repo, blob, result)
    elif media_type in oci.SCHEMA1_TYPES:
        for layer in oci.schema1_layers(doc, where):
            _copy_blob(src, src_repo, dst, dst_repo, _schema1_blob(src, src_repo, layer, where), result)
    else:
        raise RegistryError(f"registry {src.host}, repository {src_repo}: {digest} has unsupported media type "
                            f"{media_type!r}; expected a Docker v2 / OCI manifest or index, or Docker schema 1")
    dst.put_manifest(dst_repo, ref or digest, raw, media_type)
    result.manifests_copied += 1
    return raw, media_type


def _copy_child(src: RegistryClient, src_repo: str, dst: RegistryClient, dst_repo: str, digest: str,
                result: CopyResult) -> None:
    """One entry of a manifest list (itself possibly a list: any depth), unless the destination has it."""
    with _WRITES.hold((dst.host, dst_repo, digest)):
        if dst.head_manifest(dst_repo, digest) is not None:
            result.manifests_present += 1
        else:
            _copy_manifest(src, src_repo, dst, dst_repo, digest, result)


def _schema1_blob(src: RegistryClient, src_repo: str, digest: str, where: str) -> Descriptor:
    # Schema 1 lists layers without sizes; the upload needs one.
    size = src.blob_size(src_repo, digest)
    if size is None:
        raise RegistryError(f"{where}: schema-1 layer {digest} is missing from the source repository")
    return Descriptor(digest, "", size)


def copy_image(src: RegistryClient, src_repo: str, digest: str, dst: RegistryClient, dst_repo: str,
               tags: Sequence[str] = ()) -> CopyResult:
    """Copy src_repo@digest to dst_repo (manifest lists whole, blobs mounted/skipped/streamed), then add tags.

    Idempotent: what is already there is left alone. A tag on another digest is refused before anything is written.
    """
    oci.check_digest(digest)
    result = CopyResult(digest)
    wanted: list[str] = []
    for tag in tags:
        current = dst.head_manifest(dst_repo, tag)
        if current is None:
            wanted.append(tag)
        elif current.digest == digest:
            result.tags_present.append(tag)
        else:
            raise TagMoveError.for_tag(dst.host, dst_repo, tag, current.digest, digest)
    manifest: tuple[bytes, str] | None = None
    with _WRITES.hold((dst.host, dst_repo, digest)):
        # A tag already on this digest proves the manifest is there: no need to ask again.
        present = bool(result.tags_present) or dst.head_manifest(dst_repo, digest) is not None
        if not present:
            first = wanted.pop(0) if wanted else None
            manifest = _copy_manifest(src, src_repo, dst, dst_repo, digest, result, first)
            if first:
                result.tags_added.append(first)
        else:
            result.manifests_present += 1
    if wanted:
        if manifest is None:
            raw, media_type, _ = dst.get_manifest(dst_repo, digest)
            manifest = (raw, media_type)
        for tag in wanted:
            dst.put_manifest(dst_repo, tag, manifest[0], manifest[1])
            result.tags_added.append(tag)
    return result
