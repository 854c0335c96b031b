"""Issue 14's done-when for packages: the demo project's mock release (krel stage + krel release, real registry)
ships deb and rpm packages that apt-get (its own Dir::* state, the repository's key its only trusted key) and
rpmkeys/rpm accept from the local file:// repositories; the announcement names the repositories;
the nomock packages bucket is never touched. (A rerun publishing nothing twice: test_packages_release_steps.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.releaseflow import FlowEnv, module_world
from tests.integration.test_packages_repos import _apt

RC0 = "v1.0.0-rc.0"
REPO = "core:/prerelease:/v1.0"  # a pre-release's minor, as pkgs.k8s.io names it
DEB_VERSION = "1.0.0~rc.0-1.1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> Iterator[FlowEnv]:
    """One mock stage + release of the demo project (module-scoped: built once)."""
    args = ("--branch", "release-1.0", "--type", "rc")
    with module_world(tmp_path_factory, registry_factory, "packages-release",
                      lambda flow: [("stage", *args), ("release", *args, "--build-version", flow.build_version)]
                      ) as flow:
        yield flow


def test_apt_get_and_rpm_accept_the_released_packages(world: FlowEnv, tmp_path: Path) -> None:
    repo = world.bucket("packages-mock") / REPO
    deb_url = f"{repo.as_uri()}/deb/".replace("%3A", ":")
    key = repo / "deb" / "Release.key"
    update = _apt(tmp_path, deb_url, key, "update")
    assert update.returncode == 0 and "InRelease" in update.stdout, update.stdout + update.stderr
    for spec in (f"demo-server={DEB_VERSION}", f"demo-server:arm64={DEB_VERSION}"):
        done = _apt(tmp_path, deb_url, key, "download", spec)
        assert done.returncode == 0, done.stderr
    debs = sorted((tmp_path / "apt" / "dl").glob("*.deb"))
    assert [d.name for d in debs] == [f"demo-server_{DEB_VERSION}_amd64.deb", f"demo-server_{DEB_VERSION}_arm64.deb"]
    listing = subprocess.run(["dpkg-deb", "-c", str(debs[0])], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/demo-server" in listing and "./lib/systemd/system/demo-server.service" in listing

    rpms = sorted((repo / "rpm").rglob("*.rpm"))
    assert [p.name for p in rpms] == ["demo-server-1.0.0~rc.0-1.1.aarch64.rpm", "demo-server-1.0.0~rc.0-1.1.x86_64.rpm"]
    dbpath = ["--dbpath", str(tmp_path / "rpmdb")]
    subprocess.run(["rpmkeys", *dbpath, "--import", str(repo / "rpm" / "repodata" / "repomd.xml.key")], check=True)
    for rpm in rpms:
        checked = subprocess.run(["rpmkeys", *dbpath, "--checksig", str(rpm)], capture_output=True, text=True)
        assert checked.returncode == 0 and "signatures OK" in checked.stdout, checked.stdout + checked.stderr
        info = subprocess.run(["rpm", *dbpath, "-qip", str(rpm)], capture_output=True, text=True, check=True).stdout
        assert "Name        : demo-server" in info and "Version     : 1.0.0~rc.0" in info


def test_stage_stages_them_under_provenance_and_the_announcement_names_the_repositories(world: FlowEnv) -> None:
    mock = world.bucket("mock")
    bv = world.build_version
    staged = sorted(p.name for p in (mock / "stage" / bv / RC0 / "packages").iterdir())
    assert staged == [f"demo-server-1.0.0~rc.0-1.1.{a}.rpm" for a in ("aarch64", "x86_64")] + [
        f"demo-server_{DEB_VERSION}_{a}.deb" for a in ("amd64", "arm64")]
    statement = json.loads((mock / "stage" / bv / "provenance.json").read_text())
    assert {f"{RC0}/packages/{name}" for name in staged} <= {s["name"] for s in statement["subject"]}
    announcement = (mock / "release" / RC0 / "announcement.html").read_text()
    base = f"{world.bucket('packages-mock').as_uri()}/{REPO}"
    assert f"deb [signed-by=/etc/apt/keyrings/core-apt-keyring.gpg] {base}/deb/ /" in announcement
    assert f"baseurl={base}/rpm/" in announcement
    assert not world.bucket("packages").exists()  # mock never touches the nomock packages bucket
