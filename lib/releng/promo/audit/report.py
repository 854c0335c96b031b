"""Where verdicts go: one structured log line each; rejections also to a JSONL file and to Google Error Reporting."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from releng.errors import ReleaseError
from releng.promo.audit.verdict import REJECTED, Verdict

log = logging.getLogger("releng.promo.audit.verdicts")

ERROR_REPORTING_API = "https://clouderrorreporting.googleapis.com"
SERVICE = "krel-audit"


def record(verdict: Verdict) -> dict[str, Any]:
    """The verdict as one flat JSON-able record (log lines, JSONL, `krel audit check --json`)."""
    return {"verdict": verdict.result, "reason": verdict.reason, "head": verdict.head, **verdict.event.describe()}


def log_verdict(verdict: Verdict) -> None:
    """One structured log line: `VERIFIED {...}` at info, `REJECTED {...}` at error."""
    level = logging.ERROR if verdict.result == REJECTED else logging.INFO
    log.log(level, "%s %s", verdict.result, json.dumps(record(verdict), sort_keys=True))


class Reporter(Protocol):
    """Receives every rejection; raising makes the event count as not handled (the sender redelivers)."""

    def report(self, verdict: Verdict) -> None: ...


class JsonlReporter:
    """Appends one JSON line per rejection to a file (flushed per line, safe across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def report(self, verdict: Verdict) -> None:
        line = json.dumps(record(verdict), sort_keys=True) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)


class ErrorReportingError(ReleaseError):
    """Google Error Reporting refused or could not be reached."""


class ErrorReportingReporter:
    """projects.events.report of the Error Reporting API; token() gives an OAuth access token (read at the edge)."""

    def __init__(self, project: str, token: Callable[[], str], *, endpoint: str = ERROR_REPORTING_API,
                 transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self.project = project
        self._token = token
        self._url = f"{endpoint.rstrip('/')}/v1beta1/projects/{project}/events:report"
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _body(self, verdict: Verdict) -> dict[str, Any]:
        # Without a stack trace in the message the API needs context.reportLocation to accept the event.
        return {
            "serviceContext": {"service": SERVICE, "version": verdict.head[:12] or "unknown"},
            "message": f"TRANSACTION REJECTED: {verdict.reason}: {json.dumps(record(verdict), sort_keys=True)}",
            "context": {"reportLocation": {"filePath": "releng/promo/audit/verdict.py", "lineNumber": 1,
                                           "functionName": "judge"}},
        }

    def report(self, verdict: Verdict) -> None:
        try:
            resp = self._http.post(self._url, json=self._body(verdict),
                                   headers={"Authorization": f"Bearer {self._token()}"})
        except httpx.HTTPError as exc:
            raise ErrorReportingError(f"error reporting {self._url}: {exc.__class__.__name__}: {exc}") from None
        if resp.status_code != 200:
            raise ErrorReportingError(f"error reporting {self._url}: HTTP {resp.status_code}: {resp.text[:200]}")


def google_token(scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/cloud-platform",)) -> Callable[[], str]:
    """An access-token source from Application Default Credentials, refreshed when it expires."""
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=list(scopes))
    lock = threading.Lock()

    def token() -> str:
        with lock:
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
            return str(credentials.token)

    return token
