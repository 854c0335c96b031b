"""The environment variables that hold secrets, and masking their values out of text."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

# Values of these never reach a log, error, file, job record or build subprocess, whatever a profile says.
SECRET_ENV: tuple[str, ...] = (
    "GITHUB_TOKEN",
    "SENDGRID_API_KEY",
    "KREL_SMTP_PASSWORD",
    "DOCKERHUB_TOKEN",
    "KREL_REGISTRY_PASSWORD",
)
# Shorter values would mask ordinary words and digits in every line.
MIN_SECRET_LEN = 4


def secret_values(environ: Mapping[str, str], names: Collection[str] = SECRET_ENV) -> list[str]:
    """The maskable values of `names` set in `environ`, longest first so no secret is left half-masked."""
    values = {v for n in names if len(v := environ.get(n, "")) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def mask(text: str, values: Iterable[str]) -> str:
    """Replace every occurrence of each value in `values` with `***`."""
    for value in values:
        text = text.replace(value, "***")
    return text


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@")


def strip_url_credentials(text: str) -> str:
    """Hide user:token@ in every URL of text (e.g. https://git:<token>@github.com/...)."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
