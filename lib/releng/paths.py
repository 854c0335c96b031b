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
