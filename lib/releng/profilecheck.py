"""`krel profile check|show|init`: every problem of a profile as file:line, the resolved profile as TOML, and a
starter profile for a new project (written once, never over an existing file)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from releng import names, safeload
from releng.errors import ReleaseError, UsageError
from releng.files import write_atomic
from releng.profile import Problem, Profile, collect_problems, load_profile, profile_path
from releng.templates import render

# `[table]` headers and `key =` lines: enough of TOML to find where a key is written (tomllib gives no positions).
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"']+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


def _plain(key: str) -> str:
    """a . "b" -> a.b (quotes and spaces around dots dropped)."""
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def key_lines(text: str) -> dict[str, int]:
    """Dotted key (and table name) -> the first line that writes it."""
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            table = _plain(header.group(1))
            lines.setdefault(table, number)
        elif key := _KEY.match(line):
            lines.setdefault(f"{table}.{_plain(key.group(1))}" if table else _plain(key.group(1)), number)
    return lines


def line_of(lines: dict[str, int], key: str) -> int:
    """The line of key, else of its nearest enclosing table written in the file (a missing key), else 0."""
    parts = key.split(".")
    while parts:
        if (found := lines.get(".".join(parts))) is not None:
            return found
        parts.pop()
    return 0


def check(name_or_path: str, variables: dict[str, str]) -> list[str]:
    """Every problem of the profile, one `file:line: problem` each (`file: problem` when no line applies)."""
    problems = collect_problems(name_or_path, variables)
    path = profile_path(name_or_path)
    try:
        lines = key_lines(safeload.read_text(path, max_bytes=1 << 20))
    except safeload.InputError:
        lines = {}
    return [_located(str(path), line_of(lines, p.key) if p.key else 0, p) for p in problems]


def _located(path: str, line: int, problem: Problem) -> str:
    message = " ".join(problem.message.split())  # one line per problem, whatever the value held
    if not line and (at := _TOML_LINE.search(message)):  # tomllib names the line in its own words
        line = int(at.group(1))
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"


def resolved(profile: Profile) -> dict[str, Any]:
    """The profile as plain data: every field with its default filled in, placeholders expanded."""
    return dataclasses.asdict(profile)


def to_toml(data: dict[str, Any]) -> str:
    """Plain profile data as TOML (strings, numbers, booleans, lists of strings, tables)."""
    scalars = [f"{k} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    tables = [f"\n[{k}]\n" + "\n".join(f"{sk} = {_value(sv)}" for sk, sv in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(scalars) + "\n" + "\n".join(tables) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):  # a table inside an array ([[packages.package]]): an inline table
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


@dataclasses.dataclass(frozen=True)
class Starter:
    """What `krel profile init` asks for; everything else gets a local, offline default."""

    path: Path
    name: str
    product: str
    upstream: str
    org: str
    repo: str
    build_command: str = "make release"


def init(starter: Starter, variables: dict[str, str]) -> Path:
    """Write a starter profile to starter.path (refused when anything is there), checked before it is written."""
    if not _SLUG.fullmatch(starter.name):
        raise UsageError(f"profile init: name {starter.name!r} must be lower-case letters, digits, '.', '_' or '-' "
                         "(it names buckets and registry repositories)")
    _check_fields(starter)
    path = starter.path.expanduser().absolute()
    if path.exists() or path.is_symlink():
        raise UsageError(f"profile init: {path} already exists; choose another path (an existing file is never "
                         "overwritten)")
    # a JSON string is a TOML basic string
    quoted: dict[str, Any] = {k: json.dumps(v) for k, v in _fields(starter).items()}
    text = render("profile/starter.toml.j2", slug=starter.name, **quoted)
    try:
        write_atomic(path, text, exclusive=True)
    except FileExistsError:
        raise UsageError(f"profile init: {path} already exists; an existing file is never overwritten") from None
    except OSError as exc:
        raise ReleaseError(f"profile init: cannot write {path}: {exc.strerror or exc}") from exc
    problems = check(str(path), variables)
    if problems:  # a bad --upstream or --org: say so, and leave the file for editing
        raise UsageError(f"profile init: wrote {path}, but it needs fixing: {'; '.join(problems)}")
    load_profile(path, variables)
    return path


def _check_fields(starter: Starter) -> None:
    """No control character in any option, before anything is written (it would land in the file as is)."""
    for option, value in _fields(starter).items():
        try:
            names.check_text(value)
        except names.InvalidValue as exc:
            flag = {"profile_name": "name", "build_command": "build"}.get(option, option)
            raise UsageError(f"profile init --{flag}: {exc}") from None


def _fields(starter: Starter) -> dict[str, str]:
    # `name` is render()'s own first argument: the template calls it profile_name
    return {("profile_name" if f.name == "name" else f.name): str(getattr(starter, f.name))
            for f in dataclasses.fields(starter) if f.name != "path"}
