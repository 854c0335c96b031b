"""What a build staged or a release published, as CI reads it: every file (URL, size, sha256) and every image (digest).

The release writes the same list as release/<v>/artifacts.json (written once, like every released object).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from releng.errors import ReleaseError


@dataclass(frozen=True)
class FileArtifact:
    """One file: its name below the version's directory, where it is, its size in bytes and sha256."""

    name: str
    url: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ImageArtifact:
    """One image: registry/name:tag and the digest the tag names (a manifest list)."""

    ref: str
    digest: str


@dataclass(frozen=True)
class Artifacts:
    """Everything of one version, in a stable order (files by name, images by reference)."""

    version: str
    files: tuple[FileArtifact, ...]
    images: tuple[ImageArtifact, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "files": [{"name": f.name, "url": f.url, "size": f.size, "sha256": f.sha256} for f in self.files],
            "images": [{"ref": i.ref, "digest": i.digest} for i in self.images],
        }

    def encode(self) -> bytes:
        """artifacts.json: the same bytes for the same artifacts, so a rerun compares equal."""
        return (json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n").encode()


def build(version: str, files: Iterable[FileArtifact], images: Iterable[ImageArtifact]) -> Artifacts:
    """The artifacts of `version`, sorted."""
    return Artifacts(
        version, tuple(sorted(files, key=lambda f: f.name)), tuple(sorted(images, key=lambda i: i.ref))
    )


class ArtifactsError(ReleaseError):
    """An artifacts.json that says something else than this release would write."""

    @classmethod
    def differs(cls, url: str) -> ArtifactsError:
        return cls(
            f"{url} exists and lists other artifacts than this release publishes; released objects are never "
            "rewritten: release a new version"
        )
