"""Bounded loading of YAML, TOML and JSON from outside: a size cap, a nesting-depth cap and (YAML) an alias budget.

A file krel reads (profile, note map, promoter manifest, replay record, image config) can be hostile or broken: an
alias bomb, 20,000 nested brackets, a gzip bomb, bytes that are not UTF-8. Each loader here refuses those in one
line naming the file (`InputError`), before the data reaches code that would recurse or expand it.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from releng.errors import ReleaseError

MAX_BYTES = 64 << 20  # the largest registry.k8s.io manifest is far below 1 MiB; image configs stay under a few MiB
MAX_DEPTH = 64  # manifests, maps, profiles and configs nest fewer than 10 levels
# Aliases may add this many nodes beyond those written out; real files use none (a billion-laughs map adds 10**9).
ALIAS_BUDGET = 100_000

_ALIAS = "*"  # every YAML alias starts with it: a text without one composes to a tree
_CSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InputError(ReleaseError):
    """A file from outside is too large, too deep, not UTF-8 or not valid for its format; names file (and line)."""

    def __init__(self, where: str, problem: str, line: int = 0) -> None:
        super().__init__(f"{where}:{line}: {problem}" if line else f"{where}: {problem}")
        self.where = where
        self.problem = problem
        self.line = line


# -- bytes and text --------------------------------------------------------------------------------------------

def read_capped(stream: IO[bytes], where: str, max_bytes: int = MAX_BYTES) -> bytes:
    """Up to max_bytes from stream; InputError when there is more (a gzip member may inflate without end)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(where, f"larger than {_size(max_bytes)}; refusing to read it")
    return data


def read_text(path: Path, where: str | None = None, max_bytes: int = MAX_BYTES) -> str:
    """A file's UTF-8 text, at most max_bytes; InputError naming the file when unreadable, too large or not UTF-8."""
    where = where or str(path)
    try:
        with Path(path).open("rb") as stream:
            data = read_capped(stream, where, max_bytes)
    except OSError as exc:
        raise InputError(where, f"cannot read: {exc.strerror or exc}") from None
    return decode(data, where)


def decode(data: bytes, where: str) -> str:
    """bytes as UTF-8 text; InputError naming the offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"not UTF-8 text (bad byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


def _check_length(text: str | bytes, where: str, max_bytes: int) -> None:
    if len(text) > max_bytes:
        raise InputError(where, f"larger than {_size(max_bytes)}; refusing to parse it")


# -- plain data (JSON, TOML) -----------------------------------------------------------------------------------

def check_depth(data: Any, where: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse lists/dicts nested deeper than max_depth (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > max_depth:
            raise InputError(where, f"nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)


def load_json(data: str | bytes, where: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """JSON from outside: size and depth capped, UTF-8 only; InputError `where[:line]: problem`."""
    _check_length(data, where, max_bytes)
    text = decode(data, where) if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:  # the C scanner recurses per bracket; deep input stops here, not in our code
        raise InputError(where, f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise InputError(where, f"not valid JSON: {exc}") from None
    check_depth(value, where, max_depth)
    return value


def load_toml(text: str, where: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """TOML from outside: size and depth capped (dotted keys and nested arrays count as levels)."""
    _check_length(text, where, max_bytes)
    if _long_dotted_key(text, max_depth):  # tomllib takes time quadratic in a key's parts: 20,000 take 15 s
        raise InputError(where, f"a dotted key or table name has more than {max_depth} parts (nested too deep)")
    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(where, f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise InputError(where, f"nested deeper than {max_depth} levels") from None
    check_depth(value, where, max_depth)
    return value


_KEY_PART = r"""\.[ \t]*(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')[ \t]*"""
# Maximal runs of `.part` (possessive, so each character is looked at once: linear on any input).
_KEY_RUN = re.compile(f"(?:{_KEY_PART})++")
_KEY_PARTS = re.compile(_KEY_PART)


def _long_dotted_key(text: str, max_depth: int) -> bool:
    """A run of max_depth `.part`s on one line: a dotted key too deep (or a string that looks exactly like one)."""
    return any(
        run.group().count(".") >= max_depth and len(_KEY_PARTS.findall(run.group())) >= max_depth
        for run in _KEY_RUN.finditer(text)
    )


# -- YAML ------------------------------------------------------------------------------------------------------

def check_yaml_node(
    root: yaml.Node,
    where: str,
    *,
    aliased: bool = True,
    max_depth: int = MAX_DEPTH,
    alias_budget: int = ALIAS_BUDGET,
) -> None:
    """Refuse a composed document that nests too deep, refers to itself, or whose aliases expand past the budget.

    Composing keeps one node per anchor, so the graph is as small as the text; the expansion is what a reader
    walking it (constructing, validating, planning) would pay. Sizes are summed once per node, without recursion.
    """
    if not aliased:
        _check_tree_depth(root, where, max_depth)
        return
    expanded: dict[int, int] = {}  # node id -> nodes in its expansion
    depth_of: dict[int, int] = {}  # node id -> levels below and including it
    unique = 0
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            visiting.discard(key)
            expanded[key] = 1 + sum(expanded[id(k)] for k in kids)
            depth_of[key] = 1 + max((depth_of[id(k)] for k in kids), default=0)
            if depth_of[key] > max_depth:
                raise InputError(where, f"nested deeper than {max_depth} levels", node.start_mark.line + 1)
            continue
        if key in expanded:
            continue
        if key in visiting:
            raise InputError(where, "an alias refers to a node that contains it (a cycle)", node.start_mark.line + 1)
        if len(visiting) >= max_depth:
            raise InputError(where, f"nested deeper than {max_depth} levels", node.start_mark.line + 1)
        unique += 1
        visiting.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in expanded)
    total = expanded[id(root)]
    if total - unique > alias_budget:
        raise InputError(
            where, f"aliases expand to {total:,} nodes from {unique:,} written ({alias_budget:,} extra allowed)"
        )


def _check_tree_depth(root: yaml.Node, where: str, max_depth: int) -> None:
    """Depth of a document without aliases (a tree), one level at a time: a fraction of the general walk's cost."""
    level = [root]
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise InputError(where, f"nested deeper than {max_depth} levels", level[0].start_mark.line + 1)
        below: list[yaml.Node] = []
        for node in level:
            if isinstance(node, yaml.MappingNode):
                for pair in node.value:
                    below.extend(pair)
            elif isinstance(node, yaml.SequenceNode):
                below.extend(node.value)
        level = below


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def compose_yaml(
    text: str, where: str, loader: type[yaml.SafeLoader] = _CSafeLoader, *, max_bytes: int = MAX_BYTES
) -> yaml.Node | None:
    """One YAML document's node graph (None when empty), checked by check_yaml_node; YAML errors are left to the
    caller, which knows how it reports them (a promoter manifest keeps `file:line: problem`)."""
    _check_length(text, where, max_bytes)
    node: yaml.Node | None = yaml.compose(text, Loader=loader)
    if node is not None:
        check_yaml_node(node, where, aliased=_ALIAS in text)
    return node


def load_yaml_all(text: str, where: str, *, max_bytes: int = MAX_BYTES) -> list[Any]:
    """Every document of a YAML stream as Python data (safe types), each checked before it is constructed."""
    _check_length(text, where, max_bytes)
    return list(_documents(text, where))


def load_yaml(text: str, where: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """The single document of a YAML text as Python data (None when empty)."""
    docs = load_yaml_all(text, where, max_bytes=max_bytes)
    if len(docs) > 1:
        raise InputError(where, f"expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """An unmarked YAML error in one line (a reader error's text ends in a second `in "<unicode string>"` line)."""
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def _documents(text: str, where: str) -> Iterator[Any]:
    loader = _CSafeLoader(text)
    aliased = _ALIAS in text
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            check_yaml_node(node, where, aliased=aliased)
            yield loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(where, f"not valid YAML: {problem}", mark.line + 1 if mark else 0) from None
    except yaml.YAMLError as exc:
        raise InputError(where, f"not valid YAML: {yaml_problem(exc)}") from None
    except ValueError as exc:  # the constructor's own checks, e.g. a date that does not exist (2001-02-30)
        raise InputError(where, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
