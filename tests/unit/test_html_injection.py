"""Untrusted values in HTML pages and mails are escaped; links are quoted and only http(s)/mailto/file."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from releng import templates
from releng.announce import compose
from releng.errors import UsageError
from releng.notes import render
from releng.profile import Profile, load_profile

SCRIPT = "<script>alert(1)</script>"


def _go(profile: Any) -> Any:
    """The profile with krel's Go toolchain line (the go_version then reaches the page)."""
    from releng.profile import Announce

    return dataclasses.replace(profile, announce=Announce(toolchain="go"))


@pytest.fixture
def local(tmp_path: Path) -> Profile:
    return load_profile("local", {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})


def _with(profile: Profile, product: str | None = None, **links: str) -> Profile:
    """The profile with a product name or links that a hostile profile file could hold (load checks bypassed)."""
    return dataclasses.replace(
        profile, product=product or profile.product, links=dataclasses.replace(profile.links, **links)
    )


def _hrefs(html: str) -> list[str]:
    return re.findall(r"<a\s+href=([^>]*)>", html, flags=re.IGNORECASE)


# (id, how to build the HTML from a profile) for values that must come out as text, never as markup.
ESCAPED = [
    pytest.param(lambda p: compose.build_announcement(_with(p, SCRIPT), "v0.3.0", go_version="1.22").html,
                 id="product-in-release-mail"),
    pytest.param(lambda p: compose.build_branch_announcement(_with(p, SCRIPT), "v0.3.0", "release-0.3").html,
                 id="product-in-branch-mail"),
    pytest.param(lambda p: compose.build_announcement(_go(p), "v0.3.0", go_version=SCRIPT).html,
                 id="go-version"),
    pytest.param(lambda p: compose.build_announcement(_go(p), "v0.3.0",
                                                      go_version='1"><script>alert(1)</script>').html,
                 id="go-version-attribute-breakout"),
    pytest.param(lambda p: render.html("# notes\n", title=f"</title>{SCRIPT}"), id="notes-page-title"),
    pytest.param(lambda p: render.html(f"# notes\n\n{SCRIPT}\n", title="v1"), id="raw-html-in-pr-markdown"),
]


@pytest.mark.parametrize("build", ESCAPED)
def test_untrusted_text_is_escaped(local: Profile, build: object) -> None:
    html = build(local)  # type: ignore[operator]
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html


# Links a hostile profile could carry: refused with one UsageError naming the link.
BAD_LINKS = [
    pytest.param({"changelog": "javascript:alert(1)"}, id="javascript-scheme"),
    pytest.param({"changelog": "JaVaScRiPt:alert(1)"}, id="javascript-mixed-case"),
    pytest.param({"github_release": "data:text/html,<script>alert(1)</script>"}, id="data-scheme"),
    pytest.param({"release_managers": "vbscript:msgbox(1)"}, id="vbscript-scheme"),
    pytest.param({"changelog": "https://x.example/ onmouseover=alert(1)"}, id="event-handler-after-space"),
    pytest.param({"changelog": 'https://x.example/"onmouseover="alert(1)'}, id="attribute-quote-breakout"),
    pytest.param({"release_managers": "https://x.example/><script>alert(1)</script>"}, id="tag-breakout"),
    pytest.param({"cherry_picks": "//evil.example/x"}, id="scheme-relative"),
]


@pytest.mark.parametrize("links", BAD_LINKS)
def test_hostile_links_are_refused(local: Profile, links: dict[str, str]) -> None:
    profile = _with(local, **links)
    with pytest.raises(UsageError, match="link not allowed"):
        if "cherry_picks" in links:
            compose.build_branch_announcement(profile, "v0.3.0", "release-0.3")
        else:
            compose.build_announcement(profile, "v0.3.0", go_version="1.22")


def test_every_link_is_a_quoted_attribute(local: Profile) -> None:
    profile = _with(local, release_managers="mailto:release@example.com")
    for html in (
        compose.build_announcement(profile, "v0.3.0", go_version="1.22").html,
        compose.build_branch_announcement(profile, "v0.3.0", "release-0.3").html,
    ):
        hrefs = _hrefs(html)
        assert hrefs and all(h.startswith('"') and h.endswith('"') for h in hrefs), hrefs


@pytest.mark.parametrize("url", ["https://dl.k8s.io/v1", "http://x.example/a?b=1&c=2", "mailto:a@example.com",
                                 "file:///tmp/buckets/release", ""])
def test_safe_url_keeps_allowed_links(url: str) -> None:
    assert templates.safe_url(url) == url


def test_changelog_html_stays_html_and_markdown_links_stay_safe(local: Profile) -> None:
    page = render.html("# v1\n\n[x](javascript:alert(1)) [d](file:///b/v1/a.tar.gz)\n", title="v1")
    assert 'href="file:///b/v1/a.tar.gz"' in page and 'href="javascript' not in page
    html = compose.build_announcement(local, "v0.3.0", go_version="1.22", changelog_html=page).html
    assert "<h1>v1</h1>" in html  # the notes page is embedded as HTML, not escaped twice
