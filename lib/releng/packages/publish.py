"""`krel packages publish`: a release's .deb and .rpm files into its minor's repositories in the package bucket.

Packages are write-once (the same bytes are skipped, different bytes refused before anything is written); the
indexes are rebuilt from everything published for that minor, so a second release adds packages and leaves the
first's untouched. rpms are signed here, dated at their build time: a rerun signs to the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from releng import layout
from releng.objectstore import ObjectStore
from releng.packages import keys, repo, sources
from releng.packages.spec import DEB_ARCH, RPM_ARCH, PackageError, package_version

# <name>_<version>_<debarch>.deb and <name>-<version>-<release>.<rpmarch>.rpm, as the builders name them
_DEB = re.compile(r"(?P<name>[a-z0-9][a-z0-9+.-]+)_(?P<version>[0-9][A-Za-z0-9.+~]*)-[0-9.]+_(?P<arch>[a-z0-9]+)\.deb")
_RPM = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9+.-]+)-(?P<version>[0-9][A-Za-z0-9.+~]*)-[0-9.]+\.(?P<arch>[a-z0-9_]+)\.rpm")


@dataclass(frozen=True)
class Repository:
    """One published repository: its public URL, the client line for it, and what this run wrote."""

    kind: str  # deb or rpm
    url: str
    client_line: str  # the apt sources line, or the yum/dnf baseurl
    written: tuple[str, ...]
    unchanged: tuple[str, ...]


def publish(files: list[Path], tag: str, project: str, store: ObjectStore, public_url: str,
            key: keys.SigningKey) -> tuple[Repository, Repository]:
    """Publish the tag's package files and rebuild both indexes; returns the deb and rpm repositories."""
    prefix = layout.packages_repo_prefix(project, tag)
    with tempfile.TemporaryDirectory(prefix="krel-publish-") as scratch:
        work = Path(scratch)
        uploads = _uploads(files, tag, prefix, work, key)
        _refuse_changed(store, uploads)
        written: list[str] = []
        unchanged: list[str] = []
        for object_key, path in uploads.items():
            (written if store.put_new(object_key, path) else unchanged).append(object_key)
        label = prefix.replace(":/", ":")
        deb_written = _apt(store, f"{prefix}/deb", work / "deb", key, label)
        rpm_written = _rpm(store, f"{prefix}/rpm", work / "rpm", key)
    deb_source, rpm_source = sources.repository_sources(public_url, project, tag)
    deb = Repository("deb", deb_source.url, deb_source.client_line,
                     tuple(k for k in written if "/deb/" in k) + deb_written,
                     tuple(k for k in unchanged if "/deb/" in k))
    rpm = Repository("rpm", rpm_source.url, rpm_source.client_line,
                     tuple(k for k in written if "/rpm/" in k) + rpm_written,
                     tuple(k for k in unchanged if "/rpm/" in k))
    return deb, rpm


def check(files: list[Path], tag: str, project: str, store: ObjectStore, key: keys.SigningKey) -> int:
    """What publish refuses, checked without writing: the files are the tag's packages, the key signs them, and
    no published package has other bytes. Returns how many packages are not published yet."""
    prefix = layout.packages_repo_prefix(project, tag)
    with tempfile.TemporaryDirectory(prefix="krel-publish-") as scratch:
        uploads = _uploads(files, tag, prefix, Path(scratch), key)
        _refuse_changed(store, uploads)
        return sum(1 for object_key in uploads if not store.exists(object_key))


def _uploads(files: list[Path], tag: str, prefix: str, work: Path, key: keys.SigningKey) -> dict[str, Path]:
    """Object key -> local file for every package of this tag; rpms are signed copies."""
    want = package_version(tag)
    uploads: dict[str, Path] = {}
    signed = work / "signed"
    signed.mkdir()
    for path in sorted(files):
        deb, rpm = _DEB.fullmatch(path.name), _RPM.fullmatch(path.name)
        match = deb or rpm
        if match is None or match["version"] != want:
            raise PackageError(f"packages: {path.name} is not a package of {tag} (expected <name>_{want}-<rev>_"
                               f"<arch>.deb or <name>-{want}-<release>.<arch>.rpm)")
        if deb is not None:
            if deb["arch"] not in DEB_ARCH.values():
                raise PackageError(f"packages: {path.name}: unknown Debian arch {deb['arch']!r}")
            uploads[f"{prefix}/deb/{deb['arch']}/{path.name}"] = path
            continue
        assert rpm is not None
        if rpm["arch"] not in RPM_ARCH.values():
            raise PackageError(f"packages: {path.name}: unknown rpm arch {rpm['arch']!r}")
        copy = signed / path.name
        shutil.copyfile(path, copy)
        keys.sign_rpm(key, copy, repo.rpm_build_time(copy))
        uploads[f"{prefix}/rpm/{rpm['arch']}/{path.name}"] = copy
    if not uploads:
        raise PackageError(f"packages: no .deb or .rpm files of {tag} to publish: run `krel packages build` first")
    return uploads


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _refuse_changed(store: ObjectStore, uploads: dict[str, Path]) -> None:
    """Before the first write: a published package with other bytes stops the whole publish, naming it."""
    for object_key, path in uploads.items():
        if store.exists(object_key) and store.md5(object_key) != _md5(path):
            raise PackageError(f"packages: {store.url}/{object_key} is already published with different content; "
                               "published packages are never overwritten (release a new version)")


def _download_all(store: ObjectStore, prefix: str, suffix: str, tree: Path) -> list[Path]:
    """Every published package below prefix (<arch>/<file>) into tree."""
    got = []
    for info in store.list(f"{prefix}/"):
        rel = info.key[len(prefix) + 1:]
        parts = rel.split("/")
        if len(parts) != 2 or not rel.endswith(suffix):
            continue
        dest = tree / parts[0] / parts[1]
        dest.parent.mkdir(parents=True, exist_ok=True)
        store.download(info.key, dest)
        got.append(dest)
    return got


def _replace(store: ObjectStore, object_key: str, data: bytes) -> bool:
    """Write an index file (indexes change with every release), guarded by the generation read; False if same."""
    current = store.read_generation(object_key)
    if current is not None and current[0] == data:
        return False
    store.put_if_generation(object_key, data, None if current is None else current[1])
    return True


def _apt(store: ObjectStore, prefix: str, tree: Path, key: keys.SigningKey, label: str) -> tuple[str, ...]:
    """Rebuild and sign the flat apt repository's indexes; nothing is written when Packages is unchanged."""
    tree.mkdir()
    _download_all(store, prefix, ".deb", tree)
    indexes = repo.apt_indexes(tree, origin=f"krel:{label}", label=label)
    current = store.read_generation(f"{prefix}/Packages")
    if current is not None and current[0] == indexes["Packages"] and store.exists(f"{prefix}/InRelease"):
        return ()
    release = indexes["Release"]
    files = {**indexes, "Release.gpg": keys.detach_sign(key, release), "InRelease": keys.clearsign(key, release),
             "Release.key": keys.public_key(key)}
    # Packages before Release before the signatures: a client never reads a Release naming files not yet there.
    order = ("Packages", "Packages.gz", "Release.key", "Release", "Release.gpg", "InRelease")
    return tuple(f"{prefix}/{name}" for name in order if _replace(store, f"{prefix}/{name}", files[name]))


def _rpm(store: ObjectStore, prefix: str, tree: Path, key: keys.SigningKey) -> tuple[str, ...]:
    """Rebuild the rpm repository's repodata/ (checksum-named files first, repomd.xml and its signature last)."""
    tree.mkdir()
    rpms = _download_all(store, prefix, ".rpm", tree)
    revision = max((repo.rpm_build_time(p) for p in rpms), default=0)
    indexes = repo.rpm_indexes(tree, revision)
    repomd = indexes.pop("repodata/repomd.xml")
    current = store.read_generation(f"{prefix}/repodata/repomd.xml")
    if current is not None and current[0] == repomd and store.exists(f"{prefix}/repodata/repomd.xml.asc"):
        return ()
    written = [f"{prefix}/{name}" for name, data in indexes.items() if store.put_new(f"{prefix}/{name}", data)]
    files = {"repomd.xml.key": keys.public_key(key), "repomd.xml": repomd,
             "repomd.xml.asc": keys.detach_sign(key, repomd)}
    written += [f"{prefix}/repodata/{n}" for n, d in files.items() if _replace(store, f"{prefix}/repodata/{n}", d)]
    return tuple(written)
