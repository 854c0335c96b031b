"""Image tarballs: a deterministic docker-save builder; pushing docker-save / OCI-layout tarballs and manifest lists."""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from releng import safeload
from releng.errors import ReleaseError
from releng.registry import oci
from releng.registry.client import RegistryClient, RegistryError
from releng.registry.oci import Descriptor

_EPOCH = "1970-01-01T00:00:00Z"
_GZIP_MAGIC = b"\x1f\x8b"
_KNOWN_OS = frozenset({"linux", "windows", "darwin", "freebsd"})
MAX_CONFIG_BYTES = 64 << 20  # an image config is KiBs; a gzip tarball could inflate one member without end
MAX_MEMBERS = 10_000  # docker save writes 3 entries a layer; an OCI layout one per blob


@dataclass(frozen=True)
class TarballInfo:
    """What a docker-save tarball says about its image: repo tags, and the platform from its config."""

    repo_tags: tuple[str, ...]
    architecture: str
    os: str
    variant: str | None = None


# -- building -------------------------------------------------------------------------------------------------------

def _tar_bytes(entries: Mapping[str, bytes]) -> bytes:
    """A tar of entries in sorted order with fixed owner, mode and mtime, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries):
            data = entries[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_image_tarball(
    path: Path,
    files: Mapping[str, bytes],
    arch: str,
    os: str = "linux",
    repo_tag: str = "krel.local/demo:latest",
    *,
    variant: str | None = None,
) -> Path:
    """Write a one-layer docker-save tarball holding files; the same arguments always give the same digests."""
    layer = _tar_bytes(files)
    diff_id = oci.sha256_digest(layer)
    config: dict[str, Any] = {
        "architecture": arch,
        "os": os,
        "created": _EPOCH,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": _EPOCH, "created_by": "krel build_image_tarball"}],
    }
    if variant:
        config["variant"] = variant
    config_raw = oci.canonical_json(config)
    config_name = oci.sha256_digest(config_raw).split(":")[1] + ".json"
    layer_dir = diff_id.split(":")[1]
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": [f"{layer_dir}/layer.tar"]}]
    name, _, tag = repo_tag.rpartition(":")
    entries = {
        config_name: config_raw,
        f"{layer_dir}/layer.tar": layer,
        f"{layer_dir}/VERSION": b"1.0",
        "manifest.json": json.dumps(manifest).encode(),
        "repositories": json.dumps({name: {tag: layer_dir}}).encode(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tar_bytes(entries))
    return path


# -- reading --------------------------------------------------------------------------------------------------------

def _open(path: Path) -> tarfile.TarFile:
    """The tarball with its member list read (streamed; a gzip tarball is never inflated in memory)."""
    try:
        tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 -- closed here on error, else by the caller's with
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise ReleaseError(f"image tarball {path}: cannot be read as a tar ({exc.__class__.__name__})") from None
    try:
        # One header at a time, so a tarball of a million empty entries stops here and not in getmembers().
        for count in itertools.count(1):
            if tar.next() is None:
                break
            if count > MAX_MEMBERS:
                raise ReleaseError(f"image tarball {path}: more than {MAX_MEMBERS} entries; not an image tarball")
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        tar.close()
        raise ReleaseError(f"image tarball {path}: cannot be read as a tar ({exc.__class__.__name__})") from None
    except ReleaseError:
        tar.close()
        raise
    return tar


def _member(tar: tarfile.TarFile, name: str, path: Path) -> BinaryIO:
    f = None
    for candidate in (name, f"./{name}"):
        try:
            f = tar.extractfile(candidate)
            break
        except KeyError:
            continue
    if f is None:
        raise ReleaseError(f"image tarball {path}: missing entry {name}")
    return f  # type: ignore[return-value]


def _member_bytes(tar: tarfile.TarFile, name: str, path: Path, max_bytes: int) -> bytes:
    """A small member (manifest.json, a config, a manifest blob) read whole, refused past max_bytes."""
    f = _member(tar, name, path)
    try:
        return safeload.read_capped(f, f"image tarball {path}: {name}", max_bytes)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise ReleaseError(f"image tarball {path}: {name} cannot be read ({exc.__class__.__name__})") from None


def _json_member(tar: tarfile.TarFile, name: str, path: Path, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    where = f"image tarball {path}: {name}"
    return safeload.load_json(_member_bytes(tar, name, path, max_bytes), where, max_bytes=max_bytes)


def _docker_entry(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    manifest = _json_member(tar, "manifest.json", path, oci.MAX_MANIFEST_BYTES)
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        raise ReleaseError(f"image tarball {path}: manifest.json must list exactly one image")
    entry: dict[str, Any] = manifest[0]
    layers = entry.get("Layers")
    if not isinstance(entry.get("Config"), str) or not isinstance(layers, list) or \
            not all(isinstance(layer, str) for layer in layers):
        raise ReleaseError(f"image tarball {path}: manifest.json entry needs Config and Layers")
    return entry


def tarball_info(path: Path) -> TarballInfo:
    """Repo tags and platform of a docker-save tarball (krel reads the image name from manifest.json)."""
    path = Path(path)
    with _open(path) as tar:
        entry = _docker_entry(tar, path)
        config = _json_member(tar, entry["Config"], path)
    if not isinstance(config, dict):
        raise ReleaseError(f"image tarball {path}: {entry['Config']} is not an image config object")
    tags = entry.get("RepoTags") or ()
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ReleaseError(f"image tarball {path}: RepoTags in manifest.json must be a list of strings")
    variant = config.get("variant")
    return TarballInfo(
        tuple(tags), str(config.get("architecture", "")), str(config.get("os", "")),
        str(variant) if variant else None,
    )


def config_digest(path: Path) -> str | None:
    """Digest of a docker-save tarball's image config (it pins every layer via diff_ids); None for an OCI layout."""
    path = Path(path)
    with _open(path) as tar:
        names = tar.getnames()
        if "manifest.json" not in names and "./manifest.json" not in names:
            return None
        entry = _docker_entry(tar, path)
        return oci.sha256_digest(_member_bytes(tar, entry["Config"], path, MAX_CONFIG_BYTES))


# -- pushing --------------------------------------------------------------------------------------------------------

class _HashingWriter:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def _spool(src: BinaryIO, dest: Path, compress: bool) -> Descriptor:
    """Copy src to dest (gzip-compressing it deterministically when asked), returning the digest and size written."""
    with dest.open("wb") as raw:
        out = _HashingWriter(raw)
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6, mtime=0) as gz:  # type: ignore[arg-type]
                while chunk := src.read(1 << 20):
                    gz.write(chunk)
        else:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    return Descriptor("sha256:" + out.h.hexdigest(), "", out.size)


def _put_and_verify(client: RegistryClient, repo: str, tag: str, raw: bytes, media_type: str) -> str:
    digest = client.put_manifest(repo, tag, raw, media_type)
    back = client.head_manifest(repo, tag)
    if back is None or back.digest != digest:
        raise RegistryError(f"registry {client.host}, repository {repo}: tag {tag} reads back as "
                            f"{back.digest if back else 'missing'}, expected {digest}")
    return digest


def _push_docker_save(client: RegistryClient, tar: tarfile.TarFile, path: Path, repo: str, tag: str,
                      oci_manifest: bool, work: Path) -> str:
    entry = _docker_entry(tar, path)
    config_raw = _member_bytes(tar, entry["Config"], path, MAX_CONFIG_BYTES)
    config_desc = Descriptor(oci.sha256_digest(config_raw), oci.OCI_CONFIG if oci_manifest else oci.DOCKER_CONFIG,
                             len(config_raw))
    client.push_blob(repo, config_raw, config_desc.digest)
    layers = []
    for i, name in enumerate(entry["Layers"]):
        src = _member(tar, name, path)
        head = src.read(2)
        src = _member(tar, name, path)
        spooled = _spool(src, work / f"layer{i}", compress=head != _GZIP_MAGIC)
        client.push_blob(repo, work / f"layer{i}", spooled.digest)
        (work / f"layer{i}").unlink()
        layers.append({"mediaType": oci.OCI_LAYER_GZIP if oci_manifest else oci.DOCKER_LAYER_GZIP,
                       "size": spooled.size, "digest": spooled.digest})
    media_type = oci.OCI_MANIFEST if oci_manifest else oci.DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_desc.media_type, "size": config_desc.size, "digest": config_desc.digest},
        "layers": layers,
    }
    return _put_and_verify(client, repo, tag, oci.canonical_json(manifest), media_type)


def _push_oci_tree(client: RegistryClient, tar: tarfile.TarFile, path: Path, repo: str, desc: Descriptor,
                   work: Path) -> tuple[bytes, str]:
    """Push one manifest of an OCI layout and everything below it; returns its bytes and media type."""
    raw = _member_bytes(tar, f"blobs/sha256/{desc.digest.split(':')[1]}", path, oci.MAX_MANIFEST_BYTES)
    if oci.sha256_digest(raw) != desc.digest:
        raise ReleaseError(f"image tarball {path}: blob {desc.digest} does not match its digest")
    doc = oci.parse_manifest(raw, f"{path}@{desc.digest}")
    media_type = oci.media_type_of(doc, desc.media_type)
    if media_type in oci.INDEX_TYPES:
        for child, _ in oci.children(doc, str(path)):
            _push_oci_tree(client, tar, path, repo, child, work)
    else:
        for blob in oci.blobs(doc, str(path)):
            if client.blob_exists(repo, blob.digest):
                continue  # checked before spooling the bytes out of the tar
            spooled = _spool(_member(tar, f"blobs/sha256/{blob.digest.split(':')[1]}", path), work / "blob", False)
            if spooled.digest != blob.digest:
                raise ReleaseError(f"image tarball {path}: blob {blob.digest} does not match its digest")
            client.push_blob(repo, work / "blob", blob.digest, check=False)
    client.put_manifest(repo, desc.digest, raw, media_type)
    return raw, media_type


def _push_oci_layout(client: RegistryClient, tar: tarfile.TarFile, path: Path, repo: str, tag: str,
                     work: Path) -> str:
    index = _json_member(tar, "index.json", path, oci.MAX_MANIFEST_BYTES)
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ReleaseError(f"image tarball {path}: index.json has no list of manifest descriptors")
    named = [e for e in entries
             if isinstance(e.get("annotations"), dict)
             and e["annotations"].get("org.opencontainers.image.ref.name") == tag]
    chosen = entries if len(entries) == 1 else named
    if len(chosen) != 1:
        raise ReleaseError(f"image tarball {path}: index.json has {len(entries)} manifests and none named {tag!r}; "
                           "expected one manifest or one with ref.name equal to the tag")
    desc = oci.children({"manifests": chosen}, str(path))[0][0]
    raw, media_type = _push_oci_tree(client, tar, path, repo, desc, work)
    return _put_and_verify(client, repo, tag, raw, media_type)


def push_image_tarball(
    client: RegistryClient, tar_path: Path, repo: str, tag: str, *, oci_manifest: bool = False
) -> str:
    """Push a docker-save or OCI-layout tarball as repo:tag; returns the digest read back from the registry."""
    tar_path = Path(tar_path)
    with _open(tar_path) as tar, tempfile.TemporaryDirectory(prefix="krel-img-") as tmp:
        names = set(tar.getnames())
        try:
            if "manifest.json" in names or "./manifest.json" in names:
                return _push_docker_save(client, tar, tar_path, repo, tag, oci_manifest, Path(tmp))
            if "index.json" in names or "./index.json" in names:
                return _push_oci_layout(client, tar, tar_path, repo, tag, Path(tmp))
        except (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError) as exc:  # a layer cut short or corrupt
            raise ReleaseError(f"image tarball {tar_path}: cannot be read ({exc.__class__.__name__})") from None
    raise ReleaseError(f"image tarball {tar_path}: neither manifest.json (docker save) nor index.json (OCI layout)")


def _platform(key: str) -> dict[str, str]:
    parts = key.split("/")
    os_name = parts.pop(0) if len(parts) > 1 and parts[0] in _KNOWN_OS else "linux"
    platform = {"architecture": parts[0], "os": os_name}
    if len(parts) > 1:
        platform["variant"] = parts[1]
    return platform


def push_manifest_list(
    client: RegistryClient,
    repo: str,
    tag: str,
    entries: Mapping[str, Descriptor | tuple[str, int, str] | str],
    *,
    oci_index: bool | None = None,
) -> str:
    """Push a manifest list (or OCI index) over per-arch manifests already in repo; returns its digest.

    Keys are `arch`, `arch/variant` or `os/arch[/variant]`; values a Descriptor, (digest, size, media_type), or a
    digest (looked up in repo). Docker list unless every child is an OCI manifest (or oci_index says otherwise).
    """
    manifests = []
    for key in sorted(entries):
        value = entries[key]
        if isinstance(value, str):
            found = client.head_manifest(repo, value)
            if found is None:
                raise RegistryError(f"registry {client.host}, repository {repo}: {key} image {value} is not there; "
                                    "push the per-arch images before the manifest list")
            desc = found
        elif isinstance(value, Descriptor):
            desc = value
        else:
            digest, size, media = value
            desc = Descriptor(digest, media, size)
        oci.check_digest(desc.digest)
        manifests.append({"mediaType": desc.media_type, "size": desc.size, "digest": desc.digest,
                          "platform": _platform(key)})
    if not manifests:
        raise ReleaseError(f"manifest list {repo}:{tag}: no per-arch images given")
    if oci_index is None:
        oci_index = all(m["mediaType"] == oci.OCI_MANIFEST for m in manifests)
    media_type = oci.OCI_INDEX if oci_index else oci.DOCKER_MANIFEST_LIST
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    return _put_and_verify(client, repo, tag, oci.canonical_json(doc), media_type)


def build_oci_layout_tarball(path: Path, images: Mapping[str, Mapping[str, bytes]], tag: str = "latest") -> Path:
    """Write a deterministic OCI-layout tarball: one image per `arch` key, under an index when there are several."""
    blobs: dict[str, bytes] = {}

    def add(data: bytes) -> dict[str, Any]:
        digest = oci.sha256_digest(data)
        blobs[f"blobs/sha256/{digest.split(':')[1]}"] = data
        return {"size": len(data), "digest": digest}

    descriptors = []
    for key in sorted(images):
        layer = _tar_bytes(images[key])
        gz = gzip.compress(layer, compresslevel=6, mtime=0)
        platform = _platform(key)
        config = {
            **platform,
            "created": _EPOCH,
            "rootfs": {"type": "layers", "diff_ids": [oci.sha256_digest(layer)]},
            "config": {},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": {"mediaType": oci.OCI_CONFIG, **add(oci.canonical_json(config))},
            "layers": [{"mediaType": oci.OCI_LAYER_GZIP, **add(gz)}],
        }
        descriptors.append({"mediaType": oci.OCI_MANIFEST, **add(oci.canonical_json(manifest)), "platform": platform})
    if len(descriptors) == 1:
        top = {k: v for k, v in descriptors[0].items() if k != "platform"}
    else:
        index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": descriptors}
        top = {"mediaType": oci.OCI_INDEX, **add(oci.canonical_json(index))}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    layout = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": oci.canonical_json({"schemaVersion": 2, "manifests": [top]}),
        **blobs,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tar_bytes(layout))
    return path
