"""The local job record on disk: KREL_HOME/jobs/<id>/{job.json,log.txt,workspace/}, locked read-modify-write."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from releng import safeload
from releng.errors import ReleaseError
from releng.files import write_atomic
from releng.gcb.base import TERMINAL

RECORD = "job.json"
LOG = "log.txt"
LOCK = "job.lock"
WORKSPACE = "workspace"
_MAX_RECORD = 16 << 20  # a record holds one request and its status: a few KiB


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def stamp(value: datetime | None = None) -> str:
    """Cloud Build's timestamp form: RFC 3339 UTC with a Z."""
    return (value or now()).astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_stamp(text: str | None) -> datetime | None:
    """A stamp() string back as a datetime; None for an empty value."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read(job_dir: Path) -> dict[str, Any]:
    """The job record; a missing or unreadable record is one clear error."""
    path = job_dir / RECORD
    if not path.exists():
        raise ReleaseError(f"local job {job_dir.name}: no such job (no {path})")
    try:
        data = safeload.load_json(safeload.read_text(path, max_bytes=_MAX_RECORD), str(path))
    except safeload.InputError as exc:
        raise ReleaseError(f"local job {job_dir.name}: cannot read {exc}") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"local job {job_dir.name}: {path} is not a JSON object")
    return data


def write(job_dir: Path, record: dict[str, Any]) -> None:
    """Replace the record atomically, so a reader never sees half a file."""
    write_atomic(job_dir / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


@contextmanager
def locked(job_dir: Path) -> Iterator[None]:
    """Serialise status transitions between the worker, cancel and readers that mark dead workers."""
    with (job_dir / LOCK).open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def update(job_dir: Path, change: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Apply change(record) under the lock; it returns True when the record should be written."""
    with locked(job_dir):
        record = read(job_dir)
        if change(record):
            write(job_dir, record)
        return record


def conclude(record: dict[str, Any], status: str, detail: str) -> bool:
    """Give an unfinished record its final status; False (nothing changed) when it had already ended."""
    if record["status"] in TERMINAL:
        return False
    record.update(status=status, finish_time=stamp(), detail=detail)
    return True


def finish(job_dir: Path, status: str, detail: str) -> dict[str, Any]:
    """Record the final status unless someone (cancel, the worker, a reader that found it dead) already did."""
    return update(job_dir, lambda record: conclude(record, status, detail))


def append_log(job_dir: Path, text: str) -> None:
    """Add text to the job's log.txt."""
    with (job_dir / LOG).open("a", encoding="utf-8") as log:
        log.write(text)


def kill_group(pgid: int) -> None:
    """SIGKILL a step's process group; one already gone (or no longer ours) is left alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def process_start(pid: int) -> int | None:
    """Start time (clock ticks since boot) of a live, non-zombie process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces or ')', so split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None  # PID 1 here does not reap: a dead worker lingers as a zombie
    return int(fields[19])


def alive(pid: int | None, start: int | None) -> bool:
    """The process that recorded (pid, start) is still running (a reused pid does not count)."""
    if not pid:
        return False
    current = process_start(pid)
    return current is not None and (start is None or current == start)
