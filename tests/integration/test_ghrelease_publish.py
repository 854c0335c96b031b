"""The GitHub release page through the real PyGithub client against a local stub of GitHub's release API."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from releng.announce import ghrelease
from releng.errors import ReleaseError, UsageError
from releng.objectstore import ObjectExistsError, open_store
from releng.profile import Profile, load_profile

from tests.fixtures.ghrelease import GhState

TOKEN = "ghp_fakeReleaseToken0123456789"


@pytest.fixture
def k8s() -> Profile:
    return load_profile("kubernetes")


def _assets(tmp_path: Path) -> list[Path]:
    a = tmp_path / "kubernetes.tar.gz"
    a.write_bytes(b"tarball")
    b = tmp_path / "SHA512SUMS"
    b.write_bytes(b"sums")
    return [a, b]


def test_new_release_is_created_with_assets(k8s: Profile, ghrelease_stub: GhState, tmp_path: Path) -> None:
    ghrelease_stub.tags.add("v1.30.2")
    result = ghrelease.update_github_release(
        k8s, k8s.targets(nomock=True), "v1.30.2", assets=_assets(tmp_path), token=TOKEN, api_url=ghrelease_stub.base
    )
    assert result.mode == "publish" and result.created is True
    assert result.location == "https://github.com/kubernetes/kubernetes/releases/tag/v1.30.2"
    release = ghrelease_stub.release_by_tag("v1.30.2")
    assert release is not None
    assert release["name"] == "v1.30.2" and release["draft"] is False and release["prerelease"] is False
    assert ghrelease_stub.releases[release["id"]]["_make_latest"] == "true"
    assert release["body"] == result.body
    assert ghrelease_stub.assets_of("v1.30.2") == {"kubernetes.tar.gz": b"tarball", "SHA512SUMS": b"sums"}
    assert hashlib.sha512(b"tarball").hexdigest() in release["body"]
    assert hashlib.sha256(b"tarball").hexdigest() in release["body"]
    auth = {h.get("Authorization") for _, _, h, _ in ghrelease_stub.requests}
    assert auth == {f"token {TOKEN}"}


def test_existing_release_is_updated_and_assets_replaced(
    k8s: Profile, ghrelease_stub: GhState, tmp_path: Path
) -> None:
    ghrelease_stub.tags.add("v1.31.0-rc.1")
    rid = ghrelease_stub.add_release("v1.31.0-rc.1", name="old name", body="old body")
    ghrelease_stub.add_asset(rid, "kubernetes.tar.gz", b"stale tarball")
    ghrelease_stub.add_asset(rid, "leftover.txt", b"stale")
    other = ghrelease_stub.add_release("v1.30.9")
    result = ghrelease.update_github_release(
        k8s, k8s.targets(True), "v1.31.0-rc.1", assets=_assets(tmp_path), notes="Fixed things.",
        token=TOKEN, api_url=ghrelease_stub.base,
    )
    assert result.created is False and result.prerelease is True and result.make_latest is False
    updated = ghrelease_stub.releases[rid]
    assert updated["name"] == "v1.31.0-rc.1" and updated["prerelease"] is True
    assert updated["_make_latest"] == "false"
    assert "### Release Notes\n\nFixed things." in updated["body"]
    assert ghrelease_stub.assets_of("v1.31.0-rc.1") == {"kubernetes.tar.gz": b"tarball", "SHA512SUMS": b"sums"}
    assert ghrelease_stub.releases[other]["name"] == "v1.30.9"
    methods = [(m, p.split("?")[0]) for m, p, _, _ in ghrelease_stub.requests]
    assert ("POST", "/repos/kubernetes/kubernetes/releases") not in methods
    assert sum(m == "DELETE" for m, _ in methods) == 2


def test_rerun_is_idempotent(k8s: Profile, ghrelease_stub: GhState, tmp_path: Path) -> None:
    ghrelease_stub.tags.add("v1.30.2")
    for _ in range(2):
        ghrelease.update_github_release(
            k8s, k8s.targets(True), "v1.30.2", assets=_assets(tmp_path), token=TOKEN, api_url=ghrelease_stub.base
        )
    assert len(ghrelease_stub.releases) == 1
    assert sorted(ghrelease_stub.assets_of("v1.30.2")) == ["SHA512SUMS", "kubernetes.tar.gz"]


def test_missing_tag_is_refused_before_any_write(k8s: Profile, ghrelease_stub: GhState) -> None:
    with pytest.raises(ReleaseError, match=r"tag v1\.30\.2 is not on GitHub"):
        ghrelease.update_github_release(k8s, k8s.targets(True), "v1.30.2", token=TOKEN, api_url=ghrelease_stub.base)
    assert all(m == "GET" for m, _, _, _ in ghrelease_stub.requests)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", r"/repos/kubernetes/kubernetes", 401),
    ("POST", r"/repos/kubernetes/kubernetes/releases", 403),
    ("POST", r"/uploads/.*", 422),
])
def test_github_4xx_is_one_line(
    k8s: Profile, ghrelease_stub: GhState, tmp_path: Path, method: str, path: str, status: int
) -> None:
    ghrelease_stub.tags.add("v1.30.2")
    ghrelease_stub.fail[(method, path)] = (status, "Bad credentials")
    with pytest.raises(ReleaseError) as err:
        ghrelease.update_github_release(
            k8s, k8s.targets(True), "v1.30.2", assets=_assets(tmp_path), token=TOKEN, api_url=ghrelease_stub.base
        )
    text = str(err.value)
    assert text == f"github release v1.30.2 in kubernetes/kubernetes: GitHub answered {status}: Bad credentials"
    assert TOKEN not in text


def test_unreachable_api_is_one_line(k8s: Profile) -> None:
    with pytest.raises(ReleaseError, match=r"cannot reach the GitHub API at http://127\.0\.0\.1:1"):
        ghrelease.update_github_release(k8s, k8s.targets(True), "v1.30.2", token=TOKEN, api_url="http://127.0.0.1:1")


def test_publish_without_token_is_usage_error(k8s: Profile, ghrelease_stub: GhState) -> None:
    with pytest.raises(UsageError, match="GITHUB_TOKEN"):
        ghrelease.update_github_release(k8s, k8s.targets(True), "v1.30.2", api_url=ghrelease_stub.base)
    assert ghrelease_stub.requests == []


def test_render_mode_publishes_nothing(k8s: Profile, ghrelease_stub: GhState, tmp_path: Path) -> None:
    result = ghrelease.update_github_release(
        k8s, k8s.targets(False), "v1.30.2", assets=_assets(tmp_path), token=TOKEN, api_url=ghrelease_stub.base
    )
    assert result.mode == "render" and result.location == "" and result.created is None
    assert "See [kubernetes-announce@](https://groups.google.com/g/kubernetes-announce)." in result.body
    assert ghrelease_stub.requests == []


def test_bucket_mode_writes_the_page(tmp_path: Path) -> None:
    local = load_profile("local", {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})
    targets = local.targets(True)
    assert targets.github_release == "bucket"
    first = ghrelease.update_github_release(local, targets, "v0.3.0")
    store = open_store(targets.bucket)
    assert store.get("release/v0.3.0/github-release.md").decode() == first.body
    assert first.location.endswith("/release/v0.3.0/github-release.md")
    # The page in the bucket is a released object: the same content is a no-op, other content is refused.
    ghrelease.update_github_release(local, targets, "v0.3.0")
    with pytest.raises(ObjectExistsError, match=r"release/v0\.3\.0/github-release\.md already exists"):
        ghrelease.update_github_release(local, targets, "v0.3.0", notes="Now with notes.")
    assert store.get("release/v0.3.0/github-release.md").decode() == first.body
    mock = dataclasses.replace(targets, github_release="render")
    assert ghrelease.update_github_release(local, mock, "v0.3.1").location == ""
    assert not store.exists("release/v0.3.1/github-release.md")
