"""Where the packages steps sit in the stage and release plans (pure: no I/O), what they carry, and that a profile
without [packages] plans exactly what it planned before; the announcement and GitHub page name the repositories."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from releng import layout
from releng.announce.compose import build_announcement
from releng.announce.ghrelease import render_release_page
from releng.jobs import steps as s
from releng.jobs.options import JobOptions, facts_for
from releng.jobs.release import plan_release
from releng.jobs.stage import plan_stage
from releng.packages.sources import repository_sources
from releng.plan import Plan, Step
from releng.profile import Profile, load_profile

HOME = Path("/krel-home")
BV = "v1.30.0-beta.0.5+0123456789abcd"
PRIME = "v1.30.0-rc.0"


def _profile(packages: bool = True) -> Profile:
    profile = load_profile("local", {"krel_home": str(HOME), "local_registry": "127.0.0.1:5000"})
    return profile if packages else dataclasses.replace(profile, packages=None)


def _plans(nomock: bool, packages: bool = True) -> tuple[Plan, Plan]:
    options = JobOptions("release-1.30", "rc", BV, _profile(packages), HOME, nomock=nomock, notes=True,
                         replay_dir="/replay")
    targets = options.profile.targets(nomock)
    stage = plan_stage(options, targets, facts_for(options, BV, True))
    release = plan_release(options, targets, facts_for(options, BV, True, notes_staged=True))
    return stage, release


def _kinds(plan: Plan) -> list[type]:
    return [type(step) for step in plan.steps]


@pytest.mark.parametrize("nomock", [False, True])
def test_stage_builds_the_prime_versions_packages_and_stages_them(nomock: bool) -> None:
    stage, _ = _plans(nomock)
    kinds = _kinds(stage)
    (build,) = [st for st in stage.steps if isinstance(st, s.BuildPackages)]
    assert build.version == PRIME and build.arches == ("amd64", "arm64")
    assert build.build_dir.endswith(f"_output-{PRIME}") and build.out_dir == f"{build.build_dir}/packages"
    assert kinds.index(s.AssembleStage) < kinds.index(s.BuildPackages) < kinds.index(s.UploadArtifacts)
    uploads = [u for u in stage.steps if isinstance(u, s.UploadArtifacts) and u.prefix == layout.packages_prefix(
        BV, PRIME)]
    assert [u.local_dir for u in uploads] == [build.out_dir]
    assert kinds.index(s.UploadArtifacts) < kinds.index(s.WriteProvenance)


@pytest.mark.parametrize("nomock", [False, True])
def test_release_publishes_before_the_announcement_and_the_page(nomock: bool) -> None:
    profile = _profile()
    targets = profile.targets(nomock)
    _, release = _plans(nomock)
    kinds = _kinds(release)
    (publish,) = [st for st in release.steps if isinstance(st, s.PublishPackages)]
    assert kinds.index(s.CopyToRelease) < kinds.index(s.PublishPackages) < kinds.index(s.CreateAnnouncement)
    assert kinds.index(s.PublishPackages) < kinds.index(s.UpdateGitHubPage)
    assert (publish.bucket, publish.src_prefix, publish.tag) == (targets.bucket, layout.packages_prefix(BV, PRIME),
                                                                 PRIME)
    assert (publish.packages_bucket, publish.key_mode) == (targets.packages_bucket, targets.packages_key)
    assert publish.keys_dir == str(HOME / "keys")
    (preflight,) = [st for st in release.steps if isinstance(st, s.PreflightRelease)]
    assert publish in preflight.checks
    sources = repository_sources(targets.packages_bucket, "core", PRIME)
    (announce,) = [st for st in release.steps if isinstance(st, s.CreateAnnouncement)]
    (page,) = [st for st in release.steps if isinstance(st, s.UpdateGitHubPage)]
    assert announce.packages == sources and page.packages == sources


def test_mock_plans_never_name_the_nomock_packages_bucket() -> None:
    nomock_bucket = _profile().nomock.packages_bucket
    for plan in _plans(False):
        text = json.dumps(plan.as_json())
        assert nomock_bucket not in text.replace(_profile().mock.packages_bucket, "")


def _without_packages(plan: Plan) -> list[Step]:
    """The plan with its packages steps dropped and the repositories cleared from the announcement and the page."""
    out: list[Step] = []
    for step in plan.steps:
        if isinstance(step, s.BuildPackages | s.PublishPackages) or (
                isinstance(step, s.UploadArtifacts) and step.prefix.endswith("/packages")):
            continue
        if isinstance(step, s.CreateAnnouncement | s.UpdateGitHubPage):
            step = dataclasses.replace(step, packages=())
        if isinstance(step, s.PreflightRelease):
            step = dataclasses.replace(step, checks=tuple(_without_packages(Plan("x", step.checks))))
        out.append(step)
    return out


@pytest.mark.parametrize("nomock", [False, True])
def test_without_packages_the_plans_are_what_they_were(nomock: bool) -> None:
    """A profile without [packages]: no packages step, and every other step exactly as with them."""
    for without, with_packages in zip(_plans(nomock, packages=False), _plans(nomock), strict=True):
        assert list(without.steps) == _without_packages(with_packages)
        assert len(without.steps) < len(with_packages.steps)


def test_the_page_and_the_announcement_name_the_repositories_only_when_given() -> None:
    profile = _profile()
    sources = repository_sources("https://pkgs.example", "core", "v1.30.0")
    page = render_release_page(profile, "v1.30.0", packages=sources)
    assert "### Packages" in page
    deb_line = "deb [signed-by=/etc/apt/keyrings/core-apt-keyring.gpg] https://pkgs.example/core:/stable:/v1.30/deb/ /"
    assert f"- deb: `{deb_line}`" in page
    assert "- rpm: `baseurl=https://pkgs.example/core:/stable:/v1.30/rpm/`" in page
    assert "Packages" not in render_release_page(profile, "v1.30.0")
    html = build_announcement(profile, "v1.30.0", go_version="go1.22", packages=sources).html
    assert "<code>baseurl=https://pkgs.example/core:/stable:/v1.30/rpm/</code>" in html
    assert "packages of" not in build_announcement(profile, "v1.30.0", go_version="go1.22").html
