"""The Google Error Reporting reporter against a local HTTP stand-in (pytest-httpserver): the path
`/v1beta1/projects/<p>/events:report`, the bearer header, the body the API accepts; refusals and an unreachable
endpoint are one ErrorReportingError that names the URL and never the token; only rejections are sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from releng.promo.audit.events import DELETE, INSERT, Event
from releng.promo.audit.report import ErrorReportingError, ErrorReportingReporter
from releng.promo.audit.verdict import REJECTED, Verdict
from releng.registry.localserver import free_port

from tests.unit._audit_common import D_IMAGE, HOST, INDEX, ready_auditor

PROJECT = "k8s-artifacts-prod"
PATH = f"/v1beta1/projects/{PROJECT}/events:report"
TOKEN = "ya29.local-test-token"
HEAD = INDEX.head


def _verdict(tag: str = "evil") -> Verdict:
    event = Event("pubsub/42", INSERT, HOST, "k8s-prod/foo", D_IMAGE, tag)
    return Verdict(event, REJECTED, f"tag {tag} of {D_IMAGE} is not in the manifests", HEAD)


def _reporter(server: HTTPServer, tokens: list[str] | None = None) -> ErrorReportingReporter:
    issued = tokens if tokens is not None else []

    def token() -> str:
        issued.append(TOKEN)
        return TOKEN

    return ErrorReportingReporter(PROJECT, token, endpoint=server.url_for("/"), timeout=5)


def test_report_posts_the_event_with_bearer_token(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST", headers={"Authorization": f"Bearer {TOKEN}"},
                                      ).respond_with_json({})
    tokens: list[str] = []
    reporter = _reporter(httpserver, tokens)
    reporter.report(_verdict())
    reporter.close()
    httpserver.check_assertions()
    (request, _), = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.get_data())
    assert body["serviceContext"] == {"service": "krel-audit", "version": HEAD[:12]}
    assert body["message"].startswith("TRANSACTION REJECTED: tag evil of ")
    detail = json.loads(body["message"].split(": ", 2)[2])
    assert (detail["verdict"], detail["tag"], detail["repo"], detail["id"]) == (
        "REJECTED", "evil", f"{HOST}/k8s-prod/foo", "pubsub/42")
    # Without a stack trace the API rejects an event that has no reportLocation.
    assert set(body["context"]["reportLocation"]) == {"filePath", "lineNumber", "functionName"}
    assert tokens == [TOKEN]  # asked per report: the source refreshes an expired token


@pytest.mark.parametrize(("status", "text"), [
    pytest.param(403, "Error Reporting API has not been used in project", id="forbidden"),
    pytest.param(400, "Invalid JSON payload", id="bad-request"),
    pytest.param(503, "backend unavailable", id="unavailable"),
])
def test_refusal_is_one_error_naming_url_and_status(httpserver: HTTPServer, status: int, text: str) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data(text, status=status)
    with pytest.raises(ErrorReportingError) as caught:
        _reporter(httpserver).report(_verdict())
    message = str(caught.value)
    assert PATH in message and f"HTTP {status}" in message and text in message
    assert TOKEN not in message


def test_unreachable_endpoint_is_one_error() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    reporter = ErrorReportingReporter(PROJECT, lambda: TOKEN, endpoint=endpoint, timeout=2)
    with pytest.raises(ErrorReportingError, match=r"error reporting http://127\.0\.0\.1:\d+/v1beta1/.*ConnectError"):
        reporter.report(_verdict())


def test_auditor_sends_only_rejections(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json({})
    auditor = ready_auditor(tmp_path, reporters=[_reporter(httpserver)])
    verified = Event("pubsub/1", INSERT, HOST, "k8s-prod/foo", D_IMAGE, "1.0")
    deleted = Event("pubsub/2", DELETE, HOST, "k8s-prod/foo", D_IMAGE)
    results = [v.result for v in auditor.handle([verified, deleted, deleted])]  # the redelivery is judged once
    assert results == ["VERIFIED", "REJECTED"]
    (request, _), = httpserver.log
    assert '"pubsub/2"' in json.loads(request.get_data())["message"]


def test_refused_report_makes_the_event_unjudged(httpserver: HTTPServer, tmp_path: Path) -> None:
    """A reporter failure raises out of handle (500: the sender redelivers) and the event is judged again later."""
    httpserver.expect_request(PATH, method="POST").respond_with_data("quota", status=429)
    auditor = ready_auditor(tmp_path, reporters=[_reporter(httpserver)])
    deleted = Event("pubsub/2", DELETE, HOST, "k8s-prod/foo", D_IMAGE)
    with pytest.raises(ErrorReportingError):
        auditor.handle([deleted])
    httpserver.clear()
    httpserver.expect_request(PATH, method="POST").respond_with_json({})
    assert [v.result for v in auditor.handle([deleted])] == ["REJECTED"]
    assert len(httpserver.log) == 1
