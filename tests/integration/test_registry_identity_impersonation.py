"""Google ADC -> impersonated service account, offline: google-auth's real flow against a local server answering
like Google's OAuth2 token endpoint (a service-account key's signed JWT; google-auth sends an authorized user's refresh
token to Google whatever its token_uri says, so that kind cannot be served locally) and
the IAM credentials API's `generateAccessToken`, reached through the endpoint krel passes in (iam_endpoint). The
service account's token then opens a registry (test_registry_auth's BearerGate in front of a real registry) as
`oauth2accesstoken`, as gcr.io and Artifact Registry take it. No token ever shows in an error or a log line."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError
from releng.registry import auth, imagetar
from releng.registry.client import RegistryClient
from releng.registry.credentials import Credentials
from releng.registry.localserver import LocalRegistry
from werkzeug import Request, Response

from tests.fixtures._httpstub import loopback_server
from tests.fixtures.registry import RegistryFactory
from tests.integration.test_registry_auth import BearerGate, _service_account_file

SA = "k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com"
SOURCE_TOKEN = "ya29.c.source-adc-access-token-3f9a"
SA_TOKEN = "ya29.c.impersonated-promoter-token-8e1b"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_IAM_PATH = re.compile(r"^/v1/projects/-/serviceAccounts/(?P<account>[^/]+):generateAccessToken$")


class Google:
    """Google's OAuth2 token endpoint and IAM credentials API, answering as they do; records what was asked."""

    def __init__(self, server: HTTPServer) -> None:
        self.url = server.url_for("").rstrip("/")
        self.key_file: Path | None = None
        self.grants: list[dict[str, str]] = []
        self.iam_calls: list[tuple[str, str, dict[str, object]]] = []  # (account, authorization, body)
        self.iam_answers: list[Response] = []  # the next answers of generateAccessToken, then the real one
        self.token_answers: list[Response] = []
        self.lock = threading.Lock()
        server.expect_request("/oauth2/token", method="POST").respond_with_handler(self.token)
        server.expect_request(_IAM_PATH, method="POST").respond_with_handler(self.iam)

    def token(self, request: Request) -> Response:
        form = request.form.to_dict()
        with self.lock:
            self.grants.append(form)
            if self.token_answers:
                return self.token_answers.pop(0)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _google_error(400, "unsupported_grant_type")
        assert self.key_file is not None
        info = json.loads(self.key_file.read_text())
        public = load_pem_private_key(info["private_key"].encode(), None).public_key()
        # google-auth signs for Google's token endpoint whatever token_uri says, as Google expects.
        claims = jwt.decode(form["assertion"], public, algorithms=["RS256"], audience="https://oauth2.googleapis.com/token")
        if claims["iss"] != info["client_email"]:
            return _google_error(400, "invalid_grant")
        return Response(json.dumps({"access_token": SOURCE_TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
                        content_type="application/json")

    def iam(self, request: Request) -> Response:
        match = _IAM_PATH.match(request.path)
        assert match is not None
        body = json.loads(request.get_data())
        with self.lock:
            self.iam_calls.append((match["account"], request.headers.get("Authorization", ""), body))
            if self.iam_answers:
                return self.iam_answers.pop(0)
        if request.headers.get("Authorization") != f"Bearer {SOURCE_TOKEN}":
            return _iam_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if match["account"] != SA:
            return _iam_error(404, "NOT_FOUND", f"Unknown service account {match['account']}.")
        expire = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        return Response(json.dumps({"accessToken": SA_TOKEN, "expireTime": expire.strftime("%Y-%m-%dT%H:%M:%SZ")}),
                        content_type="application/json")


def _google_error(status: int, code: str) -> Response:
    return Response(json.dumps({"error": code, "error_description": "Invalid grant: account not found"}),
                    status=status, content_type="application/json")


def _iam_error(status: int, word: str, message: str) -> Response:
    return Response(json.dumps({"error": {"code": status, "message": message, "status": word}}), status=status,
                    content_type="application/json")


@pytest.fixture(scope="module")
def _server() -> Iterator[HTTPServer]:
    with loopback_server(threaded=True) as server:
        yield server


@pytest.fixture
def google(_server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Google]:
    """The stand-in, with ADC a service-account key whose token_uri is the stand-in's."""
    stand_in = Google(_server)
    stand_in.key_file = _service_account_file(tmp_path, f"{stand_in.url}/oauth2/token")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(stand_in.key_file))
    yield stand_in
    _server.clear()


@pytest.fixture(scope="module")
def backend(registry_factory: RegistryFactory) -> LocalRegistry:
    return registry_factory("impersonation-backend")


def _password(credentials: auth.Auth) -> str:
    header = credentials._basic_header()  # what answering a registry's first challenge sends
    assert header is not None
    return base64.b64decode(header.removeprefix("Basic ")).decode()


def test_impersonated_token_opens_the_registry(
    google: Google, _server: HTTPServer, backend: LocalRegistry, registry_images: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bearer = BearerGate(_server, backend, creds=("oauth2accesstoken", SA_TOKEN))
    creds = auth.google(impersonate=SA, iam_endpoint=google.url)
    with RegistryClient(bearer.url.split("://")[1], auth=creds) as client:
        digest = imagetar.push_image_tarball(client, registry_images["amd64"], "gcr/impersonated", "v1")
        head = client.head_manifest("gcr/impersonated", "v1")
        assert head is not None and head.digest == digest
    # One ADC grant (the key's signed JWT) and one generateAccessToken, both reused for the whole run.
    assert [g["grant_type"] for g in google.grants] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    [(account, authorization, body)] = google.iam_calls
    assert account == SA and authorization == f"Bearer {SOURCE_TOKEN}"
    assert body["scope"] == [SCOPE] and body["lifetime"] == "3600s"
    for secret in (SOURCE_TOKEN, SA_TOKEN):
        assert secret not in caplog.text and secret not in repr(creds)


def test_credentials_impersonate_the_manifest_account_on_google_hosts(google: Google, tmp_path: Path) -> None:
    creds = Credentials(tmp_path / "no-docker-config.json", service_accounts={"us-central1-docker.pkg.dev": SA},
                        iam_endpoint=google.url)
    assert _password(creds("us-central1-docker.pkg.dev")) == f"oauth2accesstoken:{SA_TOKEN}"
    assert _password(creds("gcr.io")) == f"oauth2accesstoken:{SOURCE_TOKEN}"  # no account named: ADC itself
    assert [call[0] for call in google.iam_calls] == [SA]


# What the IAM API or the token endpoint answers -> the one line krel prints.
IAM_REFUSALS = {
    "no-token-creator": (_iam_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' "
                                    f"denied on resource (or it may not exist). {SOURCE_TOKEN}"),
                         r"could not be refreshed \(RefreshError: PERMISSION_DENIED\); check the caller has "
                         r"roles/iam\.serviceAccountTokenCreator on it"),
    "account-missing": (_iam_error(404, "NOT_FOUND", "Unknown service account."),
                        r"\(RefreshError: NOT_FOUND\).* and the account exists"),
    "server-error": (_iam_error(500, "INTERNAL", "Internal error encountered."), r"\(RefreshError: INTERNAL\)"),
    "no-access-token": (Response(json.dumps({"expireTime": "2030-01-01T00:00:00Z"}),
                                 content_type="application/json"), r"could not be refreshed \(RefreshError\)"),
    "bad-expire-time": (Response(json.dumps({"accessToken": SA_TOKEN, "expireTime": "tomorrow"}),
                                 content_type="application/json"), r"could not be refreshed \(RefreshError\)"),
    "not-json": (Response("<html>quota</html>", content_type="text/html"), r"could not be refreshed \(RefreshError\)"),
    "status-injection": (_iam_error(403, "DENIED\x1b[2J\nX", "no"), r"\(RefreshError\); check the caller"),
}


@pytest.mark.parametrize(("answer", "message"), IAM_REFUSALS.values(), ids=IAM_REFUSALS.keys())
def test_iam_refusals_are_one_line_without_tokens(google: Google, caplog: pytest.LogCaptureFixture,
                                                  answer: Response, message: str) -> None:
    google.iam_answers = [answer]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ReleaseError) as err:
        _password(auth.google(impersonate=SA, iam_endpoint=google.url))
    text = str(err.value)
    assert text.startswith(f"Google credentials to impersonate {SA} could not be refreshed"), text
    assert re.search(message, text), text
    assert "\n" not in text and "\x1b" not in text
    for secret in (SOURCE_TOKEN, SA_TOKEN):
        assert secret not in text and secret not in caplog.text


SOURCE_REFUSALS = {
    "adc-revoked": (_google_error(400, "invalid_grant"), r"\(RefreshError\); log in again"),
    "key-disabled": (_google_error(401, "invalid_client"), r"\(RefreshError\); log in again"),
    "token-without-access-token": (Response(json.dumps({"expires_in": 3599}), content_type="application/json"),
                                   r"\(RefreshError\); log in again"),
}


@pytest.mark.parametrize(("answer", "message"), SOURCE_REFUSALS.values(), ids=SOURCE_REFUSALS.keys())
def test_adc_refusals_name_the_adc_not_the_account(google: Google, answer: Response, message: str) -> None:
    google.token_answers = [answer] * 10  # asked again to tell which step failed
    with pytest.raises(ReleaseError) as err:
        _password(auth.google(impersonate=SA, iam_endpoint=google.url))
    text = str(err.value)
    assert text.startswith("Google application-default credentials could not be refreshed"), text
    assert re.search(message, text) and "\n" not in text and SOURCE_TOKEN not in text
    assert google.iam_calls == []  # nothing asked of IAM without a source token


def test_unreachable_iam_endpoint_is_one_line(google: Google) -> None:
    with loopback_server() as closed:
        gone = closed.url_for("").rstrip("/")
    with pytest.raises(ReleaseError) as err:
        _password(auth.google(impersonate=SA, iam_endpoint=gone))
    assert re.fullmatch(rf"Google credentials to impersonate {re.escape(SA)} could not be refreshed "
                        r"\((TransportError|RefreshError)\); check .*", str(err.value)), str(err.value)
