"""The delta between edges and live inventories: what is already promoted, what to copy or tag, what is lost,
and which production tags would move (refused: production tags are immutable)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from releng.errors import ReleaseError
from releng.promo.edges import EdgeGroup

# repository path ("host/prefix/image") -> digest -> tags; a repository absent from the map is empty.
Inventory = Mapping[str, Mapping[str, Sequence[str]]]

COPY = "copy"
ADD_TAG = "add-tag"


@dataclass(frozen=True, slots=True)
class Copy:
    """One planned write: bring `digest` (and `tags`) from src_repo into dst_repo."""

    image: str
    digest: str
    src_repo: str
    dst_repo: str
    tags: tuple[str, ...]
    action: str  # COPY when the digest is absent from dst_repo, ADD_TAG when only tags are missing

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "image": self.image,
            "digest": self.digest,
            "src": self.src_repo,
            "dst": self.dst_repo,
            "tags": list(self.tags),
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class Lost:
    """A digest the manifest promotes that its source repository does not have (the original's _LOST_)."""

    src_repo: str
    digest: str
    origin: str
    image: str = ""

    def describe(self) -> str:
        """One line for errors and logs, with file:line."""
        return f"{self.origin}: {self.src_repo}@{self.digest} is lost: not in the source registry (backfill it)"


@dataclass(frozen=True, slots=True)
class TagMove:
    """A production tag that already points at another digest: promoting would move it."""

    dst_repo: str
    tag: str
    current: str
    wanted: str
    origin: str

    def describe(self) -> str:
        """One line for errors and logs, with file:line."""
        return (
            f"{self.origin}: tag move refused: {self.dst_repo}:{self.tag} points at {self.current}, "
            f"the manifest wants {self.wanted}; production tags are immutable"
        )


@dataclass
class Delta:
    """What a promotion run would do, and what it must refuse."""

    copies: list[Copy] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)
    moves: list[TagMove] = field(default_factory=list)
    edges: int = 0
    already_promoted: int = 0
    source_digests: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "edges": self.edges,
            "already_promoted": self.already_promoted,
            "copies": [c.as_dict() for c in self.copies],
            "lost": [{"src": x.src_repo, "digest": x.digest, "origin": x.origin} for x in self.lost],
            "tag_moves": [
                {"dst": m.dst_repo, "tag": m.tag, "current": m.current, "wanted": m.wanted, "origin": m.origin}
                for m in self.moves
            ],
        }


class TagMoveError(ReleaseError):
    """Promotion would move production tags; nothing is written."""

    @classmethod
    def of(cls, moves: Sequence[TagMove]) -> TagMoveError:
        """The error listing every case."""
        return cls("\n".join([f"{len(moves)} tag move(s) refused, nothing promoted:", *(m.describe() for m in moves)]))


class AllLostError(ReleaseError):
    """Every source digest is missing: almost certainly wrong registry names or inventory keys, never 'green'."""

    @classmethod
    def of(cls, delta: Delta) -> AllLostError:
        """The error listing every case."""
        sample = delta.lost[0]
        return cls(
            f"every one of {delta.source_digests} source digests is missing from its source registry "
            f"(e.g. {sample.src_repo}@{sample.digest} from {sample.origin}); nothing promoted. "
            "Check the registry names, --registry-map and that the staging registry is the one read"
        )


def repo_path(registry: str, image: str) -> str:
    """Repository path of an image under a registry name."""
    return f"{registry}/{image}"


def compute_delta(groups: Sequence[EdgeGroup], inventory: Inventory) -> Delta:
    """Compare every edge with the inventory (the original GetPromotionCandidates), group by group.

    Already promoted -> skipped; digest present under other tags -> add tag; tag on another digest -> tag move;
    digest missing from the source -> lost.
    """
    delta = Delta()
    empty: Mapping[str, Sequence[str]] = {}
    get_repo = inventory.get
    repos: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}
    tag_index: dict[str, dict[str, str]] = {}
    lost_seen: set[tuple[str, str]] = set()
    found_seen: set[tuple[str, str]] = set()
    promoted = 0
    for g in groups:
        digest, tags = g.digest, g.tags
        ntags = len(tags)
        delta.edges += g.size
        dst_repos = repos.get((g.destinations, g.image))
        if dst_repos is None:
            dst_repos = tuple(repo_path(d, g.image) for d in g.destinations)
            repos[(g.destinations, g.image)] = dst_repos
        # Hot path (a million edges, nearly all already promoted): one dict lookup and a tag test per destination.
        pending = []
        for dst_repo in dst_repos:
            have = get_repo(dst_repo, empty).get(digest)
            if have is not None and (ntags == 0 or (tags[0] in have and (ntags == 1 or all(t in have for t in tags)))):
                promoted += ntags or 1
            else:
                pending.append(dst_repo)
        src_repo = repo_path(g.src, g.image)
        src_has = digest in get_repo(src_repo, empty)
        (found_seen if src_has else lost_seen).add((src_repo, digest))
        if pending:
            promoted += _plan_pending(delta, g, src_repo, src_has, pending, inventory, tag_index)
    delta.already_promoted = promoted
    delta.source_digests = len(found_seen | lost_seen)
    # A digest may be lost for one group yet found via another source; only report truly missing ones.
    delta.lost = _dedupe_lost(delta.lost)
    return delta


def _plan_pending(
    delta: Delta,
    g: EdgeGroup,
    src_repo: str,
    src_has: bool,
    pending: list[str],
    inventory: Inventory,
    tag_index: dict[str, dict[str, str]],
) -> int:
    """Destinations of one group that still need work: add tag, copy, tag move or lost; returns edges already done."""
    promoted = 0
    lost = False
    for dst_repo in pending:
        dst_inv = inventory.get(dst_repo, {})
        have = dst_inv.get(g.digest)
        missing = g.tags if have is None else tuple(t for t in g.tags if t not in have)
        if have is not None:
            promoted += len(g.tags) - len(missing)
        index = tag_index.get(dst_repo)
        if index is None:
            index = {t: d for d, ts in dst_inv.items() for t in ts}
            tag_index[dst_repo] = index
        todo = []
        for tag in missing:
            current = index.get(tag)
            if current is not None and current != g.digest:
                delta.moves.append(TagMove(dst_repo, tag, current, g.digest, g.origin))
            else:
                todo.append(tag)
        if missing and not todo:
            continue  # every wanted tag would move: nothing left to copy or tag here
        if not src_has:
            lost = True
            continue
        # `have` is [] for an untagged digest already there: only its tags are missing.
        action = COPY if have is None else ADD_TAG
        delta.copies.append(Copy(g.image, g.digest, src_repo, dst_repo, tuple(todo), action))
    if lost:
        delta.lost.append(Lost(src_repo, g.digest, g.origin, g.image))
    return promoted


def _dedupe_lost(lost: list[Lost]) -> list[Lost]:
    seen: set[tuple[str, str]] = set()
    out = []
    for item in lost:
        if (item.src_repo, item.digest) not in seen:
            seen.add((item.src_repo, item.digest))
            out.append(item)
    return out


def check_delta(delta: Delta) -> None:
    """Refuse tag moves (all listed) and a run where every source digest with work to do is lost."""
    if delta.moves:
        raise TagMoveError.of(delta.moves)
    if delta.lost and not delta.copies and len(delta.lost) == delta.source_digests:
        raise AllLostError.of(delta)
