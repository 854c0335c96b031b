"""The jinja2 environment over templates/ (shipped as the releng.templates package), and its `safe_url` filter."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from releng.errors import UsageError

# Links a reader may follow from a page or a mail: the web, mail, and file:// for the local profile's buckets.
SAFE_SCHEMES = frozenset({"https", "http", "mailto", "file"})
# Nothing that could end an attribute or a markdown link, or hide in a reader's view of the link.
_UNSAFE_URL_CHARS = re.compile(r"[\s\"'<>`\\\x00-\x1f\x7f]")


def templates_dir() -> Path:
    """templates/ in a checkout (editable install) or releng/templates in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "templates"


def safe_url(url: object) -> str:
    """The URL if it is an https/http/mailto/file link with nothing that could break out of an attribute; '' stays ''.

    Anything else (javascript:, data:, a quote or a space that would start a new attribute) is refused loudly.
    """
    text = str(url)
    if not text:
        return ""
    scheme = urlsplit(text).scheme.lower()
    if scheme not in SAFE_SCHEMES or _UNSAFE_URL_CHARS.search(text):
        raise UsageError(
            f"link {text!r} is not allowed: expected an {'/'.join(sorted(SAFE_SCHEMES))} URL "
            "without spaces, quotes or angle brackets"
        )
    return text


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # HTML templates escape every value; HTML that is meant as HTML arrives as markupsafe.Markup.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "html.j2"), default=False),
    )
    env.filters["safe_url"] = safe_url
    return env


def render(name: str, **context: Any) -> str:
    """Render templates/<name> with the given data."""
    return environment().get_template(name).render(**context)
