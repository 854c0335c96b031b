"""The JobRunner protocol, the build request both runners accept, and the Job record they return."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

# Cloud Build's Build.Status names; the local runner uses the same words.
QUEUED = "QUEUED"
WORKING = "WORKING"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
CANCELLED = "CANCELLED"
TIMEOUT = "TIMEOUT"
TERMINAL = frozenset({SUCCESS, FAILURE, CANCELLED, TIMEOUT, "INTERNAL_ERROR", "EXPIRED"})


# krel gcb/<job>/cloudbuild.yaml: the tag each job carries
_KIND_TAGS = {"STAGE": "stage", "RELEASE": "release", "FAST_FORWARD": "fast-forward"}

@dataclass(frozen=True)
class StepSpec:
    """One build step as Cloud Build has it: image, entrypoint, args, env, working dir, secret env names."""

    name: str
    args: tuple[str, ...]
    id: str = ""
    entrypoint: str = ""
    dir: str = ""
    env: tuple[str, ...] = ()
    secret_env: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "entrypoint": self.entrypoint,
            "dir": self.dir,
            "args": list(self.args),
            "env": list(self.env),
            "secretEnv": list(self.secret_env),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepSpec:
        return cls(
            name=str(data.get("name", "")),
            args=tuple(str(a) for a in data.get("args") or ()),
            id=str(data.get("id") or ""),
            entrypoint=str(data.get("entrypoint") or ""),
            dir=str(data.get("dir") or ""),
            env=tuple(str(e) for e in data.get("env") or ()),
            secret_env=tuple(str(e) for e in data.get("secretEnv") or ()),
        )


@dataclass(frozen=True)
class BuildRequest:
    """Everything a runner needs to start a stage or release job; the same request for both runners."""

    kind: str  # "stage" or "release"
    project: str
    steps: tuple[StepSpec, ...]
    substitutions: Mapping[str, str]
    tags: tuple[str, ...]
    timeout_s: int
    machine_type: str = ""
    private_pool: str = ""
    disk_size_gb: int = 0
    secrets: tuple[tuple[str, str], ...] = ()  # (Secret Manager secret name, env var)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuildRequest:
        """The request as stored in a job record (the inverse of as_dict)."""
        return cls(
            kind=str(data["kind"]),
            project=str(data.get("project", "")),
            steps=tuple(StepSpec.from_dict(s) for s in data.get("steps") or ()),
            substitutions={str(k): str(v) for k, v in (data.get("substitutions") or {}).items()},
            tags=tuple(str(t) for t in data.get("tags") or ()),
            timeout_s=int(data["timeout_s"]),
            machine_type=str(data.get("machine_type", "")),
            private_pool=str(data.get("private_pool", "")),
            disk_size_gb=int(data.get("disk_size_gb", 0)),
            secrets=tuple((str(n), str(e)) for n, e in data.get("secrets") or ()),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "project": self.project,
            "steps": [s.as_dict() for s in self.steps],
            "substitutions": dict(self.substitutions),
            "tags": list(self.tags),
            "timeout_s": self.timeout_s,
            "machine_type": self.machine_type,
            "private_pool": self.private_pool,
            "disk_size_gb": self.disk_size_gb,
            "secrets": [list(s) for s in self.secrets],
        }


@dataclass(frozen=True)
class Job:
    """One submitted job as a runner reports it."""

    id: str
    status: str
    runner: str
    project: str = ""
    create_time: datetime | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None
    substitutions: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    log_url: str = ""
    detail: str = ""

    @property
    def kind(self) -> str:
        """stage, release or fast-forward, from the STAGE/RELEASE/FAST_FORWARD build tag (as krel's jobs are tagged)."""
        for tag in self.tags:
            if tag in _KIND_TAGS:
                return _KIND_TAGS[tag]
        return ""

    @property
    def finished(self) -> bool:
        """The job reached a final status."""
        return self.status in TERMINAL

    @property
    def duration(self) -> timedelta | None:
        """Finish minus start, once both are known."""
        if self.start_time is None or self.finish_time is None:
            return None
        return self.finish_time - self.start_time

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "runner": self.runner,
            "project": self.project,
            "kind": self.kind,
            "create_time": _iso(self.create_time),
            "start_time": _iso(self.start_time),
            "finish_time": _iso(self.finish_time),
            "substitutions": dict(self.substitutions),
            "tags": list(self.tags),
            "log_url": self.log_url,
            "detail": self.detail,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# write(text) receives log text as it arrives.
LogWriter = Callable[[str], None]


class JobRunner(Protocol):
    """Runs stage/release jobs: Cloud Build, or the local detached runner."""

    name: str
    # How a step invokes krel inside the job (shell words, already quoted).
    krel_command: str

    def submit(self, request: BuildRequest) -> Job:
        """Start the job and return at once (QUEUED or WORKING)."""
        ...

    def get(self, job_id: str) -> Job:
        """The job as it is now."""
        ...

    def list_jobs(
        self,
        tags: Sequence[str] = (),
        limit: int = 0,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[Job]:
        """Jobs carrying every tag in `tags`, newest first; limit 0 means all."""
        ...

    def cancel(self, job_id: str) -> Job:
        """Stop the job; it ends CANCELLED unless it had already finished."""
        ...

    def retry(self, job_id: str) -> Job:
        """Submit the same request again as a new job (a rerun resumes through the stage/release journal)."""
        ...

    def stream(self, job_id: str, write: LogWriter, poll_s: float = 1.0) -> Job:
        """Write the job's log as it grows until the job finishes; return the finished job."""
        ...


_SUBST = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Expand $VAR and ${VAR} the way Cloud Build does ($$ is a literal $; unknown names expand to empty)."""

    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        if name is None:
            return "$"
        return values.get(name, "")

    return _SUBST.sub(one, text)
