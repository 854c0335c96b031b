"""Snapshots: what a registry path holds, as images.yaml, the original's CSV or JSON, for backfills and audits.

The repositories are found from the path's own tags/list: Google's `child` list where the registry serves the
listing extension (never the host's catalog: on gcr.io that is every project), otherwise the part of the catalog
that starts at the path (`last=`), so only the names under it are paged through.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from releng.address import RegistryAddress
from releng.errors import ReleaseError, UsageError
from releng.promo.inventory import InventoryError, read_inventory
from releng.promo.manifests import REGISTRY_NAME_RE
from releng.registry.client import RegistryClient, RegistryError
from releng.registry.invcache import InventoryCache
from releng.registry.listing import Listing, read_listing
from releng.registry.pool import Registries

log = logging.getLogger(__name__)

FORMATS = ("yaml", "csv", "json")


@dataclass(frozen=True)
class SnapshotImage:
    """One image under the snapshotted path: its name relative to the path, and digest -> tags."""

    name: str
    dmap: Mapping[str, Sequence[str]]


class EmptySnapshotError(ReleaseError):
    """The path names no repository and has none under it (a typo, or the wrong registry)."""


def check_format(fmt: str) -> str:
    """fmt if it is a snapshot format, else UsageError (checked before anything is read)."""
    if fmt not in FORMATS:
        raise UsageError(f"--output {fmt!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def check_path(path: str) -> tuple[str, str]:
    """`host/prefix` -> (host, prefix); UsageError unless it is a registry path with a repository part."""
    path = path.rstrip("/")
    if not REGISTRY_NAME_RE.match(path) or "/" not in path:
        raise UsageError(f"snapshot {path!r}: expected REGISTRY/REPO, e.g. 127.0.0.1:5000/prod")
    address = RegistryAddress.repository(path)
    return address.host, address.prefix


def snapshot(
    registries: Registries,
    path: str,
    *,
    threads: int = 20,
    cache: InventoryCache | None = None,
    trust_cache: bool = True,
) -> list[SnapshotImage]:
    """Every repository at or under `host/prefix`, with tags, digests and index children; EmptySnapshotError if
    there is none, InventoryError if any could not be read (a snapshot is whole or nothing)."""
    host, prefix = check_path(path)
    listings = find_repositories(registries.client(host), prefix, threads=threads)
    names = {f"{host}/{repo}": _relative(repo, prefix) for repo in listings}
    inv = read_inventory(
        registries,
        dict.fromkeys(names),
        threads=threads,
        cache=cache,
        trust_cache=trust_cache,
        listed={f"{host}/{repo}": listing for repo, listing in listings.items() if listing is not None},
    )
    if inv.unreadable:
        raise InventoryError.of([f"{p}: {why}" for p, why in sorted(inv.unreadable.items())])
    images = [
        SnapshotImage(names[p], {d: sorted(inv.repos[p][d]) for d in sorted(inv.repos[p])})
        for p in sorted(names, key=lambda p: names[p])
        if inv.repos.get(p)
    ]
    if not images:
        raise EmptySnapshotError(f"snapshot {host}/{prefix}: no image at or under it; check the registry and path")
    return images


def _relative(repo: str, prefix: str) -> str:
    return repo[len(prefix) + 1 :] if repo != prefix else repo.rsplit("/", 1)[-1]


def find_repositories(client: RegistryClient, prefix: str, *, threads: int = 20) -> dict[str, Listing | None]:
    """The repositories at or under prefix -> their listing when already read (None: still to be read)."""
    own = read_listing(client, prefix, missing_ok=True)
    if own.extended or own.children:
        return _walk_children(client, prefix, own, threads)
    found: dict[str, Listing | None] = {prefix: own} if own.exists else {}
    try:
        for repo in client.iter_catalog(last=prefix):
            # Names sharing the prefix string are contiguous in any ordering the registry uses: stop after them.
            if not repo.startswith(prefix):
                break
            if repo.startswith(prefix + "/"):
                found[repo] = None
    except RegistryError as exc:
        # A registry that hides its catalog (403/404) still lets us snapshot the repository named exactly.
        log.warning("snapshot %s: cannot look under it in the catalog (%s)", prefix, exc)
    return found


def _walk_children(client: RegistryClient, prefix: str, own: Listing, threads: int) -> dict[str, Listing | None]:
    """Google's `child` lists, level by level (the original's recursive read, without the catalog)."""
    found: dict[str, Listing | None] = {prefix: own} if own.exists and own.extended else {}
    level = [(prefix, own)]
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="krel-snapshot") as pool:
        while level:
            names = [f"{parent}/{child}" for parent, listing in level for child in listing.children]
            listings = list(pool.map(lambda n: read_listing(client, n, missing_ok=True), names))
            found.update({n: item for n, item in zip(names, listings, strict=True) if item.exists})
            level = list(zip(names, listings, strict=True))
    return found


def render(images: Sequence[SnapshotImage], fmt: str) -> str:
    """images.yaml (k8s.io style: one line per digest, flow-style tag list), the original's CSV
    (`name@digest,name:tag`, `name@digest,-` when untagged, no header), or JSON (a list of {name, dmap})."""
    check_format(fmt)
    if fmt == "yaml":
        lines: list[str] = []
        for image in images:
            lines.append(f"- name: {image.name}\n  dmap:\n")
            for digest, tags in image.dmap.items():
                lines.append(f"    {json.dumps(digest)}: [{', '.join(json.dumps(t) for t in tags)}]\n")
        return "".join(lines) or "[]\n"
    if fmt == "csv":
        rows = [
            f"{image.name}@{digest},{image.name}:{tag}" if tag else f"{image.name}@{digest},-"
            for image in images
            for digest, tags in image.dmap.items()
            for tag in tags or [""]
        ]
        return "".join(row + "\n" for row in rows)
    doc = [{"name": i.name, "dmap": {d: list(t) for d, t in i.dmap.items()}} for i in images]
    return json.dumps(doc, indent=2) + "\n"
