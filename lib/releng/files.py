"""Writing files whole or not at all, and never through a symbolic link: the one guard for every krel writer.

A write names a trusted `base` directory (a repository, a work dir, a cache root) and a path inside it. Every
directory between the two is opened without following links (created when missing), and the file itself is
replaced by rename, so a symlink planted in a repository or a work dir can never send krel's bytes elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from releng.errors import ReleaseError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class UnsafePathError(ReleaseError):
    """A path krel would write leaves its base directory or passes through a symbolic link."""

    @classmethod
    def symlink(cls, path: Path, link: PurePath) -> UnsafePathError:
        where = "it" if PurePath(path) == link else str(link)
        return cls(f"refusing to write {path}: {where} is a symbolic link (krel never writes through links)")

    @classmethod
    def in_tree(cls, name: str, ref: str) -> UnsafePathError:
        return cls(f"refusing to write {name} on {ref}: it is a symbolic link there (krel never writes through links)")

    @classmethod
    def outside(cls, path: Path, base: Path) -> UnsafePathError:
        return cls(f"refusing to write {path}: it is not a plain path inside {base}")


def safe_name(name: str, what: str) -> str:
    """One path component taken from input: not empty, not '.' or '..', no '/' or NUL; UnsafePathError otherwise."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise UnsafePathError(f"{what} {name!r} cannot be used as a file name: expected one plain path component")
    return name


def _parts(path: Path, base: Path) -> tuple[str, ...]:
    """The components of path below base (lexically); '..' or '.' anywhere is refused rather than resolved."""
    try:
        parts = path.relative_to(base).parts
    except ValueError:
        raise UnsafePathError.outside(path, base) from None
    if not parts or any(p in ("..", ".") for p in parts):
        raise UnsafePathError.outside(path, base)
    return parts


@contextlib.contextmanager
def _directory(base: Path, path: Path, parts: tuple[str, ...], create: bool) -> Iterator[int]:
    """An fd of the directory holding path, reached from base one component at a time without following links."""
    if create:
        base.mkdir(parents=True, exist_ok=True)  # the base itself is the caller's: it may be reached through links
    fd = os.open(base, _DIR_FLAGS)
    try:
        for i, name in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
            try:
                child = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(fd, name):
                    raise UnsafePathError.symlink(path, PurePath(base, *parts[: i + 1])) from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except FileNotFoundError:
        return False


def write_atomic(path: Path, data: str | bytes, *, base: Path | None = None, exclusive: bool = False,
                 mode: int = 0o666) -> None:
    """Write `data` (str as UTF-8) to a temp file beside `path`, then rename it into place.

    `base` (default: path's own directory) is trusted; below it no directory may be a symlink, and `path` itself
    must not be one: UnsafePathError. With `exclusive`, an existing `path` is never replaced: the temp file is
    hard-linked to `path`, which fails with FileExistsError when the name is taken. Permissions: `mode` less umask
    (0600 for a private key: the bytes are never readable by others, not even in the temp file).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    base = path.parent if base is None else base
    parts = _parts(path, base)
    name = parts[-1]
    with _directory(base, path, parts[:-1], create=True) as dir_fd:
        if _is_link(dir_fd, name):
            raise UnsafePathError.symlink(path, path)
        # Same directory, so the rename cannot cross file systems; a hidden name no reader or glob picks up.
        tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            if exclusive:
                os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            else:
                # rename replaces a link planted since the check above; it never writes through it
                os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)


def read_if_exists(path: Path, *, base: Path) -> bytes | None:
    """The bytes of a regular file inside base (no links followed), None when it is absent."""
    parts = _parts(path, base)
    try:
        with _directory(base, path, parts[:-1], create=False) as dir_fd:
            if _is_link(dir_fd, parts[-1]):
                raise UnsafePathError.symlink(path, path)
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def remove(path: Path, *, base: Path) -> bool:
    """Delete the file at path inside base (a link at path itself is what gets removed); False when absent."""
    parts = _parts(path, base)
    try:
        with _directory(base, path, parts[:-1], create=False) as dir_fd:
            os.unlink(parts[-1], dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def check_writable(path: Path, *, base: Path) -> None:
    """Refuse now (UnsafePathError) what write_atomic would refuse later: a link on the way or at path."""
    parts = _parts(path, base)
    try:
        with _directory(base, path, parts[:-1], create=False) as dir_fd:
            if _is_link(dir_fd, parts[-1]):
                raise UnsafePathError.symlink(path, path)
    except FileNotFoundError:
        return  # a missing directory is created by the write, inside the checked part of the path
