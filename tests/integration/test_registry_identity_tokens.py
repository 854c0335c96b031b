"""Docker identity tokens (`identitytoken` in ~/.docker/config.json, a credential helper's `<token>` user) exchanged
as Docker does, by distribution's OAuth2 refresh-token grant, at a local token server in front of a real registry.

The gate is test_registry_auth's BearerGate with an OAuth2 POST endpoint added: it checks the form Docker sends
(grant_type, refresh_token, client_id, service, scope) and may rotate the refresh token. The token never shows in
an error or a log line."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.credentials import Credentials
from releng.registry.localserver import LocalRegistry
from werkzeug import Request, Response

from tests.fixtures._httpstub import loopback_server
from tests.fixtures.registry import RegistryFactory
from tests.integration.test_registry_auth import BearerGate

IDENTITY = "idt-7f3a9c-refresh-secret"
ROTATED = "idt-rotated-b81e-secret"


class OAuthGate(BearerGate):
    """BearerGate whose /token also answers distribution's OAuth2 POST: a refresh token in, an access token out."""

    def __init__(self, server: HTTPServer, registry: LocalRegistry, *, rotate: bool = False) -> None:
        self.valid_refresh = {IDENTITY}
        self.forms: list[dict[str, list[str]]] = []
        self.rotate = rotate
        self.answers: list[Response] = []  # answers for the next POSTs (refusals, broken bodies), then the real one
        self.form_lock = threading.Lock()
        super().__init__(server, registry)

    def token(self, request: Request) -> Response:
        if request.method != "POST":
            return super().token(request)
        form = {k: request.form.getlist(k) for k in request.form}
        with self.form_lock:
            self.forms.append(form)
            if self.answers:
                return self.answers.pop(0)
            refresh = form.get("refresh_token", [""])[0]
            if form.get("grant_type") != ["refresh_token"] or refresh not in self.valid_refresh:
                return Response('{"error": "invalid_grant", "error_description": "bad token ' + refresh + '"}',
                                status=400, content_type="application/json")
            access = f"acc-{len(self.tokens)}"
            body: dict[str, object] = {"access_token": access, "expires_in": 300, "scope": form["scope"][0]}
            if self.rotate:
                self.valid_refresh = {ROTATED}
                body["refresh_token"] = ROTATED
        with self.lock:
            self.tokens.add(access)
        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture(scope="module")
def _server() -> Iterator[HTTPServer]:
    with loopback_server(threaded=True) as server:  # one per module: stopping a server costs half a second
        yield server


@pytest.fixture
def gate(_server: HTTPServer) -> Iterator[HTTPServer]:
    yield _server
    _server.clear()


@pytest.fixture(scope="module")
def backend(registry_factory: RegistryFactory) -> LocalRegistry:
    return registry_factory("identity-backend")


def _host(gate: OAuthGate) -> str:
    return gate.url.split("://")[1]


def _config(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _identity_config(tmp_path: Path, host: str) -> Path:
    # What `docker login` writes for an identity token: `auth` is base64("user:") beside it.
    return _config(tmp_path, {"auths": {host: {"auth": base64.b64encode(b"alice:").decode(),
                                               "identitytoken": IDENTITY}}})


def test_identity_token_from_auths_is_exchanged_like_docker(
    gate: HTTPServer, backend: LocalRegistry, registry_images: dict[str, Path], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    oauth = OAuthGate(gate, backend)
    creds = Credentials(_identity_config(tmp_path, _host(oauth)))
    auth = creds(_host(oauth))
    assert auth.name == "docker-config identity token" and auth.username is None
    caplog.set_level(logging.DEBUG)
    with RegistryClient(_host(oauth), auth=auth) as client:
        digest = imagetar.push_image_tarball(client, registry_images["amd64"], "idt/hello", "v1")
        head = client.head_manifest("idt/hello", "v1")
        assert head is not None and head.digest == digest
        assert client.list_tags("idt/hello") == ["v1"]
    assert oauth.token_queries == []  # never the GET flow: the identity token is no password
    first = oauth.forms[0]
    assert first["grant_type"] == ["refresh_token"] and first["refresh_token"] == [IDENTITY]
    assert first["client_id"] == ["krel"] and first["service"] == ["krel-test"]
    assert first["scope"] == ["repository:idt/hello:pull,push"]  # one space-separated field, as Docker sends it
    assert 1 <= len(oauth.forms) <= 3  # cached per scope
    assert IDENTITY not in caplog.text


def test_rotated_refresh_token_is_used_for_the_next_scope(
    gate: HTTPServer, backend: LocalRegistry, registry_images: dict[str, Path], tmp_path: Path
) -> None:
    oauth = OAuthGate(gate, backend, rotate=True)
    auth = Credentials(_identity_config(tmp_path, _host(oauth)))(_host(oauth))
    with RegistryClient(_host(oauth), auth=auth) as client:
        imagetar.push_image_tarball(client, registry_images["arm64"], "idt/one", "v1")
        assert client.head_manifest("idt/two", "v1") is None  # a new scope: a second exchange, with the rotated token
    sent = [f["refresh_token"][0] for f in oauth.forms]
    assert sent[0] == IDENTITY and sent[-1] == ROTATED and len(sent) >= 2
    assert json.loads((tmp_path / "docker" / "config.json").read_text())[
        "auths"][_host(oauth)]["identitytoken"] == IDENTITY  # kept in memory only: config.json is not rewritten


def test_identity_token_from_a_credential_helper(
    gate: HTTPServer, backend: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth = OAuthGate(gate, backend)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-krel-idt"
    helper.write_text(f'#!/bin/sh\nread host\necho \'{{"Username": "<token>", "Secret": "{IDENTITY}"}}\'\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    auth = Credentials(_config(tmp_path, {"credHelpers": {_host(oauth): "krel-idt"}}))(_host(oauth))
    with RegistryClient(_host(oauth), auth=auth) as client:
        assert client.head_manifest("idt/none", "v1") is None
    assert oauth.forms[0]["refresh_token"] == [IDENTITY]


# Hostile token servers: each is one line naming the registry and the token service, never the token.
REFUSALS = {
    "invalid-grant": (Response('{"error": "invalid_grant", "error_description": "token ' + IDENTITY + ' revoked"}',
                               status=400, content_type="application/json"),
                      r"refused the docker-config identity token credentials \(HTTP 400: invalid_grant\) for "
                      r"repository:idt/x:pull; run `docker login` again"),
    "unauthorized": (Response("nope", status=401),
                     r"refused the docker-config identity token credentials \(HTTP 401\)"),
    "error-code-injection": (Response('{"error": "bad\\u001b[31m grant"}', status=400,
                                      content_type="application/json"),
                             r"\(HTTP 400\) for repository"),
    "get-only-server": (Response("", status=405),
                        r"answered HTTP 405 to the OAuth2 refresh-token grant: it takes no identity tokens"),
    "not-found": (Response("", status=404), r"answered HTTP 404 to the OAuth2 refresh-token grant"),
    "no-access-token": (Response('{"token_type": "bearer"}', content_type="application/json"),
                        r"returned no token"),
    "not-json": (Response("<html>", content_type="text/html"), r"returned no token"),
    "json-list": (Response("[1]", content_type="application/json"), r"returned no token"),
    "token-not-string": (Response('{"access_token": 5}', content_type="application/json"), r"returned no token"),
    "bad-expiry": (Response('{"access_token": "a", "expires_in": "soon"}', content_type="application/json"),
                   r"returned no token"),
}


@pytest.mark.parametrize(("answer", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_token_server_refusals_are_one_line_without_the_token(
    gate: HTTPServer, backend: LocalRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    answer: Response, message: str,
) -> None:
    oauth = OAuthGate(gate, backend)
    oauth.answers = [answer] * 50
    auth = Credentials(_identity_config(tmp_path, _host(oauth)))(_host(oauth))
    caplog.set_level(logging.DEBUG)
    with RegistryClient(_host(oauth), auth=auth, retry_budget=1) as client, pytest.raises(ReleaseError) as err:
        client.list_tags("idt/x")
    text = str(err.value)
    assert "\n" not in text and "\x1b" not in text and IDENTITY not in text and IDENTITY not in caplog.text
    assert text.startswith(f"registry {_host(oauth)}: token service 127.0.0.1"), text
    assert re.search(message, text), text


def test_token_service_503_is_retried_then_exchanged(gate: HTTPServer, backend: LocalRegistry, tmp_path: Path) -> None:
    oauth = OAuthGate(gate, backend)
    oauth.answers = [Response("busy", status=503, headers={"Retry-After": "0"})]
    auth = Credentials(_identity_config(tmp_path, _host(oauth)))(_host(oauth))
    with RegistryClient(_host(oauth), auth=auth, backoff=0.01, retry_budget=10) as client:
        assert client.head_manifest("idt/retry", "v1") is None
    assert len(oauth.forms) == 2 and auth.token_requests == 2


HOSTILE_CONFIG = {
    "token-number": ({"identitytoken": 5}, r"auths\.HOST\.identitytoken must be a string of printable ASCII"),
    "token-list": ({"identitytoken": ["a"]}, r"identitytoken must be a string"),
    "token-newline": ({"identitytoken": "abc\r\nX-Evil: 1"}, r"identitytoken must be a string of printable ASCII"),
    "token-unicode": ({"identitytoken": "t\u00f6ken"}, r"identitytoken must be a string of printable ASCII"),
}


@pytest.mark.parametrize(("entry", "message"), HOSTILE_CONFIG.values(), ids=HOSTILE_CONFIG.keys())
def test_hostile_identity_token_entries_are_one_line(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    host = "registry.example.com"
    with pytest.raises(ReleaseError) as err:
        Credentials(_config(tmp_path, {"auths": {host: entry}}))(host)
    text = str(err.value)
    assert "\n" not in text and "X-Evil" not in text
    assert re.search(message.replace("HOST", re.escape(host)), text), text


def test_empty_identity_token_falls_back_to_the_auth_entry(tmp_path: Path) -> None:
    host = "registry.example.com"
    auth = Credentials(_config(tmp_path, {"auths": {host: {"identitytoken": "",
                                                           "auth": base64.b64encode(b"bob:pw").decode()}}}))(host)
    assert auth.username == "bob" and auth.name == "docker-config"
