"""`krel announce build` and `announce github-page`, run by hand, name the package repositories and the signing key
as `krel release` does (releng.announce.links): the targets' own, mock or production, and none when the profile
signs nothing and has no packages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.testing
from releng.announce import links
from releng.jobs.options import JobOptions, facts_for
from releng.jobs.release import plan_release
from releng.jobs.steps import CreateAnnouncement
from releng.profile import Profile, load_profile

from krel.app import app
from tests.fixtures.releaseflow import lean_profile

TAG = "v1.0.0"
VARIABLES = {"local_registry": "127.0.0.1:5000"}


def _local(home: Path, name: str = "local") -> Profile:
    return load_profile(name, {**VARIABLES, "krel_home": str(home)})


def _build(cli: typer.testing.CliRunner, out: Path, *extra: str) -> str:
    result = cli.invoke(app, ["announce", "build", "--tag", TAG, "--go-version", "1.22", "--work-dir", str(out),
                              *extra])
    assert result.exit_code == 0, result.output
    return (out / "announcement.html").read_text()


@pytest.mark.parametrize("nomock", [False, True], ids=["mock", "nomock"])
def test_announce_build_names_the_targets_key_and_repositories(cli: typer.testing.CliRunner, krel_home: Path,
                                                              tmp_path: Path, nomock: bool) -> None:
    profile = _local(krel_home)
    targets, other = profile.targets(nomock), profile.targets(not nomock)
    html = _build(cli, tmp_path, *(["--nomock"] if nomock else []))
    key_url = f"{targets.release_download_url()}/{TAG}/release-key.pub"
    assert key_url in html
    assert f"{other.release_download_url()}/{TAG}/release-key.pub" not in html  # never the other targets' key
    repositories = links.package_repositories(profile, targets, TAG)
    assert [r.kind for r in repositories] == ["deb", "rpm"]
    for repo in repositories:
        assert repo.url in html


def test_a_profile_that_signs_nothing_and_has_no_packages_names_neither(cli: typer.testing.CliRunner,
                                                                      krel_home: Path, tmp_path: Path) -> None:
    html = _build(cli, tmp_path, "--profile", str(lean_profile(tmp_path / "lean")))
    assert "release-key.pub" not in html and "packages-mock" not in html


def test_github_page_by_hand_names_the_key_and_repositories(cli: typer.testing.CliRunner, krel_home: Path) -> None:
    result = cli.invoke(app, ["announce", "github-page", "--tag", TAG, "--json"])  # mock: rendered only
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)["body"]
    profile = _local(krel_home)
    targets = profile.targets(False)
    assert f"[release-key.pub]({targets.release_download_url()}/{TAG}/release-key.pub)" in body
    assert all(repo.url in body for repo in links.package_repositories(profile, targets, TAG))


def test_the_release_plan_names_what_the_commands_name(krel_home: Path) -> None:
    profile = _local(krel_home)
    bv = "v1.0.0-rc.0.3+0123456789abcd"
    for nomock in (False, True):
        options = JobOptions("release-1.0", "official", bv, profile, krel_home, nomock=nomock,
                             signing=profile.signing_for(nomock))
        targets = profile.targets(nomock)
        plan = plan_release(options, targets, facts_for(options, bv, branch_is_new=False))
        [announce] = [s for s in plan.steps if isinstance(s, CreateAnnouncement)]
        assert announce.signing_key_url == links.signing_key_url(profile.signing_for(nomock), targets, TAG)
        assert tuple(announce.packages) == links.package_repositories(profile, targets, TAG)
