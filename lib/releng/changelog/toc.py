"""CHANGELOG-X.Y.md layout: the generated TOC between krel's MUNGE markers, GitHub anchors, sections per tag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from releng import templates
from releng.errors import ReleaseError
from releng.notes import render
from releng.version import parse_tag

TOC_BEGIN = "<!-- BEGIN MUNGE: GENERATED_TOC -->"
TOC_END = "<!-- END MUNGE: GENERATED_TOC -->"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# CommonMark fences: up to any indent (notes are list items, indented), 3+ backticks or tildes.
_FENCE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")
_NOT_ANCHOR = re.compile(r"[^\w\- ]", re.UNICODE)


@dataclass(frozen=True)
class TocEntry:
    """One TOC line: nesting depth, heading text, anchor, and the link text krel's TOC prints (inline HTML)."""

    depth: int
    title: str
    anchor: str
    link_text: str = ""


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return _NOT_ANCHOR.sub("", title.strip().lower()).replace(" ", "-")


def _headings(markdown: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    fence: tuple[int, str] | None = None  # indent and marker of the open fence
    for raw in markdown.split("\n"):
        line = raw.rstrip("\r")
        if fence is not None:
            indent, marker = fence
            if _closes(line, marker):
                fence = None
                continue
            # a fence opened inside a list item ends with the item: at a less indented, non-blank line
            if not (line.strip() and len(line) - len(line.lstrip(" ")) < indent):
                continue
            fence = None
        opening = _FENCE.match(line)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            fence = (len(opening.group(1)), opening.group(2))
            continue
        match = _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).strip()))
    return found


def _closes(line: str, marker: str) -> bool:
    """A closing fence: the opening character, at least as many of it, nothing after but spaces."""
    stripped = line.strip()
    return len(stripped) >= len(marker) and stripped == marker[0] * len(stripped)


def toc_entries(markdown: str) -> list[TocEntry]:
    """One entry per heading, nested by level; repeated anchors get -1, -2 ... as on GitHub (mdtoc)."""
    headings = _headings(markdown)
    if not headings:
        return []
    top = min(level for level, _ in headings)
    counts: dict[str, int] = {}
    entries = []
    for level, title in headings:
        base = anchor(render.heading_text(title))
        n = counts.get(base, 0)
        counts[base] = n + 1
        entries.append(TocEntry(level - top, title, base if n == 0 else f"{base}-{n}", render.heading_html(title)))
    return entries


@dataclass(frozen=True)
class _Parsed:
    """An existing file cut where krel writes: what precedes the TOC (kept), the body after it, its newline."""

    prefix: str
    body: str
    newline: str


def _marker_line(content: str, marker: str, start: int = 0) -> re.Match[str] | None:
    # the marker alone on its line: a TOC entry or a note that quotes it is not the marker
    return re.compile(rf"^{re.escape(marker)}(\r?)$", re.MULTILINE).search(content, start)


def _parse(content: str, path: str) -> _Parsed:
    end = _marker_line(content, TOC_END)
    if end is None:
        raise ReleaseError(f"{path}: table of contents end marker {TOC_END!r} not found; cannot prepend the notes")
    begin = _marker_line(content[: end.start()], TOC_BEGIN)
    if begin is None:
        raise ReleaseError(f"{path}: table of contents begin marker {TOC_BEGIN!r} not found before its end marker")
    newline = "\r\n" if end.group(1) else "\n"
    body = content[end.end() :]
    # the blank lines after the marker are the template's own
    return _Parsed(prefix=content[: begin.start()], body=body.lstrip("\r\n"), newline=newline)


def _lines(body: str) -> tuple[list[str], list[int]]:
    """Lines without their line ending, and the offset where each starts."""
    lines, offsets, pos = [], [], 0
    for raw in body.split("\n"):
        offsets.append(pos)
        lines.append(raw.rstrip("\r"))
        pos += len(raw) + 1
    return lines, offsets


def _is_release_heading(line: str) -> bool:
    """`# vX.Y.Z[-pre]` at the start of a line: the only thing that begins a section krel did not write itself."""
    if not line.startswith("# "):
        return False
    try:
        parse_tag(line[2:].strip())
    except ReleaseError:
        return False
    return True


def _section_starts(lines: list[str], tag: str) -> list[int]:
    """Lines where krel's section for tag begins: `# <tag>`, blank lines, then a `## ` heading (its template)."""
    starts = []
    for i, line in enumerate(lines):
        if line != f"# {tag}":
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j > i + 1 and j < len(lines) and lines[j].startswith("## "):
            starts.append(i)
    return starts


def _section_span(body: str, section: str | None, tag: str, path: str) -> tuple[int, int] | None:
    """Start and end offsets of the `# <tag>` section in body, if it is there.

    The section ends at the next `# <release tag>` line: notes are indented list items, so nothing they contain
    (fences of any kind, headings, comments) can end it later than the next release, only ever earlier. A section
    identical to what krel writes now is matched whole, so a rerun changes nothing whatever the notes hold.
    """
    lines, offsets = _lines(body)
    starts = _section_starts(lines, tag)
    for i in starts:
        if section is None:
            break
        start = offsets[i]
        rest = body[start + len(section) :]
        if body.startswith(section, start) and (not rest or _is_release_heading(rest.split("\n", 1)[0].rstrip("\r"))):
            return start, start + len(section)
    if not starts:
        return None
    if len(starts) > 1:
        raise ReleaseError(
            f"{path}: {len(starts)} sections are headed '# {tag}'; cannot tell which one to replace (edit it by hand)"
        )
    start = offsets[starts[0]]
    for i in range(starts[0] + 1, len(lines)):
        if _is_release_heading(lines[i]):
            return start, offsets[i]
    return start, len(body)


def existing_section(existing: str | None, tag: str, path: str) -> str | None:
    """The tag's section as the file holds it now, None when the file or the section is not there."""
    if existing is None:
        return None
    body = _parse(existing, path).body
    span = _section_span(body, None, tag, path)
    return body[span[0] : span[1]] if span else None


def merge(existing: str | None, section: str, tag: str, path: str, *, profile_dir: Path | None = None) -> str:
    """The file with `section` prepended (or replacing the same tag's section) and the TOC regenerated.

    Everything else in an existing file stays byte for byte: what precedes the TOC, every other section, its line
    endings (a CRLF file gets the new section and TOC in CRLF).
    """
    parsed = _Parsed("", "", "\n") if existing is None else _parse(existing, path)
    section = section.replace("\n", parsed.newline) if parsed.newline != "\n" else section
    body = parsed.body
    span = _section_span(body, section, tag, path)
    body = body[: span[0]] + section + body[span[1] :] if span else section + body
    entries = toc_entries(body)
    head = templates.render(
        "changelog/file.md.j2", profile_dir=profile_dir, begin=TOC_BEGIN, end=TOC_END, entries=entries, body=""
    )
    if parsed.newline != "\n":
        head = head.replace("\n", parsed.newline)
    return parsed.prefix + head + body


def readme_with(existing: str | None, filename: str, *, profile_dir: Path | None = None) -> str:
    """CHANGELOG/README.md with `- [file](./file)` inserted before the first list entry (once)."""
    line = f"- [{filename}](./{filename})"
    if existing is None:
        return templates.render("changelog/readme.md.j2", profile_dir=profile_dir, entries=[filename])
    lines = existing.split("\n")
    if line in lines:
        return existing
    for i, current in enumerate(lines):
        if current.startswith("- "):
            return "\n".join([*lines[:i], line, *lines[i:]])
    return existing.rstrip("\n") + "\n\n" + line + "\n"
