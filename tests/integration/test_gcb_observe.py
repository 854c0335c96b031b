"""The observe phase against a real local upstream: kube-cross versions, CI markers, branch state, build at head."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from releng.errors import ReleaseError, UsageError
from releng.gcb import kube_cross_versions, observe
from releng.gcb.config import GcbOptions
from releng.jobs.observe import read_ci_version
from releng.objectstore import open_store
from releng.profile import load_profile

from tests.fixtures.cloudbuild import CloudbuildUpstream

NEW = "v1.31.0-go1.23.0-bullseye.0"
OLD = "v1.30.0-go1.22.4-bullseye.0"


@pytest.mark.parametrize(
    ("branch", "is_new", "expected"),
    [("master", False, (NEW, NEW)), ("release-1.30", False, (OLD, NEW)), ("release-1.31", True, (NEW, NEW))],
)
def test_kube_cross_versions(
    cloudbuild_upstream: CloudbuildUpstream, branch: str, is_new: bool, expected: tuple[str, str]
) -> None:
    assert kube_cross_versions(cloudbuild_upstream.url, "master", branch, is_new) == expected


def _bare_with(tmp_path: Path, content: str | None) -> str:
    work = tmp_path / "w"
    subprocess.run(["git", "init", "-q", "-b", "master", str(work)], check=True)
    if content is not None:
        (work / "build" / "build-image" / "cross").mkdir(parents=True)
        (work / "build" / "build-image" / "cross" / "VERSION").write_text(content)
        subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    ident = ["-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "-C", str(work), *ident, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    return work.as_uri()


def test_kube_cross_without_the_file_is_latest(tmp_path: Path) -> None:
    assert kube_cross_versions(_bare_with(tmp_path, None), "master", "master", False) == ("latest", "latest")


def test_kube_cross_that_is_no_image_tag_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="is not an image tag"):
        kube_cross_versions(_bare_with(tmp_path, "v1 go; rm -rf /\n"), "master", "master", False)


def test_observe_reads_marker_branch_state_and_head(cloudbuild_upstream: CloudbuildUpstream) -> None:
    profile = load_profile("local", {"krel_home": str(cloudbuild_upstream.home), "local_registry": "127.0.0.1:5000"})
    facts = observe(GcbOptions(job="stage"), profile, gcp_user="u", git_tag="v0.1.0")
    assert (facts.build_version, facts.branch_is_new) == (cloudbuild_upstream.build_version, False)
    bv = "v1.31.0-rc.0.1+abcdef0"
    new_branch = GcbOptions(job="stage", branch="release-1.31", release_type="rc", build_version=bv)
    assert observe(new_branch, profile, gcp_user="u", git_tag="v0.1.0").branch_is_new is True
    head = GcbOptions(job="stage", branch="release-1.30", release_type="rc", build_at_head=True)
    assert observe(head, profile, gcp_user="u", git_tag="v").build_version == cloudbuild_upstream.release_build_version
    missing = GcbOptions(job="stage", branch="release-1.31", release_type="rc", build_at_head=True)
    with pytest.raises(UsageError, match=r"--build-at-head: branch release-1\.31 does not exist"):
        observe(missing, profile, gcp_user="u", git_tag="v")


def test_ci_marker_must_hold_a_build_version(cloudbuild_upstream: CloudbuildUpstream) -> None:
    bucket = (cloudbuild_upstream.home / "buckets" / "ci").as_uri()
    store = open_store(bucket)
    assert read_ci_version(store, bucket, "release-1.30") == cloudbuild_upstream.release_build_version
    (cloudbuild_upstream.home / "buckets" / "ci" / "ci" / "latest.txt").write_text("<html>oops</html>")
    with pytest.raises(ReleaseError, match=r"ci/latest.txt: invalid build version '<html>oops</html>'"):
        read_ci_version(store, bucket, "master")
    with pytest.raises(ReleaseError, match=r"no CI version marker .*ci/latest-1.99.txt"):
        read_ci_version(store, bucket, "release-1.99")
