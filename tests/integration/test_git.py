from pathlib import Path

import pytest
from releng import git

from tests.fixtures.gitrepo import ROBOT, RepoPair


def test_first_parent_walk_takes_pr_numbers(git_repo: RepoPair) -> None:
    start = git.rev_parse(git_repo.work, "HEAD")
    git.tag(git_repo.work, "v1.0.0", start, "Kubernetes official release v1.0.0", ROBOT)
    git_repo.merge_pr(101)
    git_repo.commit("Squashed change (#102)")
    git_repo.merge_pr(103)
    git_repo.commit("a commit without a PR")
    commits = git.first_parent_commits(git_repo.work, "HEAD", "v1.0.0")
    assert [c.pr for c in commits] == [None, 103, 102, 101]
    assert commits[1].subject == "Merge pull request #103 from dev:topic"


def test_first_parent_walk_stops_at_merge_base_of_branch_tag(git_repo: RepoPair) -> None:
    base = git.rev_parse(git_repo.work, "HEAD")
    git.checkout(git_repo.work, "release-1.0", create=True)
    git_repo.merge_pr(5)
    git.tag(git_repo.work, "v1.0.0", "HEAD", "release", ROBOT)
    git.checkout(git_repo.work, "master")
    git_repo.merge_pr(6)
    commits = git.first_parent_commits(git_repo.work, "master", "v1.0.0")
    assert [c.pr for c in commits] == [6]
    assert git.merge_base(git_repo.work, "master", "v1.0.0") == base


def test_tag_is_idempotent_and_never_moves(git_repo: RepoPair) -> None:
    head = git.rev_parse(git_repo.work, "HEAD")
    assert git.tag(git_repo.work, "v1.1.0", head, "Kubernetes official release v1.1.0", ROBOT) is True
    assert git.tag(git_repo.work, "v1.1.0", head, "Kubernetes official release v1.1.0", ROBOT) is False
    other = git_repo.commit("later")
    with pytest.raises(git.TagConflictError, match=r"tag v1.1.0 already exists but points to commit"):
        git.tag(git_repo.work, "v1.1.0", other, "msg", ROBOT)
    assert git.tag_commit(git_repo.work, "v1.1.0") == head
    tagger = git.run(git_repo.work, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/v1.1.0")
    assert tagger.strip() == "Release Robot <robot@example.test>"


def test_tag_on_empty_release_commit_counts_as_done(git_repo: RepoPair) -> None:
    build = git.rev_parse(git_repo.work, "HEAD")
    git.checkout(git_repo.work, "release-1.2", force_create=True, start=build)
    release = git.release_commit(git_repo.work, "Release commit for Kubernetes v1.2.0-rc.0", ROBOT)
    assert git.tag(git_repo.work, "v1.2.0-rc.0", release, "Kubernetes rc release v1.2.0-rc.0", ROBOT)
    # A rerun asks to tag the build commit again: the tag sits on the empty release commit on top of it.
    assert git.tag(git_repo.work, "v1.2.0-rc.0", build, "Kubernetes rc release v1.2.0-rc.0", ROBOT,
                   on_release_commit=True) is False
    # On the default branch krel makes no release commit: the same tag there is a conflict, not a no-op.
    with pytest.raises(git.TagConflictError):
        git.tag(git_repo.work, "v1.2.0-rc.0", build, "Kubernetes rc release v1.2.0-rc.0", ROBOT)
    assert git.run(git_repo.work, "log", "-1", "--format=%an|%s").strip() == (
        "Release Robot|Release commit for Kubernetes v1.2.0-rc.0"
    )


def test_describe_and_show_file(git_repo: RepoPair) -> None:
    git.tag(git_repo.work, "v1.18.0-rc.1", "HEAD", "rc", ROBOT)
    git_repo.commit("one", {"go.mod": "module x\n"})
    git_repo.commit("two")
    out = git.describe(git_repo.work)
    assert out.startswith("v1.18.0-rc.1-2-g") and len(out.rsplit("-g", 1)[1]) == 14
    assert git.show_file(git_repo.work, "HEAD", "go.mod") == "module x\n"
    assert git.show_file(git_repo.work, "v1.18.0-rc.1", "go.mod") is None


def test_remote_queries_and_push_dry_run(git_repo: RepoPair) -> None:
    origin = str(git_repo.origin)
    assert git.remote_branch_exists(origin, "master")
    assert not git.remote_branch_exists(origin, "release-1.3")
    git.checkout(git_repo.work, "release-1.3", create=True)
    git.checkout(git_repo.work, "release-1.10", create=True)
    git.tag(git_repo.work, "v1.3.0", "HEAD", "msg", ROBOT)
    out = git.push(git_repo.work, "origin", ["release-1.3", "release-1.10", "refs/tags/v1.3.0"], dry_run=True)
    assert "release-1.3" in out
    assert git.ls_remote_heads(origin) == {"master": git.rev_parse(git_repo.work, "master")}
    assert git.ls_remote_tags(origin) == {}
    git.push(git_repo.work, "origin", ["release-1.3", "release-1.10", "refs/tags/v1.3.0"], dry_run=False)
    assert git.latest_release_branch(origin) == "release-1.10"
    assert git.ls_remote_tags(origin) == {"v1.3.0": git.rev_parse(git_repo.work, "HEAD")}


def test_push_is_all_or_nothing(git_repo: RepoPair, tmp_path: Path) -> None:
    origin = str(git_repo.origin)
    other = git.clone(origin, tmp_path / "other")
    (other / "x.txt").write_text("elsewhere\n")
    git.commit_paths(other, ["x.txt"], "moved on elsewhere", ROBOT)
    git.push(other, "origin", ["master"], dry_run=False)
    remote_master = git.ls_remote_heads(origin)["master"]
    git_repo.commit("local work")  # master is now behind and diverged: its push is rejected
    git.tag(git_repo.work, "v1.0.0", "HEAD", "msg", ROBOT)
    with pytest.raises(git.GitError):
        git.push(git_repo.work, "origin", ["refs/tags/v1.0.0", "master"], dry_run=False)
    # The tag did not land without its branch.
    assert git.ls_remote_tags(origin) == {}
    assert git.ls_remote_heads(origin)["master"] == remote_master


def test_clone_merge_commit_paths(git_repo: RepoPair, tmp_path: Path) -> None:
    clone = git.clone(str(git_repo.origin), tmp_path / "clone")
    assert git.current_branch(clone) == "master"
    git.checkout(clone, "feature", create=True)
    (clone / "new.txt").write_text("x")
    assert git.commit_paths(clone, ["new.txt"], "add new", ROBOT)
    assert git.commit_paths(clone, ["new.txt"], "again", ROBOT) is None
    git.checkout(clone, "master")
    head = git.merge(clone, "feature", ff_only=True)
    assert head == git.rev_parse(clone, "feature")
    assert git.is_ancestor(clone, "origin/master", "HEAD")


def test_errors_are_one_line_and_hide_credentials(git_repo: RepoPair) -> None:
    with pytest.raises(git.GitError, match=r"unknown revision 'nope'"):
        git.rev_parse(git_repo.work, "nope")
    with pytest.raises(git.GitError) as err:
        git.ls_remote_heads("https://git:ghp_secret123@127.0.0.1:9/none.git")
    assert "ghp_secret123" not in str(err.value)
    assert "\n" not in str(err.value)
