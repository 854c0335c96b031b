"""krel ff's rules on real repositories with a bare remote: the original's cases plus krel's no-op rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng import git
from releng.errors import ReleaseError, UsageError
from releng.fastforward import FastForwardError, FastForwardOptions, prepare_fast_forward, push_fast_forward

from tests.fixtures.gitrepo import ROBOT, RepoPair


def _cut_branch(pair: RepoPair, minor: int, commit: str) -> None:
    """krel's branch cut of release-1.<minor>: alpha.0 of the next minor on master, rc.0 on the new branch."""
    work = pair.work
    alpha, rc = f"v1.{minor + 1}.0-alpha.0", f"v1.{minor}.0-rc.0"
    git.tag(work, alpha, commit, f"Kubernetes alpha release {alpha}", ROBOT)
    git.checkout(work, f"release-1.{minor}", create=True)
    git.tag(work, rc, git.release_commit(work, f"Release commit for Kubernetes {rc}", ROBOT),
            f"Kubernetes rc release {rc}", ROBOT)
    git.checkout(work, "master")


def make_k8s_like(pair: RepoPair) -> None:
    """master with release-1.28 (old) and release-1.29 (latest) cut krel's way, then new PRs on master."""
    work = pair.work
    _cut_branch(pair, 28, pair.commit("c1", {"a.txt": "1"}))
    pair.merge_pr(1)
    _cut_branch(pair, 29, pair.commit("c2", {"b.txt": "2"}))
    pair.merge_pr(2)
    pair.merge_pr(3)
    git.push(work, "origin", ["master", "release-1.28", "release-1.29", "refs/tags/*:refs/tags/*"], dry_run=False)


@pytest.fixture
def k8s_remote(git_repo: RepoPair) -> RepoPair:
    make_k8s_like(git_repo)
    return git_repo


def _options(pair: RepoPair, tmp_path: Path, branch: str = "", push: bool = False) -> FastForwardOptions:
    return FastForwardOptions(
        repo=tmp_path / "ff-clone", upstream_url=str(pair.origin), author=ROBOT, branch=branch, push=push
    )


def test_success_pushes_the_merge(k8s_remote: RepoPair, tmp_path: Path) -> None:
    before = git.ls_remote_heads(str(k8s_remote.origin))
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.29", push=True))
    assert ff.noop == "" and ff.tag == "v1.30.0-alpha.0"
    assert ff.release_rev == before["release-1.29"]
    assert [c.pr for c in ff.commits] == [3, 2]
    assert git.current_branch(ff.repo) == "master"  # the previously checked-out branch is restored
    assert git.ls_remote_heads(str(k8s_remote.origin)) == before  # nothing left the machine yet

    report = push_fast_forward(ff)
    after = git.ls_remote_heads(str(k8s_remote.origin))
    assert after["release-1.29"] == ff.head_rev != before["release-1.29"]
    assert after["master"] == before["master"] and after["release-1.28"] == before["release-1.28"]
    assert "refs/heads/release-1.29" in report
    assert git.is_ancestor(ff.repo, before["master"], ff.head_rev)
    assert git.run(ff.repo, "rev-parse", f"{ff.head_rev}^1").strip() == before["release-1.29"]
    # krel's rerun: the branch now contains master, so there is nothing to do.
    again = prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.29", push=True))
    assert again.noop == "release-1.29 already contains origin/master"


def test_dry_run_changes_nothing_on_the_remote(k8s_remote: RepoPair, tmp_path: Path) -> None:
    before = git.ls_remote_heads(str(k8s_remote.origin))
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, push=False))
    assert ff.branch == "release-1.29"  # the latest release branch when none is given
    report = push_fast_forward(ff)
    assert "refs/heads/release-1.29" in report
    assert git.ls_remote_heads(str(k8s_remote.origin)) == before
    # A dry run leaves only its own merge locally; the next run (mock or not) starts again from the remote.
    again = prepare_fast_forward(_options(k8s_remote, tmp_path, push=True))
    assert again.release_rev == ff.release_rev and again.noop == ""


def test_no_op_once_the_official_tag_is_on_the_remote(k8s_remote: RepoPair, tmp_path: Path) -> None:
    work = k8s_remote.work
    git.tag(work, "v1.29.0", git.rev_parse(work, "release-1.29"), "Kubernetes official release v1.29.0", ROBOT)
    git.push(work, "origin", ["v1.29.0"], dry_run=False)
    before = git.ls_remote_heads(str(k8s_remote.origin))
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, push=True))
    assert ff.noop == "release-1.29 already has its official tag v1.29.0; nothing to fast-forward"
    assert push_fast_forward(ff) == ff.noop
    assert git.ls_remote_heads(str(k8s_remote.origin)) == before


def test_not_the_latest_branch(k8s_remote: RepoPair, tmp_path: Path) -> None:
    with pytest.raises(FastForwardError) as err:
        prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.28", push=True))
    assert str(err.value) == (
        "ff: unable to fast forward release-1.28: tag 'v1.30.0-alpha.0' does not match 'v1.29.0-alpha.0' "
        "(only the latest release branch can be fast-forwarded)"
    )


def test_branch_missing_on_the_remote(k8s_remote: RepoPair, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"branch release-1\.99 does not exist on the remote origin"):
        prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.99"))


@pytest.mark.parametrize("branch", ["master", "feature", "release-1", "release-1.29.1"])
def test_not_a_release_branch(k8s_remote: RepoPair, tmp_path: Path, branch: str) -> None:
    with pytest.raises(UsageError, match=rf"{branch} is not a release branch"):
        prepare_fast_forward(_options(k8s_remote, tmp_path, branch))


def test_no_branch_at_all(git_repo: RepoPair, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no release branch on"):
        prepare_fast_forward(_options(git_repo, tmp_path))


def test_unknown_ref(k8s_remote: RepoPair, tmp_path: Path) -> None:
    options = _options(k8s_remote, tmp_path, "release-1.29")
    with pytest.raises(ReleaseError, match="unknown revision 'origin/nope'"):
        prepare_fast_forward(FastForwardOptions(**{**options.__dict__, "ref": "origin/nope"}))


def test_existing_work_tree_is_reused_and_local_commits_are_protected(k8s_remote: RepoPair, tmp_path: Path) -> None:
    first = prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.29"))
    repo = first.repo
    git.checkout(repo, "release-1.29")
    (repo / "local.txt").write_text("unpushed")
    git.commit_paths(repo, ["local.txt"], "local work", ROBOT)
    git.checkout(repo, "master")
    with pytest.raises(ReleaseError, match=r"has commits not on origin/release-1\.29"):
        prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.29"))


def test_non_git_directory_is_refused(k8s_remote: RepoPair, tmp_path: Path) -> None:
    (tmp_path / "ff-clone").mkdir()
    (tmp_path / "ff-clone" / "junk").write_text("x")
    with pytest.raises(UsageError, match="is not a git work tree"):
        prepare_fast_forward(_options(k8s_remote, tmp_path, "release-1.29"))
