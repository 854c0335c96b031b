"""Where things go: krel's bucket layout (stage/, release/, archive/) and the local work dir of one staged build."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from releng import version

SRC_TARBALL = "src.tar.gz"
NOTES_FILES = ("release-notes.json", "release-notes.html")
INDEX_KEY = "release/release-notes-index.json"
# Signing (issue 13): a signature beside each file, DSSE envelopes beside the unsigned documents, and the public key
# published with each release. Signing outputs are side files, like per-file checksums: never checksummed themselves.
SIGNATURE_SUFFIX = ".sig"
ENVELOPE_SUFFIX = ".intoto.jsonl"
PROVENANCE_FILE = "provenance.json"
PROVENANCE_ENVELOPE = "provenance.intoto.jsonl"
PUBLIC_KEY_FILE = "release-key.pub"


def envelope_name(name: str) -> str:
    """The DSSE envelope beside a JSON document: provenance.json -> provenance.intoto.jsonl."""
    return name.removesuffix(".json") + ENVELOPE_SUFFIX


def is_signing_file(name: str) -> bool:
    """A signature, an envelope or the public key (by base name)."""
    base = name.rsplit("/", 1)[-1]
    return base.endswith((SIGNATURE_SUFFIX, ENVELOPE_SUFFIX)) or base == PUBLIC_KEY_FILE


def stage_prefix(build_version: str) -> str:
    """stage/<build-version>: everything `krel stage` writes to the bucket."""
    return f"stage/{build_version}"


def staged_source(build_version: str) -> str:
    """stage/<bv>/src.tar.gz: the source tree `krel release` restores."""
    return f"{stage_prefix(build_version)}/{SRC_TARBALL}"


def staged_notes(build_version: str) -> str:
    """stage/<bv>/notes: the release notes (JSON and HTML) stage wrote."""
    return f"{stage_prefix(build_version)}/notes"


def staged_provenance(build_version: str) -> str:
    """stage/<bv>/provenance.json: the in-toto statement naming every staged object."""
    return f"{stage_prefix(build_version)}/{PROVENANCE_FILE}"


def staged_envelope(build_version: str) -> str:
    """stage/<bv>/provenance.intoto.jsonl: the signed DSSE envelope of the statement."""
    return f"{stage_prefix(build_version)}/{PROVENANCE_ENVELOPE}"


def staged_logs(build_version: str) -> str:
    """stage/<bv>/logs: where the job logs are archived."""
    return f"{stage_prefix(build_version)}/logs"


def staged_version(stage: str, key: str) -> str | None:
    """The <v> of a key below <stage>/<v>/gcs-stage/ (stage: stage/<bv>), None for any other key."""
    parts = key.removeprefix(f"{stage}/").split("/")
    return parts[0] if key.startswith(f"{stage}/") and len(parts) > 2 and parts[1] == "gcs-stage" else None


def staged_tree(version: str) -> str:
    """<v>/gcs-stage/<v>: one version's release tree, relative to stage/<bv>/ (provenance subjects are named so)."""
    return f"{version}/gcs-stage/{version}"


def staged_images(version: str) -> str:
    """<v>/release-images: one version's image tarballs per arch, relative to stage/<bv>/."""
    return f"{version}/release-images"


def staged_packages(version: str) -> str:
    """<v>/packages: the .deb and .rpm files stage built for one version, relative to stage/<bv>/."""
    return f"{version}/packages"


def packages_prefix(build_version: str, version: str) -> str:
    """stage/<bv>/<v>/packages: the staged packages `krel release` publishes to the packages bucket."""
    return f"{stage_prefix(build_version)}/{staged_packages(version)}"


def gcs_stage_prefix(build_version: str, version: str) -> str:
    """stage/<bv>/<v>/gcs-stage/<v>: the tree `krel release` copies to release/<v>."""
    return f"{stage_prefix(build_version)}/{staged_tree(version)}"


def images_prefix(build_version: str, version: str) -> str:
    """stage/<bv>/<v>/release-images: the image tarballs per arch."""
    return f"{stage_prefix(build_version)}/{staged_images(version)}"


def image_repos(images: Iterable[str], arches: Iterable[str]) -> tuple[str, ...]:
    """Each image's manifest list repository and its per-arch ones, as stage pushes them (krel: <image>-<arch>)."""
    arch_list = tuple(arches)
    return tuple(name for image in images for name in (image, *(f"{image}-{arch}" for arch in arch_list)))


def ci_key(name: str) -> str:
    """ci/<name>: one CI build's prefix (ci/<build-version>) or a CI marker (ci/latest-1.30.txt)."""
    return f"ci/{name}"


def ci_marker_key(branch: str) -> str:
    """The CI version marker for a branch: ci/latest.txt on master/main, ci/latest-X.Y.txt on release-X.Y."""
    if version.is_release_branch(branch):
        return ci_key(f"latest-{branch.removeprefix('release-')}.txt")
    return ci_key("latest.txt")


def release_root() -> str:
    """release/: everything released (listing it shows whether a bucket is reachable)."""
    return "release/"


def release_prefix(version: str) -> str:
    """release/<v>: everything released for one version."""
    return f"{release_root()}{version}"


def release_key(version: str, name: str) -> str:
    """release/<v>/<name>: one released file (the announcement, a .sha512, the GitHub release page)."""
    return f"{release_prefix(version)}/{name}"


def artifacts_key(version: str) -> str:
    """release/<v>/artifacts.json: the files the release published (URL, size, sha256) and its image digests."""
    return f"{release_prefix(version)}/artifacts.json"


def archive_prefix(version: str) -> str:
    return f"archive/{version}"


def announcement_record_key(version: str) -> str:
    """archive/<v>/announcement-sent.json: when and to whom the announcement went out (written once, after the mail)."""
    return f"{archive_prefix(version)}/announcement-sent.json"


def marker_key(name: str) -> str:
    """Markers live at the root of release/ (release/stable-1.30.txt)."""
    return f"release/{name}"


def _slug(url: str) -> str:
    """A short, filesystem-safe name for a target bucket: readable tail plus a hash of the whole URL."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1]).strip("-") or "bucket"
    return f"{tail}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def job_dir(home: Path, profile: str, bucket: str, build_version: str, job: str) -> Path:
    """KREL_HOME/workspaces/<profile>/<bucket slug>/<bv>/<job>: work tree, journal and log of one job run.

    Keyed by the target bucket, not by a mock flag: mock and nomock runs of the same build never share state.
    """
    return home / "workspaces" / profile / _slug(bucket) / build_version / job


def build_dir(job: Path, version: str) -> Path:
    """_output-<v>: one build's outputs (krel's BuildDir + "-" + version)."""
    return job / f"_output-{version}"


def gcs_stage_dir(job: Path, version: str) -> Path:
    """_output-<v>/gcs-stage/<v>: the release tree a build assembles."""
    return stage_tree_dir(build_dir(job, version), version)


def stage_tree_dir(build: Path, version: str) -> Path:
    """<build dir>/gcs-stage/<v>: where in one build's outputs the release tree sits (staged as staged_tree)."""
    return build / "gcs-stage" / version


def packages_build_dir(build: Path) -> Path:
    """<build dir>/packages: the packages stage builds from one build's output (staged as staged_packages)."""
    return build / "packages"


def images_dir(build: Path) -> Path:
    """<build dir>/release-images: one build's image tarballs (staged as staged_images)."""
    return build / "release-images"


def packages_repo_prefix(project: str, tag: str) -> str:
    """<project>:/stable:/vX.Y, or <project>:/prerelease:/vX.Y for a pre-release: pkgs.k8s.io's repository of one
    minor (`deb [signed-by=…] https://pkgs.k8s.io/core:/stable:/v1.29/deb/ /`), holding deb/ and rpm/."""
    parsed = version.parse_tag(tag)
    channel = "prerelease" if parsed.prerelease else "stable"
    return f"{project}:/{channel}:/v{parsed.major}.{parsed.minor}"


def packages_dir(home: Path, profile: str, tag: str) -> Path:
    """KREL_HOME/packages/<profile>/<tag>: the .deb and .rpm files `krel packages build` writes and publish reads."""
    return home / "packages" / profile / tag
