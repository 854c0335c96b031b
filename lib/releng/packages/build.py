"""`krel packages build`: every package of the profile, for each arch, as .deb and .rpm from one build output."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from releng import digests, git
from releng.errors import ReleaseError
from releng.packages import deb, rpm, spec
from releng.profile import Packages


@dataclass(frozen=True)
class Built:
    """One package file written: its path, package name, arch (Go name), format and sha256."""

    path: str
    package: str
    arch: str
    format: str
    sha256: str


def release_epoch(repo: Path, tag: str) -> int:
    """The release commit's committer time (SOURCE_DATE_EPOCH): the tag's commit in repo."""
    try:
        return git.commit_time(repo, f"refs/tags/{tag}")
    except git.GitError:
        why = "the packages take their time from its commit"
        raise ReleaseError(f"packages: tag {tag} is not in {repo}: {why}") from None


def build_packages(packages: Packages, tag: str, arches: tuple[str, ...], build_dir: Path, out_dir: Path,
                   epoch: int, template_dir: Path | None = None) -> tuple[Built, ...]:
    """Build every package for every arch into out_dir (created), deb then rpm; returns what was written
    (template_dir: the profile's template directory, whose packages/ templates override the built-in ones)."""
    if not build_dir.is_dir():
        raise ReleaseError(f"packages: build output {build_dir} does not exist: run the build (or stage) first")
    # Every package of every arch is checked before the first one is built.
    specs = [s for arch in arches for s in spec.resolve(packages, tag, arch, build_dir, epoch)]
    out_dir.mkdir(parents=True, exist_ok=True)
    changelog = f"Release {tag}."
    built: list[Built] = []
    with tempfile.TemporaryDirectory(prefix="krel-packages-") as scratch:
        work = Path(scratch)
        for item in specs:
            for fmt, builder in (("deb", deb.build), ("rpm", rpm.build)):
                path = builder(item, out_dir, work, changelog, template_dir)
                (sha256,) = digests.hash_file(path, ("sha256",))
                built.append(Built(str(path), item.name, item.arch, fmt, sha256))
    return tuple(built)
