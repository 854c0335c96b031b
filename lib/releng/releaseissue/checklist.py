"""PURE: the cut issue's checklist: its items, what each shows, and krel's marked block inside a human-edited body.

Only the text between the two markers is krel's; everything around it belongs to the release team and is kept byte
for byte. The block carries its state as JSON in an HTML comment, so a rerun reads back exactly what it wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from releng import address
from releng.errors import ReleaseError
from releng.names import InvalidValue

BEGIN = "<!-- krel:release-issue:begin (krel rewrites everything up to the end marker) -->"
END = "<!-- krel:release-issue:end -->"
_STATE = re.compile(r"<!-- krel:release-issue:state (?P<json>\{.*?\}) -->")
# A box a human ticked inside the block: "- [x] ... <!-- krel:item KEY -->"
_TICK = re.compile(r"^\s*[-*] \[(?P<box>[ xX])\] .*<!-- krel:item (?P<key>[a-z-]+) -->\s*$", re.M)
_BEGIN_PREFIX = "<!-- krel:release-issue:begin"


@dataclass(frozen=True)
class Item:
    """One line of the checklist and the job that fills it in ("" = filled in by another command)."""

    key: str
    label: str
    job: str = ""  # stage | release
    nomock: bool = False


ITEMS = (
    Item("mock-stage", "Mock stage", "stage", False),
    Item("mock-release", "Mock release", "release", False),
    Item("stage", "Stage", "stage", True),
    Item("release", "Release", "release", True),
    Item("packages", "Packages (deb, rpm)"),
    Item("announce", "Announce"),
)
KEYS = tuple(item.key for item in ITEMS)


@dataclass(frozen=True)
class Run:
    """One piece of evidence for an item: a finished job from the history, this run, or the announcement sent."""

    key: str  # an Item key
    succeeded: bool
    result: str  # as the issue shows it: "Yes", "No, Timeout", "sent to ..."
    link: str = ""
    start: str = ""  # ISO 8601 UTC; orders runs of one item
    duration: str = ""  # HH:MM:SS
    command: str = ""


@dataclass(frozen=True)
class Entry:
    """What one item shows; `by_hand` when a release manager ticked it and krel has no evidence."""

    done: bool = False
    result: str = ""
    link: str = ""
    start: str = ""
    duration: str = ""
    command: str = ""
    by_hand: bool = False


def best_run(runs: Iterable[Run]) -> Run | None:
    """The latest successful run, else the latest run: a failed retry never hides a success."""
    ordered = sorted(runs, key=lambda r: r.start)
    done = [r for r in ordered if r.succeeded]
    chosen = done or ordered
    return chosen[-1] if chosen else None


def merge(previous: Mapping[str, Entry], runs: Iterable[Run]) -> dict[str, Entry]:
    """Each item's entry: its best run, unless the issue already shows a success that run would replace with less."""
    by_item: dict[str, list[Run]] = {}
    for run in runs:
        by_item.setdefault(run.key, []).append(run)
    merged: dict[str, Entry] = {}
    for key in KEYS:
        old = previous.get(key, Entry())
        best = best_run(by_item.get(key, []))
        if best is None or (old.done and not best.succeeded) or (old.done and old.start > best.start):
            merged[key] = old
            continue
        merged[key] = Entry(done=best.succeeded, result=best.result, link=_safe_link(best.link), start=best.start,
                            duration=best.duration, command=best.command)
    return merged


def _safe_link(url: str) -> str:
    """A link the issue may hold (address.check_link); anything else is left out rather than breaking the markdown."""
    try:
        address.check_link(url)
    except InvalidValue:
        return ""
    return url


@dataclass(frozen=True)
class Body:
    """An issue body split around krel's block: the team's text before and after, and the block's state."""

    before: str
    after: str
    entries: dict[str, Entry]
    has_block: bool


class DamagedBlockError(ReleaseError):
    """krel's markers in the issue body are not one begin followed by one end."""

    @classmethod
    def at(cls, where: str, begins: int, ends: int) -> DamagedBlockError:
        return cls(
            f"release-issue: {where}: krel's checklist markers are damaged ({begins} begin, {ends} end marker(s), "
            f"expected one of each, begin first); restore them or delete the whole block, and rerun"
        )


def split(body: str, where: str) -> Body:
    """The body around krel's block; a body without the block keeps all its text (the block goes at its end)."""
    text = body.replace("\r\n", "\n")
    begins, ends = text.count(_BEGIN_PREFIX), text.count(END)
    if begins == 0 and ends == 0:
        return Body(before=text, after="", entries={}, has_block=False)
    start, stop = text.find(_BEGIN_PREFIX), text.find(END)
    if begins != 1 or ends != 1 or stop < start:
        raise DamagedBlockError.at(where, begins, ends)
    block = text[start:stop]
    return Body(before=text[:start], after=text[stop + len(END):], entries=_entries(block), has_block=True)


def _entries(block: str) -> dict[str, Entry]:
    """The state krel wrote, plus boxes a human ticked by hand; a state that is not krel's JSON counts as empty."""
    entries: dict[str, Entry] = {}
    match = _STATE.search(block)
    if match:
        try:
            raw = json.loads(match.group("json"))
        except ValueError:
            raw = {}
        if isinstance(raw, dict):
            entries = {key: entry for key, value in raw.items() if key in KEYS and (entry := _entry(value))}
    for tick in _TICK.finditer(block):
        key, ticked = tick.group("key"), tick.group("box") != " "
        old = entries.get(key, Entry())
        if key in KEYS and ticked and not old.done:
            entries[key] = replace(old, done=True, by_hand=True)
        elif key in KEYS and not ticked and old.by_hand:
            entries[key] = Entry()  # un-ticked by hand again
    return entries


_FIELDS = {f.name: f.type for f in fields(Entry)}


def _entry(value: Any) -> Entry | None:
    """An Entry from the state's JSON, or None when it has another shape (edited by hand, or not krel's)."""
    if not isinstance(value, dict) or set(value) - set(_FIELDS):
        return None
    for name, item in value.items():
        expected = bool if _FIELDS[name] == "bool" else str
        if not isinstance(item, expected):
            return None
    entry = Entry(**value)
    return replace(entry, link=_safe_link(entry.link))


def state_comment(entries: Mapping[str, Entry]) -> str:
    """The block's state line: compact JSON with '-', '<' and '>' escaped, so nothing in it can end the HTML comment
    or open a tag: the result is always one comment."""
    data = {key: asdict(entries[key]) for key in KEYS if key in entries and entries[key] != Entry()}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    for raw, escaped in (("-", "\\u002d"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(raw, escaped)  # JSON escapes that keep the comment one comment (no "--", no tags)
    return f"<!-- krel:release-issue:state {text} -->"


def join(parts: Body, block: str) -> str:
    """The new body: the team's text untouched, krel's block (begin to end marker) in its place or at the end."""
    if parts.has_block:
        return f"{parts.before}{block}{parts.after}"
    before = parts.before.rstrip("\n")
    glue = "\n\n" if before else ""
    return f"{before}{glue}{block}\n"
