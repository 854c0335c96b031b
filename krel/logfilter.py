"""A logging filter that masks the value of every secret environment variable."""

from __future__ import annotations

import logging
import os

from releng import secrets


def mask(text: str) -> str:
    """Hide secret values and credentials embedded in URLs."""
    text = secrets.mask(text, secrets.secret_values(os.environ))
    return secrets.strip_url_credentials(text)


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        return True


def install_secret_filter() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
