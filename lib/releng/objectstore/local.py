"""file:// buckets: a directory tree; atomic no-overwrite writes by link(2), generations from mtime_ns."""

from __future__ import annotations

import errno
import fcntl
import io
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from releng.digests import CHUNK, hash_stream
from releng.errors import ReleaseError, UsageError
from releng.objectstore.base import (
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    PreconditionFailedError,
    check_key,
    copy_streamed,
    put_new_checked,
)

# Temp files live here, below the bucket root (same filesystem, so link/rename are atomic); listings skip it.
TMP_DIR = ".krel-tmp"
# Creating a temp file (mkdir + open) and removing the emptied temp dir (rmdir) exclude each other within a process:
# threads of one copy otherwise remove the dir between another's mkdir and open, over and over on a busy machine.
_TMP_DIR_LOCK = threading.Lock()


def root_of(url: str) -> Path:
    """The directory behind a file:// URL (file:///abs/path or file://localhost/abs/path)."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise UsageError(f"object store URL {url!r} is invalid: expected file:///absolute/path")
    return Path(unquote(parts.path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    # A killed writer nobody has reaped yet is a zombie: dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@contextmanager
def _os_errors(url: str, key: str, action: str) -> Iterator[None]:
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
        if action == "read":
            raise ObjectNotFoundError.for_key(url, key) from e
        raise ReleaseError(f"{url}/{key}: cannot {action}: {e.strerror or e}") from e
    except OSError as e:
        raise ReleaseError(f"{url}/{key}: cannot {action}: {e.strerror or e}") from e


class LocalStore:
    """A bucket that is a local directory; keys map to files below it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.root = root_of(self.url)
        self._swept = False

    def path(self, key: str) -> Path:
        """The file holding key."""
        check_key(key)
        if TMP_DIR in key.split("/"):
            raise UsageError(f"object key {key!r} is invalid: {TMP_DIR} is reserved for temp files")
        self._refuse_links(key)
        return self.root / key

    def _refuse_links(self, key: str) -> None:
        """No part of a key below the root may be a symlink: reads, copies and writes would land outside the bucket."""
        path = self.root
        for part in key.split("/"):
            path = path / part
            if path.is_symlink():
                raise ReleaseError(f"{self.url}/{key}: {path.relative_to(self.root).as_posix()} is a symlink; "
                                   "objects are never read or written through links")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> bytes:
        with _os_errors(self.url, key, "read"):
            return self.path(key).read_bytes()

    def download(self, key: str, dest: Path) -> None:
        src = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}")
        try:
            with _os_errors(self.url, key, "read"):
                shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        with _os_errors(self.url, key, "read"):
            f = open(self.path(key), "rb")  # noqa: SIM115 - closed below, after the caller's block
        with f:
            yield f

    def md5(self, key: str) -> str:
        with self.reader(key) as stream:
            return hash_stream(stream, ("md5",))["md5"]

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Walk only below the prefix's directory part; keys are then filtered by the full string prefix, as on GCS.
        start = self.path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if d != TMP_DIR]
            # os.walk does not follow links; a listed link would still be read through by its callers.
            for name in (*dirnames, *filenames):
                if Path(dirpath, name).is_symlink():
                    self._refuse_links(Path(dirpath, name).relative_to(self.root).as_posix())
            for name in filenames:
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    try:
                        st = full.stat()
                    except FileNotFoundError:
                        continue
                    found.append(ObjectInfo(key=key, size=st.st_size, generation=st.st_mtime_ns))
        yield from sorted(found, key=lambda info: info.key)

    def _write_temp(self, key: str, stream: BinaryIO) -> Path:
        tmp_dir = self.root / TMP_DIR
        self._refuse_links(TMP_DIR)
        tmp = tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}"
        with _os_errors(self.url, key, "write"):
            self._sweep_once(tmp_dir)
            # No fsync: the guarantee is against a killed process (link makes the object appear whole or not at
            # all), not against power loss; syncing 2 GiB of release artifacts would dominate staging time.
            for attempt in range(20):
                # Another process may remove the empty temp dir between our mkdir and open (see _release_temp).
                try:
                    with _TMP_DIR_LOCK:
                        tmp_dir.mkdir(parents=True, exist_ok=True)
                        out = open(tmp, "xb")  # noqa: SIM115 - closed right below
                    break
                except (FileNotFoundError, FileExistsError):
                    if attempt == 19:
                        raise
            # A HashingReader hands out views of reused buffers: no new 4 MiB bytes per chunk on the staging path.
            read_view = getattr(stream, "read_view", None)
            try:
                with out:
                    if read_view is not None:
                        while view := read_view(CHUNK):
                            out.write(view)
                    else:
                        while chunk := stream.read(CHUNK):
                            out.write(chunk)
            except BaseException:
                self._release_temp(tmp)
                raise
        return tmp

    def _release_temp(self, tmp: Path) -> None:
        tmp.unlink(missing_ok=True)
        # Leave no trace in the bucket tree once idle; fails harmlessly while other writers still have files there.
        with _TMP_DIR_LOCK, suppress(OSError):
            tmp.parent.rmdir()

    def _sweep_once(self, tmp_dir: Path) -> None:
        """Remove temp files of writers that were killed (their pid is gone), once per store.

        Under the temp-dir lock: the first writers of a store arrive together, and one of them may remove the emptied
        dir while another lists it."""
        with _TMP_DIR_LOCK:
            if self._swept:
                return
            self._swept = True
            try:
                entries = list(tmp_dir.iterdir())
            except FileNotFoundError:
                return
            for entry in entries:
                pid = entry.name.split("-", 1)[0]
                if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                    entry.unlink(missing_ok=True)

    def _link_new(self, tmp: Path, key: str) -> None:
        dest = self.path(key)
        with _os_errors(self.url, key, "write"):
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tmp, dest)
            except FileExistsError as e:
                raise PreconditionFailedError.for_key(self.url, key, None) from e

    def put_new_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        self.path(key)
        tmp = self._write_temp(key, stream)
        try:
            self._link_new(tmp, key)
        finally:
            self._release_temp(tmp)

    def put_new(self, key: str, data: bytes | Path, content_type: str | None = None) -> bool:
        return put_new_checked(self, key, data, content_type)

    def read_generation(self, key: str) -> tuple[bytes, int] | None:
        try:
            with self.reader(key) as f:
                # fstat of the open file: the generation belongs to exactly the bytes read (writers rename).
                generation = os.fstat(f.fileno()).st_mtime_ns
                return f.read(), generation
        except ObjectNotFoundError:
            return None

    @contextmanager
    def _dir_lock(self, key: str, directory: Path) -> Iterator[None]:
        with _os_errors(self.url, key, "lock"):
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def put_if_generation(self, key: str, data: bytes, generation: int | None, content_type: str | None = None) -> int:
        dest = self.path(key)
        # flock on the directory serialises writers of the same marker across threads and processes.
        with self._dir_lock(key, dest.parent):
            try:
                current: int | None = dest.stat().st_mtime_ns
            except FileNotFoundError:
                current = None
            if current != generation:
                raise PreconditionFailedError.for_key(self.url, key, generation, current)
            tmp = self._write_temp(key, io.BytesIO(data))
            try:
                new = max(time.time_ns(), (current or 0) + 1)
                os.utime(tmp, ns=(new, new))
                written = os.stat(tmp).st_mtime_ns
                if current is not None and written <= current:
                    raise ReleaseError(f"{self.url}: file timestamps are too coarse to version {key}")
                if current is None:
                    self._link_new(tmp, key)
                else:
                    with _os_errors(self.url, key, "write"):
                        os.replace(tmp, dest)
            finally:
                self._release_temp(tmp)
        return written

    def copy_to(self, key: str, dest: ObjectStore, dest_key: str) -> bool:
        if not isinstance(dest, LocalStore):
            return copy_streamed(self, key, dest, dest_key)
        src = self.path(key)
        if not src.is_file():
            raise ObjectNotFoundError.for_key(self.url, key)
        if dest.exists(dest_key):
            if dest.md5(dest_key) != self.md5(key):
                raise ObjectExistsError.for_key(dest.url, dest_key)
            return False
        # Released objects never change in place (markers are replaced by rename), so sharing the inode is safe.
        target = dest.path(dest_key)
        with _os_errors(dest.url, dest_key, "write"):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, target)
                return True
            except FileExistsError:
                pass
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                return copy_streamed(self, key, dest, dest_key)
        return copy_streamed(self, key, dest, dest_key)
