"""The persistent inventory cache: per registry and repository, tag -> digest, known manifests, manifest-list children.

Production tags never move (the promoter refuses to move them), so a cached tag -> digest stays true while the
repository's tags/list still lists the tag: a rerun then HEADs only tags it has not seen. Files are written whole
(write_atomic); one cut short, unreadable, of another format version or for another repository is ignored, not
trusted, and rewritten by the next read.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releng.errors import ReleaseError
from releng.files import write_atomic
from releng.registry import oci, reference
from releng.registry.listing import COMPONENT_GRAMMAR, TAG_GRAMMAR

log = logging.getLogger(__name__)

FORMAT = 1
_HOST = reference.HOST
_MAX_NAME = 200  # bytes; longer repository names are stored under a hash (file names stop at 255)


@dataclass
class RepoCache:
    """What is known about one repository: tag -> digest, digest -> media type (every manifest known to be there,
    tagged or not), and manifest-list digest -> its children (immutable: a digest names its content)."""

    tags: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    def still_listed(self, listed: Collection[str]) -> RepoCache:
        """The part the current tags/list still vouches for. Tags it no longer lists are dropped; if any was (someone
        deleted outside the promoter), only digests a listed tag or a kept manifest list reaches are kept."""
        tags = {t: d for t, d in self.tags.items() if t in listed}
        if len(tags) == len(self.tags):
            return RepoCache(tags, dict(self.digests), {k: list(v) for k, v in self.children.items()})
        reached = set(tags.values())
        reached.update(c for index in list(reached) for c in self.children.get(index, ()))
        digests = {d: m for d, m in self.digests.items() if d in reached}
        children = {k: list(v) for k, v in self.children.items() if k in digests}
        return RepoCache(tags, digests, children)

    def merged(self, newer: RepoCache) -> RepoCache:
        """self updated with what a read established (newer wins)."""
        return RepoCache(
            {**self.tags, **newer.tags}, {**self.digests, **newer.digests}, {**self.children, **newer.children}
        )


@dataclass(frozen=True)
class MovedTag:
    """A cached tag the registry now reports on another digest."""

    repo_path: str
    tag: str
    cached: str
    now: str
    cache_file: Path


class MovedTagError(ReleaseError):
    """Production tags moved outside the promoter: the run stops instead of refreshing the cache silently."""

    @classmethod
    def of(cls, moves: Sequence[MovedTag]) -> MovedTagError:
        """One line per moved tag, saying what to do."""
        lines = [
            f"{m.repo_path}:{m.tag} moved outside the promoter: it was {m.cached} (cached in {m.cache_file}), "
            f"the registry now says {m.now}; find out who moved it, then delete that file to accept it"
            for m in moves
        ]
        if len(lines) == 1:
            return cls(f"production tag {lines[0]}")
        return cls("\n".join([f"{len(lines)} production tags moved outside the promoter, nothing promoted:", *lines]))


class InventoryCache:
    """The cache directory ($KREL_HOME/cache/registry): one JSON file per registry host and repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._warned = False

    def path_for(self, host: str, repo: str) -> Path:
        """The file for host/repo; ReleaseError if either is not a registry name (it becomes a file name here)."""
        components = repo.split("/")
        if not _HOST.fullmatch(host) or not all(COMPONENT_GRAMMAR.fullmatch(c) for c in components):
            raise ReleaseError(f"inventory cache: {host}/{repo} is not a registry repository name")
        # '+' appears in no repository name, so flattening the path cannot make two repositories share a file.
        name = "+".join(components) + ".json"
        if len(name) > _MAX_NAME:
            name = hashlib.sha256(repo.encode()).hexdigest()[:40] + ".json"
        return self.root / host.replace(":", "_") / name

    def load(self, host: str, repo: str) -> RepoCache | None:
        """The cached entry, or None when there is none or it cannot be trusted (logged at debug/warning)."""
        path = self.path_for(host, repo)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("inventory cache %s unreadable (%s): ignored, the repository is read again", path,
                        exc.__class__.__name__)
            return None
        entry = parse_entry(text, host, repo)
        if entry is None:
            log.warning("inventory cache %s is damaged or of another version: ignored, the repository is read again",
                        path)
        return entry

    def save(self, host: str, repo: str, entry: RepoCache) -> None:
        """Write the entry whole; a cache that cannot be written only costs the next run requests (logged once)."""
        path = self.path_for(host, repo)
        try:
            write_atomic(path, dump_entry(entry, host, repo))
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("inventory cache %s not written (%s); later runs read the registry again", path,
                            exc.strerror or exc.__class__.__name__)


def dump_entry(entry: RepoCache, host: str, repo: str) -> str:
    """The file's JSON text (sorted, so an unchanged entry writes the same bytes)."""
    doc = {
        "format": FORMAT,
        "registry": host,
        "repository": repo,
        "tags": entry.tags,
        "digests": entry.digests,
        "children": entry.children,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"


def parse_entry(text: str, host: str, repo: str) -> RepoCache | None:
    """The entry in text if it is whole, of this format and for host/repo, with well-formed values; else None."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    # `type(...) is int`: JSON true would otherwise pass as format 1.
    if not isinstance(doc, dict) or type(doc.get("format")) is not int or doc["format"] != FORMAT:
        return None
    if doc.get("registry") != host or doc.get("repository") != repo:
        return None
    tags: Any = doc.get("tags")
    digests: Any = doc.get("digests")
    children: Any = doc.get("children")
    if not (_map_of(tags, _is_tag, _is_digest) and _map_of(digests, _is_digest, _is_str)):
        return None
    if not _map_of(children, _is_digest, lambda v: isinstance(v, list) and all(_is_digest(c) for c in v)):
        return None
    return RepoCache(dict(tags), dict(digests), {k: list(v) for k, v in children.items()})


def _map_of(value: Any, key_ok: Any, value_ok: Any) -> bool:
    return isinstance(value, dict) and all(key_ok(k) and value_ok(v) for k, v in value.items())


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_tag(value: Any) -> bool:
    return isinstance(value, str) and TAG_GRAMMAR.fullmatch(value) is not None


def _is_digest(value: Any) -> bool:
    try:
        oci.check_digest(value)
    except ReleaseError:
        return False
    return True
