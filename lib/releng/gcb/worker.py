"""The detached local job process: `python -m releng.gcb.worker <job dir>` runs the job's steps like Cloud Build."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from releng import secrets
from releng.gcb import jobfile
from releng.gcb.base import (
    FAILURE,
    QUEUED,
    SUCCESS,
    TIMEOUT,
    WORKING,
    StepSpec,
    substitute,
)

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    """Detach (double fork, new session) and run the job; the launcher only waits for the first fork."""
    if len(argv) != 2:
        sys.stderr.write("usage: python -m releng.gcb.worker <job dir>\n")
        return 2
    job_dir = Path(argv[1]).resolve()
    if os.fork() > 0:
        return 0
    os.setsid()
    os.chdir(job_dir)  # do not pin the submitter's working directory
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        run(job_dir)
    except BaseException as exc:  # the record must say why, whatever happened
        jobfile.finish(job_dir, FAILURE, f"worker crashed: {type(exc).__name__}: {exc}")
    os._exit(0)


def run(job_dir: Path) -> None:
    """Run every step in order in the job's workspace; stop at the first failure or at the deadline."""
    pid = os.getpid()
    start = jobfile.process_start(pid)

    def begin(record: dict[str, Any]) -> bool:
        if record["status"] != QUEUED:
            return False
        record.update(status=WORKING, start_time=jobfile.stamp(), pid=pid, pid_start=start)
        return True

    record = jobfile.update(job_dir, begin)
    if record["status"] != WORKING or record.get("pid") != pid:
        return  # cancelled before it started
    subs = {**record["substitutions"], "PROJECT_ID": record.get("project", ""), "BUILD_ID": record["id"]}
    steps = [StepSpec.from_dict(s) for s in record["steps"]]
    secret_names = {*secrets.SECRET_ENV, *(env for _, env in record.get("secrets", []))}
    secret_names.update(name for step in steps for name in step.secret_env)
    secret_values = secrets.secret_values(os.environ, secret_names)

    def masker(text: str) -> str:
        return secrets.mask(text, secret_values)

    # Cloud Build counts the timeout from the build's start; so do we.
    started = jobfile.parse_stamp(record["start_time"])
    assert started is not None
    timeout_s = float(record["timeout_s"])
    workspace = job_dir / jobfile.WORKSPACE
    workspace.mkdir(exist_ok=True)

    for index, step in enumerate(steps):
        label = f'Step #{index}' + (f' - "{step.id}"' if step.id else "")
        argv = [substitute(a, subs) for a in ([step.entrypoint] if step.entrypoint else []) + list(step.args)]
        jobfile.append_log(job_dir, masker(f"Starting {label}\n"))
        missing = [n for n in step.secret_env if not os.environ.get(n)]
        if missing:
            jobfile.append_log(job_dir, f"{label}: warning: secret env {', '.join(missing)} not set\n")
        env = {**os.environ, **dict(_pair(substitute(e, subs)) for e in step.env), "BUILD_ID": record["id"]}
        cwd = workspace / step.dir if step.dir else workspace
        cwd.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            jobfile.append_log(job_dir, masker(f"{label}: cannot start {argv[0]!r}: {exc.strerror}\n"))
            jobfile.finish(job_dir, FAILURE, f"{label}: cannot start {argv[0]!r}")
            return
        jobfile.update(job_dir, _set(step_pgid=proc.pid, step=index))
        assert proc.stdout is not None
        copier = threading.Thread(target=_copy_log, args=(proc.stdout, job_dir, label, masker), daemon=True)
        copier.start()
        remaining = timeout_s - (jobfile.now() - started).total_seconds()
        try:
            code = proc.wait(timeout=max(remaining, 0.0))
        except subprocess.TimeoutExpired:
            jobfile.kill_group(proc.pid)
            proc.wait()
            copier.join(timeout=5)
            jobfile.append_log(job_dir, f"{label}: TIMEOUT after {int(timeout_s)}s\n")
            jobfile.finish(job_dir, TIMEOUT, f"{label}: timed out after {int(timeout_s)}s")
            return
        # A step ends with everything it started, as a Cloud Build step's container does.
        jobfile.kill_group(proc.pid)
        copier.join(timeout=30)
        if code != 0:
            jobfile.append_log(job_dir, f"Finished {label}: exit status {code}\n")
            jobfile.finish(job_dir, FAILURE, f"{label} failed: exit status {code}")
            return
        jobfile.append_log(job_dir, f"Finished {label}\n")
    jobfile.append_log(job_dir, "DONE\n")
    jobfile.finish(job_dir, SUCCESS, "")


def _copy_log(stream: IO[bytes], job_dir: Path, label: str, masker: Callable[[str], str]) -> None:
    with (job_dir / jobfile.LOG).open("a", encoding="utf-8") as log:
        for raw in iter(stream.readline, b""):
            log.write(masker(f"{label}: {raw.decode('utf-8', 'replace').rstrip()}\n"))
            log.flush()


def _pair(entry: str) -> tuple[str, str]:
    key, _, value = entry.partition("=")
    return key, value


def _set(**values: Any) -> Callable[[dict[str, Any]], bool]:
    def change(record: dict[str, Any]) -> bool:
        record.update(values)
        return True

    return change


def _die_with_parent() -> None:
    # A step must not outlive a worker that was killed; its own children are reaped by the group kill.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
