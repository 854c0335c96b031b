"""The auditor expects cosign signature tags of promoted digests (the promoter copies and adds them); any other
`.sig`-looking tag is judged like every other tag."""

from __future__ import annotations

import pytest
from releng.promo.audit.events import DELETE, INSERT, Event
from releng.promo.audit.verdict import REJECTED, VERIFIED, judge
from releng.signing.tags import signature_tag, signed_digest

from tests.unit._audit_common import D_CHILD, D_IMAGE, D_LIST, D_NOTAG, D_OTHER, HOST, INDEX

D_SIG = "sha256:" + "5" * 64  # the digest of a `.sig` manifest itself
PARENTS = {D_CHILD: frozenset({D_LIST})}
HEX = "1" * 64


def ev(action: str, digest: str, tag: str, path: str = "k8s-prod/foo") -> Event:
    return Event("1", action, HOST, path, digest, tag)


CASES = {
    "sig-of-promoted-digest": (ev(INSERT, D_SIG, signature_tag(D_IMAGE)), VERIFIED),
    "sig-of-promoted-list": (ev(INSERT, D_SIG, signature_tag(D_LIST)), VERIFIED),
    "sig-of-tagless-promoted-digest": (ev(INSERT, D_SIG, signature_tag(D_NOTAG)), VERIFIED),
    "sig-of-child-of-promoted-list": (ev(INSERT, D_SIG, signature_tag(D_CHILD)), VERIFIED),
    "sig-tag-only-event": (ev(INSERT, "", signature_tag(D_IMAGE)), VERIFIED),
    "sig-of-unpromoted-digest": (ev(INSERT, D_SIG, signature_tag(D_OTHER)), REJECTED),
    "sig-in-unpromoted-repo": (ev(INSERT, D_SIG, signature_tag(D_IMAGE), "k8s-prod/bar"), REJECTED),
    "sig-upper-case-hex": (ev(INSERT, D_SIG, f"sha256-{'A' * 64}.sig"), REJECTED),
    "sig-short-hex": (ev(INSERT, D_SIG, f"sha256-{HEX[:63]}.sig"), REJECTED),
    "sig-other-algorithm": (ev(INSERT, D_SIG, f"sha512-{HEX}.sig"), REJECTED),
    "sig-suffix-after": (ev(INSERT, D_SIG, f"sha256-{HEX}.sig.bak"), REJECTED),
    "attestation-tag": (ev(INSERT, D_SIG, f"sha256-{HEX}.att"), REJECTED),
    "sig-tag-on-the-image-itself": (ev(INSERT, D_IMAGE, signature_tag(D_IMAGE)), VERIFIED),
    "delete-unpromoted-sig-manifest": (ev(DELETE, D_SIG, ""), VERIFIED),
}


@pytest.mark.parametrize(("event", "expected"), CASES.values(), ids=CASES.keys())
def test_signature_tags(event: Event, expected: str) -> None:
    verdict = judge(INDEX, event, PARENTS)
    assert verdict.result == expected, verdict.reason
    if expected == VERIFIED and event.action == INSERT:
        assert "signature tag of promoted image" in verdict.reason


def test_tag_round_trip() -> None:
    assert signed_digest(signature_tag(D_IMAGE)) == D_IMAGE
    with pytest.raises(Exception, match="invalid digest"):
        signature_tag("sha256:abc")
