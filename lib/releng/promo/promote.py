"""`krel promote images`: parse -> edges -> inventory -> delta -> (with confirm) copy, failures collected.

Dry run is the default and writes nothing; a rerun recomputes the delta from live registries, so it heals.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releng.errors import ReleaseError, UsageError
from releng.promo.delta import Copy, Delta, check_delta, compute_delta, repo_path
from releng.promo.edges import EdgeGroup, count_edges, plan_edges
from releng.promo.inventory import (
    InventoryError,
    LiveInventory,
    read_children,
    read_inventory,
    repos_to_read,
)
from releng.promo.manifests import REGISTRY_NAME_RE, Manifest, map_registries, parse_manifest, parse_thin_dir
from releng.promo.signatures import (
    SignatureOutcome,
    SignaturePlan,
    apply_signatures,
    plan_signatures,
    unsigned_promoted,
)
from releng.registry import oci
from releng.registry.copy import copy_image
from releng.registry.credentials import service_accounts
from releng.registry.invcache import InventoryCache
from releng.registry.pool import Registries
from releng.report import NullReporter, Reporter
from releng.signing.keys import SigningKey


@dataclass(frozen=True)
class PromoteOptions:
    """Everything `krel promote images` needs, as plain values."""

    manifest: Path | None = None
    thin_manifest_dir: Path | None = None
    registry_map: Mapping[str, str] = field(default_factory=dict)
    threads: int = 20
    confirm: bool = False
    parse_only: bool = False
    cache_dir: Path | None = None  # the inventory cache ($KREL_HOME/cache/registry); None reads everything live
    reread: bool = False  # --no-cache: HEAD every tag again and check the cache against it
    sign_key: SigningKey | None = None  # --sign-key: sign each promoted image in each destination


@dataclass
class Outcome:
    """One executed copy: what was asked, and the error if it failed."""

    copy: Copy
    error: str = ""
    changed: bool = False


@dataclass
class PromotionResult:
    """What a run found and did; `error()` says why it must end non-zero (None when clean)."""

    mode: str
    manifests: int
    groups: list[EdgeGroup]
    delta: Delta | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # repository path -> why it could not be read
    skipped_edges: int = 0  # edges that needed an unreadable repository
    requests: int = 0  # registry requests the inventory read sent
    seconds: float = 0.0
    signatures: SignaturePlan | None = None  # the `.sig` copies and signings for this run's copies
    signature_outcomes: list[SignatureOutcome] = field(default_factory=list)

    @property
    def edges(self) -> int:
        """How many edges the manifests stand for."""
        return count_edges(self.groups)

    @property
    def failures(self) -> list[Outcome]:
        """The copies that failed."""
        return [o for o in self.outcomes if o.error]

    def error(self) -> ReleaseError | None:
        """Why the run must end non-zero (failed copies, lost digests, unreadable repositories, listed last), or
        None."""
        lines = [
            f"copy {o.copy.src_repo}@{o.copy.digest} -> {o.copy.dst_repo} failed: {o.error}" for o in self.failures
        ]
        lines += [lost.describe() for lost in (self.delta.lost if self.delta else [])]
        lines += [f"{o.step.action} {o.step.dst_repo}:{o.step.tag} failed: {o.error}"
                  for o in self.signature_outcomes if o.error]
        # a dry run ends as the real run would: a conflict is left alone either way, and reported
        lines += [c.describe() for c in (self.signatures.conflicts if self.signatures else [])]
        lines += [f"repository {path} unreadable, its edges skipped: {why}" for path, why in self.unreadable.items()]
        if not lines:
            return None
        done = len(self.outcomes) - len(self.failures)
        unread = f", {len(self.unreadable)} unreadable repositories ({self.skipped_edges} edges skipped)"
        head = (
            f"promotion finished with errors: {len(self.failures)} failed copies, "
            f"{len(self.delta.lost) if self.delta else 0} lost digests{unread if self.unreadable else ''} "
            f"({done} copies done; rerun to heal):"
        )
        return ReleaseError("\n".join([head, *lines]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for --json)."""
        return {
            "mode": self.mode,
            "manifests": self.manifests,
            "edges": self.edges,
            "delta": self.delta.as_dict() if self.delta else None,
            "failures": [{**o.copy.as_dict(), "error": o.error} for o in self.failures],
            "copied": sum(1 for o in self.outcomes if not o.error),
            "unreadable": dict(self.unreadable),
            "skipped_edges": self.skipped_edges,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "signatures": None if self.signatures is None else {
                **self.signatures.as_dict(),
                "failures": [{**o.step.as_dict(), "error": o.error} for o in self.signature_outcomes if o.error],
            },
        }


def parse_registry_map(items: list[str]) -> dict[str, str]:
    """`FROM=TO` pairs (e.g. gcr.io/k8s-cip-test-prod=127.0.0.1:5001/prod) -> dict; UsageError if malformed."""
    out: dict[str, str] = {}
    for item in items:
        src, sep, dst = item.partition("=")
        src, dst = src.strip().rstrip("/"), dst.strip().rstrip("/")
        if not sep or not src or not REGISTRY_NAME_RE.match(dst) or "/" not in dst:
            raise UsageError(f"--registry-map {item!r}: expected FROM=TO, e.g. gcr.io/project=127.0.0.1:5000/project")
        out[src] = dst
    return out


def load_manifests(options: PromoteOptions) -> list[Manifest]:
    """Parse the plain manifest or the thin tree named by the options, then apply the registry map."""
    if (options.manifest is None) == (options.thin_manifest_dir is None):
        raise UsageError("give exactly one of --manifest FILE and --thin-manifest-dir DIR")
    if options.manifest is not None:
        manifests = [parse_manifest(options.manifest)]
    else:
        assert options.thin_manifest_dir is not None
        manifests = parse_thin_dir(options.thin_manifest_dir)
    return map_registries(manifests, options.registry_map)


def promote_images(options: PromoteOptions, registries: Registries, report: Reporter | None = None) -> PromotionResult:
    """Run a promotion: plan always, copy only with `confirm`. Refusals (overlaps, tag moves, all-lost) raise
    before anything is written; copy failures and lost digests come back in the result (see `error()`)."""
    report = report or NullReporter()
    if options.threads < 1:
        raise UsageError(f"--threads must be at least 1, not {options.threads}")
    start = time.monotonic()
    steps = 2 if options.parse_only else (4 if options.confirm else 3)
    report.step(1, steps, "parse manifests and compute edges")
    manifests = load_manifests(options)
    registries.use_service_accounts(service_accounts((r.name, r.service_account) for m in manifests
                                                     for r in m.registries))
    groups = plan_edges(manifests)
    report.info(f"{len(manifests)} manifest(s), {count_edges(groups)} edges in {len(groups)} groups")
    result = PromotionResult("parse-only", len(manifests), groups)
    if options.parse_only:
        result.seconds = time.monotonic() - start
        return result
    report.step(2, steps, "read inventories")
    wanted = repos_to_read(groups)
    cache = InventoryCache(options.cache_dir) if options.cache_dir is not None else None
    inventory = read_inventory(
        registries, wanted, threads=options.threads, report=report, cache=cache, trust_cache=not options.reread
    )
    report.info(f"read {len(wanted)} repositories ({inventory.requests} requests)")
    result.requests = inventory.requests
    groups, result.skipped_edges = without_unreadable(groups, inventory.unreadable)
    result.unreadable = dict(sorted(inventory.unreadable.items()))
    if not groups and inventory.unreadable:
        # Nothing left to promote: fail as one error rather than a result with every edge skipped.
        raise InventoryError.of(list(result.unreadable.values()))
    report.step(3, steps, "compute the delta")
    delta = compute_delta(groups, inventory.repos)
    check_delta(delta)
    result.delta = delta
    result.mode = "confirm" if options.confirm else "dry-run"
    report.info(f"{delta.already_promoted} edges already promoted, {len(delta.copies)} copies planned")
    # promoted earlier but missing the source's signature tag in a destination: a rerun heals it (issue 13)
    heal = unsigned_promoted(groups, inventory.repos, inventory.listed, delta.copies)
    if delta.copies or heal:
        result.signatures = plan_signatures(delta.copies, registries, options.sign_key, options.threads, heal)
        report.info(f"signatures: {len(result.signatures.steps)} to copy or sign ({len(heal)} healed), "
                    f"{len(result.signatures.conflicts)} conflicts")
    if options.confirm and delta.copies:
        report.step(4, steps, f"copy {len(delta.copies)} images")
        copies = _with_children(delta.copies, inventory, registries, cache, options.threads, result)
        tasks = order_copies(copies, inventory.children)
        result.outcomes = execute(tasks, registries, threads=options.threads, report=report)
    if options.confirm and result.signatures is not None:
        promoted = {(o.copy.dst_repo, o.copy.digest) for o in result.outcomes if not o.error}
        result.signature_outcomes = apply_signatures(result.signatures, registries, options.sign_key, promoted,
                                                     options.threads)
    result.seconds = time.monotonic() - start
    return result


def _with_children(
    copies: list[Copy],
    inventory: LiveInventory,
    registries: Registries,
    cache: InventoryCache | None,
    threads: int,
    result: PromotionResult,
) -> list[Copy]:
    """Read the children of the manifest lists about to be copied (to copy them first); a source that fails here
    is listed as unreadable and its copies skipped."""
    indexes = [(c.src_repo, c.digest) for c in copies if inventory.media_types.get(c.digest) in oci.INDEX_TYPES]
    before = set(inventory.unreadable)
    read_children(registries, inventory, indexes, threads=threads, cache=cache)
    failed = {p: why for p, why in inventory.unreadable.items() if p not in before}
    if not failed:
        return copies
    result.unreadable.update(failed)
    result.skipped_edges += sum(max(len(c.tags), 1) for c in copies if c.src_repo in failed)
    return [c for c in copies if c.src_repo not in failed]


def without_unreadable(groups: Sequence[EdgeGroup], unreadable: Mapping[str, str]) -> tuple[list[EdgeGroup], int]:
    """The groups with every edge that needs an unreadable repository removed, and how many edges that drops: an
    unreadable source drops its whole group, an unreadable destination only that destination."""
    if not unreadable:
        return list(groups), 0
    kept: list[EdgeGroup] = []
    dropped = 0
    for g in groups:
        if repo_path(g.src, g.image) in unreadable:
            dropped += g.size
            continue
        dsts = tuple(d for d in g.destinations if repo_path(d, g.image) not in unreadable)
        if len(dsts) != len(g.destinations):
            dropped += g.size
            g = dataclasses.replace(g, destinations=dsts)
            dropped -= g.size
        if dsts:
            kept.append(g)
    return kept, dropped


def order_copies(copies: list[Copy], children: Mapping[str, Mapping[str, str]]) -> list[list[Copy]]:
    """Tasks of copies run in order, one per (destination, digest tree): copies of one digest to one repository
    (from two manifests) and a manifest list's own children go in one task, children first, so two workers never
    push the same manifests and blobs at once (the registry can answer DIGEST_INVALID to such a race)."""
    planned = {(c.dst_repo, c.digest) for c in copies}
    tasks: dict[tuple[str, str], list[Copy]] = {}
    for c in copies:
        parent = children.get(c.src_repo, {}).get(c.digest)
        root = parent if parent is not None and (c.dst_repo, parent) in planned else c.digest
        tasks.setdefault((c.dst_repo, root), []).append(c)
    return [[c for c in t if c.digest != root] + [c for c in t if c.digest == root] for (_, root), t in tasks.items()]


def execute(tasks: list[list[Copy]], registries: Registries, *, threads: int, report: Reporter) -> list[Outcome]:
    """Copy by digest with `threads` workers (each task in order); a failure never stops the others."""

    def one(c: Copy) -> Outcome:
        src, src_repo = registries.for_path(c.src_repo)
        dst, dst_repo = registries.for_path(c.dst_repo)
        try:
            done = copy_image(src, src_repo, c.digest, dst, dst_repo, c.tags)
        except ReleaseError as exc:
            return Outcome(c, error=str(exc))
        return Outcome(c, changed=done.changed)

    def run(task: list[Copy]) -> list[Outcome]:
        return [one(c) for c in task]

    outcomes: list[Outcome] = []
    total = sum(len(t) for t in tasks)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="krel-copy") as pool:
        for future in as_completed([pool.submit(run, t) for t in tasks]):
            outcomes.extend(future.result())
            report.progress("copy", len(outcomes), total)
    return outcomes
