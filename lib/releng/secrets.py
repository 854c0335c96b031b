"""The environment variables that hold secrets, and masking their values out of text."""

from __future__ import annotations

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
