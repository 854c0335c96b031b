"""The Dependencies section: go.mod `require` lists at two revisions, compared the way go-modiff reports them."""

from __future__ import annotations

import re
from dataclasses import dataclass

# v0.0.0-20210508222113-6edffad5e616 (and vX.Y.Z-0.<ts>-<hash>, vX.Y.Z-pre.0.<ts>-<hash>): a pseudo-version
_PSEUDO = re.compile(r"^v\d+\.\d+\.\d+-(?:[0-9A-Za-z.-]+\.)?(?:0\.)?\d{14}-([0-9a-f]{12})(?:\+incompatible)?$")
_REQUIRE_LINE = re.compile(r"^([^\s()]+)\s+(v[^\s]+)")


@dataclass(frozen=True)
class Change:
    """One module line of the section: the version (or `a → b`) and, for GitHub modules, the page it links to."""

    module: str
    version: str
    url: str = ""  # tree or compare page on GitHub; "" for other hosts


@dataclass(frozen=True)
class Dependencies:
    """The three lists of the Dependencies section."""

    added: tuple[Change, ...]
    changed: tuple[Change, ...]
    removed: tuple[Change, ...]


def parse_go_mod(content: str) -> dict[str, str]:
    """module -> version for every `require` entry (single lines and blocks; comments dropped)."""
    modules: dict[str, str] = {}
    in_block = False
    for raw in content.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
                continue
            match = _REQUIRE_LINE.match(line)
        elif line.startswith("require"):
            rest = line[len("require") :].strip()
            if rest == "(":
                in_block = True
                continue
            match = _REQUIRE_LINE.match(rest)
        else:
            continue
        if match:
            modules[match.group(1)] = match.group(2)
    return modules


def _short(version: str) -> str:
    """Pseudo-versions shrink to the 7-character commit prefix, as go-modiff prints them."""
    match = _PSEUDO.match(version)
    return match.group(1)[:7] if match else version


def _on_github(module: str, path: str) -> str:
    return f"https://{module}/{path}" if module.startswith("github.com/") else ""


def _one(module: str, version: str) -> Change:
    short = _short(version)
    return Change(module, short, _on_github(module, f"tree/{short}"))


def diff(before: str, after: str) -> Dependencies:
    """Added / changed / removed modules between two go.mod contents, sorted by module path."""
    old, new = parse_go_mod(before), parse_go_mod(after)
    added, changed, removed = [], [], []
    for module in sorted(set(old) | set(new)):
        if module not in old:
            added.append(_one(module, new[module]))
        elif module not in new:
            removed.append(_one(module, old[module]))
        elif old[module] != new[module]:
            a, b = _short(old[module]), _short(new[module])
            changed.append(Change(module, f"{a} → {b}", _on_github(module, f"compare/{a}...{b}")))
    return Dependencies(tuple(added), tuple(changed), tuple(removed))
