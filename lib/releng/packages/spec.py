"""What one package of one arch holds, from the profile's [packages] and the build output: every untrusted value
(names, versions, install paths, modes, scripts) is checked here, where it enters the package builders."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from releng import paths, version
from releng.errors import ReleaseError, UsageError
from releng.profile import Package, PackageFile, Packages

# Go arch (krel's bin/linux/<arch>) -> Debian arch and rpm arch, as pkgs.k8s.io names them.
DEB_ARCH = {"amd64": "amd64", "arm64": "arm64", "ppc64le": "ppc64el", "s390x": "s390x", "arm": "armhf", "386": "i386"}
RPM_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x", "arm": "armv7hl",
            "386": "i686"}
# pkgs.k8s.io (OBS) revisions: kubeadm_1.29.0-1.1_amd64.deb, kubeadm-1.29.0-150500.1.1.x86_64.rpm.
DEB_REVISION = "1.1"
RPM_RELEASE = "1.1"

# Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters, starting alphanumeric.
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# "name" or "name (op version)", Debian relation operators (policy 7.1)
_DEPEND = re.compile(r"(?P<name>[a-z0-9][a-z0-9+.-]+)(?: \((?P<op><<|<=|=|>=|>>) (?P<ver>[A-Za-z0-9.+~-]+)\))?")
_RPM_OP = {"<<": "<", "<=": "<=", "=": "=", ">=": ">=", ">>": ">"}
# Install paths: no whitespace, globs or rpm macro characters (%), nothing a spec or control file would read twice.
_INSTALL_PATH = re.compile(r"(/[A-Za-z0-9._+@-]+)+")
_MODE = re.compile(r"0?[0-7]{3,4}")
_MAINTAINER = re.compile(r"[^<>]+ <[^<>\s]+@[^<>\s]+>")


class PackageError(ReleaseError):
    """A package described by the profile cannot be built as described."""


@dataclass(frozen=True)
class Entry:
    """One file in a package: where it goes, its mode, and either a file of the build output or its text."""

    dst: str
    mode: int
    config: bool
    source: Path | None
    content: str


@dataclass(frozen=True)
class PackageSpec:
    """One package for one arch, every value checked: what the deb and rpm builders need."""

    name: str
    arch: str
    version: str  # upstream version, pre-release after "~": 1.29.0~rc.1
    summary: str
    description: str
    depends: tuple[str, ...]
    postinst: str
    prerm: str
    license: str
    maintainer: str
    homepage: str
    entries: tuple[Entry, ...]
    epoch: int  # SOURCE_DATE_EPOCH: the release commit's time

    @property
    def deb_arch(self) -> str:
        return DEB_ARCH[self.arch]

    @property
    def rpm_arch(self) -> str:
        return RPM_ARCH[self.arch]

    @property
    def deb_version(self) -> str:
        return f"{self.version}-{DEB_REVISION}"

    @property
    def deb_file(self) -> str:
        return f"{self.name}_{self.deb_version}_{self.deb_arch}.deb"

    @property
    def rpm_file(self) -> str:
        return f"{self.name}-{self.version}-{RPM_RELEASE}.{self.rpm_arch}.rpm"

    def rpm_depends(self) -> tuple[str, ...]:
        """Debian relations as rpm Requires: "foo (>= 1.2)" -> "foo >= 1.2"."""
        out = []
        for dep in self.depends:
            m = _DEPEND.fullmatch(dep)
            assert m is not None  # checked in _depends
            out.append(m["name"] if m["op"] is None else f"{m['name']} {_RPM_OP[m['op']]} {m['ver']}")
        return tuple(out)


def package_version(tag: str) -> str:
    """The packages' upstream version: v1.29.0 -> 1.29.0, v1.29.0-rc.1 -> 1.29.0~rc.1 (sorts before 1.29.0 in dpkg
    and rpm, as pkgs.k8s.io's pre-release packages do)."""
    parsed = version.parse_tag(tag)
    base = f"{parsed.major}.{parsed.minor}.{parsed.patch}"
    return f"{base}~{parsed.prerelease}" if parsed.prerelease else base


def package_arches(packages: Packages, build_arches: tuple[str, ...], asked: tuple[str, ...]) -> tuple[str, ...]:
    """The arches to build: --arch (each one the profile packages), else [packages] arches, else build.arches."""
    known = packages.arches or build_arches
    for arch in asked:
        if arch not in known:
            raise UsageError(f"--arch {arch!r}: the profile packages {', '.join(known)}")
    chosen = asked or known
    for arch in chosen:
        if arch not in DEB_ARCH:
            raise UsageError(f"packages: arch {arch!r} has no deb/rpm name; expected one of {', '.join(DEB_ARCH)}")
    return tuple(chosen)


def resolve(packages: Packages, tag: str, arch: str, build_dir: Path, epoch: int) -> tuple[PackageSpec, ...]:
    """Every package of the profile for one arch, checked against the build output in build_dir."""
    upstream = package_version(tag)
    maintainer = _maintainer(packages.maintainer)
    seen: set[str] = set()
    specs = []
    for index, package in enumerate(packages.package):
        where = f"packages.package[{index}]"
        name = _name(package.name, where)
        if name in seen:
            raise PackageError(f"{where}.name: package {name!r} is described twice")
        seen.add(name)
        specs.append(
            PackageSpec(
                name=name,
                arch=arch,
                version=upstream,
                summary=package.summary,
                description=package.description,
                depends=tuple(_depends(d, f"{where}.depends") for d in package.depends),
                postinst=_script(package.postinst, f"{where}.postinst"),
                prerm=_script(package.prerm, f"{where}.prerm"),
                license=package.license,
                maintainer=maintainer,
                homepage=packages.homepage,
                entries=_entries(package, arch, build_dir, where),
                epoch=epoch,
            )
        )
    return tuple(specs)


def _name(name: str, where: str) -> str:
    if not _NAME.fullmatch(name):
        raise PackageError(f"{where}.name: {name!r} is not a package name: expected lower case letters, digits and "
                           "+ - . (Debian policy 5.6.1), starting with a letter or digit, two characters at least")
    return name


def _maintainer(text: str) -> str:
    if not _MAINTAINER.fullmatch(text):
        raise PackageError(f"packages.maintainer: {text!r} is not 'Name <mail@host>'")
    return text


def _depends(dep: str, where: str) -> str:
    if not _DEPEND.fullmatch(dep):
        raise PackageError(f"{where}: {dep!r} is not a dependency: expected 'name' or 'name (>= 1.2)' "
                           "(operators << <= = >= >>)")
    return dep


def _script(text: str, where: str) -> str:
    """A maintainer script body: shell; no line may start with % (an rpm spec section) and it ends with a newline."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("%"):
            raise PackageError(f"{where}: line {number} starts with '%', which an rpm spec reads as a section")
    return text if not text or text.endswith("\n") else text + "\n"


def _entries(package: Package, arch: str, build_dir: Path, where: str) -> tuple[Entry, ...]:
    if not package.files:
        raise PackageError(f"{where}.files: a package needs at least one file")
    entries: list[Entry] = []
    for index, item in enumerate(package.files):
        entries.append(_entry(item, arch, build_dir, f"{where}.files[{index}]"))
    dsts = [e.dst for e in entries]
    for dst in dsts:
        if dsts.count(dst) > 1:
            raise PackageError(f"{where}.files: {dst} is installed twice")
    return tuple(sorted(entries, key=lambda e: e.dst))


def _entry(item: PackageFile, arch: str, build_dir: Path, where: str) -> Entry:
    dst = item.dst
    if not _INSTALL_PATH.fullmatch(dst) or posixpath.normpath(dst) != dst or "/../" in f"{dst}/" or "/./" in f"{dst}/":
        raise PackageError(f"{where}.dst: {dst!r} is not an install path: expected an absolute path of letters, "
                           "digits and . _ + @ - without '..' or empty parts")
    if not _MODE.fullmatch(item.mode):
        raise PackageError(f"{where}.mode: {item.mode!r} is not an octal mode (0644, 0755, at most 7777)")
    mode = int(item.mode, 8)
    if bool(item.src) == bool(item.content):
        raise PackageError(f"{where}: give exactly one of src (a file of the build output) and content")
    source = None
    if item.src:
        rel = item.src.replace("{arch}", arch)
        source = paths.inside(build_dir, rel, f"{where}.src")
        if source.is_symlink() or not source.is_file():
            raise PackageError(f"{where}.src: {rel} is not a regular file in {build_dir}")
    return Entry(dst, mode, item.config, source, item.content)
