import logging

import pytest

from krel.logfilter import SecretFilter, mask


def test_mask_hides_env_secrets_and_url_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abcdef123456")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.secretkey")
    text = "push https://git:ghp_abcdef123456@github.com/k/k failed; key SG.secretkey"
    masked = mask(text)
    assert "ghp_abcdef123456" not in masked and "SG.secretkey" not in masked
    assert "https://***@github.com/k/k" in masked


def test_filter_rewrites_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_zzzzzzzz")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token is %s", ("ghp_zzzzzzzz",), None)
    assert SecretFilter().filter(record)
    assert record.getMessage() == "token is ***"
