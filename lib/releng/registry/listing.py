"""One repository's tags/list, all pages: its tags, and Google's listing extension where the registry serves it.

GCR and Artifact Registry add a `manifest` map (digest -> {tag: [...], mediaType, imageSizeBytes, ...}) and a
`child` list (sub-repositories): one call then says where every tag points and which digests are untagged, with no
HEAD per tag (the original's go-containerregistry `google.List`). The map is registry input: checked here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from releng.errors import ReleaseError
from releng.registry import oci, reference
from releng.registry.client import ManifestNotFoundError, RegistryClient, RegistryError

# The distribution spec's tag and path-component grammars, ASCII only and whole-string (one definition).
TAG_GRAMMAR = reference.TAG
COMPONENT_GRAMMAR = reference.COMPONENT


@dataclass(frozen=True)
class Listing:
    """What tags/list said. `manifests` is None on a plain OCI registry (no extension): tags then need HEADs."""

    tags: tuple[str, ...] = ()
    manifests: Mapping[str, tuple[str, tuple[str, ...]]] | None = None  # digest -> (media type, tags)
    children: tuple[str, ...] = ()  # Google's sub-repositories, relative names
    pages: int = 0
    exists: bool = True

    @property
    def extended(self) -> bool:
        """Whether the registry answered with Google's extension (every digest and tag, no HEAD needed)."""
        return self.manifests is not None


@dataclass
class _Pages:
    tags: list[str] = field(default_factory=list)
    manifests: dict[str, tuple[str, tuple[str, ...]]] | None = None
    children: list[str] = field(default_factory=list)
    pages: int = 0


def read_listing(client: RegistryClient, repo: str, *, missing_ok: bool = False) -> Listing:
    """repo's tags/list (every page); with missing_ok a repository that does not exist is an empty Listing."""
    where = f"registry {client.host}, repository {repo}"
    acc = _Pages()
    try:
        for page in client.tags_list_pages(repo):
            _add_page(acc, page, where)
    except ManifestNotFoundError:
        if not missing_ok:
            raise
        return Listing(pages=max(acc.pages, 1), exists=False)
    return Listing(tuple(acc.tags), acc.manifests, tuple(acc.children), acc.pages)


def parse_listing(pages: Iterable[Any], where: str) -> Listing:
    """The Listing for pages already fetched (JSON values as sent); RegistryError naming `where` if malformed."""
    acc = _Pages()
    for page in pages:
        _add_page(acc, page, where)
    return Listing(tuple(acc.tags), acc.manifests, tuple(acc.children), acc.pages)


def _add_page(acc: _Pages, page: Any, where: str) -> None:
    """Fold one tags/list page into acc, checking every tag, digest and child name the registry sent."""
    if not isinstance(page, dict):
        raise RegistryError(f"{where}: tags/list did not answer a JSON object")
    acc.pages += 1
    acc.tags.extend(_tag(t, where) for t in _list(page.get("tags"), "tags", where))
    acc.children.extend(_child(c, where) for c in _list(page.get("child"), "child", where))
    manifests = page.get("manifest")
    if manifests is None:
        return
    if not isinstance(manifests, dict):
        raise RegistryError(f"{where}: tags/list `manifest` is {type(manifests).__name__}, expected an object")
    acc.manifests = {} if acc.manifests is None else acc.manifests
    for digest, entry in manifests.items():
        acc.manifests[_digest(digest, where)] = _entry(entry, digest, where)


def _list(value: Any, key: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryError(f"{where}: tags/list `{key}` is {type(value).__name__}, expected a list")
    return value


def _tag(value: Any, where: str) -> str:
    if not isinstance(value, str) or not TAG_GRAMMAR.fullmatch(value):
        raise RegistryError(f"{where}: tags/list has an invalid tag {value!r} (expected [A-Za-z0-9_][A-Za-z0-9_.-]*)")
    return value


def _child(value: Any, where: str) -> str:
    if not isinstance(value, str) or not all(COMPONENT_GRAMMAR.fullmatch(p) for p in value.split("/")):
        raise RegistryError(f"{where}: tags/list has an invalid child repository {value!r}")
    return value


def _digest(value: str, where: str) -> str:
    try:
        return oci.check_digest(value)
    except ReleaseError:
        raise RegistryError(f"{where}: tags/list `manifest` has an invalid digest {value!r}") from None


def _entry(entry: Any, digest: str, where: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: tags/list `manifest` entry for {digest} is not an object")
    media_type = entry.get("mediaType", "")
    if not isinstance(media_type, str):
        raise RegistryError(f"{where}: tags/list `manifest` entry for {digest} has a non-string mediaType")
    return media_type, tuple(_tag(t, where) for t in _list(entry.get("tag"), f"manifest.{digest}.tag", where))
