"""A logging filter that masks secrets in every record: message, arguments, exception and stack text."""

from __future__ import annotations

import logging
import os

from releng import secrets

_FORMATTER = logging.Formatter()


def mask(text: str) -> str:
    """Hide secret values, credential patterns (Authorization, bearer, tokens) and credentials in URLs."""
    return secrets.scrub(text, os.environ)


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: the traceback (and the exception's message) go out masked.
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def install_secret_filter() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
