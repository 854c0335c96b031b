"""The Cloud Build runner (google-cloud-build over REST): submit, get, list by tags, cancel, stream the log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.devtools import cloudbuild_v1

from releng.errors import ReleaseError, UsageError
from releng.gcb.base import BuildRequest, Job, LogWriter
from releng.objectstore import ObjectNotFoundError, ObjectStore, open_store

# Inside the build, krel is pip-installed into /workspace/krel by the get-krel step; releng.gcb.keyfiles turns
# signing keys given as Secret Manager values into the key files krel reads (and removes them afterwards).
KREL_IN_BUILD = "env PYTHONPATH=/workspace/krel python3 -m releng.gcb.keyfiles python3 -m krel"
NO_CREDENTIALS = (
    "Cloud Build: no Google Cloud credentials found (Application Default Credentials): "
    "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a service account key"
)


class CloudBuildRunner:
    """Jobs as Google Cloud Build builds in one project."""

    name = "gcb"
    krel_command = KREL_IN_BUILD

    def __init__(
        self,
        project: str,
        *,
        api_endpoint: str = "",
        client: Any = None,
        open_logs: Callable[[str], ObjectStore] = open_store,
    ) -> None:
        if not project:
            raise UsageError("--project: no Cloud Build project given (and none in the profile's gcb_project)")
        self.project = project
        self.open_logs = open_logs
        self.client = client if client is not None else _client(api_endpoint)

    def submit(self, request: BuildRequest) -> Job:
        """create_build without waiting: the job is QUEUED/WORKING when this returns."""
        build = to_build(request)
        with self._errors("submit a build"):
            operation = self.client.create_build(project_id=request.project or self.project, build=build)
            return to_job(self._operation_build(operation), self.project)

    def _operation_build(self, operation: Any) -> Any:
        """The build an operation is about: from its metadata at once, else when it completes."""
        metadata = operation.metadata
        if metadata is not None and metadata.build.id:
            return metadata.build
        return operation.result(timeout=60)

    def get(self, job_id: str) -> Job:
        with self._errors(f"get build {job_id}"):
            return to_job(self.client.get_build(project_id=self.project, id=job_id), self.project)

    def list_jobs(
        self,
        tags: Sequence[str] = (),
        limit: int = 0,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[Job]:
        query = list_filter(tags, created_after, created_before)
        jobs: list[Job] = []
        with self._errors("list builds"):
            request = cloudbuild_v1.ListBuildsRequest(project_id=self.project, filter=query, page_size=limit or 0)
            for build in self.client.list_builds(request=request):
                jobs.append(to_job(build, self.project))
                if limit and len(jobs) >= limit:
                    break
        return jobs

    def cancel(self, job_id: str) -> Job:
        with self._errors(f"cancel build {job_id}"):
            return to_job(self.client.cancel_build(project_id=self.project, id=job_id), self.project)

    def retry(self, job_id: str) -> Job:
        """Cloud Build's retry: a new build from the same one."""
        with self._errors(f"retry build {job_id}"):
            operation = self.client.retry_build(project_id=self.project, id=job_id)
            return to_job(self._operation_build(operation), self.project)

    def stream(self, job_id: str, write: LogWriter, poll_s: float = 5.0) -> Job:
        """Poll the build and print its log object log-<id>.txt from the logs bucket as it grows."""
        with self._errors(f"get build {job_id}"):
            build = self.client.get_build(project_id=self.project, id=job_id)
        store = self._log_store(build, write)
        key = f"log-{build.id}.txt"
        written = 0
        while True:
            job = to_job(build, self.project)
            if store is not None:
                try:
                    data = store.get(key)
                except ObjectNotFoundError:
                    data = b""
                if len(data) > written:
                    write(data[written:].decode("utf-8", "replace"))
                    written = len(data)
            if job.finished:
                return job
            time.sleep(poll_s)
            with self._errors(f"get build {job_id}"):
                build = self.client.get_build(project_id=self.project, id=job_id)

    def _log_store(self, build: Any, write: LogWriter) -> ObjectStore | None:
        bucket = str(build.logs_bucket or "")
        if not bucket:
            write(f"build {build.id} has no logsBucket; its log is at {build.log_url or 'the Cloud console'}\n")
            return None
        try:
            return self.open_logs(bucket)
        except UsageError:
            write(f"build {build.id} logs to {bucket}, which krel cannot read; see {build.log_url}\n")
            return None

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Vendor exceptions become one ReleaseError line naming the project and the action."""
        try:
            yield
        except auth_exceptions.DefaultCredentialsError:
            raise ReleaseError(NO_CREDENTIALS) from None
        except api_exceptions.GoogleAPIError as exc:
            message = getattr(exc, "message", "") or str(exc)
            raise ReleaseError(f"Cloud Build project {self.project}: cannot {action}: {message}") from None
        except requests.RequestException as exc:
            raise ReleaseError(f"Cloud Build project {self.project}: cannot {action}: {exc}") from None


def _client(api_endpoint: str) -> Any:
    options = ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None
    host = urlsplit(api_endpoint).hostname if "://" in api_endpoint else None
    # Only a local test server is spoken to without credentials.
    credentials = _anonymous() if host in ("127.0.0.1", "localhost", "::1") else None
    try:
        return cloudbuild_v1.CloudBuildClient(credentials=credentials, transport="rest", client_options=options)
    except auth_exceptions.DefaultCredentialsError:
        raise ReleaseError(NO_CREDENTIALS) from None


def _anonymous() -> Any:
    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def list_filter(tags: Sequence[str], created_after: datetime | None, created_before: datetime | None) -> str:
    """Cloud Build's list filter as krel history writes it: tags="X" create_time>"from" create_time<"to"."""
    parts = [f'tags="{tag}"' for tag in tags]
    if created_after is not None:
        parts.append(f'create_time>"{_rfc3339(created_after)}"')
    if created_before is not None:
        parts.append(f'create_time<"{_rfc3339(created_before)}"')
    return " ".join(parts)


def _rfc3339(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_build(request: BuildRequest) -> Any:
    """The BuildRequest as a cloudbuild_v1.Build message."""
    options: dict[str, Any] = {
        # Not every substitution is used by every config (krel's configs rely on this too).
        "substitution_option": cloudbuild_v1.BuildOptions.SubstitutionOption.ALLOW_LOOSE,
    }
    if request.machine_type:
        try:
            options["machine_type"] = cloudbuild_v1.BuildOptions.MachineType.__members__[request.machine_type]
        except KeyError:
            known = ", ".join(m for m in cloudbuild_v1.BuildOptions.MachineType.__members__ if m != "UNSPECIFIED")
            message = f"gcb.machine_type {request.machine_type!r} is not a Cloud Build machine type ({known})"
            raise UsageError(message) from None
    if request.private_pool:
        options["pool"] = cloudbuild_v1.BuildOptions.PoolOption(name=request.private_pool)
    if request.disk_size_gb:
        options["disk_size_gb"] = request.disk_size_gb
    project = request.project
    build: dict[str, Any] = {
        "steps": [
            cloudbuild_v1.BuildStep(
                name=s.name,
                id=s.id,
                entrypoint=s.entrypoint,
                dir_=s.dir,
                args=list(s.args),
                env=list(s.env),
                secret_env=list(s.secret_env),
            )
            for s in request.steps
        ],
        "substitutions": dict(request.substitutions),
        "tags": list(request.tags),
        "timeout": timedelta(seconds=request.timeout_s),
        "options": cloudbuild_v1.BuildOptions(**options),
    }
    if request.secrets:
        build["available_secrets"] = cloudbuild_v1.Secrets(
            secret_manager=[
                cloudbuild_v1.SecretManagerSecret(
                    version_name=f"projects/{project}/secrets/{name}/versions/latest", env=env
                )
                for name, env in request.secrets
            ]
        )
    return cloudbuild_v1.Build(**build)


def to_job(build: Any, project: str) -> Job:
    """A cloudbuild_v1.Build as a Job."""
    return Job(
        id=str(build.id),
        status=cloudbuild_v1.Build.Status(build.status).name,
        runner="gcb",
        project=str(build.project_id or project),
        create_time=_time(build.create_time),
        start_time=_time(build.start_time),
        finish_time=_time(build.finish_time),
        substitutions=dict(build.substitutions),
        tags=tuple(build.tags),
        log_url=str(build.log_url or ""),
        detail=str(build.status_detail or ""),
    )


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
