"""Secrets never reach an error or log line: env values, credential patterns, server text, exception text."""

from __future__ import annotations

import io
import logging

import pytest
from releng import secrets
from releng.announce import sendgrid
from releng.github.base import LiveSource

from krel.logfilter import SecretFilter, mask

TOKEN = "ghp_maskingTestToken0123456789abcdefXYZ"
KEY = "SG.maskingTestKey0123.abcdefghijklmnop"
ENV = {"GITHUB_TOKEN": TOKEN, "SENDGRID_API_KEY": KEY, "KREL_SMTP_PASSWORD": "smtp-pass-9876"}

# (text a server or library might produce, the secret that must go, what must stay readable)
LEAKS = [
    pytest.param(f"401: Authorization: token {TOKEN}", TOKEN, "Authorization: ***", id="authorization-token"),
    pytest.param(f'{{"headers": {{"Authorization": "Bearer {TOKEN}"}}}}', TOKEN, "Authorization", id="json-header"),
    pytest.param("authorization=basic dXNlcjpwYXNzd29yZDEyMw==", "dXNlcjpwYXNzd29yZDEyMw==", "authorization=",
                 id="basic-auth"),
    pytest.param("Bearer abcdef0123456789abcdef", "abcdef0123456789abcdef", "Bearer ***", id="bearer-unknown-token"),
    pytest.param("used token 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567",
                 "token ***", id="token-40-hex"),
    pytest.param("api_key=sk_live_0123456789", "sk_live_0123456789", "api_key=***", id="api-key-param"),
    pytest.param('{"x-api-key": "abc123secretvalue"}', "abc123secretvalue", "x-api-key", id="x-api-key-json"),
    pytest.param("key ghp_0123456789abcdefghijABCDEFGHIJ012345 was revoked", "ghp_0123456789abcdefghij", "revoked",
                 id="github-token-format"),
    pytest.param("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG", "", id="github-pat"),
    pytest.param(f"sendgrid rejected {KEY}", KEY, "sendgrid rejected", id="sendgrid-key-env"),
    pytest.param("SG.otherKey0123456.zyxwvutsrqponm is invalid", "SG.otherKey0123456", "is invalid",
                 id="sendgrid-key-format"),
    pytest.param("push https://git:hunter2hunter2@github.com/k/k", "hunter2hunter2", "https://***@github.com",
                 id="url-credentials"),
    pytest.param("login smtp-pass-9876 refused", "smtp-pass-9876", "refused", id="smtp-password-env"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), LEAKS)
def test_scrub_masks_every_known_secret(text: str, secret: str, kept: str) -> None:
    masked = secrets.scrub(text, ENV)
    assert secret not in masked
    assert kept in masked


@pytest.mark.parametrize("text", ["token expired", "the token was invalid", "Authorization required",
                                  "Bearer of bad news"])
def test_ordinary_words_stay(text: str) -> None:
    assert secrets.scrub(text, ENV) == text


def test_log_filter_masks_args_exception_and_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter())
    logger = logging.getLogger("test_secret_masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"server said Authorization: bearer {TOKEN}")
        except RuntimeError:
            logger.exception("call with %s failed", KEY, stack_info=True)
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "Traceback" in out and "RuntimeError" in out
    assert TOKEN not in out and KEY not in out


def test_mask_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREL_REGISTRY_PASSWORD", "reg-pass-1234")
    assert mask("auth reg-pass-1234 failed") == "auth *** failed"


def test_github_server_text_is_masked_and_one_line() -> None:
    source = LiveSource("k", "k", None, token="plain-token-without-format")
    text = source._server_text("Bad credentials\nfor plain-token-without-format\r\nAuthorization: token x1234567")
    assert "plain-token-without-format" not in text and "x1234567" not in text
    assert "\n" not in text and "\r" not in text


def test_sendgrid_error_body_is_masked() -> None:
    body = f'{{"errors": [{{"message": "The provided authorization grant is invalid: Bearer {KEY}"}}]}}'
    reason = sendgrid._server_text(sendgrid._api_error(body), KEY)
    assert KEY not in reason and "authorization grant is invalid" in reason
