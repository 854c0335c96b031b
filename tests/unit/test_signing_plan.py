"""Where signing sits in the stage and release plans (pure planners), and the notes' public key line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from releng.jobs import steps as s
from releng.jobs.options import JobOptions, facts_for
from releng.jobs.release import plan_release
from releng.jobs.stage import plan_stage
from releng.notes import document, render
from releng.plan import Plan, Step
from releng.profile import SigningTargets, load_profile

HOME = Path("/krel-home")
BV = "v1.30.0-beta.0.5+0123456789abcd"  # a new release-1.30 branch: v1.30.0-rc.0 and v1.31.0-alpha.0
ALL = SigningTargets(artifacts=True, images=True, provenance=True)


def _options(signing: SigningTargets, nomock: bool = False) -> JobOptions:
    profile = load_profile("local", {"krel_home": str(HOME), "local_registry": "127.0.0.1:5000"})
    return JobOptions("release-1.30", "rc", BV, profile, HOME, nomock=nomock, notes=True, replay_dir="/r",
                      signing=signing)


def _kinds(plan: Plan) -> list[str]:
    return [type(step).__name__ for step in plan.steps]


def _after(plan: Plan, kind: type[Step]) -> list[str]:
    """The step type right after each step of `kind`."""
    kinds = _kinds(plan)
    return [kinds[i + 1] for i, step in enumerate(plan.steps) if isinstance(step, kind)]


SIGNING_STEPS = {"SignArtifacts", "SignImages", "SignProvenance", "VerifySignatures"}


def test_nothing_signed_without_signing() -> None:
    options = _options(SigningTargets())
    facts = facts_for(options, BV, True, notes_staged=True)
    targets = options.profile.mock
    stage, release = plan_stage(options, targets, facts), plan_release(options, targets, facts)
    assert not SIGNING_STEPS & {*_kinds(stage), *_kinds(release)}
    assert all(n.signing_key_url == "" for n in stage.steps if isinstance(n, s.WriteNotes))
    assert all(c.verified_envelope == "" for c in release.steps if isinstance(c, s.CopyToRelease))


@pytest.mark.parametrize("nomock", [False, True])
def test_stage_signs_each_tree_before_upload_images_after_push_provenance_last(nomock: bool) -> None:
    options = _options(ALL, nomock)
    targets = options.profile.targets(nomock)
    plan = plan_stage(options, targets, facts_for(options, BV, True))
    assert _after(plan, s.AssembleStage) == ["SignArtifacts", "SignArtifacts"]
    trees = [step.tree_dir for step in plan.steps if isinstance(step, s.SignArtifacts)]
    uploads = [step.local_dir for step in plan.steps if isinstance(step, s.UploadArtifacts)]
    assert all(tree in uploads for tree in trees)
    kinds = _kinds(plan)
    assert max(i for i, k in enumerate(kinds) if k == "SignArtifacts") < kinds.index("UploadArtifacts")
    signed = [(step.registry, step.version, step.repos) for step in plan.steps if isinstance(step, s.SignImages)]
    repos = ("demo-server", "demo-server-amd64", "demo-server-arm64")
    assert signed == [(targets.registry, "v1.30.0-rc.0", repos), (targets.registry, "v1.31.0-alpha.0", repos)]
    assert _after(plan, s.PushImages) == ["SignImages", "SignImages"]
    assert _after(plan, s.WriteProvenance) == ["SignProvenance"]
    (prov,) = [step for step in plan.steps if isinstance(step, s.SignProvenance)]
    assert (prov.bucket, prov.envelope_key) == (targets.bucket, f"stage/{BV}/provenance.intoto.jsonl")
    (notes,) = [step for step in plan.steps if isinstance(step, s.WriteNotes)]
    assert notes.signing_key_url == f"{targets.release_download_url()}/v1.30.0-rc.0/release-key.pub"
    # the step table (--plan, the journal) names no key material
    assert "BEGIN" not in "".join(step.describe() for step in plan.steps)


@pytest.mark.parametrize(("signing", "after_verify", "repos", "envelope"), [
    (ALL, "VerifySignatures", 3, True),
    (SigningTargets(artifacts=True), "VerifySignatures", 0, False),
    (SigningTargets(images=True), "VerifySignatures", 3, False),
    (SigningTargets(), "RestoreWorkspace", None, False),
])
def test_release_checks_signatures_before_anything_else(signing: SigningTargets, after_verify: str,
                                                        repos: int | None, envelope: bool) -> None:
    options = _options(signing)
    plan = plan_release(options, options.profile.mock, facts_for(options, BV, True, notes_staged=True))
    assert _after(plan, s.VerifyStaged) == [after_verify]
    checks = [step for step in plan.steps if isinstance(step, s.VerifySignatures)]
    if repos is None:
        assert not checks
        return
    (check,) = checks
    assert len(check.repos) == repos and check.registry == "127.0.0.1:5000/mock"
    assert check.artifacts is signing.artifacts and bool(check.verified_envelope) is envelope
    copies = [step for step in plan.steps if isinstance(step, s.CopyToRelease)]
    assert {c.verified_envelope for c in copies} == {check.verified_envelope}


def test_notes_name_the_public_key_only_when_signed() -> None:
    files = document.downloads([], "https://dl.example", "v1.0.0")
    images = document.images([("demo-server", ["amd64"])], "v1.0.0", "registry.example")
    doc = document.build([], files, images)
    plain = render.downloads_markdown(doc)
    url = "https://dl.example/release/v1.0.0/release-key.pub"
    signed = render.downloads_markdown(dataclasses.replace(doc, signing_key_url=url))
    assert "Signatures" not in plain and "release-key.pub" not in plain
    assert signed.startswith(plain) and f"[release-key.pub]({url})" in signed
    assert "\n\n### Signatures\n\n" in signed
