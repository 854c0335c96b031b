"""Live inventories: read only the repositories the edges name, concurrently through one shared rate limiter,
with the standard OCI API only (tags/list, HEAD and GET of manifests); manifest-list children are recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock
from typing import TypeVar

from releng.errors import ReleaseError
from releng.promo.edges import EdgeGroup
from releng.registry import oci
from releng.registry.auth import Auth
from releng.registry.client import RegistryClient
from releng.registry.ratelimit import TokenBucket
from releng.report import NullReporter, Reporter

T = TypeVar("T")
AuthFor = Callable[[str], Auth]


def split_repo(path: str) -> tuple[str, str]:
    """`host[:port]/repo/path` -> (host, repo/path)."""
    host, _, repo = path.partition("/")
    if not repo:
        raise ReleaseError(f"{path!r} is not a registry path like HOST/REPO (e.g. gcr.io/k8s-staging-foo)")
    return host, repo


class Registries:
    """One RegistryClient per host, all sharing one token bucket (a 429 anywhere pauses every thread)."""

    def __init__(
        self,
        auth_for: AuthFor | None = None,
        *,
        rate: float = 50.0,
        retries: int = 4,
        timeout: float = 60.0,
        max_connections: int = 32,
    ) -> None:
        self.limiter = TokenBucket(rate, burst=max(1, int(rate)))
        self._auth_for = auth_for
        self._retries = retries
        self._timeout = timeout
        self._max_connections = max_connections
        self._clients: dict[str, RegistryClient] = {}
        self._lock = Lock()

    def client(self, host: str) -> RegistryClient:
        """The shared client for host (created on first use)."""
        with self._lock:
            found = self._clients.get(host)
            if found is None:
                found = RegistryClient(
                    host,
                    auth=self._auth_for(host) if self._auth_for else None,
                    rate_limiter=self.limiter,
                    retries=self._retries,
                    timeout=self._timeout,
                    max_connections=self._max_connections,
                )
                self._clients[host] = found
            return found

    def for_path(self, path: str) -> tuple[RegistryClient, str]:
        """The client and the repository for a `host/repo` path."""
        host, repo = split_repo(path)
        return self.client(host), repo

    def close(self) -> None:
        """Close every client's connections."""
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()

    def __enter__(self) -> Registries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LiveInventory:
    """What the registries hold: repo -> digest -> tags, media types, and manifest-list child -> parent."""

    repos: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    media_types: dict[str, str] = field(default_factory=dict)
    children: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: int = 0


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
    """What the edges ask of one repository: these digests, and (to see where they point) these tags."""

    digests: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)


def repos_to_read(groups: Iterable[EdgeGroup]) -> dict[str, Wanted]:
    """Every source and destination repository the edges name, with the digests and tags asked of each (the
    original's getRegistriesToRead: never walk whole registries)."""
    wanted: dict[str, Wanted] = {}
    for g in groups:
        for registry in (g.src, *g.destinations):
            want = wanted.setdefault(f"{registry}/{g.image}", Wanted())
            want.digests.add(g.digest)
            want.tags.update(g.tags)
    return wanted


def _resolve(want: Wanted | None, tag: str) -> bool:
    return want is None or tag in want.tags


def _digests(want: Wanted | None) -> set[str]:
    return set() if want is None else want.digests


def _run_all(pool: ThreadPoolExecutor, items: list[T], fn: Callable[[T], None], problems: list[str]) -> None:
    for future in [pool.submit(fn, item) for item in items]:
        try:
            future.result()
        except ReleaseError as exc:
            problems.append(str(exc))


def read_inventory(
    registries: Registries,
    wanted: Mapping[str, Wanted | None],
    *,
    threads: int = 20,
    report: Reporter | None = None,
) -> LiveInventory:
    """Read each repository in `wanted`: its tags and where they point, and the wanted digests held without a tag.

    With a Wanted, only the tags it names are resolved (tags nobody promotes cannot move or satisfy an edge);
    with None, every tag is (snapshots). Three flat concurrent phases (list tags; HEAD tags and still-unseen
    digests; GET manifest lists for their children) so one big repository does not serialise the run.
    """
    report = report or NullReporter()
    inv = LiveInventory()
    lock = Lock()
    problems: list[str] = []
    repos = sorted(wanted)
    tags_of: dict[str, list[str]] = {}

    def list_tags(path: str) -> None:
        client, repo = registries.for_path(path)
        tags = client.list_tags(repo, missing_ok=True)
        with lock:
            tags_of[path] = tags
            inv.repos[path] = {}
            inv.requests += 1

    def record(path: str, digest: str, media_type: str, tag: str | None) -> None:
        with lock:
            tags = inv.repos.setdefault(path, {}).setdefault(digest, [])
            if tag is not None and tag not in tags:
                tags.append(tag)
            inv.media_types[digest] = media_type
            inv.requests += 1

    def head(item: tuple[str, str]) -> None:
        path, ref = item
        client, repo = registries.for_path(path)
        desc = client.head_manifest(repo, ref)
        if desc is not None:
            record(path, desc.digest, desc.media_type, None if ref.startswith("sha256:") else ref)
        else:
            with lock:
                inv.requests += 1

    def expand(item: tuple[str, str]) -> None:
        path, digest = item
        client, repo = registries.for_path(path)
        raw, _media_type, _ = client.get_manifest(repo, digest)
        where = f"{path}@{digest}"
        for child, _platform in oci.children(oci.parse_manifest(raw, where), where):
            with lock:
                inv.repos[path].setdefault(child.digest, [])
                inv.children.setdefault(path, {})[child.digest] = digest
                inv.media_types[child.digest] = child.media_type
        with lock:
            inv.requests += 1

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="krel-inventory") as pool:
        report.progress("read tags", 0, len(repos))
        _run_all(pool, repos, list_tags, problems)
        report.progress("read tags", len(repos), len(repos))
        if problems:
            raise InventoryError.of(problems)
        heads = [(p, t) for p in repos for t in tags_of[p] if _resolve(wanted[p], t)]
        _run_all(pool, heads, head, problems)
        # Wanted digests not reached by a tag: a tag-less promotion, or an index child, may still be there.
        heads = [(p, d) for p in repos for d in sorted(_digests(wanted[p])) if d not in inv.repos[p]]
        _run_all(pool, heads, head, problems)
        lists = [(p, d) for p in repos for d in inv.repos[p] if inv.media_types.get(d) in oci.INDEX_TYPES]
        _run_all(pool, lists, expand, problems)
    if problems:
        raise InventoryError.of(problems)
    return inv
