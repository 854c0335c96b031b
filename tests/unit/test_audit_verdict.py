"""Judging: a table of events against a promoted index, children held until their index, redelivery judged once."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.promo.audit.events import DELETE, IGNORED, INSERT, Event
from releng.promo.audit.report import JsonlReporter
from releng.promo.audit.verdict import HELD, REJECTED, SKIPPED, VERIFIED, PromotedIndex, judge
from releng.promo.manifests import Image, Manifest, Registry

from tests.unit._audit_common import D_CHILD, D_IMAGE, D_LIST, D_NOTAG, D_OTHER, HOST, INDEX, ready_auditor


def ev(action: str, digest: str = "", tag: str = "", path: str = "k8s-prod/foo", id: str = "1") -> Event:
    return Event(id, action, HOST, path, digest, tag)


PARENTS = {D_CHILD: frozenset({D_LIST})}
CASES = {
    "listed-digest-and-tag": (ev(INSERT, D_IMAGE, "1.0"), VERIFIED),
    "listed-digest-no-tag": (ev(INSERT, D_IMAGE), VERIFIED),
    "listed-tagless-digest": (ev(INSERT, D_NOTAG), VERIFIED),
    "listed-digest-unlisted-tag": (ev(INSERT, D_IMAGE, "2.0"), REJECTED),
    "tag-on-tagless-digest": (ev(INSERT, D_NOTAG, "x"), REJECTED),
    "unlisted-digest-tagged": (ev(INSERT, D_OTHER, "1.0"), REJECTED),
    "unlisted-digest-untagged-in-promoted-repo": (ev(INSERT, D_OTHER), HELD),
    "unlisted-repo": (ev(INSERT, D_IMAGE, "1.0", path="k8s-prod/bar"), REJECTED),
    "unlisted-repo-untagged": (ev(INSERT, D_OTHER, path="k8s-prod/bar"), REJECTED),
    "same-path-other-host": (Event("1", INSERT, "eu.gcr.io", "k8s-prod/foo", D_IMAGE, "1.0"), REJECTED),
    "known-child": (ev(INSERT, D_CHILD), VERIFIED),
    "tag-on-known-child": (ev(INSERT, D_CHILD, "evil"), REJECTED),
    "tag-only-listed": (ev(INSERT, tag="latest"), VERIFIED),
    "tag-only-unlisted": (ev(INSERT, tag="evil"), REJECTED),
    "delete-promoted-digest": (ev(DELETE, D_IMAGE), REJECTED),
    "delete-promoted-tag": (ev(DELETE, tag="1.0"), REJECTED),
    "delete-child-of-promoted-list": (ev(DELETE, D_CHILD), REJECTED),
    "delete-unpromoted": (ev(DELETE, D_OTHER), VERIFIED),
    "delete-unpromoted-tag": (ev(DELETE, tag="scratch"), VERIFIED),
    "pull-ignored": (ev(IGNORED, D_OTHER), SKIPPED),
}


@pytest.mark.parametrize("event,expected", CASES.values(), ids=CASES.keys())
def test_judge(event: Event, expected: str) -> None:
    assert judge(INDEX, event, PARENTS).result == expected


def test_index_from_manifests_uses_every_destination() -> None:
    regs = (Registry("gcr.io/staging", src=True), Registry("us.gcr.io/prod"), Registry("eu.gcr.io/prod"))
    manifest = Manifest("m.yaml", regs, (Image("foo", {D_IMAGE: ("1.0",), D_NOTAG: ()}),))
    index = PromotedIndex.from_manifests([manifest], "abc")
    assert index.tags_of("eu.gcr.io/prod/foo", D_IMAGE) == {"1.0"}
    assert index.tags_of("us.gcr.io/prod/foo", D_NOTAG) == frozenset()
    assert index.tags_of("gcr.io/staging/foo", D_IMAGE) is None  # the source is not production


def test_children_first_then_index_releases_them(tmp_path: Path) -> None:
    auditor = ready_auditor(tmp_path, {D_LIST: (D_CHILD,)})
    held = auditor.handle([ev(INSERT, D_CHILD, id="c")])
    assert [v.result for v in held] == [HELD] and len(auditor.held) == 1
    out = auditor.handle([ev(INSERT, D_LIST, "2.0", id="l")])
    assert [(v.event.digest, v.result) for v in out] == [(D_LIST, VERIFIED), (D_CHILD, VERIFIED)]
    assert len(auditor.held) == 0
    # The list is read once, however many events name it.
    auditor.handle([ev(INSERT, D_LIST, "latest", id="l2"), ev(INSERT, D_CHILD, id="c2")])
    assert auditor.reads_log == [D_LIST]  # type: ignore[attr-defined]


def test_held_child_expires_rejected_and_reported(tmp_path: Path) -> None:
    now = [0.0]
    jsonl = tmp_path / "rejected.jsonl"
    auditor = ready_auditor(tmp_path, reporters=[JsonlReporter(jsonl)], hold_seconds=5, clock=lambda: now[0])
    auditor.handle([ev(INSERT, D_OTHER, id="x")])
    assert auditor.expire_held() == []
    now[0] = 6
    [gone] = auditor.expire_held()
    assert gone.result == REJECTED and D_OTHER in jsonl.read_text()


def test_redelivery_judged_once(tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    auditor = ready_auditor(tmp_path, reporters=[JsonlReporter(jsonl)])
    for _ in range(3):
        auditor.handle([ev(INSERT, D_OTHER, "evil", id="same")])
    assert len(jsonl.read_text().splitlines()) == 1 and auditor.counts.duplicates == 2


def test_failed_report_is_not_remembered(tmp_path: Path) -> None:
    class Broken:
        def report(self, verdict: object) -> None:
            raise OSError("disk full")

    auditor = ready_auditor(tmp_path, reporters=[Broken()])
    with pytest.raises(OSError):
        auditor.handle([ev(INSERT, D_OTHER, "evil", id="r")])
    auditor.reporters = []
    assert [v.result for v in auditor.handle([ev(INSERT, D_OTHER, "evil", id="r")])] == [REJECTED]


def test_not_ready_without_manifests(tmp_path: Path) -> None:
    auditor = ready_auditor(tmp_path)
    auditor.source.index = None
    with pytest.raises(Exception, match="no manifests loaded"):
        auditor.handle([ev(INSERT, D_IMAGE)])
