"""A .deb with dpkg-deb: DEBIAN/control (templates/packages/control.j2), conffiles, md5sums, maintainer scripts, a
Debian changelog; --root-owner-group and SOURCE_DATE_EPOCH so the same input gives the same bytes."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import shutil
from pathlib import Path

from releng import templates
from releng.packages import root as tree
from releng.packages import tools
from releng.packages.spec import PackageSpec

_SHEBANG = "#!/bin/sh\nset -e\n"


def build(spec: PackageSpec, out_dir: Path, work: Path, changelog: str, template_dir: Path | None = None) -> Path:
    """Build <name>_<version>_<arch>.deb into out_dir from a scratch tree under work; returns its path (template_dir:
    the profile's templates, searched before the built-in ones)."""
    root = work / f"deb-{spec.name}-{spec.deb_arch}"
    shutil.rmtree(root, ignore_errors=True)
    tree.fill(spec, root)
    _changelog(spec, root, changelog, template_dir)
    installed_kib = (tree.installed_bytes(root) + 1023) // 1024
    _control(spec, root, installed_kib, template_dir)
    tree.clamp(root, spec.epoch)
    out = out_dir / spec.deb_file
    tools.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(out)],
              env={"SOURCE_DATE_EPOCH": str(spec.epoch)}, home=work)
    return out


def _changelog(spec: PackageSpec, root: Path, text: str, template_dir: Path | None) -> None:
    """/usr/share/doc/<name>/changelog.Debian.gz (gzip without name or time, as dh_compress does)."""
    date = email.utils.formatdate(spec.epoch, usegmt=False).replace("-0000", "+0000")
    body = templates.render("packages/changelog.Debian.j2", profile_dir=template_dir, package=spec.name,
                            deb_version=spec.deb_version, changelog=text, maintainer=spec.maintainer, date=date)
    doc = root / "usr" / "share" / "doc" / spec.name
    doc.mkdir(parents=True, exist_ok=True)
    (doc / "changelog.Debian.gz").write_bytes(gzip.compress(body.encode(), compresslevel=9, mtime=0))
    (doc / "changelog.Debian.gz").chmod(0o644)


def _control(spec: PackageSpec, root: Path, installed_kib: int, template_dir: Path | None) -> None:
    debian = root / "DEBIAN"
    debian.mkdir()
    control = templates.render("packages/control.j2", profile_dir=template_dir, package=spec.name,
                               deb_version=spec.deb_version, deb_arch=spec.deb_arch, maintainer=spec.maintainer,
                               installed_kib=installed_kib, depends=spec.depends, homepage=spec.homepage,
                               summary=spec.summary, description=spec.description)
    _write(debian / "control", control, 0o644)
    _write(debian / "md5sums", _md5sums(root), 0o644)
    conffiles = "".join(f"{e.dst}\n" for e in spec.entries if e.config)
    if conffiles:
        _write(debian / "conffiles", conffiles, 0o644)
    for script, body in (("postinst", spec.postinst), ("prerm", spec.prerm)):
        if body:
            _write(debian / script, body if body.startswith("#!") else _SHEBANG + body, 0o755)


def _md5sums(root: Path) -> str:
    """DEBIAN/md5sums as dh_md5sums writes it: '<md5>  <path>' for every file, sorted."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "DEBIAN" not in p.relative_to(root).parts):
        lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.relative_to(root).as_posix()}\n")
    return "".join(lines)


def _write(path: Path, text: str, mode: int) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
