"""The jinja2 environment over templates/ (shipped as the releng.templates package), and its `safe_url` filter."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from releng import address
from releng.errors import UsageError


def templates_dir() -> Path:
    """templates/ in a checkout (editable install) or releng/templates in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "templates"


def template_path(name: str, profile_dir: Path | None = None) -> Path:
    """The file for templates/<name> that is read as is (Cloud Build configs): the profile's own when its template
    directory has one, else the built-in; the same order the jinja environment below searches."""
    if profile_dir is not None and (profile_dir / name).is_file():
        return profile_dir / name
    return templates_dir() / name


def safe_url(url: object) -> str:
    """The URL if it is a link a page or mail may hold (address.check_link: http(s)/mailto/file, nothing that could
    end the quoted attribute or start a new one); '' stays ''. Anything else is refused loudly, not dropped."""
    text = str(url)
    try:
        address.check_link(text)
    except UsageError as exc:
        raise UsageError(f"link not allowed in a page or mail: {exc}") from None
    return text


@cache
def environment(profile_dir: Path | None = None) -> jinja2.Environment:
    """The environment over the built-in templates, with a profile's own directory searched first when given."""
    builtin = jinja2.FileSystemLoader(str(templates_dir()))
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(profile_dir)), builtin]) if profile_dir else builtin
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # HTML templates escape every value; HTML that is meant as HTML arrives as markupsafe.Markup.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "html.j2"), default=False),
    )
    env.filters["safe_url"] = safe_url
    return env


def render(name: str, *, profile_dir: Path | None = None, **context: Any) -> str:
    """Render templates/<name> with the given data; a profile's template directory overrides the built-in file."""
    return environment(profile_dir).get_template(name).render(**context)
