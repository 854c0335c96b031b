"""Riding out quotas: 429s with Retry-After, 5xx from the registry and its token service, timeouts, a time budget
per request, one token bucket per host, concurrent token fetches, and cancelled upload sessions.

Stub registries are pytest-httpserver gates; the upload test forwards to a real docker-registry.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError
from releng.promo.inventory import Registries
from releng.promo.promote import PromoteOptions, promote_images
from releng.registry import auth
from releng.registry.client import RegistryClient
from releng.registry.localserver import LocalRegistry
from werkzeug import Request, Response

from tests.fixtures._httpstub import forward, loopback_server
from tests.fixtures.promo import STAGING_PREFIX, PromoGolden
from tests.fixtures.registry import RegistryFactory

TAGS = '{"name":"staging/foo","tags":["v1"]}'
ROBOT = ("robot", "quota-secret")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[HTTPServer, HTTPServer]]:
    with loopback_server(threaded=True) as a, loopback_server(threaded=True) as b:
        yield a, b


@pytest.fixture
def stub(servers: tuple[HTTPServer, HTTPServer]) -> Iterator[HTTPServer]:
    servers[0].clear()
    yield servers[0]
    servers[0].clear()


@pytest.fixture
def other(servers: tuple[HTTPServer, HTTPServer]) -> Iterator[HTTPServer]:
    servers[1].clear()
    yield servers[1]
    servers[1].clear()


def _host(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/").split("://")[1]


class Script:
    """Answers from a list, the last one repeated; records when each request came."""

    def __init__(self, *answers: Callable[[], Response]) -> None:
        self.answers = answers
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.times.append(time.monotonic())
            make = self.answers[min(len(self.times), len(self.answers)) - 1]
        return make()


def ok() -> Response:
    return Response(TAGS, content_type="application/json")


def status(code: int, retry_after: str | None = None) -> Callable[[], Response]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return lambda: Response('{"errors":[{"code":"TOOMANYREQUESTS"}]}', status=code, headers=headers)


def slow(seconds: float) -> Callable[[], Response]:
    def answer() -> Response:
        time.sleep(seconds)
        return ok()

    return answer


# -- retries that succeed in time ---------------------------------------------------------------------------------

RIDE_OUT = {
    "429-retry-after-seconds": [status(429, "0.3"), status(429, "0.3"), ok],
    "429-without-retry-after": [status(429), status(429), ok],
    "429-retry-after-http-date": [status(429, formatdate(time.time() + 1, usegmt=True)), ok],
    "429-retry-after-garbage": [status(429, "soon"), ok],
    "503-then-ok": [status(503), ok],
    "500-502-504-then-ok": [status(500), status(502), status(504), ok],
    "timeout-then-ok": [slow(1.0), ok],
}


@pytest.mark.parametrize("answers", RIDE_OUT.values(), ids=RIDE_OUT.keys())
def test_transient_failures_are_ridden_out(stub: HTTPServer, answers: list[Callable[[], Response]]) -> None:
    script = Script(*answers)
    stub.expect_request("/v2/staging/foo/tags/list").respond_with_handler(script)
    with RegistryClient(_host(stub), backoff=0.05, retry_budget=10, timeout=0.5) as client:
        assert client.list_tags("staging/foo") == ["v1"]
    assert len(script.times) == len(answers)


def test_retry_after_is_waited_out(stub: HTTPServer) -> None:
    script = Script(status(429, "0.4"), ok)
    stub.expect_request("/v2/staging/foo/tags/list").respond_with_handler(script)
    with RegistryClient(_host(stub), backoff=0.01, retry_budget=10) as client:
        client.list_tags("staging/foo")
    assert script.times[1] - script.times[0] >= 0.39


def test_a_minute_of_429_is_ridden_out_within_the_budget(stub: HTTPServer) -> None:
    # "A registry that answers 429 for a minute", shrunk to 1.5 s: every request during it gets 429.
    start = time.monotonic()

    def quota(request: Request) -> Response:
        return status(429, "0.2")() if time.monotonic() - start < 1.5 else ok()

    stub.expect_request("/v2/staging/foo/tags/list").respond_with_handler(quota)
    with RegistryClient(_host(stub), backoff=0.05, retry_budget=5) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client.list_tags("staging/foo"), range(8)))
    assert results == [["v1"]] * 8
    assert client.rate_limiter is None and time.monotonic() - start >= 1.5


# -- giving up: one line, bounded time ------------------------------------------------------------------------------

GIVE_UP = {
    "429-forever": (status(429, "0.1"), r"failed with HTTP 429 TOOMANYREQUESTS after \d+ attempts in \d+\.\ds$"),
    "503-forever": (status(503), r"failed with HTTP 503 TOOMANYREQUESTS after \d+ attempts in \d+\.\ds$"),
    "retry-after-beyond-budget": (status(429, "3600"), r"failed with HTTP 429 TOOMANYREQUESTS after 1 attempt in"),
    "timeouts-forever": (slow(0.4), r"unreachable: GET /v2/staging/foo/tags/list failed \(ReadTimeout\) after"),
}


@pytest.mark.parametrize(("answer", "message"), GIVE_UP.values(), ids=GIVE_UP.keys())
def test_persistent_failures_stop_at_the_budget(stub: HTTPServer, answer: Callable[[], Response],
                                               message: str) -> None:
    stub.expect_request("/v2/staging/foo/tags/list").respond_with_handler(Script(answer))
    start = time.monotonic()
    with RegistryClient(_host(stub), backoff=0.05, retry_budget=1.0, timeout=0.2) as client, \
            pytest.raises(ReleaseError) as err:
        client.list_tags("staging/foo")
    elapsed = time.monotonic() - start
    assert elapsed < 3.0, "the budget bounds the whole request"  # 1 s budget; room for a loaded machine
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"registry {_host(stub)}")
    assert re.search(message, text), text


def test_connection_refused_stops_at_the_budget() -> None:
    from releng.registry.localserver import free_port

    start = time.monotonic()
    with RegistryClient(f"127.0.0.1:{free_port()}", backoff=0.05, retry_budget=0.6) as client, \
            pytest.raises(ReleaseError, match=r"unreachable: GET /v2/ failed \(ConnectError\) after \d+ attempts"):
        client.ping()
    assert time.monotonic() - start < 3.0  # 0.6 s budget; room for a loaded machine


def test_a_refused_connection_gives_up_sooner_than_a_quota() -> None:
    # A wrong address should not hold the run for the whole 10-minute budget.
    from releng.registry.localserver import free_port

    with RegistryClient(f"127.0.0.1:{free_port()}", backoff=0.05) as client:
        client.retry = dataclasses.replace(client.retry, connect_budget=0.5)
        assert client.retry.budget == 600.0
        start = time.monotonic()
        with pytest.raises(ReleaseError, match=r"unreachable: GET /v2/ failed \(ConnectError\)"):
            client.ping()
    assert time.monotonic() - start < 3.0  # 0.5 s connect budget against 600 s for quotas


# -- the token service --------------------------------------------------------------------------------------------

class TokenGate:
    """A bearer challenge on /v2/ and a token service at /token answering from a script (or with a delay)."""

    def __init__(self, server: HTTPServer, token_answers: list[Callable[[], Response]] | None = None,
                 delay: float = 0.0) -> None:
        self.url = server.url_for("").rstrip("/")
        self.host = _host(server)
        self.delay = delay
        self.script = Script(*(token_answers or [self.grant]))
        self.issued = 0
        self.concurrent = 0
        self.max_concurrent = 0
        server.expect_request("/token").respond_with_handler(self.token)
        server.expect_request(re.compile(r"^/v2/")).respond_with_handler(self.v2)

    def grant(self) -> Response:
        with self.script.lock:
            self.issued += 1
            n = self.issued
        return Response(f'{{"token":"tok-{n}","expires_in":300}}', content_type="application/json")

    def token(self, request: Request) -> Response:
        with self.script.lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            time.sleep(self.delay)
            return self.script(request)
        finally:
            with self.script.lock:
                self.concurrent -= 1

    def v2(self, request: Request) -> Response:
        if request.headers.get("Authorization", "").startswith("Bearer tok-"):
            repo = request.path.split("/")[2]
            return Response(f'{{"name":"{repo}","tags":["v1"]}}', content_type="application/json")
        match = re.match(r"^/v2/(.+)/tags/list", request.path)
        scope = f"repository:{match.group(1) if match else ''}:pull"
        return Response("", status=401,
                        headers={"WWW-Authenticate": f'Bearer realm="{self.url}/token",service="q",scope="{scope}"'})


TOKEN_RIDE_OUT = {
    "token-503-then-ok": [status(503)],
    "token-429-retry-after-then-ok": [status(429, "0.2")],
    "token-500-twice-then-ok": [status(500), status(500)],
}


@pytest.mark.parametrize("failures", TOKEN_RIDE_OUT.values(), ids=TOKEN_RIDE_OUT.keys())
def test_token_requests_are_retried(stub: HTTPServer, failures: list[Callable[[], Response]]) -> None:
    gate = TokenGate(stub)
    gate.script = Script(*failures, gate.grant)
    with RegistryClient(gate.host, auth=auth.basic(*ROBOT), backoff=0.05, retry_budget=10) as client:
        assert client.list_tags("staging/foo") == ["v1"]
    assert len(gate.script.times) == len(failures) + 1


def test_token_service_down_is_one_line_naming_it(stub: HTTPServer) -> None:
    gate = TokenGate(stub, [status(503)])
    with RegistryClient(gate.host, auth=auth.basic(*ROBOT), backoff=0.05, retry_budget=0.8) as client, \
            pytest.raises(ReleaseError) as err:
        client.list_tags("staging/foo")
    text = str(err.value)
    assert re.fullmatch(
        rf"registry {re.escape(gate.host)}: GET /v2/staging/foo/tags/list failed: token service 127\.0\.0\.1 "
        r"answered HTTP 503 TOOMANYREQUESTS after \d+ attempts in \d+\.\ds", text), text
    assert ROBOT[1] not in text


def test_tokens_for_many_repositories_are_fetched_concurrently(stub: HTTPServer) -> None:
    # 20 repositories, 10 threads, a token service taking 0.3 s: one at a time would take 6 s.
    gate = TokenGate(stub, delay=0.3)
    creds = auth.basic(*ROBOT)
    start = time.monotonic()
    with RegistryClient(gate.host, auth=creds, max_connections=16) as client, ThreadPoolExecutor(10) as pool:
        tags = list(pool.map(lambda i: client.list_tags(f"repo{i}"), range(20)))
    elapsed = time.monotonic() - start
    assert tags == [["v1"]] * 20
    assert creds.token_requests == 20, "one token per repository, none fetched twice"
    assert gate.max_concurrent >= 5, f"token fetches were serialised ({elapsed:.2f}s; serial: 6 s)"


def test_threads_on_one_scope_wait_for_the_first_fetch(stub: HTTPServer) -> None:
    gate = TokenGate(stub, delay=0.2)
    creds = auth.basic(*ROBOT)
    with RegistryClient(gate.host, auth=creds) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.list_tags("shared/repo"), range(16)))
    assert creds.token_requests == 1


def test_expired_tokens_are_evicted() -> None:
    cache = auth._TokenCache()
    for i in range(300):
        scope = (f"repository:r{i}:pull",)
        assert cache.claim(scope, None) is None
        cache.release(scope, f"t{i}", 0.0 if i < 290 else 60.0)
    assert cache.get(("repository:r0:pull",)) is None
    assert len(cache) <= 257
    assert cache.get(("repository:r299:pull",)) == "t299"


# -- one bucket per host ------------------------------------------------------------------------------------------

def test_a_429_pauses_its_host_only(stub: HTTPServer, other: HTTPServer) -> None:
    throttled = Script(status(429, "1.0"), ok)
    stub.expect_request("/v2/staging/foo/tags/list").respond_with_handler(throttled)
    fine = Script(ok)
    other.expect_request("/v2/staging/foo/tags/list").respond_with_handler(fine)
    with Registries(rate=1000, retry_budget=10) as registries:
        a, b = registries.client(_host(stub)), registries.client(_host(other))
        with ThreadPoolExecutor(2) as pool:
            slow_host = pool.submit(a.list_tags, "staging/foo")
            time.sleep(0.1)  # the 429 has arrived and paused host a
            for _ in range(5):
                b.list_tags("staging/foo")
            assert slow_host.result() == ["v1"]
        assert registries.limiter.paused_hosts() == [_host(stub)]
    # the other region went on while this one waited out its 1 s pause (no upper time bound: a loaded machine)
    assert len(fine.times) == 5 and fine.times[-1] < throttled.times[1], "the other region was paused too"
    assert throttled.times[1] - throttled.times[0] >= 0.95


def test_rate_is_per_host(stub: HTTPServer, other: HTTPServer) -> None:
    for server in (stub, other):
        server.expect_request("/v2/staging/foo/tags/list").respond_with_handler(Script(ok))
    # 10 requests per second per host, burst 10: 15 requests on each of two hosts are paced (>= 0.5 s), each host by
    # its own bucket. (Not an upper time bound: on a loaded machine the requests alone can take 2 s.)
    with Registries(rate=10) as registries, ThreadPoolExecutor(4) as pool:
        start = time.monotonic()
        jobs = [pool.submit(registries.client(_host(s)).list_tags, "staging/foo") for s in (stub, other) * 15]
        for job in jobs:
            job.result()
        elapsed = time.monotonic() - start
        buckets = [registries.client(_host(s)).rate_limiter for s in (stub, other)]
        assert buckets == [registries.limiter.for_host(_host(s)) for s in (stub, other)]
    assert elapsed >= 0.4
    assert buckets[0] is not buckets[1]


# -- upload sessions ----------------------------------------------------------------------------------------------

def test_failed_upload_session_is_cancelled(stub: HTTPServer, registry_factory: RegistryFactory) -> None:
    registry: LocalRegistry = registry_factory("quota-uploads")
    seen: list[tuple[str, str]] = []
    gate_url = stub.url_for("").rstrip("/")

    def gate(request: Request) -> Response:
        seen.append((request.method, request.path))
        if request.method == "PUT" and "/blobs/uploads/" in request.path:
            return Response('{"errors":[{"code":"DENIED"}]}', status=403)
        return forward(request, registry.url, gate_url)

    stub.expect_request(re.compile(r"^/v2/")).respond_with_handler(gate)
    with RegistryClient(_host(stub), retry_budget=1) as client, pytest.raises(ReleaseError, match="denied"):
        client.push_blob("staging/up", b"some layer bytes")
    uploads = [path for method, path in seen if method == "PUT"]
    assert uploads and ("DELETE", uploads[0]) in seen
    # The registry forgot the session: its URL answers 404 BLOB_UPLOAD_UNKNOWN.
    assert httpx.get(registry.url + uploads[0]).status_code == 404


# -- a promotion riding out a throttled production registry, and healing after an outage ---------------------------

def _manifest(tmp_path: Path, golden: PromoGolden, prod_host: str) -> Path:
    path = tmp_path / "promoter-manifest.yaml"
    path.write_text(
        f"registries:\n- name: {golden.staging.host}/{STAGING_PREFIX}/golden-foo\n  src: true\n"
        f"- name: {prod_host}/prod\nimages:\n- name: foo\n  dmap:\n"
        f'    "{golden.digests["foo-index"]}": ["1.0"]\n'
    )
    return path


def test_promotion_rides_out_a_minute_of_429(stub: HTTPServer, promo_golden: PromoGolden,
                                             promo_prod: LocalRegistry, tmp_path: Path) -> None:
    # Production's quota is spent: its first 6 answers are 429 (whatever they were for), then it serves normally.
    throttled = [0]
    lock = threading.Lock()

    def gate(request: Request) -> Response:
        with lock:
            throttled[0] += 1
            if throttled[0] <= 6:
                return status(429, "0.3")()
        return forward(request, promo_prod.url, stub.url_for("").rstrip("/"))

    stub.expect_request(re.compile(r"^/v2/")).respond_with_handler(gate)
    manifest = _manifest(tmp_path, promo_golden, _host(stub))
    with Registries(rate=500, retry_budget=20) as registries:
        run = promote_images(PromoteOptions(manifest=manifest, confirm=True, threads=4), registries)
        assert run.error() is None and run.outcomes and not run.failures
        assert registries.limiter.paused_hosts() == [_host(stub)]  # staging was never paused
    assert throttled[0] > 6
    with RegistryClient(promo_prod.host) as client:
        head = client.head_manifest("prod/foo", "1.0")
    assert head is not None and head.digest == promo_golden.digests["foo-index"]


def test_promotion_through_a_down_registry_fails_in_one_line_and_a_rerun_heals(
        stub: HTTPServer, promo_golden: PromoGolden, promo_prod: LocalRegistry, tmp_path: Path) -> None:
    down = [True]

    def gate(request: Request) -> Response:
        if down[0]:
            return Response('{"errors":[{"code":"UNAVAILABLE"}]}', status=503)
        return forward(request, promo_prod.url, stub.url_for("").rstrip("/"))

    stub.expect_request(re.compile(r"^/v2/")).respond_with_handler(gate)
    manifest = _manifest(tmp_path, promo_golden, _host(stub))
    with Registries(rate=500, retry_budget=0.5) as registries:
        try:
            run = promote_images(PromoteOptions(manifest=manifest, confirm=True), registries)
            error = run.error()
        except ReleaseError as exc:
            error = exc
        assert error is not None
        problems = [line for line in str(error).splitlines() if "HTTP 503" in line]
        assert problems and all(_host(stub) in line for line in problems)
        with RegistryClient(promo_prod.host) as client:
            assert client.catalog() == []  # nothing half-written
        down[0] = False
        healed = promote_images(PromoteOptions(manifest=manifest, confirm=True), registries)
        assert healed.error() is None and healed.outcomes
