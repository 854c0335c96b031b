"""LiveSource._send/_json: the one request step the GitHub issues (REST) and GraphQL sources share, over httpx's own
in-process transport (no sockets); the same sources run against the local GitHub stub in tests/integration."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from releng.github import ratelimit
from releng.github.base import GitHubError, LiveSource

TOKEN = "ghp_" + "x" * 36


def _source() -> LiveSource:
    return LiveSource("org", "repo", ratelimit.Policy(sleep=lambda _: None, clock=lambda: 1000.0), TOKEN)


def _client(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(("status", "body"), [(200, "[]"), (201, "{}"), (404, "nope"), (422, '{"message": "bad"}')])
def test_other_answers_come_back_to_the_caller(status: int, body: str) -> None:
    with _client(lambda r: httpx.Response(status, text=body)) as client:
        assert _source()._send(client, "GET", "https://api.test/x").status_code == status


def _refused(exc: type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc("refused", request=request)
    return answer


# Each retryable case: an answer the retry loop must see as RetryableError (its reason), never a vendor exception.
RETRYABLE = {
    "connect-error": (_refused(httpx.ConnectError), "connection error: ConnectError"),
    "read-timeout": (_refused(httpx.ReadTimeout), "connection error: ReadTimeout"),
    "http-502": (lambda r: httpx.Response(502, text="bad gateway"), "server error 502"),
    "http-503": (lambda r: httpx.Response(503), "server error 503"),
    "primary-limit": (lambda r: httpx.Response(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"},
                                               text="API rate limit exceeded"), "primary rate limit"),
    "secondary-limit": (lambda r: httpx.Response(403, text="You have exceeded a secondary rate limit"),
                        "secondary rate limit"),
}


@pytest.mark.parametrize("case", list(RETRYABLE))
def test_retryable_answers_raise_retryable(case: str) -> None:
    answer, reason = RETRYABLE[case]
    with _client(answer) as client, pytest.raises(ratelimit.RetryableError) as info:
        _source()._send(client, "GET", "https://api.test/x")
    assert reason in info.value.reason


def test_unauthorized_is_one_error() -> None:
    unauthorized = pytest.raises(GitHubError, match=r"^GitHub: 401 Unauthorized: check GITHUB_TOKEN$")
    with _client(lambda r: httpx.Response(401, text=TOKEN)) as client, unauthorized:
        _source()._send(client, "GET", "https://api.test/x")


@pytest.mark.parametrize("body", ["", "<html>", "{", "{'a': 1}", "nan-ish"])
def test_json_that_is_not_json_is_one_error(body: str) -> None:
    response = httpx.Response(200, text=body)
    with pytest.raises(GitHubError, match=r"^GitHub GET https://api\.test/x: answer is not JSON$"):
        _source()._json(response, "GET https://api.test/x")


def test_json_answers() -> None:
    assert _source()._json(httpx.Response(200, text='{"a": [1]}'), "x") == {"a": [1]}
