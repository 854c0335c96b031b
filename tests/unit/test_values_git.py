"""The named git wrappers that replaced raw `git.run` calls, and the one release-branch pattern: what each returns
on a real repository, and option-shaped values refused before git sees them (the real git binary)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from releng import git, version
from releng.profile import Author

ROBOT = Author("Release Robot", "robot@example.test")


class Repo:
    """A work tree with a bare origin: root -> second (tag v1.0.0) -> third on master, a side branch off root."""

    def __init__(self, base: Path) -> None:
        self.origin = git.init(base / "origin.git", bare=True)
        self.work = git.init(base / "work")
        git.set_remote_url(self.work, "origin", str(self.origin))
        self.root = self._commit("a.txt", "a\n", "root")
        self.second = self._commit("b.txt", "b\n", "second\n\nbody line")
        git.tag(self.work, "v1.0.0", self.second, "v1.0.0", ROBOT)
        self.third = self._commit("CHANGELOG/CHANGELOG-1.0.md", "x\n", "third")
        (self.work / "link").symlink_to("a.txt")
        self.fourth = self._commit("link", None, "a link")
        git.checkout(self.work, "side", create=True, start=self.root)
        self.side = self._commit("s.txt", "s\n", "side work")
        git.checkout(self.work, "master")

    def _commit(self, rel: str, text: str | None, message: str) -> str:
        if text is not None:
            (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.work / rel).write_text(text)
        sha = git.commit_paths(self.work, [rel], message, ROBOT)
        assert sha is not None
        return sha


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(tmp_path_factory.mktemp("values-git"))


@pytest.fixture
def fresh(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_read_wrappers_answer_from_the_repository(repo: Repo) -> None:
    w = repo.work
    assert git.parents(w, repo.third) == [repo.second]
    assert git.parents(w, repo.root) == []
    assert git.commit_message(w, repo.second) == "second\n\nbody line"
    assert git.root_commits(w, "master") == [repo.root]
    assert git.count_commits(w, repo.root, "master") == 3
    assert git.count_commits(w, "master", "master") == 0
    assert git.own_commits(w, "refs/heads/side", "master") == [repo.side]
    assert git.own_commits(w, "refs/heads/side", "master", "side") == []
    assert git.merged_tags(w, "master") == ["v1.0.0"]
    assert git.merged_tags(w, "side") == []
    assert git.tracked_files(w, "CHANGELOG/") == ["CHANGELOG/CHANGELOG-1.0.md"]
    assert git.tracked_files(w, "nothing/") == []
    assert git.tree_modes(w, "master", ["link", "a.txt"]) == [("100644", "a.txt"), ("120000", "link")]
    assert git.config_file_entries(w, w / ".git" / "config")[0] == ("core.repositoryformatversion", "0")
    assert git.commit_time(w, "refs/tags/v1.0.0") == int(git.run(w, "log", "-1", "--format=%ct", repo.second))
    with pytest.raises(git.GitError, match=r"unknown revision 'refs/tags/v9\.9\.9'"):
        git.commit_time(w, "refs/tags/v9.9.9")


def test_dirty_paths_sees_changed_untracked_and_ignored_files(fresh: Repo) -> None:
    w = fresh.work
    assert git.dirty_paths(w, ["a.txt", "new.txt"]) == []
    (w / "a.txt").write_text("changed\n")
    (w / "new.txt").write_text("new\n")
    assert git.dirty_paths(w, ["a.txt", "new.txt", "b.txt"]) == ["a.txt", "new.txt"]


def test_write_wrappers_move_refs_and_files(fresh: Repo) -> None:
    w = fresh.work
    git.update_ref(w, "refs/heads/side", fresh.third, fresh.side)
    assert git.rev_parse(w, "refs/heads/side") == fresh.third
    with pytest.raises(git.GitError, match="update-ref"):  # no longer at `old`: refused
        git.update_ref(w, "refs/heads/side", fresh.root, fresh.side)
    git.update_ref(w, "refs/heads/side", None, fresh.third)
    assert not git.ref_exists(w, "refs/heads/side")
    git.reset_keep(w, fresh.second)
    assert git.rev_parse(w, "HEAD") == fresh.second and not (w / "CHANGELOG").exists()
    (w / "a.txt").write_text("staged\n")
    git.run(w, "add", "a.txt")
    git.unstage(w, ["a.txt"])
    assert git.run(w, "diff", "--cached", "--name-only") == ""
    git.checkout_detached(w, "v1.0.0")
    assert git.current_branch(w) is None and git.rev_parse(w, "HEAD") == fresh.second


def test_fetch_branches_copies_the_named_heads(fresh: Repo, tmp_path: Path) -> None:
    git.push(fresh.work, "origin", ["master", "side"], dry_run=False)
    into = git.init(tmp_path / "into.git", bare=True)
    git.fetch_branches(into, str(fresh.origin), ["master", "side"], filter="blob:none", depth=1)
    assert git.rev_parse(into, "refs/heads/master") == fresh.fourth
    assert git.rev_parse(into, "refs/heads/side") == fresh.side


# Each hostile case hands an option-shaped value to one new wrapper; `touch` would run if git parsed it.
def _hostile(m: str) -> list[tuple[str, Callable[[Path], object]]]:
    return [
        ("parents", lambda r: git.parents(r, f"--output={m}")),
        ("commit_message", lambda r: git.commit_message(r, f"--output={m}")),
        ("root_commits", lambda r: git.root_commits(r, f"--output={m}")),
        ("count_commits", lambda r: git.count_commits(r, f"--output={m}", "HEAD")),
        ("own_commits-rev", lambda r: git.own_commits(r, f"--output={m}")),
        ("own_commits-other", lambda r: git.own_commits(r, "HEAD", "-x")),
        ("merged_tags-end", lambda r: git.merged_tags(r, f"--output={m}")),
        ("merged_tags-pattern", lambda r: git.merged_tags(r, "HEAD", "--contains")),
        ("update_ref-ref", lambda r: git.update_ref(r, "--stdin", "HEAD", "HEAD")),
        ("update_ref-new", lambda r: git.update_ref(r, "refs/heads/x", "--stdin", "HEAD")),
        ("reset_keep", lambda r: git.reset_keep(r, f"--pathspec-from-file={m}")),
        ("tree_modes", lambda r: git.tree_modes(r, "--name-only", ["a.txt"])),
        ("checkout_detached", lambda r: git.checkout_detached(r, f"--pathspec-from-file={m}")),
        ("fetch_branches-url", lambda r: git.fetch_branches(r, f"--upload-pack=touch {m}", ["x"], filter="tree:0")),
        ("fetch_branches-branch", lambda r: git.fetch_branches(r, str(r), ["-x"], filter="tree:0")),
        ("commit_time", lambda r: git.commit_time(r, f"--output={m}")),
        ("nul", lambda r: git.parents(r, "HEAD\0--output=x")),
    ]


_IDS = [name for name, _ in _hostile("x")]


@pytest.mark.parametrize("case", range(len(_IDS)), ids=_IDS)
def test_option_shaped_values_are_refused(repo: Repo, tmp_path: Path, case: int) -> None:
    marker = tmp_path / "PWNED"
    before = git.run(repo.work, "for-each-ref").splitlines()
    with pytest.raises(git.GitError, match=r"is not usable with git: expected a name, URL or path not starting"):
        _hostile(str(marker))[case][1](repo.work)
    assert not marker.exists()
    assert git.run(repo.work, "for-each-ref").splitlines() == before


@pytest.mark.parametrize(("branch", "expected"), [
    ("release-1.30", (1, 30)),
    ("release-0.0", (0, 0)),
    ("release-10.123", (10, 123)),
    ("master", None),
    ("main", None),
    ("release-1", None),
    ("release-1.2.3", None),
    ("release-01.2", None),  # one spelling per branch: no leading zeros
    ("release-1.2\n", None),
    ("release-١.٢", None),  # non-ASCII digits
    ("xrelease-1.2", None),
    ("release-1.2-rc", None),
    ("", None),
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_release_branch_pattern(branch: str, expected: tuple[int, int] | None) -> None:
    assert version.release_branch_minor(branch) == expected
    assert version.is_release_branch(branch) is (expected is not None)


def test_latest_release_branch_uses_the_same_pattern(fresh: Repo) -> None:
    for name in ("release-1.9", "release-1.10", "release-01.99", "release-2.0-rc"):
        git.checkout(fresh.work, name, create=True, start=fresh.root)
    git.checkout(fresh.work, "master")
    git.push(fresh.work, "origin", ["release-1.9", "release-1.10", "release-01.99", "release-2.0-rc"], dry_run=False)
    assert git.latest_release_branch(str(fresh.origin)) == "release-1.10"
