"""Paths joined from outside input (profiles, flags, archives): resolved, and refused when they leave their base."""

from __future__ import annotations

import os
from pathlib import Path

from releng.errors import ReleaseError


class PathEscapeError(ReleaseError):
    """A relative path from outside input would land outside the directory it belongs to."""

    @classmethod
    def for_value(cls, what: str, value: str, base: Path) -> PathEscapeError:
        return cls(f"{what} {value!r} leaves {base}: expected a relative path inside it")


def inside(base: Path, rel: str, what: str = "path") -> Path:
    """base/rel, resolved (symlinks followed); ReleaseError naming `what` and the value if it is not below base.

    An absolute rel, a `..` that climbs out, or a symlink on the way that points elsewhere are all refused.
    """
    if not rel or "\0" in rel or os.path.isabs(rel):
        raise PathEscapeError.for_value(what, rel, base)
    root = base.resolve()
    target = (root / rel).resolve()
    if target == root or not target.is_relative_to(root):
        raise PathEscapeError.for_value(what, rel, base)
    return target


def refuse_special_files(root: Path, what: str) -> None:
    """Only regular files and directories below root: a symlink would stage and release whatever it points to."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root)
            if path.is_symlink():
                raise ReleaseError(f"{what}: {rel} in {root} is a symlink (to {os.readlink(path)}); "
                                   "only regular files and directories are allowed")
            if not (path.is_dir() or path.is_file()):
                raise ReleaseError(f"{what}: {rel} in {root} is not a regular file or directory")
