"""Promotion edges, kept grouped: one EdgeGroup per (source, image, digest) holds its tag set and destination list,
so a million (digest, tag, destination) edges cost 46k objects. Overlap check: one destination tag, two digests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from releng.promo.manifests import Manifest, ManifestError


class Edge(NamedTuple):
    """One materialised edge (only for display and tests): src/image@digest -> dst/image:tag ("" = tag-less)."""

    src: str
    image: str
    digest: str
    tag: str
    dst: str


@dataclass(frozen=True, slots=True)
class EdgeGroup:
    """Every edge of one (source registry, image, digest): each tag (or none) to each destination registry."""

    src: str
    image: str
    digest: str
    tags: tuple[str, ...]
    destinations: tuple[str, ...]
    origin: str

    @property
    def size(self) -> int:
        """How many edges the group stands for."""
        return max(len(self.tags), 1) * len(self.destinations)

    def edges(self) -> Iterator[Edge]:
        """Materialise the group's edges (display and tests only)."""
        for dst in self.destinations:
            for tag in self.tags or ("",):
                yield Edge(self.src, self.image, self.digest, tag, dst)


class OverlapError(ManifestError):
    """A destination tag is claimed by two different digests."""


def to_edge_groups(manifests: Sequence[Manifest]) -> list[EdgeGroup]:
    """Group every manifest's edges per (src, image, digest); drop edges an earlier manifest already claims.

    The original ToEdges: one edge per tag (or one tag-less edge) per destination; redundant edges keep the first.
    """
    groups: list[EdgeGroup] = []
    # Destination tuples are shared by every group of a manifest; identical tuples are interned to one object.
    interned: dict[tuple[str, ...], tuple[str, ...]] = {}
    first: dict[tuple[str, str], list[int]] = {}
    for manifest in manifests:
        src = manifest.src.name
        dsts = tuple(r.name for r in manifest.destinations)
        dsts = interned.setdefault(dsts, dsts)
        if not dsts:
            continue
        base = manifest.images_path or manifest.path
        for image in manifest.images:
            for digest, tags in image.dmap.items():
                group = EdgeGroup(src, image.name, digest, tags, dsts, f"{base}:{image.origin_line(digest)}")
                key = (image.name, digest)
                seen = first.get(key)
                if seen is None:
                    first[key] = [len(groups)]
                    groups.append(group)
                    continue
                for part in _uncovered(group, [groups[i] for i in seen]):
                    seen.append(len(groups))
                    groups.append(part)
    return groups


def _uncovered(group: EdgeGroup, earlier: list[EdgeGroup]) -> list[EdgeGroup]:
    """The parts of `group` that no earlier group with the same image and digest already promotes."""
    covered: dict[str, set[str]] = {}
    for g in earlier:
        for dst in g.destinations:
            covered.setdefault(dst, set()).update(g.tags or ("",))
    by_tags: dict[tuple[str, ...], list[str]] = {}
    for dst in group.destinations:
        have = covered.get(dst)
        if have is None:
            by_tags.setdefault(group.tags, []).append(dst)
            continue
        if not group.tags:
            continue  # the digest already goes to dst with some tag (or none): a tag-less edge adds nothing
        rest = tuple(t for t in group.tags if t not in have)
        if rest:
            by_tags.setdefault(rest, []).append(dst)
    return [
        EdgeGroup(group.src, group.image, group.digest, tags, tuple(dsts), group.origin)
        for tags, dsts in by_tags.items()
    ]


def count_edges(groups: Sequence[EdgeGroup]) -> int:
    """Number of (digest, tag, destination) edges the groups stand for."""
    return sum(g.size for g in groups)


def check_overlaps(groups: Sequence[EdgeGroup]) -> None:
    """Raise OverlapError when one destination tag is claimed by two different digests anywhere.

    The original CheckOverlappingEdges; the same digest claimed twice is fine, tag-less edges are not checked.
    """
    # Destination tuples that share a registry can collide; union-find puts them in one component so the
    # claims table is keyed by (component, image, tag), not by every destination.
    tuples: dict[tuple[str, ...], int] = {}
    for g in groups:
        tuples.setdefault(g.destinations, len(tuples))
    parent = list(range(len(tuples)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for dsts, tid in tuples.items():
        for dst in dsts:
            other = owner.setdefault(dst, tid)
            if other != tid:
                parent[find(tid)] = find(other)
    component = {dsts: find(tid) for dsts, tid in tuples.items()}

    claims: dict[tuple[int, str, str], str] = {}
    suspect: set[tuple[int, str, str]] = set()
    for g in groups:
        comp = component[g.destinations]
        for tag in g.tags:
            key = (comp, g.image, tag)
            digest = claims.setdefault(key, g.digest)
            if digest != g.digest:
                suspect.add(key)
    problems = _nested_overlaps(groups)
    if not suspect:
        if problems:
            raise OverlapError(problems)
        return
    # Second pass only for suspect keys: keep every claim, then compare pairs whose destinations really meet.
    detail: dict[tuple[int, str, str], list[EdgeGroup]] = {key: [] for key in suspect}
    for g in groups:
        comp = component[g.destinations]
        for tag in g.tags:
            found = detail.get((comp, g.image, tag))
            if found is not None:
                found.append(g)
    for (_, image, tag), claimants in sorted(detail.items()):
        reported: set[tuple[str, str]] = set()
        for i, a in enumerate(claimants):
            for b in claimants[i + 1 :]:
                if a.digest == b.digest or (a.digest, b.digest) in reported:
                    continue
                shared = [d for d in a.destinations if d in set(b.destinations)]
                if not shared:
                    continue
                reported.add((a.digest, b.digest))
                more = f" (and {len(shared) - 1} more destinations)" if len(shared) > 1 else ""
                problems.append(
                    f"{b.origin}: overlapping edges detected: {shared[0]}/{image}:{tag}{more} is claimed by "
                    f"{b.digest} here and by {a.digest} at {a.origin}"
                )
    if problems:
        raise OverlapError(problems)


def _prefixes(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _nested_overlaps(groups: Sequence[EdgeGroup]) -> list[str]:
    """Destinations nested in one another (`r` and `r/foo`) name one repository two ways (`r` + `foo/x`,
    `r/foo` + `x`); the original compares full paths, so those edges are compared by full path here. Rare, so
    only they are materialised."""
    names = {d for g in groups for d in g.destinations}
    nested = {n for n in names if any(p in names for p in _prefixes(n))}
    if not nested:
        return []
    involved = nested | {p for n in nested for p in _prefixes(n) if p in names}
    claims: dict[str, tuple[str, str, str]] = {}
    problems: list[str] = []
    for g in groups:
        for dst in g.destinations:
            if dst not in involved:
                continue
            for tag in g.tags:
                key = f"{dst}/{g.image}:{tag}"
                digest, origin, first_dst = claims.setdefault(key, (g.digest, g.origin, dst))
                # Same registry name: the component check above already reports it.
                if digest != g.digest and first_dst != dst:
                    problems.append(
                        f"{g.origin}: overlapping edges detected: {key} is claimed by {g.digest} here "
                        f"(via {dst}) and by {digest} at {origin} (via {first_dst})"
                    )
    return problems


def plan_edges(manifests: Sequence[Manifest]) -> list[EdgeGroup]:
    """Edges of all manifests, grouped, after the overlap check."""
    groups = to_edge_groups(manifests)
    check_overlaps(groups)
    return groups
