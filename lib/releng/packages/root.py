"""The file tree of one package (what dpkg-deb and rpmbuild pack): files copied or written with their modes,
directories 0755, every mtime the release commit's time so the archive does not depend on when it was built."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from releng.packages.spec import PackageSpec


def fill(spec: PackageSpec, root: Path) -> None:
    """Write the package's files below root (a fresh directory)."""
    root.mkdir(parents=True)
    for entry in spec.entries:
        target = root / entry.dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.source is not None:
            shutil.copyfile(entry.source, target)
        else:
            target.write_text(entry.content, encoding="utf-8")
        os.chmod(target, entry.mode)


def installed_bytes(root: Path) -> int:
    """Total size of the regular files below root."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def clamp(root: Path, epoch: int) -> None:
    """Directories 0755 and every mtime set to epoch (files too: clamping alone would keep a later-built file's)."""
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            os.chmod(path, 0o755)
        os.utime(path, (epoch, epoch), follow_symlinks=False)
