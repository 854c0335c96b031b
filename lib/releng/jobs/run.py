"""Run a job: observe the facts, plan, apply with a lock, a journal and a log file next to the work tree."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releng.errors import ReleaseError
from releng.jobs import job_named
from releng.jobs.clients import Clients
from releng.jobs.handlers import HANDLERS, HandlerFn
from releng.jobs.observe import facts_path, observe
from releng.jobs.options import JobOptions, validate_options
from releng.journal import Journal
from releng.plan import Plan, Step
from releng.profile import Targets
from releng.report import Reporter
from releng.runner import Handler, apply


@dataclass(frozen=True)
class JobResult:
    """What a job did (or, with plan_only, would do)."""

    job: str
    plan: Plan
    build_version: str
    versions: tuple[str, ...]
    job_dir: Path
    log_file: Path
    next_command: str = ""
    resumed: bool = False


class _LogReporter:
    """Passes events on and writes step headers and messages to the job log as well."""

    def __init__(self, inner: Reporter, logger: logging.Logger) -> None:
        self.inner = inner
        self.log = logger

    def step(self, index: int, total: int, title: str) -> None:
        self.log.info("[step %d/%d] %s", index, total, title)
        self.inner.step(index, total, title)

    def progress(self, task: str, done: int, total: int) -> None:
        self.inner.progress(task, done, total)

    def info(self, message: str) -> None:
        self.log.info("%s", message)
        self.inner.info(message)

    def output(self, task: str, line: str) -> None:
        # the handler logs the line itself (under its own logger); here it only goes on to the live tail
        self.inner.output(task, line)


@contextmanager
def _job_log(path: Path) -> Iterator[logging.Logger]:
    """Send everything the releng loggers say into the job's log file; the reporter owns the console meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("releng")
    saved = root.level, root.propagate
    root.setLevel(logging.DEBUG)
    root.propagate = False
    root.addHandler(handler)
    try:
        yield logging.getLogger("releng.job")
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]
        handler.close()


@contextmanager
def _exclusive(job: Path) -> Iterator[None]:
    job.mkdir(parents=True, exist_ok=True)
    fd = os.open(job / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError(f"another krel job is running in {job}") from None
        yield
    finally:
        os.close(fd)


def _bound(clients: Clients) -> dict[type[Step], Handler]:
    counter = iter(range(1, 1_000_000))

    def bind(fn: HandlerFn) -> Handler:
        def handler(step: Any) -> None:
            if clients.hooks.kill_at_step == next(counter):
                clients.hooks.kill()
            fn(step, clients)

        return handler

    return {kind: bind(fn) for kind, fn in HANDLERS.items()}


def run(job_name: str, options: JobOptions, targets: Targets, clients: Clients, plan_only: bool = False) -> JobResult:
    """Observe, plan and (unless plan_only) apply the stage or release job on the targets, through clients."""
    kind = job_named(job_name)
    validate_options(options, require_build_version=kind.needs_build_version)
    facts, job = observe(kind.name, options, targets, clients, stages=kind.stages)
    plan = kind.planner(options, targets, facts)
    log_file = job / f"{kind.name}.log"
    next_command = kind.next_command(options, facts.build_version) if kind.next_command else ""
    journal_path = job / "journal.jsonl"
    resumed = journal_path.exists()
    result = JobResult(kind.name, plan, facts.build_version, facts.versions, job, log_file, next_command, resumed)
    if plan_only:
        return result
    with _exclusive(job):
        facts_path(job).write_text(json.dumps(facts.observed(), sort_keys=True))
        with _job_log(log_file) as logger:
            report = _LogReporter(clients.report, logger)
            logger.info("krel %s %s: versions %s (%s)", kind.name, facts.build_version, ", ".join(facts.versions),
                        "resuming" if resumed else "new run")
            apply(plan, _bound(dataclasses.replace(clients, report=report)), Journal(journal_path), report)
            if next_command:
                logger.info("To release this staged build, run: %s", next_command)
    return result
