"""Pure judging: an event against the promoted index (manifests at the branch head) and the known list children."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from releng.promo.audit.events import DELETE, IGNORED, INSERT, Event
from releng.promo.edges import to_edge_groups
from releng.promo.manifests import Manifest
from releng.signing.tags import signed_digest

VERIFIED = "VERIFIED"
REJECTED = "REJECTED"
HELD = "HELD"  # an unknown untagged digest in a promoted repository: maybe a child whose index has not arrived yet
SKIPPED = "IGNORED"


@dataclass(frozen=True)
class PromotedIndex:
    """What the manifests promote, keyed by destination repository (HOST/PREFIX/IMAGE): digest -> tags."""

    head: str
    repos: Mapping[str, Mapping[str, frozenset[str]]]

    @classmethod
    def from_manifests(cls, manifests: Sequence[Manifest], head: str) -> PromotedIndex:
        """Every edge's destination, grouped (the promoter's own edges: same redundancy rules)."""
        repos: dict[str, dict[str, frozenset[str]]] = {}
        for group in to_edge_groups(manifests):
            for dst in group.destinations:
                digests = repos.setdefault(f"{dst}/{group.image}", {})
                digests[group.digest] = digests.get(group.digest, frozenset()) | frozenset(group.tags)
        return cls(head, repos)

    def tags_of(self, repo: str, digest: str) -> frozenset[str] | None:
        """The promoted tags of repo@digest (empty set: promoted tag-less), or None if not promoted."""
        return self.repos.get(repo, {}).get(digest)

    def tag_promoted(self, repo: str, tag: str) -> bool:
        """Whether some promoted digest of repo carries tag."""
        return any(tag in tags for tags in self.repos.get(repo, {}).values())

    def names(self, repo: str) -> bool:
        """Whether the manifests promote anything to repo."""
        return repo in self.repos


@dataclass(frozen=True)
class Verdict:
    """The judgement of one event: VERIFIED, REJECTED, HELD or IGNORED, with the reason in words."""

    event: Event
    result: str
    reason: str
    head: str = ""
    parents: tuple[str, ...] = field(default=())


def _child_parent(index: PromotedIndex, event: Event, parents: Mapping[str, frozenset[str]]) -> str | None:
    """The promoted list in the event's repository that has the event's digest as a child, if any."""
    for parent in sorted(parents.get(event.digest, frozenset())):
        if index.tags_of(event.repo, parent) is not None:
            return parent
    return None


def _signature_of(index: PromotedIndex, event: Event, parents: Mapping[str, frozenset[str]]) -> str | None:
    """The promoted digest (or child of a promoted list) whose cosign signatures the event's `sha256-<hex>.sig` tag
    holds: the promoter copies and adds those along with the image, so they are expected."""
    signed = signed_digest(event.tag) if event.tag else None
    if signed is None:
        return None
    if index.tags_of(event.repo, signed) is not None:
        return signed
    if any(index.tags_of(event.repo, parent) is not None for parent in parents.get(signed, frozenset())):
        return signed
    return None


def _judge_delete(index: PromotedIndex, event: Event, parents: Mapping[str, frozenset[str]]) -> Verdict:
    # Production only grows: removing anything promoted (or a child of a promoted list) is an incident;
    # removing something the manifests never promoted is a clean-up and is allowed.
    if event.digest and index.tags_of(event.repo, event.digest) is not None:
        return Verdict(event, REJECTED, "deletion of a promoted image", index.head)
    if event.digest and (parent := _child_parent(index, event, parents)):
        return Verdict(event, REJECTED, f"deletion of a child of promoted list {parent}", index.head)
    if event.tag and index.tag_promoted(event.repo, event.tag):
        return Verdict(event, REJECTED, f"deletion of promoted tag {event.tag}", index.head)
    return Verdict(event, VERIFIED, "deletion of an image the manifests do not promote", index.head)


def _judge_insert(index: PromotedIndex, event: Event, parents: Mapping[str, frozenset[str]]) -> Verdict:
    if (signed := _signature_of(index, event, parents)) is not None:
        return Verdict(event, VERIFIED, f"signature tag of promoted image {signed}", index.head)
    if not event.digest:
        if index.tag_promoted(event.repo, event.tag):
            return Verdict(event, VERIFIED, f"tag {event.tag} is in the manifests", index.head)
        return Verdict(event, REJECTED, f"tag {event.tag} is not in the manifests for {event.repo}", index.head)
    tags = index.tags_of(event.repo, event.digest)
    if tags is not None:
        if event.tag and event.tag not in tags:
            listed = ", ".join(sorted(tags)) or "no tags"
            return Verdict(event, REJECTED, f"tag {event.tag} is not in the manifests for this digest ({listed})",
                           index.head)
        return Verdict(event, VERIFIED, "agrees with the manifests", index.head)
    parent = _child_parent(index, event, parents)
    if parent and not event.tag:
        return Verdict(event, VERIFIED, f"child of promoted list {parent}", index.head, (parent,))
    if parent:
        return Verdict(event, REJECTED, f"tag {event.tag} on a child of promoted list {parent}", index.head)
    if not event.tag and index.names(event.repo):
        return Verdict(event, HELD, "unknown digest in a promoted repository: waiting for its index", index.head)
    return Verdict(event, REJECTED, f"digest is not in the manifests for {event.repo}", index.head)


def judge(index: PromotedIndex, event: Event, parents: Mapping[str, frozenset[str]]) -> Verdict:
    """Judge one event. parents: child digest -> digests of the lists that contain it (the children cache)."""
    if event.action == IGNORED:
        return Verdict(event, SKIPPED, "pulls, mounts and blobs change no promoted manifest", index.head)
    if event.action == DELETE:
        return _judge_delete(index, event, parents)
    assert event.action == INSERT
    return _judge_insert(index, event, parents)


def expire(verdict: Verdict) -> Verdict:
    """A held event whose index never came: REJECTED."""
    return Verdict(verdict.event, REJECTED, "unknown digest: no promoted list claimed it in time", verdict.head)
