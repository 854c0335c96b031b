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
    "KREL_SIGNING_KEY_PASSWORD",
    "KREL_SIGNING_KEY_DATA",  # a key itself, as a Cloud Build job gets it from Secret Manager (releng.gcb.keyfiles)
    "KREL_PACKAGES_GPG_KEY_DATA",
    "KREL_PACKAGES_GPG_PASSPHRASE",
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


# Credentials a server may quote back in an error body (GitHub echoes headers, SendGrid its API key), whether or not
# the value is one of ours: an Authorization header's value, `Bearer x`/`token x` with a token-like x, and the
# formats of GitHub tokens and SendGrid keys.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)(?P<keep>\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;})\]]+"),
    re.compile(r"(?i)(?P<keep>\b(?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"),
    # A word after "token" is a credential only if it has a digit: "token expired" stays readable.
    re.compile(r"(?i)(?P<keep>\b(?:bearer|token|basic)\s+)(?=[A-Za-z0-9_\-.~+/=]*\d)[A-Za-z0-9_\-.~+/=]{8,}"),
    re.compile(r"(?P<keep>)\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|SG\.[\w-]{8,}\.[\w-]{8,})"),
)


def mask_credentials(text: str) -> str:
    """Hide Authorization values, bearer/token/basic credentials and GitHub/SendGrid key formats in text."""
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(r"\g<keep>***", text)
    return text


def scrub(text: str, environ: Mapping[str, str]) -> str:
    """Everything a log or error line must not show: secret env values, credential patterns, URL credentials."""
    return strip_url_credentials(mask_credentials(mask(text, secret_values(environ))))
