"""The local job runner: each job is a detached worker process with its own workspace under KREL_HOME/jobs/<id>/."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from releng.errors import ReleaseError, UsageError
from releng.gcb import jobfile
from releng.gcb.base import CANCELLED, FAILURE, QUEUED, TERMINAL, BuildRequest, Job, LogWriter

_JOB_ID = re.compile(r"[0-9a-f][0-9a-f-]{3,35}")
# A worker that has not written its pid by then never started.
START_GRACE = timedelta(seconds=60)


class LocalRunner:
    """Runs the same BuildRequest Cloud Build would, on this machine, surviving the CLI that submitted it."""

    name = "local"

    def __init__(self, jobs_dir: Path, python: str | None = None) -> None:
        self.jobs_dir = jobs_dir
        self.python = python or sys.executable
        self.krel_command = shlex.join([self.python, "-m", "krel"])

    def submit(self, request: BuildRequest) -> Job:
        """Write job.json (QUEUED) and start the detached worker; returns at once."""
        job_id = str(uuid.uuid4())
        job_dir = self.jobs_dir / job_id
        (job_dir / jobfile.WORKSPACE).mkdir(parents=True)
        (job_dir / jobfile.LOG).touch()
        record: dict[str, Any] = {
            "id": job_id,
            "runner": self.name,
            "status": QUEUED,
            "create_time": jobfile.stamp(),
            "start_time": None,
            "finish_time": None,
            "detail": "",
            **request.as_dict(),
        }
        jobfile.write(job_dir, record)
        try:
            # The worker forks again and exits, so this wait is short and leaves no child behind.
            launcher = subprocess.run(
                [self.python, "-m", "releng.gcb.worker", str(job_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            jobfile.finish(job_dir, FAILURE, f"cannot start the worker: {exc}")
            raise ReleaseError(f"local runner: cannot start the job worker with {self.python}: {exc}") from None
        if launcher.returncode != 0:
            reason = launcher.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            jobfile.finish(job_dir, FAILURE, f"worker launcher exited {launcher.returncode}")
            raise ReleaseError(f"local runner: job worker failed to start ({launcher.returncode}): {reason[0]}")
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """Read the job; a WORKING job whose worker is gone is marked FAILURE here."""
        job_dir = self._dir(job_id)
        record = jobfile.read(job_dir)
        with _record_shape(job_dir):
            if record["status"] not in TERMINAL and self._worker_dead(record):
                record = jobfile.update(job_dir, self._reap)
            return _job(record, job_dir)

    def list_jobs(
        self,
        tags: Sequence[str] = (),
        limit: int = 0,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[Job]:
        if not self.jobs_dir.is_dir():
            return []
        jobs: list[Job] = []
        for job_dir in self.jobs_dir.iterdir():
            if not (job_dir / jobfile.RECORD).is_file():
                continue
            try:
                job = self.get(job_dir.name)
            except ReleaseError:
                continue  # a half-created job directory is not a job
            created = job.create_time
            if not set(tags) <= set(job.tags):
                continue
            if created_after and (created is None or created <= created_after):
                continue
            if created_before and (created is None or created >= created_before):
                continue
            jobs.append(job)
        jobs.sort(key=lambda j: (jobfile.stamp(j.create_time) if j.create_time else "", j.id), reverse=True)
        return jobs[:limit] if limit > 0 else jobs

    def cancel(self, job_id: str) -> Job:
        """Mark the job CANCELLED and kill its worker's and current step's process groups."""
        job_dir = self._dir(job_id)
        victims: list[tuple[int, int | None]] = []

        def change(record: dict[str, Any]) -> bool:
            if not jobfile.conclude(record, CANCELLED, "cancelled"):
                return False
            victims.extend(
                (pid, start)
                for pid, start in ((record.get("pid"), record.get("pid_start")), (record.get("step_pgid"), None))
                if pid
            )
            return True

        record = jobfile.update(job_dir, change)
        for pgid, start in victims:
            # The step group is killed even when its leader is gone: its children share the group id.
            if start is not None and not jobfile.alive(pgid, start):
                continue
            jobfile.kill_group(pgid)
        if victims:
            jobfile.append_log(job_dir, "CANCELLED\n")
        return _job(record, job_dir)

    def retry(self, job_id: str) -> Job:
        """A new job from the same stored request (its own fresh workspace)."""
        job_dir = self._dir(job_id)
        record = jobfile.read(job_dir)
        with _record_shape(job_dir):
            request = BuildRequest.from_dict(record)
        return self.submit(request)

    def stream(self, job_id: str, write: LogWriter, poll_s: float = 0.2) -> Job:
        """Tail log.txt until the job is finished and the whole log has been written."""
        job_dir = self._dir(job_id)
        offset = 0
        while True:
            # Status first: a worker writes its last log line before its final status.
            job = self.get(job_id)
            with (job_dir / jobfile.LOG).open("rb") as log:
                log.seek(offset)
                chunk = log.read()
            if job.finished:
                if chunk:
                    write(chunk.decode("utf-8", "replace"))
                return job
            # Only whole lines: a line still being written is picked up next time.
            end = chunk.rfind(b"\n") + 1
            if end:
                write(chunk[:end].decode("utf-8", "replace"))
                offset += end
            else:
                time.sleep(poll_s)

    def _dir(self, job_id: str) -> Path:
        if _JOB_ID.fullmatch(job_id) is None:
            raise UsageError(f"local job id {job_id!r} is not valid: expected a job id or a unique prefix of one")
        job_dir = self.jobs_dir / job_id
        if not job_dir.is_dir():
            matches = [p for p in self.jobs_dir.glob(f"{job_id}*") if p.is_dir()] if self.jobs_dir.is_dir() else []
            if len(matches) != 1:
                raise UsageError(f"local job {job_id!r}: no such job in {self.jobs_dir}")
            job_dir = matches[0]
        return job_dir

    def _worker_dead(self, record: dict[str, Any]) -> bool:
        pid = record.get("pid")
        if pid is None:
            created = jobfile.parse_stamp(record.get("create_time"))
            return record["status"] == QUEUED and created is not None and jobfile.now() - created > START_GRACE
        return not jobfile.alive(pid, record.get("pid_start"))

    def _reap(self, record: dict[str, Any]) -> bool:
        if record["status"] in TERMINAL or not self._worker_dead(record):
            return False
        pid = record.get("pid")
        detail = f"worker process {pid} died" if pid else "worker never started"
        step_pgid = record.get("step_pgid")
        if step_pgid:
            jobfile.kill_group(step_pgid)
        return jobfile.conclude(record, FAILURE, detail)


@contextmanager
def _record_shape(job_dir: Path) -> Iterator[None]:
    """A record with missing fields or fields of the wrong type (hand-edited, corrupt) is one ReleaseError."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        path = job_dir / jobfile.RECORD
        raise ReleaseError(f"local job {job_dir.name}: {path} is corrupt ({type(exc).__name__}: {exc})") from None


def _job(record: dict[str, Any], job_dir: Path) -> Job:
    return Job(
        id=record["id"],
        status=record["status"],
        runner="local",
        project=record.get("project", ""),
        create_time=jobfile.parse_stamp(record.get("create_time")),
        start_time=jobfile.parse_stamp(record.get("start_time")),
        finish_time=jobfile.parse_stamp(record.get("finish_time")),
        substitutions=dict(record.get("substitutions") or {}),
        tags=tuple(record.get("tags") or ()),
        log_url=(job_dir / jobfile.LOG).as_uri(),
        detail=record.get("detail", ""),
    )
