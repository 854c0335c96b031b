"""The two entry points `krel packages` (and the stage/release steps) call: build a tag's packages, publish them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from releng.errors import UsageError
from releng.objectstore import ObjectStore, open_store
from releng.packages import build, keys, publish, sources, spec
from releng.profile import Packages, Profile, Targets


def packages_of(profile: Profile) -> Packages:
    """The profile's [packages]; a profile without one builds no packages."""
    if profile.packages is None:
        raise UsageError(f"profile {profile.name}: no [packages] section: it describes no packages to build")
    return profile.packages


def build_release(profile: Profile, tag: str, arches: tuple[str, ...], build_dir: Path, repo: Path,
                  out_dir: Path) -> tuple[build.Built, ...]:
    """Every package of the tag from build_dir, dated at the tag's commit in repo, into out_dir."""
    packages = packages_of(profile)
    chosen = spec.package_arches(packages, profile.build.arches, arches)
    epoch = build.release_epoch(repo, tag)
    return build.build_packages(packages, tag, chosen, build_dir, out_dir, epoch, profile.template_dir())


def key_source(targets: Targets, keys_dir: Path, environ: Mapping[str, str]) -> keys.KeySource:
    """Where the targets' signing key comes from (environ: the KREL_PACKAGES_GPG_* values the CLI read)."""
    return key_source_for(targets.packages_bucket, keys_dir, environ)


def key_source_for(packages_bucket: str, keys_dir: Path, environ: Mapping[str, str]) -> keys.KeySource:
    """The key source of one packages bucket: the throwaway key is one per bucket, so mock never signs as nomock."""
    name = "packages-" + hashlib.sha256(packages_bucket.encode()).hexdigest()[:8]
    return keys.KeySource.from_environ(keys_dir, name, environ)


def publish_release(profile: Profile, targets: Targets, tag: str, from_dir: Path,
                    source: keys.KeySource) -> tuple[publish.Repository, publish.Repository]:
    """Publish the tag's package files in from_dir to the targets' packages bucket, signed with their key."""
    packages = packages_of(profile)
    if not targets.packages_bucket:
        raise UsageError(f"profile {profile.name}: these targets have no packages_bucket to publish packages to")
    files = sorted(p for p in from_dir.glob("*") if p.suffix in (".deb", ".rpm")) if from_dir.is_dir() else []
    return publish_files(files, tag, packages.project, open_store(targets.packages_bucket), sources.public_url(targets),
                         targets.packages_key, source)


def publish_files(files: list[Path], tag: str, project: str, store: ObjectStore, public_url: str, key_mode: str,
                  source: keys.KeySource) -> tuple[publish.Repository, publish.Repository]:
    """Publish package files to store with the key key_mode names; the key's temporary home is gone afterwards."""
    with keys.opened(key_mode, source) as key:
        return publish.publish(files, tag, project, store, public_url, key)


def check_files(files: list[Path], tag: str, project: str, store: ObjectStore, key_mode: str,
                source: keys.KeySource) -> int:
    """publish_files' refusals without a write (the release preflight); how many packages are new."""
    with keys.opened(key_mode, source) as key:
        return publish.check(files, tag, project, store, key)
