"""Writing a file whole or not at all, so a killed process or a concurrent reader never sees half of it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, *, exclusive: bool = False) -> None:
    """Write `data` (str as UTF-8) to a temp file beside `path`, then rename it into place.

    With `exclusive`, an existing `path` is never replaced: the temp file is hard-linked to `path`, which fails with
    FileExistsError when the name is taken. The file gets the usual permissions (0666 less the umask).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so the rename cannot cross file systems; a hidden name no reader or glob picks up.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
