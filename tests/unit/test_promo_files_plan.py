"""The file promotion plan is pure: a table of observed states -> the action for each file and destination."""

from __future__ import annotations

import pytest
from releng.promo.files import plan
from releng.promo.files.manifest import FileManifest, Filestore, PromotedFile
from releng.promo.files.plan import DestState, Facts, SourceState

SHA = "a" * 64
OTHER = "b" * 64
MANIFEST = FileManifest(
    origin="fs.yaml",
    filestores=(Filestore("gs://src", src=True), Filestore("gs://prod-a"), Filestore("file:///srv/prod-b")),
    files=(PromotedFile("v1/kubectl", SHA, "files.yaml:2"),),
)

CASES = {
    "missing-everywhere-copies": (SourceState(present=True), DestState(), plan.COPY, ""),
    "identical-is-skipped": (SourceState(present=True), DestState(sha256=SHA), plan.IDENTICAL, ""),
    "identical-even-when-source-is-gone": (SourceState(), DestState(sha256=SHA), plan.IDENTICAL, ""),
    "other-content-is-a-conflict": (SourceState(present=True), DestState(sha256=OTHER), plan.CONFLICT, OTHER),
    "conflict-names-manifest-hash-too": (SourceState(present=True), DestState(sha256=OTHER), plan.CONFLICT, SHA),
    "conflict-names-the-entry": (SourceState(), DestState(sha256=OTHER), plan.CONFLICT, "files.yaml:2"),
    "lost-when-not-in-source": (SourceState(), DestState(), plan.LOST, "not in the source"),
    "unreadable-source": (SourceState(error="gs://src: denied"), DestState(), plan.UNREADABLE, "denied"),
    "unreadable-destination": (SourceState(present=True), DestState(error="timeout"), plan.UNREADABLE, "timeout"),
}


@pytest.mark.parametrize(("source", "dest", "action", "detail"), list(CASES.values()), ids=list(CASES))
def test_action_per_state(source: SourceState, dest: DestState, action: str, detail: str) -> None:
    facts = Facts(sources={("gs://src", "v1/kubectl"): source},
                  dests={(d.base, "v1/kubectl"): dest for d in MANIFEST.destinations})
    ops = plan.plan_files([MANIFEST], facts)
    assert [(op.dest_url, op.action) for op in ops] == [
        ("gs://prod-a/v1/kubectl", action), ("file:///srv/prod-b/v1/kubectl", action)]
    assert all(detail in op.detail for op in ops)
    assert all(op.failed == (action in plan.FAILING) for op in ops)


def test_each_destination_is_decided_on_its_own() -> None:
    facts = Facts(sources={("gs://src", "v1/kubectl"): SourceState(present=True)},
                  dests={("gs://prod-a", "v1/kubectl"): DestState(sha256=SHA),
                         ("file:///srv/prod-b", "v1/kubectl"): DestState()})
    assert [op.action for op in plan.plan_files([MANIFEST], facts)] == [plan.IDENTICAL, plan.COPY]


def test_unobserved_state_is_never_a_copy() -> None:
    assert {op.action for op in plan.plan_files([MANIFEST], Facts(sources={}, dests={}))} == {plan.UNREADABLE}
