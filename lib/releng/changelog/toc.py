"""CHANGELOG-X.Y.md layout: the generated TOC between krel's MUNGE markers, GitHub anchors, sections per tag."""

from __future__ import annotations

import re
from dataclasses import dataclass

from releng import templates
from releng.errors import ReleaseError

TOC_BEGIN = "<!-- BEGIN MUNGE: GENERATED_TOC -->"
TOC_END = "<!-- END MUNGE: GENERATED_TOC -->"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_NOT_ANCHOR = re.compile(r"[^\w\- ]", re.UNICODE)


@dataclass(frozen=True)
class TocEntry:
    """One TOC line: nesting depth, heading text, anchor."""

    depth: int
    title: str
    anchor: str


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return _NOT_ANCHOR.sub("", title.strip().lower()).replace(" ", "-")


def _headings(markdown: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    in_fence = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).strip()))
    return found


def toc_entries(markdown: str) -> list[TocEntry]:
    """One entry per heading, nested by level; repeated anchors get -1, -2 ... as on GitHub (mdtoc)."""
    headings = _headings(markdown)
    if not headings:
        return []
    top = min(level for level, _ in headings)
    counts: dict[str, int] = {}
    entries = []
    for level, title in headings:
        base = anchor(title)
        n = counts.get(base, 0)
        counts[base] = n + 1
        entries.append(TocEntry(level - top, title, base if n == 0 else f"{base}-{n}"))
    return entries


def _body(content: str, path: str) -> str:
    index = content.find(TOC_END)
    if index < 0:
        raise ReleaseError(f"{path}: table of contents end marker {TOC_END!r} not found; cannot prepend the notes")
    return content[index + len(TOC_END) :].lstrip("\n")


def _section_span(body: str, tag: str) -> tuple[int, int] | None:
    """Start and end offsets of the `# <tag>` section in body, if it is there."""
    lines = body.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    start = None
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or not line.startswith("# "):
            continue
        if start is not None:
            return start, offsets[i]
        if line[2:].strip() == tag:
            start = offsets[i]
    return (start, len(body)) if start is not None else None


def merge(existing: str | None, section: str, tag: str, path: str) -> str:
    """The file with `section` prepended (or replacing the same tag's section) and the TOC regenerated."""
    body = "" if existing is None else _body(existing, path)
    span = _section_span(body, tag)
    body = body[: span[0]] + section + body[span[1] :] if span else section + body
    return templates.render("changelog/file.md.j2", begin=TOC_BEGIN, end=TOC_END, entries=toc_entries(body), body=body)


def readme_with(existing: str | None, filename: str) -> str:
    """CHANGELOG/README.md with `- [file](./file)` inserted before the first list entry (once)."""
    line = f"- [{filename}](./{filename})"
    if existing is None:
        return templates.render("changelog/readme.md.j2", entries=[filename])
    lines = existing.split("\n")
    if line in lines:
        return existing
    for i, current in enumerate(lines):
        if current.startswith("- "):
            return "\n".join([*lines[:i], line, *lines[i:]])
    return existing.rstrip("\n") + "\n\n" + line + "\n"
