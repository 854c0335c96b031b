"""Live inventories: read only the repositories the edges name, concurrently through the rate limiter, in one
tags/list per repository where Google's listing extension or the inventory cache answers the rest (HEADs and GETs of
manifests otherwise); manifest-list children are recorded, unreadable repositories listed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock
from typing import TypeVar

from releng.address import RegistryAddress
from releng.errors import ReleaseError
from releng.promo.edges import EdgeGroup
from releng.registry import oci
from releng.registry.invcache import InventoryCache, MovedTag, MovedTagError, RepoCache
from releng.registry.listing import Listing, read_listing
from releng.registry.pool import Registries
from releng.report import NullReporter, Reporter

T = TypeVar("T")


@dataclass
class LiveInventory:
    """What the registries hold: repo -> digest -> tags, media types, manifest-list child -> parent, and the
    repositories that could not be read (path -> one-line problem; they are absent from `repos`)."""

    repos: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    media_types: dict[str, str] = field(default_factory=dict)
    children: dict[str, dict[str, str]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    # every tag each repository's tags/list named, resolved or not (signature tags: promo.signatures heals by them)
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)


class InventoryError(ReleaseError):
    """Reading one or more repositories failed (after retries); one line per distinct problem."""

    @classmethod
    def of(cls, problems: list[str]) -> InventoryError:
        """The error listing every distinct problem."""
        unique = list(dict.fromkeys(problems))
        if len(unique) == 1:
            return cls(f"reading the registries failed: {unique[0]}")
        return cls("\n".join([f"reading the registries failed ({len(unique)} problems):", *unique]))


@dataclass
class Wanted:
    """What the edges ask of one repository: these digests, and (to see where they point) these tags. `children`:
    read every manifest list's children now (snapshots); a promotion reads only those of the lists it copies, with
    read_children, so a no-op run reads none."""

    digests: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    children: bool = True


def repos_to_read(groups: Iterable[EdgeGroup]) -> dict[str, Wanted]:
    """Every source and destination repository the edges name, with the digests and tags asked of each (the
    original's getRegistriesToRead: never walk whole registries)."""
    wanted: dict[str, Wanted] = {}
    for g in groups:
        for registry in (g.src, *g.destinations):
            want = wanted.setdefault(f"{registry}/{g.image}", Wanted(children=False))
            want.digests.add(g.digest)
            want.tags.update(g.tags)
    return wanted


def _resolve(want: Wanted | None, tag: str) -> bool:
    return want is None or tag in want.tags


@dataclass
class _Repo:
    """One repository during a read: its listing, its cache entry, and what this read established."""

    path: str
    host: str
    name: str
    want: Wanted | None
    listing: Listing = field(default_factory=Listing)
    loaded: RepoCache | None = None  # the cache file as read
    cached: RepoCache | None = None  # the part of it the listing still vouches for
    seen: RepoCache = field(default_factory=RepoCache)

    @property
    def expand(self) -> bool:
        return self.want is None or self.want.children


def _repo(path: str, want: Wanted | None) -> _Repo:
    address = RegistryAddress.repository(path)
    return _Repo(path, address.host, address.prefix, want)


@dataclass
class _Read:
    """The shared state of one read_inventory call (every mutation under `lock`)."""

    registries: Registries
    cache: InventoryCache | None
    trust_cache: bool
    inv: LiveInventory = field(default_factory=LiveInventory)
    moved: list[MovedTag] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)

    def record(self, repo: _Repo, digest: str, media_type: str, tag: str | None) -> None:
        with self.lock:
            tags = self.inv.repos.setdefault(repo.path, {}).setdefault(digest, [])
            if tag is not None and tag not in tags:
                tags.append(tag)
            if media_type or digest not in self.inv.media_types:  # a cache may not know a child's type
                self.inv.media_types[digest] = media_type
            repo.seen.digests[digest] = media_type or repo.seen.digests.get(digest, "")
            if tag is not None:
                repo.seen.tags[tag] = digest

    def check_tag(self, repo: _Repo, tag: str, digest: str) -> None:
        """A cached tag found on another digest is a production tag moved outside the promoter: collect it."""
        cached = repo.cached.tags.get(tag) if repo.cached else None
        if cached is not None and cached != digest and self.cache is not None:
            with self.lock:
                self.moved.append(MovedTag(repo.path, tag, cached, digest, self.cache.path_for(repo.host, repo.name)))

    def fail(self, repo: _Repo, exc: ReleaseError) -> None:
        with self.lock:
            self.inv.unreadable.setdefault(repo.path, str(exc))

    def count(self, n: int = 1) -> None:
        with self.lock:
            self.inv.requests += n


def _run_all(
    pool: ThreadPoolExecutor, items: list[tuple[_Repo, T]], fn: Callable[[_Repo, T], None], state: _Read
) -> None:
    """fn over items concurrently; a ReleaseError marks that item's repository unreadable, the others go on."""
    live = [(r, x) for r, x in items if r.path not in state.inv.unreadable]
    futures = [(r, pool.submit(fn, r, x)) for r, x in live]
    for repo, future in futures:
        try:
            future.result()
        except ReleaseError as exc:
            state.fail(repo, exc)


def _list(state: _Read, repo: _Repo, listed: Listing | None) -> None:
    """Phase 1: tags/list, then what the listing (Google's extension) or the trusted cache already answers."""
    if listed is None:
        client = state.registries.client(repo.host)
        listed = read_listing(client, repo.name, missing_ok=True)
        state.count(listed.pages)
    repo.listing = listed
    with state.lock:
        state.inv.repos[repo.path] = {}
        state.inv.listed[repo.path] = listed.tags
    if state.cache is not None:
        repo.loaded = state.cache.load(repo.host, repo.name)
        repo.cached = repo.loaded.still_listed(listed.tags) if repo.loaded is not None else None
    if listed.manifests is not None:
        for digest, (media_type, tags) in listed.manifests.items():
            state.record(repo, digest, media_type, None)
            for tag in tags:
                state.check_tag(repo, tag, digest)
                if _resolve(repo.want, tag):
                    state.record(repo, digest, media_type, tag)
    elif repo.cached is not None and state.trust_cache:
        for digest, media_type in repo.cached.digests.items():
            state.record(repo, digest, media_type, None)
        for tag in listed.tags:
            known = repo.cached.tags.get(tag)
            if known is not None and _resolve(repo.want, tag):
                state.record(repo, known, repo.cached.digests.get(known, ""), tag)


def _head(state: _Read, repo: _Repo, ref: str) -> None:
    """Phases 2 and 3: where a tag points (checked against the cache), or whether a digest is there."""
    client = state.registries.client(repo.host)
    desc = client.head_manifest(repo.name, ref)
    state.count()
    if desc is None:
        return
    tag = None if ref.startswith("sha256:") else ref
    if tag is not None:
        state.check_tag(repo, tag, desc.digest)
    state.record(repo, desc.digest, desc.media_type, tag)


def _expand(state: _Read, repo: _Repo, index: str) -> None:
    """Phase 4: a manifest list's children (from the cache when known: a digest names its content)."""
    known = repo.cached.children.get(index) if repo.cached else None
    if known is None:
        client = state.registries.client(repo.host)
        raw, _media_type, _ = client.get_manifest(repo.name, index)
        state.count()
        where = f"{repo.path}@{index}"
        found = [(c.digest, c.media_type) for c, _p in oci.children(oci.parse_manifest(raw, where), where)]
    else:
        found = [(c, repo.cached.digests.get(c, "") if repo.cached else "") for c in known]
    with state.lock:
        repo.seen.children[index] = [c for c, _m in found]
        for child, media_type in found:
            state.inv.repos[repo.path].setdefault(child, [])
            state.inv.children.setdefault(repo.path, {})[child] = index
            if media_type:
                state.inv.media_types[child] = media_type
            repo.seen.digests.setdefault(child, media_type)


def _save(state: _Read, repos: list[_Repo]) -> None:
    """Phase 5: each readable repository's cache entry, rewritten only when this read learnt something."""
    if state.cache is None:
        return
    for repo in repos:
        if repo.path in state.inv.unreadable:
            continue
        after = (repo.cached or RepoCache()).merged(repo.seen)
        if after != repo.loaded:
            state.cache.save(repo.host, repo.name, after)


def read_children(
    registries: Registries,
    inv: LiveInventory,
    indexes: Iterable[tuple[str, str]],
    *,
    threads: int = 20,
    cache: InventoryCache | None = None,
) -> None:
    """Record the children of these (repository path, manifest-list digest) pairs in inv: from the cache where
    known (a digest names its content), else one GET each, added to the cache. A failure lands in inv.unreadable."""
    state = _Read(registries, cache, True, inv)
    repos: dict[str, _Repo] = {}
    items = []
    for path, digest in sorted(set(indexes)):
        repo = repos.get(path)
        if repo is None:
            repo = repos[path] = _repo(path, None)
            repo.loaded = repo.cached = cache.load(repo.host, repo.name) if cache is not None else None
        items.append((repo, digest))
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="krel-inventory") as pool:
        _run_all(pool, items, lambda r, d: _expand(state, r, d), state)
    _save(state, list(repos.values()))


def read_inventory(
    registries: Registries,
    wanted: Mapping[str, Wanted | None],
    *,
    threads: int = 20,
    report: Reporter | None = None,
    cache: InventoryCache | None = None,
    trust_cache: bool = True,
    listed: Mapping[str, Listing] | None = None,
) -> LiveInventory:
    """Read each repository in `wanted`: its tags and where they point, and the wanted digests held without a tag.

    With a Wanted, only the tags it names are resolved (tags nobody promotes cannot move or satisfy an edge);
    with None, every tag is (snapshots). One tags/list per repository; where it carries Google's extension nothing
    else is asked. Elsewhere tags are HEADed unless `cache` knows them (with trust_cache False every tag is HEADed
    and checked against the cache: `--no-cache`); a cached tag found on another digest raises MovedTagError before
    anything is saved. A repository that cannot be read lands in `unreadable`; the others are read. `listed`:
    listings the caller already fetched. Flat concurrent phases, so one big repository does not serialise the run.
    """
    report = report or NullReporter()
    state = _Read(registries, cache, trust_cache)
    repos = [_repo(p, wanted[p]) for p in sorted(wanted)]
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="krel-inventory") as pool:
        report.progress("read tags", 0, len(repos))
        _run_all(pool, [(r, (listed or {}).get(r.path)) for r in repos], lambda r, x: _list(state, r, x), state)
        report.progress("read tags", len(repos), len(repos))
        plain = [r for r in repos if not r.listing.extended]
        # Untrusted (or no) cache: nothing was seeded, so every wanted tag is HEADed.
        heads = [(r, t) for r in plain for t in r.listing.tags if _resolve(r.want, t) and t not in r.seen.tags]
        _run_all(pool, heads, lambda r, t: _head(state, r, t), state)
        if state.moved:
            raise MovedTagError.of(state.moved)
        # Wanted digests no tag reached: a tag-less promotion or an index child may still be there, even where
        # tags/list said 404 (distribution answers that for a repository without tags). A Google listing already
        # names every digest, so it needs no HEAD.
        digests = [
            (r, d) for r in plain if r.want is not None for d in sorted(r.want.digests)
            if d not in state.inv.repos.get(r.path, {})
        ]
        _run_all(pool, digests, lambda r, d: _head(state, r, d), state)
        lists = [
            (r, d) for r in repos if r.expand for d in list(state.inv.repos.get(r.path, {}))
            if state.inv.media_types.get(d) in oci.INDEX_TYPES
        ]
        _run_all(pool, lists, lambda r, d: _expand(state, r, d), state)
    for path in state.inv.unreadable:
        state.inv.repos.pop(path, None)
        state.inv.children.pop(path, None)
        state.inv.listed.pop(path, None)
    _save(state, repos)
    return state.inv
