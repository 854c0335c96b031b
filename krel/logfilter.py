"""A logging filter that masks the value of every secret environment variable."""

from __future__ import annotations

import logging
import os
import re

SECRET_ENV = ("GITHUB_TOKEN", "SENDGRID_API_KEY", "KREL_SMTP_PASSWORD", "DOCKERHUB_TOKEN", "KREL_REGISTRY_PASSWORD")
_CRED_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@")


def secret_values() -> list[str]:
    return [v for k in SECRET_ENV if len(v := os.environ.get(k, "")) >= 4]


def mask(text: str) -> str:
    """Hide secret values and credentials embedded in URLs."""
    for value in secret_values():
        text = text.replace(value, "***")
    return _CRED_URL.sub(r"\g<scheme>***@", text)


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        return True


def install_secret_filter() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
