"""sig-release note maps (`--maps-from DIR`): load, validate (`krel release-notes validate`) and apply them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releng import safeload
from releng.errors import UsageError
from releng.notes import cve, extract
from releng.notes.note import Cve, Documentation, ReleaseNote

_NOTE_FIELDS = {
    "text": str,
    "author": str,
    "areas": list,
    "kinds": list,
    "sigs": list,
    "feature": bool,
    "action_required": bool,
    "do_not_publish": bool,
    "documentation": list,
    "release_version": str,
}
_PUNCTUATION = (".", "!", "?")


class MapError(UsageError):
    """A map file is not valid YAML or not a valid note map."""


@dataclass(frozen=True)
class NoteMap:
    """One YAML document of a map file."""

    pr: int
    source: str
    commit: str = ""
    releasenote: dict[str, Any] = field(default_factory=dict)
    datafields: dict[str, Any] = field(default_factory=dict)
    pr_body: str | None = None


def map_files(directory: Path) -> list[Path]:
    """The .yaml/.yml files of a maps directory, sorted."""
    if not directory.is_dir():
        raise MapError(f"maps directory {directory} does not exist")
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _documents(path: Path) -> list[Any]:
    # Bounded: an alias bomb, deep nesting or non-UTF-8 bytes is one MapError naming the file, never a hang.
    try:
        return [doc for doc in safeload.load_yaml_all(safeload.read_text(path), str(path)) if doc is not None]
    except safeload.InputError as exc:
        raise MapError(f"map {exc}") from None


def _note_map(doc: Any, where: str) -> NoteMap:
    if not isinstance(doc, dict):
        raise MapError(f"map {where}: each document must be a mapping with a `pr` key")
    pr = doc.get("pr")
    if not isinstance(pr, int) or isinstance(pr, bool):
        raise MapError(f"map {where}: `pr` must be a pull request number, got {pr!r}")
    note = doc.get("releasenote") or {}
    if not isinstance(note, dict):
        raise MapError(f"map {where}: `releasenote` must be a mapping")
    for key, value in note.items():
        expected = _NOTE_FIELDS.get(key)
        if expected is None:
            raise MapError(f"map {where}: unknown key releasenote.{key} (expected one of {', '.join(_NOTE_FIELDS)})")
        if value is not None and not isinstance(value, expected):
            raise MapError(f"map {where}: releasenote.{key} must be a {expected.__name__}, got {value!r}")
    datafields = doc.get("datafields") or {}
    if not isinstance(datafields, dict):
        raise MapError(f"map {where}: `datafields` must be a mapping")
    body = doc.get("pr_body")
    return NoteMap(
        pr=pr,
        source=where,
        commit=str(doc.get("commit") or ""),
        releasenote=note,
        datafields=datafields,
        pr_body=str(body) if body is not None else None,
    )


def load_maps(directories: list[Path]) -> dict[int, list[NoteMap]]:
    """Every map document under the directories, grouped by PR number, in file order."""
    maps: dict[int, list[NoteMap]] = {}
    for directory in directories:
        for path in map_files(directory):
            for doc in _documents(path):
                note_map = _note_map(doc, str(path))
                maps.setdefault(note_map.pr, []).append(note_map)
    return maps


def validate_file(path: Path) -> list[str]:
    """krel's map checks: parses as YAML, each document has `pr`, note text ends with punctuation, CVE data valid."""
    try:
        docs = _documents(path)
        if not docs:
            return [f"{path}: holds no map document"]
        problems = []
        for doc in docs:
            note_map = _note_map(doc, str(path))
            text = note_map.releasenote.get("text")
            if isinstance(text, str) and text.strip() and not text.rstrip().endswith(_PUNCTUATION):
                problems.append(f"{path}: pr {note_map.pr}: release note text must end with punctuation (. ! ?)")
            if "cve" in note_map.datafields:
                try:
                    cve.check(note_map.datafields["cve"])
                except cve.CveError as exc:
                    problems.append(f"{path}: pr {note_map.pr}: {exc}")
        return problems
    except MapError as exc:
        return [str(exc).removeprefix("map ")]


def validate(directory: Path) -> tuple[int, list[str]]:
    """(files checked, problems) for every map file in directory."""
    files = map_files(directory)
    problems = [problem for path in files for problem in validate_file(path)]
    return len(files), problems


def _cve(data: Any, where: str, pr: int) -> Cve:
    """krel refuses to build a document from a map whose CVE entry breaks pkg/cve's rules."""
    try:
        return cve.check(data)
    except cve.CveError as exc:
        raise MapError(f"map {where}: pr {pr}: {exc}") from exc


def apply(note: ReleaseNote, note_map: NoteMap) -> ReleaseNote:
    """Every field present in the map overrides the note's; text, author or SIG changes re-render the markdown."""
    fields = note_map.releasenote
    rerender = False
    if fields.get("text") is not None:
        note.text, rerender = str(fields["text"]).strip(), True
    if fields.get("author") is not None:
        note.author, rerender = str(fields["author"]), True
        note.author_url = f"https://github.com/{note.author}"
    for key in ("areas", "kinds", "sigs"):
        if fields.get(key) is not None:
            setattr(note, key, [str(v) for v in fields[key]])
            rerender = rerender or key == "sigs"
    for key in ("feature", "action_required"):
        if fields.get(key) is not None:
            setattr(note, key, bool(fields[key]))
    if fields.get("do_not_publish") is not None:
        note.do_not_publish = bool(fields["do_not_publish"])
        note.map_hides = note.do_not_publish
    if fields.get("documentation") is not None:
        note.documentation = [
            Documentation(str(d.get("description", "")), str(d.get("url", "")), str(d.get("type", "")))
            for d in fields["documentation"]
            if isinstance(d, dict)
        ]
    if "cve" in note_map.datafields:
        note.cve = _cve(note_map.datafields["cve"], note_map.source, note_map.pr)
    note.duplicate, note.duplicate_kind = len(note.sigs) > 1, len(note.kinds) > 1
    if rerender:
        note.markdown = extract.markdown(
            note.text, note.pr_number, note.author, note.pr_url, note.author_url, note.sigs
        )
    note.is_mapped = True
    return note
