"""The HTTP service in-process (Starlette TestClient, no sockets): statuses for hostile bodies and senders, and the
service keeps serving after each."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from releng.promo.audit.app import ServeOptions, create_app, parse_listen
from releng.promo.audit.auth import HeaderCheck, OidcCheck, SenderError
from releng.promo.audit.service import Auditor
from starlette.testclient import TestClient

from tests.unit._audit_common import D_IMAGE, D_OTHER, REPO, push_body, ready_auditor

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AUD = "https://audit.example.test/"
SA = "pusher@p.iam.gserviceaccount.com"
OIDC = OidcCheck(AUD, lambda token: KEY.public_key(), email=SA)


def token(key: Any = KEY, **over: Any) -> str:
    now = int(time.time())
    claims = {"aud": AUD, "iss": "https://accounts.google.com", "iat": now, "exp": now + 600, "email": SA,
              "email_verified": True, **over}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256")


def client(tmp_path: Path, **options: Any) -> tuple[TestClient, Auditor]:
    auditor = ready_auditor(tmp_path)
    opts = ServeOptions(registry_host="127.0.0.1:5000", max_body=4096, **options)
    return TestClient(create_app(auditor, opts), raise_server_exceptions=False), auditor


def good(message_id: str = "1") -> bytes:
    return push_body({"action": "INSERT", "digest": f"{REPO}@{D_IMAGE}", "tag": f"{REPO}:1.0"}, message_id)


def test_verdicts_over_http(tmp_path: Path) -> None:
    http, _ = client(tmp_path)
    assert http.post("/", content=good()).json()["verdicts"][0]["verdict"] == "VERIFIED"
    bad = push_body({"action": "INSERT", "digest": f"{REPO}@{D_OTHER}", "tag": f"{REPO}:evil"}, "2")
    assert http.post("/pubsub", content=bad).json()["verdicts"][0]["verdict"] == "REJECTED"
    assert http.get("/healthz").json()["rejected"] == 1


HOSTILE_BODIES = {
    "empty": (b"", 400),
    "not-json": (b"<xml/>", 400),
    "unknown-action": (push_body({"action": "PATCH", "digest": f"{REPO}@{D_IMAGE}"}), 400),
    "oversized": (b"{" + b" " * 5000 + b"}", 413),
    "oversized-valid-json": (json.dumps({"message": {"data": "A" * 8000, "messageId": "1"}}).encode(), 413),
}


@pytest.mark.parametrize("body,status", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_bodies_then_keeps_serving(tmp_path: Path, body: bytes, status: int) -> None:
    http, _ = client(tmp_path)
    answer = http.post("/", content=body)
    assert answer.status_code == status and answer.json()["error"]
    assert http.post("/", content=good("after")).status_code == 200


def test_oversized_streamed_body_without_length(tmp_path: Path) -> None:
    http, _ = client(tmp_path)

    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 1000

    assert http.post("/", content=chunks()).status_code == 413


def test_internal_failure_is_500_then_redelivery_judged(tmp_path: Path) -> None:
    http, auditor = client(tmp_path)
    index, auditor.source.index = auditor.source.index, None
    assert http.post("/", content=good("r")).status_code == 500
    auditor.source.index = index
    assert http.post("/", content=good("r")).json()["verdicts"][0]["verdict"] == "VERIFIED"


def test_registry_notifications_off_without_host(tmp_path: Path) -> None:
    auditor = ready_auditor(tmp_path)
    http = TestClient(create_app(auditor, ServeOptions()))
    assert http.post("/registry", content=b"{}").status_code == 404


# Headers are made when each test runs: a token minted at collection could expire before a long suite reaches it.
SENDERS: dict[str, tuple[Callable[[], dict[str, str]], int]] = {
    "no-header": (lambda: {}, 401),
    "not-bearer": (lambda: {"Authorization": "Basic abc"}, 401),
    "garbage-token": (lambda: {"Authorization": "Bearer abc.def.ghi"}, 401),
    "wrong-audience": (lambda: {"Authorization": f"Bearer {token(aud='https://other/')}"}, 401),
    "wrong-issuer": (lambda: {"Authorization": f"Bearer {token(iss='https://evil.example')}"}, 401),
    "expired": (lambda: {"Authorization": f"Bearer {token(exp=int(time.time()) - 3600)}"}, 401),
    "no-exp": (lambda: {"Authorization": f"Bearer {token(exp=None)}"}, 401),
    "other-signer": (lambda: {"Authorization": f"Bearer {token(OTHER_KEY)}"}, 401),
    "wrong-email": (lambda: {"Authorization": f"Bearer {token(email='x@evil.test')}"}, 401),
    "unverified-email": (lambda: {"Authorization": f"Bearer {token(email_verified=False)}"}, 401),
    "alg-none": (lambda: {"Authorization": "Bearer " + jwt.encode({"aud": AUD}, None, algorithm="none")}, 401),
    "hs256-with-public-key": (
        lambda: {"Authorization": "Bearer " + jwt.encode({"aud": AUD}, "secret", algorithm="HS256")}, 401),
    "huge-token": (lambda: {"Authorization": "Bearer " + "a" * 10000}, 401),
    "valid": (lambda: {"Authorization": f"Bearer {token()}"}, 200),
}


@pytest.mark.parametrize("headers,status", SENDERS.values(), ids=SENDERS.keys())
def test_push_sender_checks(tmp_path: Path, headers: Callable[[], dict[str, str]], status: int) -> None:
    http, _ = client(tmp_path, oidc=OIDC)
    assert http.post("/", content=good(), headers=headers()).status_code == status


REGISTRY_SENDERS = {"missing": ({}, 401), "wrong": ({"Authorization": "Bearer nope"}, 401),
                    "prefix-only": ({"Authorization": "Bearer s3cr"}, 401),
                    "right": ({"Authorization": "Bearer s3cret"}, 200)}


@pytest.mark.parametrize("headers,status", REGISTRY_SENDERS.values(), ids=REGISTRY_SENDERS.keys())
def test_registry_sender_checks(tmp_path: Path, headers: dict[str, str], status: int) -> None:
    http, _ = client(tmp_path, registry_header=HeaderCheck("Authorization", "Bearer s3cret"))
    envelope = {"events": [{"id": "e", "action": "pull", "target": {"repository": "prod/foo", "digest": D_IMAGE}}]}
    assert http.post("/registry", json=envelope, headers=headers).status_code == status


def test_sender_error_has_one_line() -> None:
    with pytest.raises(SenderError, match=r"(?i)audience"):
        OIDC.verify({"authorization": f"Bearer {token(aud='x')}"})


@pytest.mark.parametrize("listen,expected", [("127.0.0.1:8080", ("127.0.0.1", 8080)), (":9", ("0.0.0.0", 9)),
                                             ("[::1]:80", ("::1", 80))])
def test_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["8080", "host:", "host:0", "host:70000", "host:http"])
def test_listen_refused(listen: str) -> None:
    with pytest.raises(Exception, match="--listen"):
        parse_listen(listen)
