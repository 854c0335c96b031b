"""Auth and rate limiting: a small gate (pytest-httpserver) in front of a real registry asks for basic or bearer
credentials the way Docker Hub / gcr.io do; stubs answer 429 and 503."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError
from releng.registry import auth, imagetar
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import LocalRegistry
from releng.registry.ratelimit import TokenBucket
from werkzeug import Request, Response

from tests.fixtures.registry import RegistryFactory

ROBOT = ("robot", "hunter2-secret")
_HOP = {"host", "authorization", "content-length", "transfer-encoding", "connection"}


@pytest.fixture
def gate() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def backend(registry_factory: RegistryFactory) -> LocalRegistry:
    return registry_factory("auth-backend")


def _basic_ok(request: Request, creds: tuple[str, str] = ROBOT) -> bool:
    expected = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    return request.headers.get("Authorization") == expected


def _forward(request: Request, registry: LocalRegistry, gate_url: str) -> Response:
    query = request.query_string.decode()
    url = registry.url + request.path + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    resp = httpx.request(request.method, url, headers=headers, content=request.get_data())
    out = Response(resp.content, status=resp.status_code)
    for key, value in resp.headers.items():
        if key.lower() in ("location",):
            value = value.replace(registry.url, gate_url)
        if key.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
            out.headers[key] = value
    if request.method == "HEAD" and "content-length" in resp.headers:
        out.headers["Content-Length"] = resp.headers["content-length"]
    return out


def _scope_for(request: Request) -> str:
    match = re.match(r"^/v2/(.+?)/(manifests|blobs|tags)/", request.path)
    repo = match.group(1) if match else ""
    action = "pull" if request.method in ("GET", "HEAD") else "pull,push"
    return f"repository:{repo}:{action}"


class BearerGate:
    """Token service at /token (basic credentials in, bearer token out) and a /v2/ gate checking the token."""

    def __init__(self, server: HTTPServer, registry: LocalRegistry, creds: tuple[str, str] = ROBOT) -> None:
        self.url = server.url_for("").rstrip("/")
        self.creds = creds
        self.registry = registry
        self.tokens: set[str] = set()
        self.token_queries: list[dict[str, list[str]]] = []
        self.lock = threading.Lock()
        server.expect_request("/token").respond_with_handler(self.token)
        server.expect_request(re.compile(r"^/v2/")).respond_with_handler(self.v2)

    def token(self, request: Request) -> Response:
        with self.lock:
            self.token_queries.append({k: request.args.getlist(k) for k in request.args})
            if not _basic_ok(request, self.creds):
                return Response('{"details":"bad credentials"}', status=401)
            token = f"tok-{len(self.tokens)}"
            self.tokens.add(token)
        return Response(f'{{"token": "{token}", "expires_in": 300}}', content_type="application/json")

    def v2(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        if not (header.startswith("Bearer ") and header[7:] in self.tokens):
            challenge = f'Bearer realm="{self.url}/token",service="krel-test",scope="{_scope_for(request)}"'
            return Response('{"errors":[{"code":"UNAUTHORIZED"}]}', status=401,
                            headers={"WWW-Authenticate": challenge})
        return _forward(request, self.registry, self.url)


def _basic_gate(server: HTTPServer, registry: LocalRegistry) -> str:
    url = server.url_for("").rstrip("/")

    def v2(request: Request) -> Response:
        if not _basic_ok(request):
            return Response("", status=401, headers={"WWW-Authenticate": 'Basic realm="krel-test"'})
        return _forward(request, registry, url)

    server.expect_request(re.compile(r"^/v2/")).respond_with_handler(v2)
    return url.split("://")[1]


def test_bearer_flow_with_basic_credentials(gate: HTTPServer, backend: LocalRegistry,
                                            registry_images: dict[str, Path]) -> None:
    bearer = BearerGate(gate, backend)
    creds = auth.basic(*ROBOT)
    with RegistryClient(bearer.url.split("://")[1], auth=creds) as client:
        digest = imagetar.push_image_tarball(client, registry_images["amd64"], "secure/hello", "v1")
        copy_image(client, "secure/hello", digest, client, "secure/copy", ["v1"])
        for _ in range(5):
            head = client.head_manifest("secure/copy", "v1")
            assert head is not None and head.digest == digest
        assert client.list_tags("secure/hello") == ["v1"]
    # Tokens are cached per scope: far fewer token requests than registry requests.
    assert 1 <= creds.token_requests <= 4
    first = bearer.token_queries[0]
    assert first["service"] == ["krel-test"]
    assert first["scope"][0].startswith("repository:secure/hello:")
    assert any(len(q.get("scope", [])) == 2 for q in bearer.token_queries)  # the mount asks for both repos


def test_bearer_wrong_password_is_one_line_without_secret(gate: HTTPServer, backend: LocalRegistry) -> None:
    bearer = BearerGate(gate, backend)
    with RegistryClient(bearer.url.split("://")[1], auth=auth.basic("robot", "wrong-pass-xyz")) as client, \
            pytest.raises(ReleaseError) as err:
        client.list_tags("secure/hello")
    message = str(err.value)
    assert "refused the basic credentials (HTTP 401)" in message
    assert "wrong-pass-xyz" not in message and "\n" not in message


def test_basic_auth(gate: HTTPServer, backend: LocalRegistry, registry_images: dict[str, Path]) -> None:
    host = _basic_gate(gate, backend)
    with RegistryClient(host, auth=auth.basic(*ROBOT)) as client:
        digest = imagetar.push_image_tarball(client, registry_images["arm64"], "basic/hello", "v1")
        head = client.head_manifest("basic/hello", "v1")
        assert head is not None and head.digest == digest
    with RegistryClient(host) as anonymous, pytest.raises(ReleaseError) as err:
        anonymous.list_tags("basic/hello")
    assert str(err.value) == (
        f"registry {host}, repository basic/hello: GET /v2/basic/hello/tags/list denied (HTTP 401) "
        "with anonymous credentials; check the account has access"
    )


def _counting(responses: list[Callable[[], Response]]) -> tuple[Callable[[Request], Response], list[float]]:
    times: list[float] = []
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        with lock:
            times.append(time.monotonic())
            make = responses[min(len(times), len(responses)) - 1]
        return make()

    return handler, times


def _tags() -> Response:
    return Response('{"name":"staging/foo","tags":["v1"]}', content_type="application/json")


class _RecordingBucket(TokenBucket):
    """A TokenBucket that notes when it paused and when it let each request go."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst=burst)
        self.granted: list[float] = []
        self.paused_at: list[float] = []

    def acquire(self) -> None:
        super().acquire()
        self.granted.append(time.monotonic())

    def pause(self, seconds: float) -> None:
        self.paused_at.append(time.monotonic())
        super().pause(seconds)


def test_429_pauses_everyone_and_honours_retry_after(gate: HTTPServer) -> None:
    too_many = lambda: Response("", status=429, headers={"Retry-After": "0.4"})  # noqa: E731
    handler, times = _counting([too_many, _tags])
    gate.expect_request("/v2/staging/foo/tags/list").respond_with_handler(handler)
    bucket = _RecordingBucket(1000, burst=100)
    host = gate.url_for("").rstrip("/").split("://")[1]
    with RegistryClient(host, rate_limiter=bucket, backoff=0.01) as client:
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: client.list_tags("staging/foo"), range(8)))
    assert results == [["v1"]] * 8
    assert bucket.pauses >= 1 and bucket.paused_at
    assert time.monotonic() - start >= 0.4
    # Once the 429 paused the host, no request goes out before Retry-After has passed. The only grants noted inside
    # the pause are ones decided before it, at most one per other thread (3), noted late on a loaded machine.
    paused = bucket.paused_at[0]
    early = [t for t in bucket.granted if paused < t < paused + 0.38]
    assert len(early) <= 3, (early, paused)
    assert any(t >= paused + 0.38 for t in bucket.granted)
    assert len(times) >= 9  # the 429 and its retry, plus the seven others


def test_persistent_503_fails_after_retries(gate: HTTPServer) -> None:
    handler, times = _counting([lambda: Response('{"errors":[{"code":"UNAVAILABLE"}]}', status=503)])
    gate.expect_request("/v2/staging/foo/tags/list").respond_with_handler(handler)
    host = gate.url_for("").rstrip("/").split("://")[1]
    with RegistryClient(host, retries=2, backoff=0.01) as client, pytest.raises(ReleaseError) as err:
        client.list_tags("staging/foo")
    assert len(times) == 3
    assert re.fullmatch(
        re.escape(f"registry {host}: GET /v2/staging/foo/tags/list failed with HTTP 503 UNAVAILABLE after 3 attempts")
        + r" in \d+\.\ds", str(err.value))


def test_transient_503_then_success(gate: HTTPServer) -> None:
    handler, times = _counting([lambda: Response("", status=502), lambda: Response("", status=503), _tags])
    gate.expect_request("/v2/staging/foo/tags/list").respond_with_handler(handler)
    host = gate.url_for("").rstrip("/").split("://")[1]
    with RegistryClient(host, retries=3, backoff=0.01) as client:
        assert client.list_tags("staging/foo") == ["v1"]
    assert len(times) == 3


def _service_account_file(tmp_path: Path, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    info = {
        "type": "service_account", "project_id": "krel-test", "private_key_id": "k1", "private_key": pem,
        "client_email": "promoter@krel-test.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    return path


def test_google_credentials_as_oauth2accesstoken(gate: HTTPServer, backend: LocalRegistry, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 registry_images: dict[str, Path]) -> None:
    access_token = "ya29.local-access-token"
    grants: list[str] = []

    def oauth(request: Request) -> Response:
        grants.append(request.form.get("grant_type", ""))
        return Response(json.dumps({"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}),
                        content_type="application/json")

    gate.expect_request("/oauth2/token", method="POST").respond_with_handler(oauth)
    bearer = BearerGate(gate, backend, creds=("oauth2accesstoken", access_token))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS",
                       str(_service_account_file(tmp_path, f"{bearer.url}/oauth2/token")))
    creds = auth.google()
    with RegistryClient(bearer.url.split("://")[1], auth=creds) as client:
        digest = imagetar.push_image_tarball(client, registry_images["amd64"], "gcr/hello", "v1")
        head = client.head_manifest("gcr/hello", "v1")
        assert head is not None and head.digest == digest
    assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]  # one access token, reused
    assert access_token not in repr(creds)


def test_google_without_credentials_is_one_clear_line(gate: HTTPServer, backend: LocalRegistry, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bearer = BearerGate(gate, backend)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with RegistryClient(bearer.url.split("://")[1], auth=auth.google()) as client, \
            pytest.raises(ReleaseError, match=r"^no Google credentials for gcr.io / pkg.dev: run `gcloud auth"):
        client.list_tags("gcr/hello")


def test_threads_hitting_the_same_challenge_share_one_token(gate: HTTPServer, backend: LocalRegistry,
                                                           registry_images: dict[str, Path]) -> None:
    bearer = BearerGate(gate, backend)
    with RegistryClient(bearer.url.split("://")[1], auth=auth.basic(*ROBOT)) as pusher:
        imagetar.push_image_tarball(pusher, registry_images["arm64"], "secure/shared", "v1")
    creds = auth.basic(*ROBOT)
    with RegistryClient(bearer.url.split("://")[1], auth=creds) as client, ThreadPoolExecutor(8) as pool:
        heads = list(pool.map(lambda _: client.head_manifest("secure/shared", "v1"), range(16)))
    assert all(h is not None for h in heads)
    assert creds.token_requests == 1


def test_429_without_limiter_still_waits_retry_after(gate: HTTPServer) -> None:
    handler, times = _counting([lambda: Response("", status=429, headers={"Retry-After": "0.3"}),
                                lambda: Response("", status=429, headers={"Retry-After": "0.3"}), _tags])
    gate.expect_request("/v2/staging/foo/tags/list").respond_with_handler(handler)
    host = gate.url_for("").rstrip("/").split("://")[1]
    with RegistryClient(host, backoff=0.01) as client:
        assert client.list_tags("staging/foo") == ["v1"]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.29 and times[2] - times[1] >= 0.29
