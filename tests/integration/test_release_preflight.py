"""Check everything before publishing anything: every refusal known in advance stops `krel release` before its
first write (release/ byte-identical, no tag pushed), and what is already published identically is a no-op.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from releng import git
from releng.announce.ghrelease import render_release_page
from releng.jobs import run as job
from releng.jobs.clients import open_clients
from releng.jobs.handlers import bucket, preflight
from releng.jobs.handlers import git as git_handlers
from releng.jobs.options import JobOptions
from releng.jobs.steps import (
    ArchiveLog,
    CopyToRelease,
    CreateAnnouncement,
    PreflightRelease,
    PublishMarkers,
    PublishNotes,
    PublishPackages,
    PushGitObjects,
    RestoreWorkspace,
    UpdateGitHubPage,
    VerifyStaged,
    WriteArtifacts,
)
from releng.profile import load_profile

from krel.app import app
from tests.fixtures.releaseflow import FlowEnv, flow_generator

ALPHA1 = "v1.0.0-alpha.1"
ARGS = ["--branch", "master", "--type", "alpha", "--nomock"]
PREFLIGHT = "Check everything before publishing anything"
WRITES = (CopyToRelease, PublishNotes, CreateAnnouncement, PublishMarkers, PushGitObjects, UpdateGitHubPage,
          ArchiveLog, WriteArtifacts, PublishPackages)


@pytest.fixture(scope="module")
def staged_world(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> FlowEnv:
    home = tmp_path_factory.mktemp("preflight") / "krel-home"
    project = flow_generator().create(home)
    world = FlowEnv(home, registry_factory("preflight").host, project)
    staged = world.krel("stage", *ARGS, "--replay", str(project.replay))
    assert staged.returncode == 0, staged.stderr[-2000:]
    shutil.copytree(home, home.parent / "pristine", symlinks=True, ignore=shutil.ignore_patterns("workspaces"))
    return world


@pytest.fixture
def world(staged_world: FlowEnv) -> FlowEnv:
    """The staged world reset to its pristine copy, at the same path: the staged source names that upstream."""
    home = staged_world.home
    shutil.rmtree(home)
    shutil.copytree(home.parent / "pristine", home, symlinks=True)
    return staged_world


def _release_dir(world: FlowEnv) -> Path:
    return world.bucket("release") / "release"


def _gcs(world: FlowEnv) -> Path:
    return world.bucket("release") / "stage" / world.build_version / ALPHA1 / "gcs-stage" / ALPHA1


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def _tag_upstream_elsewhere(world: FlowEnv) -> None:
    """The release's tag already on the remote, on the build commit's parent."""
    git.run(world.upstream, "tag", ALPHA1, f"{world.build_version.rsplit('+', 1)[1]}~1")


def _plan(world: FlowEnv) -> list[Any]:
    profile = load_profile("local", {"krel_home": str(world.home), "local_registry": world.registry})
    options = JobOptions("master", "alpha", world.build_version, profile, world.home, nomock=True)
    with open_clients(profile, profile.targets(True)) as clients:
        return list(job.run("release", options, profile.targets(True), clients, plan_only=True).plan.steps)


REFUSALS: dict[str, tuple[Any, str]] = {
    "minor-marker-would-move-backwards": (
        lambda w: _put(_release_dir(w) / "latest-1.0.txt", b"v1.0.5"),
        r"Publish version markers for v1\.0\.0-alpha\.1: \S+/release/latest-1\.0\.txt holds v1\.0\.5, newer than "
        r"v1\.0\.0-alpha\.1; markers never move backwards"),
    "marker-holds-no-version": (
        lambda w: _put(_release_dir(w) / "latest.txt", b"<script>alert(1)</script>"),
        r"published version marker holds '<script>alert\(1\)</script>': expected a version"),
    "released-tarball-other-content": (
        lambda w: _put(_release_dir(w) / ALPHA1 / "demo.tar.gz", b"other"),
        rf"Copy staged tree to release/{ALPHA1}: \S+/release/{ALPHA1}/demo\.tar\.gz already exists with different "
        r"content"),
    "released-sums-other-content": (
        lambda w: _put(_release_dir(w) / ALPHA1 / "SHA256SUMS", (_gcs(w) / "SHA256SUMS").read_bytes() + b"\n"),
        r"SHA256SUMS already exists with different content"),
    "released-binary-same-size-other-bytes": (
        lambda w: _put(_release_dir(w) / ALPHA1 / "bin/linux/amd64/democtl",
                       bytes(b ^ 1 for b in (_gcs(w) / "bin/linux/amd64/democtl").read_bytes())),
        r"bin/linux/amd64/democtl already exists with different content"),
    "released-provenance-other-content": (
        lambda w: _put(_release_dir(w) / ALPHA1 / "provenance.json", b"{}"),
        r"provenance\.json already exists with different content"),
    "published-notes-other-content": (
        lambda w: _put(_release_dir(w) / ALPHA1 / "release-notes.html", b"<p>other notes</p>"),
        r"Publish release notes for v1\.0\.0-alpha\.1: \S+release-notes\.html already exists with different content"),
    "published-page-other-content": (
        lambda w: _put(_release_dir(w) / ALPHA1 / "github-release.md", b"# somebody else's page\n"),
        r"GitHub release page for v1\.0\.0-alpha\.1 \(bucket\): \S+/github-release\.md already exists with "
        r"different content"),
    "tag-on-remote-at-another-commit": (
        _tag_upstream_elsewhere,
        r"Push git objects \(push\): tag v1\.0\.0-alpha\.1 already exists but points to commit \w+, expected \w+"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_known_refusal_stops_the_release_before_the_first_write(world: FlowEnv, case: str) -> None:
    setup, pattern = REFUSALS[case]
    setup(world)
    before = (world.bucket_state("release", lambda key: not key.startswith("release/")), world.remote_refs())
    result = world.krel("release", *ARGS, "--build-version", world.build_version)
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {PREFLIGHT}: "), result.stderr[-2000:]
    assert re.search(pattern, errors[0]), errors[0]
    after = (world.bucket_state("release", lambda key: not key.startswith("release/")), world.remote_refs())
    assert after == before


def test_preflight_sits_after_verify_and_before_every_write(world: FlowEnv) -> None:
    plan = _plan(world)
    kinds = [type(s) for s in plan]
    pre = kinds.index(PreflightRelease)
    assert kinds.index(VerifyStaged) < kinds.index(RestoreWorkspace) < pre
    assert all(kinds.index(kind) > pre for kind in WRITES)
    checks = plan[pre].checks
    # the checks are the publishing steps themselves (same targets), all but the never-rewritten announcement
    assert list(checks) == [s for s in plan[pre + 1:] if isinstance(s, WRITES[:2] + WRITES[3:6] + WRITES[7:])]
    assert {type(c) for c in checks} == {CopyToRelease, PublishNotes, PublishMarkers, PushGitObjects,
                                         UpdateGitHubPage, WriteArtifacts, PublishPackages}


def _preflight_in_process(world: FlowEnv) -> None:
    """Verify, restore and preflight through the job's own handlers (what `krel release` runs first)."""
    plan = _plan(world)
    profile = load_profile("local", {"krel_home": str(world.home), "local_registry": world.registry})
    with open_clients(profile, profile.targets(True)) as b:
        bucket.verify_staged(next(s for s in plan if isinstance(s, VerifyStaged)), b)
        git_handlers.restore_workspace(next(s for s in plan if isinstance(s, RestoreWorkspace)), b)
        preflight.preflight_release(next(s for s in plan if isinstance(s, PreflightRelease)), b)


def _publish_identically(world: FlowEnv) -> None:
    """What the release would write, already there with the same bytes (a release killed after publishing)."""
    release = _release_dir(world) / ALPHA1
    shutil.copytree(_gcs(world), release)
    stage = world.bucket("release") / "stage" / world.build_version
    shutil.copy(stage / "provenance.json", release / "provenance.json")
    for name in ("release-notes.json", "release-notes.html"):
        shutil.copy(stage / "notes" / name, release / name)
    profile = load_profile("local", {"krel_home": str(world.home), "local_registry": world.registry})
    # the page names the package repositories the release publishes to, as its plan says
    repositories = next(s for s in _plan(world) if isinstance(s, UpdateGitHubPage)).packages
    page = render_release_page(profile, ALPHA1, notes=(stage / "notes" / "release-notes.html").read_text(),
                               packages=repositories)
    (release / "github-release.md").write_text(page)
    for marker in ("latest.txt", "latest-1.txt", "latest-1.0.txt"):
        (_release_dir(world) / marker).write_text(ALPHA1)
    git.run(world.upstream, "tag", ALPHA1, world.build_version.rsplit("+", 1)[1])


def test_identical_published_state_is_not_a_refusal(world: FlowEnv) -> None:
    _publish_identically(world)
    before = world.bucket_state("release", lambda key: not key.startswith("release/"))
    _preflight_in_process(world)
    assert world.bucket_state("release", lambda key: not key.startswith("release/")) == before


@pytest.mark.parametrize("setup", ["older-marker", "newer-wider-marker"])
def test_markers_that_move_forward_or_stay_are_not_refused(world: FlowEnv, setup: str) -> None:
    if setup == "older-marker":
        _put(_release_dir(world) / "latest-1.0.txt", b"v1.0.0-alpha.0")
    else:
        # a newer minor line holds latest.txt: it stays, only the version's own line is guarded (krel)
        _put(_release_dir(world) / "latest.txt", b"v1.1.0-alpha.0")
    _preflight_in_process(world)


def test_github_page_in_the_bucket_is_write_once(cli: typer.testing.CliRunner, krel_home: Path,
                                                 tmp_path: Path) -> None:
    args = ["announce", "github-page", "--tag", "v0.3.0", "--nomock"]
    assert cli.invoke(app, args).exit_code == 0
    page = krel_home / "buckets" / "release" / "release" / "v0.3.0" / "github-release.md"
    first = page.read_bytes()
    assert cli.invoke(app, args).exit_code == 0  # the same page again: a no-op
    notes = tmp_path / "notes.md"
    notes.write_text("Rewritten notes.\n")
    result = cli.invoke(app, [*args, "--notes-file", str(notes)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "release/v0.3.0/github-release.md already exists with different content" in lines[0]
    assert page.read_bytes() == first
