"""Notes output: krel's markdown (through templates/notes), JSON keyed by PR number, and the HTML page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from releng import templates
from releng.notes.dependencies import Dependencies
from releng.notes.document import DOWNLOAD_GROUPS, Document
from releng.notes.note import ReleaseNote

# Every function takes the profile's template directory (`profile_dir`): its files override the built-in ones.


def downloads_markdown(doc: Document, *, profile_dir: Path | None = None) -> str:
    """The download tables and the Container Images table ('' when there are none)."""
    if not doc.downloads and not doc.images:
        return ""
    return templates.render(
        "notes/downloads.md.j2", profile_dir=profile_dir, downloads=doc.downloads, images=doc.images,
        signing_key_url=doc.signing_key_url,
    )


def notes_markdown(doc: Document, changelog: bool = False, *, profile_dir: Path | None = None) -> str:
    """Security information, urgent upgrade notes and changes by kind (krel's changelog variant when `changelog`)."""
    return templates.render(
        "notes/notes.md.j2",
        profile_dir=profile_dir,
        cves=doc.cves,
        action_required=doc.action_required,
        kinds=doc.kinds,
        changelog=changelog,
    )


def minor_downloads_markdown(doc: Document, tag: str, previous: str, *, profile_dir: Path | None = None) -> str:
    """A minor release's title, Documentation link and download tables, as krel's CreateDownloadsTable writes them."""
    by_title = {group.title: group.files for group in doc.downloads}
    groups = [(title, by_title.get(title, ())) for title, _ in DOWNLOAD_GROUPS]
    return templates.render(
        "changelog/minor_downloads.md.j2",
        profile_dir=profile_dir,
        tag=tag,
        previous=previous,
        files=bool(doc.downloads),
        groups=groups,
        images=doc.images,
    )


def markdown(doc: Document, tag: str, *, profile_dir: Path | None = None) -> str:
    """krel's default notes document (`--format markdown`)."""
    return templates.render(
        "notes/document.md.j2",
        profile_dir=profile_dir,
        tag=tag,
        downloads_md=downloads_markdown(doc, profile_dir=profile_dir),
        notes_md=notes_markdown(doc, profile_dir=profile_dir),
    )


def dependencies_markdown(deps: Dependencies, *, profile_dir: Path | None = None) -> str:
    """### Added / Changed / Removed with `_Nothing has changed._` for empty lists."""
    sections = [("Added", deps.added), ("Changed", deps.changed), ("Removed", deps.removed)]
    return templates.render("notes/dependencies.md.j2", profile_dir=profile_dir, sections=sections)


def notes_json(notes: Iterable[ReleaseNote]) -> str:
    """krel's JSON: an object keyed by PR number (as a string), each a note with krel's field names."""
    data = {str(note.pr_number): note.to_json() for note in notes}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# markdown-it refuses file: links by default; local profiles publish file:// download URLs. Script schemes stay out.
_UNSAFE_LINK = re.compile(r"^\s*(javascript|vbscript|data):", re.IGNORECASE)


class _Markdown(MarkdownIt):  # type: ignore[misc]
    def validateLink(self, url: str) -> bool:  # markdown-it's hook name
        return not _UNSAFE_LINK.match(url)


# krel renders with goldmark's GFM extension: tables and ~~strikethrough~~ (as <del>) here too; bare-URL autolinks not
_MD = _Markdown("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _del(self: object, tokens: list[Token], idx: int, options: object, env: object) -> str:
    return "<del>" if tokens[idx].nesting == 1 else "</del>"


_MD.add_render_rule("s_open", _del)
_MD.add_render_rule("s_close", _del)


def html(markdown_text: str, title: str, *, profile_dir: Path | None = None) -> str:
    """The markdown rendered with markdown-it-py inside krel's page shell."""
    # The one place HTML is made from markdown (raw HTML and script links refused above): the page keeps it as HTML.
    # krel puts the renderer's output in as is, its final newline included
    body = Markup(_MD.render(markdown_text))
    return templates.render("notes/page.html.j2", profile_dir=profile_dir, title=title, body=body)


def heading_html(title: str) -> str:
    """A heading's inline markdown as HTML, the way krel's TOC (mdtoc) writes its link text: `x` -> <code>x</code>."""
    return str(_MD.renderInline(title)).strip()


def heading_text(title: str) -> str:
    """A heading's plain text as krel's TOC takes it for the anchor: text and code spans only (no link targets)."""
    def text(tokens: list[Token]) -> str:
        # nested: an image's alt text and a link's label are text inside their token, as in mdtoc's AST walk
        return "".join(
            t.content if t.type in ("text", "code_inline") else text(t.children or []) for t in tokens
        )

    return text(_MD.parseInline(title))
