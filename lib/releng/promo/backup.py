"""`krel backup`: copy into a backup registry only the digests (with their tags) it lacks. Production only grows
(k8s.io#666/#677: a full `gcrane cp -r` of ~30K images per region blew the quota), so the plan is the promoter's
delta with the backup as the one destination; the backup is read first and production only where the backup lacks
something, so a no-op rerun costs one tags/list per backup repository (manifest-driven).

The backup never loses anything: nothing is deleted, and a backup tag on another digest is listed and left alone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releng.address import Place, RegistryAddress, registry_place
from releng.errors import ReleaseError, UsageError
from releng.names import InvalidValue
from releng.promo.delta import COPY, Copy, Inventory, Lost, TagMove, compute_delta, repo_path
from releng.promo.edges import EdgeGroup, plan_edges
from releng.promo.inventory import (
    InventoryError,
    LiveInventory,
    Wanted,
    read_children,
    read_inventory,
)
from releng.promo.promote import Outcome, PromoteOptions, execute, load_manifests, order_copies, without_unreadable
from releng.promo.snapshot import find_repositories
from releng.registry import oci
from releng.registry.invcache import InventoryCache, RepoCache
from releng.registry.listing import Listing
from releng.registry.pool import Registries
from releng.report import NullReporter, Reporter


@dataclass(frozen=True)
class BackupOptions:
    """Everything `krel backup` needs, as plain values."""

    source: str  # REGISTRY[/PREFIX] of production
    backup: str  # REGISTRY[/PREFIX] of the backup
    manifest: Path | None = None
    thin_manifest_dir: Path | None = None
    registry_map: Mapping[str, str] = field(default_factory=dict)
    confirm: bool = False
    threads: int = 20
    cache_dir: Path | None = None  # the inventory cache; None reads everything live
    reread: bool = False  # HEAD every tag again instead of trusting the cache


# ---- where: the two places ----------------------------------------------------------------------------------------


def _place(flag: str, address: str) -> Place:
    try:
        return registry_place(address)
    except InvalidValue as exc:
        raise UsageError(f"{flag}: {exc}") from exc


def check_places(source: str, backup: str) -> tuple[str, str]:
    """(source, backup) without trailing '/'; UsageError unless both are registry addresses and neither lies at or
    inside the other in canonical form (127.0.0.1 and localhost are one host): a backup inside production would be
    backed up into itself, and production inside the backup would be written to."""
    src, dst = _place("--from", source), _place("--to", backup)
    if src.overlaps(dst):
        if src.path == dst.path:
            why = f"--to {backup} is the same place as --from {source}"
        elif dst.below(src):
            why = f"--to {backup} lies inside --from {source}"
        else:
            why = f"--from {source} lies inside --to {backup}"
        raise UsageError(f"{why} (both are {min(src, dst, key=lambda p: len(p.path))}); back up to another place")
    return source.rstrip("/"), backup.rstrip("/")


def _relative(place: Place, under: Place) -> tuple[str, ...] | None:
    """place's path below `under` (() when equal), or None when place is not at or under it."""
    if not place.overlaps(under) or len(place.path) < len(under.path):
        return None
    return place.path[len(under.path) :]


# ---- plan (pure) --------------------------------------------------------------------------------------------------


def groups_from_manifests(groups: Iterable[EdgeGroup], source: str, backup: str) -> list[EdgeGroup]:
    """The backup's edges: every promoted (image, digest, tags) whose destination lies at or under `source`, from
    there to the same path under `backup`. Untagged promoted digests are included (tag listings cannot show them)."""
    under = registry_place(source)
    merged: dict[tuple[str, str], EdgeGroup] = {}
    for g in groups:
        for dst in g.destinations:
            rel = _relative(registry_place(dst), under)
            if rel is None:
                continue
            image = "/".join((*rel, g.image))
            key = (image, g.digest)
            old = merged.get(key)
            tags = tuple(dict.fromkeys((*(old.tags if old else ()), *g.tags)))
            merged[key] = EdgeGroup(source, image, g.digest, tags, (backup,), old.origin if old else g.origin)
    return list(merged.values())


def groups_from_listings(repos: Mapping[str, Mapping[str, Sequence[str]]], source: str, backup: str) -> list[EdgeGroup]:
    """The backup's edges from what production lists: each repository at or under `source` (path -> digest -> tags)
    to the same path under `backup`; the source repository itself keeps its last name."""
    out = []
    for path in sorted(repos):
        if path == source:
            src, image = path.rsplit("/", 1)
        else:
            src, image = source, path[len(source) + 1 :]
        for digest, tags in sorted(repos[path].items()):
            out.append(EdgeGroup(src, image, digest, tuple(sorted(tags)), (backup,), f"{path}@{digest}"))
    return out


def backup_repos(groups: Iterable[EdgeGroup]) -> dict[str, Wanted]:
    """Every backup repository the edges name, with the digests and tags asked of it (children are not expanded:
    a digest that is there holds its children)."""
    wanted: dict[str, Wanted] = {}
    for g in groups:
        for dst in g.destinations:
            want = wanted.setdefault(repo_path(dst, g.image), Wanted(children=False))
            want.digests.add(g.digest)
            want.tags.update(g.tags)
    return wanted


def sources_to_read(groups: Sequence[EdgeGroup], backup: Inventory) -> dict[str, Wanted]:
    """The production repositories worth reading: only those of edges whose digest or tags the backup lacks, so a
    no-op rerun reads no production repository at all."""
    wanted: dict[str, Wanted] = {}
    for g in groups:
        have = backup.get(repo_path(g.destinations[0], g.image), {}).get(g.digest)
        if have is None or any(t not in have for t in g.tags):
            want = wanted.setdefault(repo_path(g.src, g.image), Wanted(children=False))
            want.digests.add(g.digest)
            want.tags.update(g.tags)
    return wanted


@dataclass
class BackupPlan:
    """What the backup lacks (copies, children listed before their index), backup tags on another digest (left
    alone), and promoted digests production does not hold."""

    copies: list[Copy] = field(default_factory=list)
    conflicts: list[TagMove] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)
    digests: int = 0
    present: int = 0


def plan_backup(groups: Sequence[EdgeGroup], inventory: Inventory) -> BackupPlan:
    """The promoter's delta with the backup as destination: digests and tags already there are skipped, a tag there
    on another digest is a conflict (never moved), the rest is copied by digest with its free tags."""
    delta = compute_delta(groups, inventory)
    planned = {(c.dst_repo, c.digest) for c in delta.copies}
    blocked = {(m.dst_repo, m.wanted) for m in delta.moves} - planned
    copies = list(delta.copies)
    for g in groups:
        # Every tag of this digest is taken in the backup: the promoter would skip it, a backup still keeps the digest.
        dst, src = repo_path(g.destinations[0], g.image), repo_path(g.src, g.image)
        if (dst, g.digest) in blocked and g.digest not in inventory.get(dst, {}) and g.digest in inventory.get(src, {}):
            copies.append(Copy(g.image, g.digest, src, dst, (), COPY))
    return BackupPlan(copies, delta.moves, delta.lost, len(groups), delta.already_promoted)


# ---- observe and apply --------------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    """What a run found and did; `error()` says why it must end non-zero (None when clean)."""

    mode: str
    source: str
    backup: str
    plan: BackupPlan = field(default_factory=BackupPlan)
    outcomes: list[Outcome] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> list[Outcome]:
        """The copies that failed."""
        return [o for o in self.outcomes if o.error]

    def error(self) -> ReleaseError | None:
        """One line per problem (failed copies, tags left alone, lost digests, unreadable repositories), or None."""
        lines = [
            f"copy {o.copy.src_repo}@{o.copy.digest} -> {o.copy.dst_repo} failed: {o.error}" for o in self.failures
        ]
        lines += [
            f"backup tag {m.dst_repo}:{m.tag} points at {m.current}, production has {m.wanted}; left alone "
            "(a backup never moves a tag)"
            for m in self.plan.conflicts
        ]
        lines += [
            f"{x.origin}: {x.src_repo}@{x.digest} is not in production; nothing to back up" for x in self.plan.lost
        ]
        lines += [f"repository {path} unreadable, skipped: {why}" for path, why in self.unreadable.items()]
        if not lines:
            return None
        done = len(self.outcomes) - len(self.failures)
        head = f"backup finished with {len(lines)} problem(s) ({done} copies done; rerun to heal):"
        return ReleaseError("\n".join([head, *lines]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for --json)."""
        failed = {id(o.copy): o.error for o in self.failures}
        return {
            "mode": self.mode,
            "from": self.source,
            "to": self.backup,
            "digests": self.plan.digests,
            "present": self.plan.present,
            "copies": [{**c.as_dict(), "error": failed.get(id(c), "")} for c in self.plan.copies],
            "copied": len(self.outcomes) - len(self.failures),
            "conflicts": [
                {"dst": m.dst_repo, "tag": m.tag, "current": m.current, "wanted": m.wanted} for m in self.plan.conflicts
            ],
            "lost": [{"src": x.src_repo, "digest": x.digest, "origin": x.origin} for x in self.plan.lost],
            "unreadable": dict(self.unreadable),
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }


class NothingToBackUpError(ReleaseError):
    """--from names nothing: no manifest destination at or under it, or no repository there."""


def _read(
    registries: Registries,
    wanted: Mapping[str, Wanted | None],
    options: BackupOptions,
    cache: InventoryCache | None,
    result: BackupResult,
    listed: Mapping[str, Listing] | None = None,
) -> LiveInventory:
    inv = read_inventory(
        registries, wanted, threads=options.threads, cache=cache, trust_cache=not options.reread, listed=listed
    )
    result.requests += inv.requests
    result.unreadable.update(inv.unreadable)
    return inv


def _source_groups(
    options: BackupOptions, registries: Registries, cache: InventoryCache | None, result: BackupResult
) -> tuple[list[EdgeGroup], LiveInventory | None]:
    """The edges, and (listing-driven) production's inventory already read."""
    if options.manifest is not None or options.thin_manifest_dir is not None:
        manifests = load_manifests(
            PromoteOptions(
                manifest=options.manifest,
                thin_manifest_dir=options.thin_manifest_dir,
                registry_map=options.registry_map,
            )
        )
        groups = groups_from_manifests(plan_edges(manifests), options.source, options.backup)
        if not groups:
            raise NothingToBackUpError(f"--from {options.source}: no manifest destination is at or under it")
        return groups, None
    source = RegistryAddress.parse(options.source)
    client = registries.client(source.host)
    listings = find_repositories(client, source.prefix) if source.prefix else dict.fromkeys(client.catalog())
    names = {f"{source.host}/{repo}": listing for repo, listing in listings.items()}
    inv = _read(
        registries, dict.fromkeys(names), options, cache, result, {p: x for p, x in names.items() if x is not None}
    )
    if not names:
        raise NothingToBackUpError(f"--from {options.source}: no repository at or under it")
    return groups_from_listings(inv.repos, options.source, options.backup), inv


def run_backup(options: BackupOptions, registries: Registries, report: Reporter | None = None) -> BackupResult:
    """Plan always (the backup read first, production only where the backup lacks something); copy with confirm.
    Problems come back in the result (see `error()`); nothing is ever deleted or moved in the backup."""
    report = report or NullReporter()
    if options.threads < 1:
        raise UsageError(f"--threads must be at least 1, not {options.threads}")
    source, backup = check_places(options.source, options.backup)
    options = dataclasses.replace(options, source=source, backup=backup)
    start = time.monotonic()
    result = BackupResult("confirm" if options.confirm else "dry-run", source, backup)
    cache = InventoryCache(options.cache_dir) if options.cache_dir is not None else None
    steps = 3 if options.confirm else 2
    report.step(1, steps, f"read {backup} and what it lacks from {source}")
    groups, src_inv = _source_groups(options, registries, cache, result)
    dst_inv = _read(registries, backup_repos(groups), options, cache, result)
    if src_inv is None:
        src_inv = _read(registries, sources_to_read(groups, dst_inv.repos), options, cache, result)
    groups, _skipped = without_unreadable(groups, result.unreadable)
    if result.unreadable and not groups:
        raise InventoryError.of([f"{p}: {why}" for p, why in sorted(result.unreadable.items())])
    report.step(2, steps, "plan")
    result.plan = plan_backup(groups, {**src_inv.repos, **dst_inv.repos})
    report.info(
        f"{result.plan.present} already backed up, {len(result.plan.copies)} copies planned "
        f"({result.requests} registry requests)"
    )
    if options.confirm and result.plan.copies:
        report.step(3, steps, f"copy {len(result.plan.copies)} images")
        result.outcomes = _copy(result.plan.copies, src_inv, registries, cache, options.threads, report, result)
    result.seconds = time.monotonic() - start
    return result


def _copy(
    copies: list[Copy],
    inv: LiveInventory,
    registries: Registries,
    cache: InventoryCache | None,
    threads: int,
    report: Reporter,
    result: BackupResult,
) -> list[Outcome]:
    """Copy by digest, children before their index and tags after their digest (copy_image), each index's tree in
    one task; a source whose index children cannot be read is listed and its copies skipped."""
    indexes = [(c.src_repo, c.digest) for c in copies if inv.media_types.get(c.digest) in oci.INDEX_TYPES]
    before = set(inv.unreadable)
    read_children(registries, inv, indexes, threads=threads, cache=cache)
    failed = {p: why for p, why in inv.unreadable.items() if p not in before}
    result.unreadable.update(failed)
    todo = [c for c in copies if c.src_repo not in failed]
    outcomes = execute(order_copies(todo, inv.children), registries, threads=threads, report=report)
    if cache is not None:
        remember(cache, [o.copy for o in outcomes if not o.error], inv)
    return outcomes


def remember(cache: InventoryCache, done: Iterable[Copy], inv: LiveInventory) -> None:
    """Record what the copies put in the backup (digest, tags, index children) in its inventory cache, so the next
    run trusts them while the backup's tags/list still lists the tags instead of HEADing each once more."""
    by_repo: dict[str, RepoCache] = {}
    for c in done:
        seen = by_repo.setdefault(c.dst_repo, RepoCache())
        seen.digests[c.digest] = inv.media_types.get(c.digest, "")
        seen.tags.update(dict.fromkeys(c.tags, c.digest))
        kids = [k for k, parent in inv.children.get(c.src_repo, {}).items() if parent == c.digest]
        if kids:
            seen.children[c.digest] = kids
            seen.digests.update({k: inv.media_types.get(k, "") for k in kids})
    for path, seen in by_repo.items():
        address = RegistryAddress.repository(path)
        host, repo = address.host, address.prefix
        cache.save(host, repo, (cache.load(host, repo) or RepoCache()).merged(seen))
