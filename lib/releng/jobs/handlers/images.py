"""Handlers for container images: push per-arch images and manifest lists at stage, validate them at release."""

from __future__ import annotations

from pathlib import Path

from releng.address import RegistryAddress
from releng.errors import ReleaseError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import handles
from releng.jobs.steps import PushImages, ValidateImages
from releng.registry import oci
from releng.registry.client import RegistryClient
from releng.registry.imagetar import config_digest, push_image_tarball, push_manifest_list


class ImageMovedError(ReleaseError):
    """A version tag already names different image content: pushed images are never replaced."""

    @classmethod
    def for_tag(cls, where: str, have: str, detail: str) -> ImageMovedError:
        return cls(f"{where} already exists as {have[:19]}… ({detail}); pushed images are never replaced")


def _config_digest_at(client: RegistryClient, repo: str, ref: str) -> str | None:
    raw, _, _ = client.get_manifest(repo, ref)
    doc = oci.parse_manifest(raw, f"{client.host}/{repo}:{ref}")
    config = doc.get("config")
    return str(config["digest"]) if isinstance(config, dict) and "digest" in config else None


def _push_arch_image(client: RegistryClient, tar: Path, repo: str, tag: str) -> str:
    """Push one image; an existing tag is accepted only when it holds the same image config."""
    existing = client.head_manifest(repo, tag)
    if existing is not None:
        want = config_digest(tar)
        have = _config_digest_at(client, repo, tag)
        if want is not None and have != want:
            detail = f"its config is {(have or 'unknown')[:19]}…, this build's is {want[:19]}…"
            raise ImageMovedError.for_tag(f"{client.host}/{repo}:{tag}", existing.digest, detail)
        return existing.digest
    return push_image_tarball(client, tar, repo, tag)


def _platforms_of(client: RegistryClient, repo: str, ref: str) -> dict[str, str]:
    """arch -> child digest of the manifest list at repo:ref."""
    raw, media_type, _ = client.get_manifest(repo, ref)
    where = f"{client.host}/{repo}:{ref}"
    doc = oci.parse_manifest(raw, where)
    if oci.media_type_of(doc, media_type) not in oci.INDEX_TYPES:
        raise ReleaseError(f"{where} is a single-arch manifest, expected a manifest list")
    return {p.architecture: d.digest for d, p in oci.children(doc, where) if p is not None}


@handles(PushImages)
def push_images(step: PushImages, clients: Clients) -> None:
    """krel PushContainerImages: <registry>/<image>-<arch>:<v> per arch, then <registry>/<image>:<v> over them."""
    registry = RegistryAddress.parse(step.registry)
    host = registry.host
    client = clients.registry(host)
    for image in step.images:
        digests: dict[str, str] = {}
        for arch in step.arches:
            tar = Path(step.images_dir) / arch / f"{image}.tar"
            digests[arch] = _push_arch_image(client, tar, registry.repo(f"{image}-{arch}"), step.version)
        repo = registry.repo(image)
        # A manifest list can only reference manifests in its own repository: put the children there by digest.
        children = {}
        for arch, digest in digests.items():
            arch_repo = registry.repo(f"{image}-{arch}")
            raw, media_type, _ = client.get_manifest(arch_repo, digest)
            for blob in oci.blobs(oci.parse_manifest(raw, digest), digest):
                if not client.blob_exists(repo, blob.digest) and not client.mount_blob(repo, blob.digest, arch_repo):
                    client.push_blob_from(client, arch_repo, repo, blob)
            client.put_manifest(repo, digest, raw, media_type)
            children[arch] = (digest, len(raw), media_type)
        if client.head_manifest(repo, step.version) is not None:
            have = _platforms_of(client, repo, step.version)
            if have != digests:
                listed = client.head_manifest(repo, step.version)
                detail = f"it lists {', '.join(f'{a} {d[:19]}…' for a, d in sorted(have.items()))}"
                raise ImageMovedError.for_tag(f"{host}/{repo}:{step.version}", listed.digest if listed else "?", detail)
            clients.report.info(f"{host}/{repo}:{step.version} already pushed")
            continue
        push_manifest_list(client, repo, step.version, children)
        clients.report.info(f"pushed {host}/{repo}:{step.version} ({', '.join(step.arches)})")


@handles(ValidateImages)
def validate_images(step: ValidateImages, clients: Clients) -> None:
    """krel ValidateImages: each version's manifest list exists and covers every arch."""
    registry = RegistryAddress.parse(step.registry)
    host = registry.host
    client = clients.registry(host)
    for version in step.versions:
        for image in step.images:
            repo = registry.repo(image)
            where = f"{host}/{repo}:{version}"
            if client.head_manifest(repo, version) is None:
                raise ReleaseError(f"image {where} not found; images must exist before git objects are pushed")
            have = _platforms_of(client, repo, version)
            missing = [arch for arch in step.arches if arch not in have]
            if missing:
                have_list = ", ".join(sorted(have))
                raise ReleaseError(f"image {where} has no {', '.join(missing)} manifest (has {have_list})")
    clients.report.info(f"{len(step.versions) * len(step.images)} manifest lists valid for {', '.join(step.arches)}")
