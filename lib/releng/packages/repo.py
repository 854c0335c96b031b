"""The repository indexes of one minor, rebuilt from every package published there: apt (flat, as pkgs.k8s.io:
Packages, Packages.gz, Release from apt-ftparchive) and rpm (repodata/ from createrepo_c)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from releng.packages import tools


def apt_indexes(tree: Path, origin: str, label: str) -> dict[str, bytes]:
    """Packages, Packages.gz and Release of the flat repository in tree (<arch>/<name>_<version>_<arch>.deb)."""
    packages = tools.run(["apt-ftparchive", "packages", "."], cwd=tree)
    arches = sorted(p.name for p in tree.iterdir() if p.is_dir())
    index = tree.parent / f"{tree.name}.index"
    shutil.rmtree(index, ignore_errors=True)
    index.mkdir()
    (index / "Packages").write_bytes(packages)
    (index / "Packages.gz").write_bytes(gzip.compress(packages, compresslevel=9, mtime=0))
    fields = {"Origin": origin, "Label": label, "Architectures": " ".join(arches)}
    options = [arg for name, value in fields.items() for arg in ("-o", f"APT::FTPArchive::Release::{name}={value}")]
    release = tools.run(["apt-ftparchive", *options, "release", "."], cwd=index)
    return {"Packages": packages, "Packages.gz": (index / "Packages.gz").read_bytes(), "Release": release}


def rpm_indexes(tree: Path, revision: int) -> dict[str, bytes]:
    """repodata/* for the rpms in tree (<arch>/*.rpm), timestamps set to `revision` (the newest build time) so the
    same packages give the same metadata; no sqlite databases (they differ on every run)."""
    shutil.rmtree(tree / "repodata", ignore_errors=True)
    for rpm in tree.glob("*/*.rpm"):  # primary.xml records each file's mtime: the download time otherwise
        os.utime(rpm, (revision, revision))
    tools.run(["createrepo_c", "--quiet", "--no-database", "--revision", str(revision),
               "--set-timestamp-to-revision", "--checksum", "sha256", str(tree)], home=tree.parent)
    return {f"repodata/{p.name}": p.read_bytes() for p in sorted((tree / "repodata").iterdir())}


def rpm_build_time(rpm: Path) -> int:
    """The rpm's BUILDTIME header (SOURCE_DATE_EPOCH when krel built it)."""
    out = tools.run(["rpm", "-qp", "--nosignature", "--nodigest", "--qf", "%{BUILDTIME}", str(rpm)], home=rpm.parent)
    text = out.decode(errors="replace").strip()
    return int(text) if text.isdigit() else 0
