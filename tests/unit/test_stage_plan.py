"""plan_stage / plan_release are pure: tables of (options, targets, facts) -> steps and their targets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from releng.errors import UsageError
from releng.jobs import steps as s
from releng.jobs.options import JobOptions, facts_for, release_command, validate_options
from releng.jobs.release import plan_release
from releng.jobs.stage import plan_stage
from releng.plan import Plan
from releng.profile import BUILTIN_DIR, load_profile

HOME = Path("/krel-home")
VARS = {"krel_home": str(HOME), "local_registry": "127.0.0.1:5000"}


def _options(branch: str, release_type: str, bv: str | None = None, nomock: bool = False, **kw: object) -> JobOptions:
    profile = load_profile("local", VARS)
    return JobOptions(branch, release_type, bv, profile, HOME, nomock=nomock, **kw)  # type: ignore[arg-type]


def _of(plan: Plan, kind: type) -> list:  # type: ignore[type-arg]
    return [step for step in plan.steps if isinstance(step, kind)]


# (type, build version, branch, new branch) -> (versions tagged, (version, branch, create, release commit) per tag)
TAG_CASES = [
    (
        "rc",
        "v1.30.0-beta.0.5+0123456789abcd",
        "release-1.30",
        True,
        [
            ("v1.30.0-rc.0", "release-1.30", True, True),
            ("v1.31.0-alpha.0", "master", False, False),
        ],
    ),
    ("rc", "v1.30.0-rc.0.3+0123456789abcd", "release-1.30", False, [("v1.30.0-rc.1", "release-1.30", False, True)]),
    ("official", "v1.30.0-rc.1.2+0123456789abcd", "release-1.30", False, [("v1.30.0", "release-1.30", False, True)]),
    ("official", "v1.30.4-3+0123456789abcd", "release-1.30", False, [("v1.30.5", "release-1.30", False, True)]),
    ("alpha", "v1.31.0-alpha.0.7+0123456789abcd", "master", False, [("v1.31.0-alpha.1", "master", False, False)]),
    ("beta", "v1.31.0-alpha.3.7+0123456789abcd", "master", False, [("v1.31.0-beta.0", "master", False, False)]),
]


@pytest.mark.parametrize(("rtype", "bv", "branch", "new", "tags"), TAG_CASES)
def test_versions_and_where_they_are_tagged(rtype: str, bv: str, branch: str, new: bool, tags: list) -> None:  # type: ignore[type-arg]
    options = _options(branch, rtype, bv)
    plan = plan_stage(options, options.profile.mock, facts_for(options, bv, new))
    got = [(t.version, t.branch, t.create_branch, t.release_commit) for t in _of(plan, s.TagVersion)]
    assert got == tags
    assert all(t.commit == "0123456789abcd" for t in _of(plan, s.TagVersion))
    assert [b.version for b in _of(plan, s.BuildArtifacts)] == [t[0] for t in tags]
    prime = tags[0][0]
    assert _of(plan, s.TagVersion)[0].tag_message == f"Demo {rtype} release {prime}"
    assert _of(plan, s.TagVersion)[0].commit_message == f"Release commit for Demo {prime}"


@pytest.mark.parametrize("nomock", [False, True])
def test_stage_object_layout_and_registry_come_from_targets(nomock: bool) -> None:
    bv = "v1.30.0-beta.0.5+0123456789abcd"
    options = _options("release-1.30", "rc", bv, nomock=nomock)
    targets = options.profile.targets(nomock)
    plan = plan_stage(options, targets, facts_for(options, bv, True))
    uploads = {u.prefix for u in _of(plan, s.UploadArtifacts)}
    assert uploads == {
        f"stage/{bv}/v1.30.0-rc.0/gcs-stage/v1.30.0-rc.0",
        f"stage/{bv}/v1.30.0-rc.0/release-images",
        f"stage/{bv}/v1.31.0-alpha.0/gcs-stage/v1.31.0-alpha.0",
        f"stage/{bv}/v1.31.0-alpha.0/release-images",
        f"stage/{bv}/v1.30.0-rc.0/packages",  # the local profile's [packages], built for the prime version
    }
    bucket = "file:///krel-home/buckets/release" if nomock else "file:///krel-home/buckets/mock"
    registry = "127.0.0.1:5000/staging" if nomock else "127.0.0.1:5000/mock"
    assert {u.bucket for u in _of(plan, s.UploadArtifacts)} == {bucket}
    assert [(st.bucket, st.object_key) for st in _of(plan, s.StageSource)] == [(bucket, f"stage/{bv}/src.tar.gz")]
    assert [p.object_key for p in _of(plan, s.WriteProvenance)] == [f"stage/{bv}/provenance.json"]
    assert {p.registry for p in _of(plan, s.PushImages)} == {registry}
    assert all(p.images == ("demo-server",) and p.arches == ("amd64", "arm64") for p in _of(plan, s.PushImages))
    # mock and nomock work dirs never overlap, so their journals cannot mix
    assert plan.steps[0].workdir.startswith("/krel-home/workspaces/local/")  # type: ignore[attr-defined]
    assert ("release-" in plan.steps[0].workdir) is nomock  # type: ignore[attr-defined]


def test_stage_step_order_matches_krel() -> None:
    bv = "v1.30.0-rc.0.3+0123456789abcd"
    options = _options("release-1.30", "rc", bv, replay_dir="/replay", notes=True)
    plan = plan_stage(options, options.profile.mock, facts_for(options, bv, False))
    kinds = [type(step).__name__ for step in plan.steps]
    order = ["CheckPrerequisites", "CheckBranchState", "PrepareWorkspace", "TagVersion", "BuildArtifacts", "WriteNotes",
             "VerifyArtifacts", "AssembleStage", "BuildPackages", "StageSource", "UploadArtifacts", "PushImages",
             "WriteProvenance", "ArchiveLog"]
    assert [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k] == order
    notes = _of(plan, s.WriteNotes)[0]
    assert notes.tag == "v1.30.0-rc.1" and notes.download_url == "file:///krel-home/buckets/mock/release"


@pytest.mark.parametrize(
    ("nomock", "bucket", "registry", "dry_run"),
    [
        (False, "file:///krel-home/buckets/mock", "127.0.0.1:5000/mock", True),
        (True, "file:///krel-home/buckets/release", "127.0.0.1:5000/staging", False),
    ],
)
def test_release_targets_markers_and_git(nomock: bool, bucket: str, registry: str, dry_run: bool) -> None:
    bv = "v1.30.0-beta.0.5+0123456789abcd"
    options = _options("release-1.30", "rc", bv, nomock=nomock)
    plan = plan_release(options, options.profile.targets(nomock), facts_for(options, bv, True, notes_staged=True))
    copies = [(c.src_prefix, c.dst_prefix) for c in _of(plan, s.CopyToRelease)]
    assert copies == [
        (f"stage/{bv}/v1.30.0-rc.0/gcs-stage/v1.30.0-rc.0", "release/v1.30.0-rc.0"),
        (f"stage/{bv}/v1.31.0-alpha.0/gcs-stage/v1.31.0-alpha.0", "release/v1.31.0-alpha.0"),
    ]
    assert {c.bucket for c in _of(plan, s.CopyToRelease)} == {bucket}
    assert [m.markers for m in _of(plan, s.PublishMarkers)] == [
        ("release/latest.txt", "release/latest-1.txt", "release/latest-1.30.txt"),
        ("release/latest.txt", "release/latest-1.txt", "release/latest-1.31.txt"),
    ]
    assert [v.registry for v in _of(plan, s.ValidateImages)] == [registry]
    push = _of(plan, s.PushGitObjects)[0]
    assert push.tags == ("v1.30.0-rc.0", "v1.31.0-alpha.0")
    assert (push.branches, push.dry_run) == (("release-1.30", "master"), dry_run)
    notes = _of(plan, s.PublishNotes)[0]
    assert (notes.dst_prefix, notes.index_key) == ("release/v1.30.0-rc.0", "release/release-notes-index.json")
    assert _of(plan, s.ArchiveLog)[0].prefix == "archive/v1.30.0-rc.0"
    assert _of(plan, s.UpdateGitHubPage)[0].mode == ("bucket" if nomock else "render")


def test_release_validates_images_before_any_git_push() -> None:
    bv = "v1.30.0-rc.0.3+0123456789abcd"
    options = _options("release-1.30", "official", bv)
    plan = plan_release(options, options.profile.mock, facts_for(options, bv, False))
    kinds = [type(step) for step in plan.steps]
    assert kinds.index(s.ValidateImages) < kinds.index(s.PushGitObjects)
    assert kinds.index(s.VerifyStaged) < kinds.index(s.CopyToRelease) < kinds.index(s.PublishMarkers)
    assert [m.markers for m in _of(plan, s.PublishMarkers)] == [
        ("release/stable.txt", "release/stable-1.txt", "release/stable-1.30.txt")
    ]
    assert not _of(plan, s.PublishNotes)


def test_official_patch_markers_and_master_push() -> None:
    bv = "v1.31.0-alpha.1.7+0123456789abcd"
    options = _options("master", "alpha", bv)
    plan = plan_release(options, options.profile.mock, facts_for(options, bv, False))
    assert _of(plan, s.PushGitObjects)[0].branches == ("master",)


@pytest.mark.parametrize(
    ("branch", "rtype", "bv", "message"),
    [
        ("release-1.30", "nightly", None, "nightly"),
        ("feature-x", "rc", None, "feature-x"),
        ("release-1.30", "rc", "1.30.0", "1.30.0"),
        ("release-1.30", "rc", "v1.30.0-rc.0.3+zzzz", "v1.30.0-rc.0.3+zzzz"),
    ],
)
def test_bad_options_are_usage_errors(branch: str, rtype: str, bv: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        validate_options(_options(branch, rtype, bv))


def test_release_requires_build_version() -> None:
    with pytest.raises(UsageError, match="--build-version"):
        validate_options(_options("release-1.30", "rc"), require_build_version=True)


@pytest.mark.parametrize(
    ("rtype", "bv", "branch", "new", "message"),
    [
        ("official", "v1.30.0-beta.0.5+0123456789abcd", "release-1.30", True, "official"),
        ("rc", "v1.29.0-rc.0.5+0123456789abcd", "release-1.30", False, "does not match"),
        ("rc", "v1.31.0-alpha.0.5+0123456789abcd", "master", False, "master"),
        ("alpha", "v1.30.0-beta.0.5+0123456789abcd", "master", False, "alpha"),
    ],
)
def test_wrong_type_for_branch_is_refused(rtype: str, bv: str, branch: str, new: bool, message: str) -> None:
    options = _options(branch, rtype, bv)
    with pytest.raises(UsageError, match=message):
        plan_stage(options, options.profile.mock, facts_for(options, bv, new))


@pytest.mark.parametrize(
    ("nomock", "expected"),
    [
        (False, "krel release --type=rc --branch=release-1.30 --build-version=v1.30.0-rc.0.3+0123456789abcd"),
        (True, "krel release --nomock --type=rc --branch=release-1.30 --build-version=v1.30.0-rc.0.3+0123456789abcd"),
    ],
)
def test_follow_up_command(nomock: bool, expected: str) -> None:
    command = release_command(_options("release-1.30", "rc", nomock=nomock), "v1.30.0-rc.0.3+0123456789abcd")
    assert command == expected + " --profile=local"


def test_follow_up_command_names_a_profile_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text((BUILTIN_DIR / "local.toml").read_text())
    options = JobOptions("master", "alpha", None, load_profile(path, VARS), HOME)
    assert release_command(options, "v1.0.0-alpha.0.3+0123456789abcd").endswith(f"--profile={path}")


# krel's 2026 community-infra buckets (pkg/release/release.go TestBucket, ProductionBucket).
MOCK_BUCKET = "gs://5d7373bbdcb8270361b96548387bf2a9ad0d48758c35"
PROD_BUCKET = "gs://767373bbdcb8270361b96548387bf2a9ad0d48758c35"


@pytest.mark.parametrize(
    ("nomock", "bucket", "push_to", "validate_at", "dry_run"),
    [
        (False, MOCK_BUCKET, "gcr.io/k8s-staging-kubernetes/mock",
         "gcr.io/k8s-staging-kubernetes/mock", True),
        (True, PROD_BUCKET, "gcr.io/k8s-staging-kubernetes", "registry.k8s.io", False),
    ],
)
def test_kubernetes_profile_targets(nomock: bool, bucket: str, push_to: str, validate_at: str, dry_run: bool) -> None:
    profile = load_profile("kubernetes", VARS)
    options = JobOptions("release-1.30", "official", "v1.30.1-rc.0.7+0123456789abcd", profile, HOME, nomock=nomock)
    targets = profile.targets(nomock)
    facts = facts_for(options, "v1.30.1-rc.0.7+0123456789abcd", False)
    stage, release = plan_stage(options, targets, facts), plan_release(options, targets, facts)
    assert [t.version for t in _of(stage, s.TagVersion)] == ["v1.30.1"]
    assert {u.bucket for u in _of(stage, s.UploadArtifacts)} == {bucket}
    assert {p.registry for p in _of(stage, s.PushImages)} == {push_to}
    assert _of(stage, s.PushImages)[0].images[0] == "conformance"
    assert _of(stage, s.BuildArtifacts)[0].command == "make cross-in-a-container"
    assert [v.registry for v in _of(release, s.ValidateImages)] == [validate_at]
    assert _of(release, s.PushGitObjects)[0].dry_run is dry_run
    assert _of(release, s.PublishMarkers)[0].markers == (
        "release/stable.txt", "release/stable-1.txt", "release/stable-1.30.txt")
    assert _of(release, s.UpdateGitHubPage)[0].mode == ("publish" if nomock else "render")
    needed = _of(stage, s.CheckPrerequisites)[0].credentials
    assert needed == (("google-cloud", "GITHUB_TOKEN") if nomock else ("google-cloud",))


@pytest.mark.parametrize(
    ("nomock", "stage_registry", "release_registry", "bucket"),
    [
        (False, "gcr.io", "gcr.io", MOCK_BUCKET),
        (True, "gcr.io", "registry.k8s.io", PROD_BUCKET),
    ],
)
def test_stage_and_release_open_with_the_same_checks(
    nomock: bool, stage_registry: str, release_registry: str, bucket: str
) -> None:
    profile = load_profile("kubernetes", VARS)
    options = JobOptions("release-1.30", "rc", "v1.30.0-beta.0.5+0123456789abcd", profile, HOME, nomock=nomock)
    targets = profile.targets(nomock)
    facts = facts_for(options, "v1.30.0-beta.0.5+0123456789abcd", True)
    for plan, tools, registry, job in (
        (plan_stage(options, targets, facts), ("git", "tar", "sh"), stage_registry, "stage"),
        (plan_release(options, targets, facts), ("git", "tar"), release_registry, "release"),
    ):
        first, second = plan.steps[:2]
        assert isinstance(first, s.CheckPrerequisites) and isinstance(second, s.CheckBranchState)
        assert first.tools == tools
        assert first.registries == (registry,)
        assert first.buckets == (bucket,)
        assert first.workdir.endswith(f"/{job}") and first.workdir.startswith(str(HOME))
        assert first.min_free_gib == profile.build.min_free_gib
        assert first.credentials == (("google-cloud", "GITHUB_TOKEN") if nomock else ("google-cloud",))
        assert (second.upstream, second.branch, second.branch_is_new) == (profile.upstream.url, "release-1.30", True)
