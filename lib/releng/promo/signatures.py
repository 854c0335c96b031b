"""Signatures travel with promoted images: the cosign `sha256-<hex>.sig` tag of each digest a run promotes is
copied from its source repository to each destination (as kpromo replicates signatures), and with a key the
promoter also signs each promoted image in each destination.

A destination `.sig` tag is written only when absent. One already there on another manifest is never moved (cosign
would append to it, but an existing production signature is not the promoter's to rewrite): it is listed as a
conflict and the run exits 1. The digests this run copies are looked at, and the already promoted ones whose
destination lacks the `.sig` tag the source has (deleted, or an earlier run died between the image and its
signature): a rerun heals those. Both are found in the tags/list answers the inventory already read, so a no-op run
asks nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from releng.errors import ReleaseError
from releng.promo.delta import Copy, repo_path
from releng.promo.edges import EdgeGroup
from releng.registry.copy import copy_image
from releng.registry.pool import Registries
from releng.signing.cosign import sign_image, signature_tag
from releng.signing.keys import SigningKey
from releng.signing.tags import signed_digest

COPY_SIGNATURE = "copy-signature"
SIGN = "sign"


@dataclass(frozen=True)
class SignatureStep:
    """One planned signature write into `dst_repo` for the image `digest`: copy the source's `.sig` manifest
    (`signature` is its digest) or sign with the promoter's key (`signature` is the key id)."""

    image: str
    digest: str
    src_repo: str
    dst_repo: str
    action: str
    signature: str

    @property
    def tag(self) -> str:
        return signature_tag(self.digest)

    def as_dict(self) -> dict[str, Any]:
        return {"image": self.image, "digest": self.digest, "src": self.src_repo, "dst": self.dst_repo,
                "tag": self.tag, "action": self.action, "signature": self.signature}


@dataclass(frozen=True)
class SignatureConflict:
    """A destination `.sig` tag on another manifest than the source's: left alone."""

    dst_repo: str
    tag: str
    current: str
    wanted: str

    def describe(self) -> str:
        return (f"signature conflict: {self.dst_repo}:{self.tag} points at {self.current}, the source's is "
                f"{self.wanted}; production signature tags are never moved (compare them, then fix by hand)")


@dataclass
class SignaturePlan:
    """What the signature phase of a promotion does: copies, signings, conflicts, and copies already there."""

    steps: list[SignatureStep] = field(default_factory=list)
    conflicts: list[SignatureConflict] = field(default_factory=list)
    present: int = 0
    # (dst_repo, digest) of images promoted earlier whose signature this run heals (no image copy to wait for)
    healing: set[tuple[str, str]] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {"steps": [s.as_dict() for s in self.steps], "present": self.present,
                "healing": [{"dst": dst, "digest": digest} for dst, digest in sorted(self.healing)],
                "conflicts": [c.__dict__ | {"describe": c.describe()} for c in self.conflicts]}


@dataclass(frozen=True)
class SignatureOutcome:
    """One executed signature step, with the error if it failed."""

    step: SignatureStep
    error: str = ""


def _sig_digest(registries: Registries, repo_path: str, digest: str) -> str | None:
    client, repo = registries.for_path(repo_path)
    found = client.head_manifest(repo, signature_tag(digest))
    return found.digest if found is not None else None


# One image in one destination: (image, digest, source repository, destination repository).
Pair = tuple[str, str, str, str]


def unsigned_promoted(groups: Sequence[EdgeGroup], present: Mapping[str, Mapping[str, Sequence[str]]],
                      listed: Mapping[str, Sequence[str]], copies: Sequence[Copy]) -> list[Pair]:
    """Images already in a destination (`present`: the inventory's digests) without the `.sig` tag their source
    lists, from each repository's tags/list (`listed`); the copies of this run are planned from `copies`."""
    copying = {(c.dst_repo, c.digest) for c in copies}
    signed: dict[str, frozenset[str | None]] = {}

    def signed_digests(path: str) -> frozenset[str | None]:
        found = signed.get(path)
        if found is None:
            found = signed[path] = frozenset(signed_digest(t) for t in listed.get(path, ()) if t.endswith(".sig"))
        return found

    pairs: list[Pair] = []
    for g in groups:
        src = repo_path(g.src, g.image)
        if g.digest not in signed_digests(src):  # the source lists no signature for it: nothing to heal
            continue
        for registry in g.destinations:
            dst = repo_path(registry, g.image)
            if (dst, g.digest) in copying or g.digest not in present.get(dst, {}):
                continue  # copied by this run (its signature planned with it), or not promoted here at all
            if g.digest not in signed_digests(dst):
                pairs.append((g.image, g.digest, src, dst))
    return pairs


def plan_signatures(copies: Sequence[Copy], registries: Registries, key: SigningKey | None,
                    threads: int = 20, heal: Sequence[Pair] = ()) -> SignaturePlan:
    """Read the `.sig` tags of the copies' digests and of the images to heal (source and destination; read-only) and
    plan the writes."""
    pairs = sorted({(c.image, c.digest, c.src_repo, c.dst_repo) for c in copies} | set(heal))
    lookups = sorted({(src, digest) for _, digest, src, _ in pairs} | {(dst, digest) for _, digest, _, dst in pairs})
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="krel-sigs") as pool:
        found = dict(zip(lookups, pool.map(lambda p: _sig_digest(registries, *p), lookups), strict=True))
    plan = SignaturePlan(healing={(dst, digest) for _, digest, _, dst in heal})
    for image, digest, src, dst in pairs:
        wanted, current = found[(src, digest)], found[(dst, digest)]
        if wanted is not None:
            if current is None:
                plan.steps.append(SignatureStep(image, digest, src, dst, COPY_SIGNATURE, wanted))
            elif current == wanted:
                plan.present += 1
            else:
                plan.conflicts.append(SignatureConflict(dst, signature_tag(digest), current, wanted))
        if key is not None:
            plan.steps.append(SignatureStep(image, digest, src, dst, SIGN, key.key_id))
    return plan


def apply_signatures(plan: SignaturePlan, registries: Registries, key: SigningKey | None,
                     promoted: set[tuple[str, str]], threads: int = 20) -> list[SignatureOutcome]:
    """Run the steps whose image copy succeeded ((dst_repo, digest) in `promoted`) or was done before (healing); per
    destination image in order (the copy before the signing: signing appends to the copied manifest). A failure never
    stops the others."""
    tasks: dict[tuple[str, str], list[SignatureStep]] = {}
    for step in plan.steps:
        if (step.dst_repo, step.digest) in promoted or (step.dst_repo, step.digest) in plan.healing:
            tasks.setdefault((step.dst_repo, step.digest), []).append(step)

    def one(step: SignatureStep) -> SignatureOutcome:
        dst, dst_repo = registries.for_path(step.dst_repo)
        try:
            if step.action == COPY_SIGNATURE:
                src, src_repo = registries.for_path(step.src_repo)
                # copy_image refuses a tag on another digest: a signature appearing meanwhile is never replaced
                copy_image(src, src_repo, step.signature, dst, dst_repo, [step.tag])
            else:
                assert key is not None
                sign_image(dst, dst_repo, step.digest, key)
        except ReleaseError as exc:
            return SignatureOutcome(step, str(exc))
        return SignatureOutcome(step)

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="krel-sign") as pool:
        results = pool.map(lambda steps: [one(s) for s in steps], list(tasks.values()))
        return [outcome for batch in results for outcome in batch]
