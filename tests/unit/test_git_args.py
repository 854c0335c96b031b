"""git.py against hostile values: option-like refs and URLs never reach git as options, and a repository's own
config never makes git run a program (the real git binary, a repository with a planted config)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from releng import git
from releng.profile import Author

ROBOT = Author("Release Robot", "robot@example.test")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    origin = git.init(tmp_path / "origin.git", bare=True)
    work = git.init(tmp_path / "work")
    git.set_remote_url(work, "origin", str(origin))
    (work / "a.txt").write_text("a\n")
    git.commit_paths(work, ["a.txt"], "initial", ROBOT)
    git.push(work, "origin", ["master"], dry_run=False)
    return work


def _marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


# Each case hands an option-shaped value to one git function; the value would run `touch` if git parsed it.
def _cases(m: str) -> list[tuple[str, Callable[[Path], object]]]:
    upload = f"--upload-pack=touch {m}"
    return [
        ("ls_remote_heads-url", lambda r: git.ls_remote_heads(upload)),
        ("ls_remote_heads-branch", lambda r: git.ls_remote_heads(str(r), f"--upload-pack=touch {m}")),
        ("ls_remote_tags-url", lambda r: git.ls_remote_tags(upload)),
        ("remote_branch_exists", lambda r: git.remote_branch_exists(upload, "master")),
        ("latest_release_branch", lambda r: git.latest_release_branch(upload)),
        ("clone-url", lambda r: git.clone(upload, r.parent / "clone")),
        ("clone-branch", lambda r: git.clone(str(r), r.parent / "clone", branch=f"--upload-pack=touch {m}")),
        ("fetch-remote", lambda r: git.fetch(r, upload)),
        ("fetch-refspec", lambda r: git.fetch(r, "origin", (upload,))),
        ("push-remote", lambda r: git.push(r, f"--receive-pack=touch {m}", ["master"], dry_run=False)),
        ("push-refspec", lambda r: git.push(r, "origin", [f"--receive-pack=touch {m}"], dry_run=True)),
        ("set_remote_url", lambda r: git.set_remote_url(r, "origin", upload)),
        ("remote_url", lambda r: git.remote_url(r, "--no-such-option")),
        ("rev_parse", lambda r: git.rev_parse(r, f"--output={m}")),
        ("ref_exists", lambda r: git.ref_exists(r, f"--output={m}")),
        ("describe", lambda r: git.describe(r, f"--output={m}")),
        ("merge_base", lambda r: git.merge_base(r, "HEAD", f"--output={m}")),
        ("is_ancestor", lambda r: git.is_ancestor(r, f"--output={m}", "HEAD")),
        ("show_file", lambda r: git.show_file(r, f"--output={m}", "a.txt")),
        ("tag_commit", lambda r: git.tag_commit(r, "-d")),
        ("tag-name", lambda r: git.tag(r, f"--file={m}", "HEAD", "msg", ROBOT)),
        ("checkout-ref", lambda r: git.checkout(r, f"--pathspec-from-file={m}")),
        ("checkout-start", lambda r: git.checkout(r, "x", create=True, start=f"--orphan={m}")),
        ("merge", lambda r: git.merge(r, f"--into-name={m}")),
        ("tags-pattern", lambda r: git.tags(r, "--contains")),
        ("empty-url", lambda r: git.ls_remote_heads("")),
    ]


_IDS = [name for name, _ in _cases("x")]


@pytest.mark.parametrize("case", range(len(_IDS)), ids=_IDS)
def test_option_shaped_values_are_refused_before_git_sees_them(repo: Path, tmp_path: Path, case: int) -> None:
    marker = _marker(tmp_path)
    _, call = _cases(str(marker))[case]
    before = git.run(repo, "for-each-ref").splitlines()
    with pytest.raises(git.GitError, match=r"is not usable with git: expected a name, URL or path not starting"):
        call(repo)
    assert not marker.exists()
    assert git.run(repo, "for-each-ref").splitlines() == before
    assert not (repo.parent / "clone").exists()


def _script(path: Path, marker: Path) -> str:
    path.write_text(f"#!/bin/sh\ntouch {marker}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# Repository config a tampered archive could carry: each key names a program git would run for our commands.
PLANTED = [
    ("hooksPath-post-commit", "core.hooksPath", "hooks-dir"),
    ("hooks-dir-pre-commit", None, "default-hook"),
    ("fsmonitor", "core.fsmonitor", "script"),
]


@pytest.mark.parametrize(("key", "kind"), [(k, kind) for _, k, kind in PLANTED], ids=[n for n, _, _ in PLANTED])
def test_repository_config_never_runs_a_program(repo: Path, tmp_path: Path, key: str | None, kind: str) -> None:
    marker = _marker(tmp_path)
    script = _script(tmp_path / "evil.sh", marker)
    hooks = tmp_path / "evil-hooks" if kind == "hooks-dir" else repo / ".git" / "hooks"
    if kind in ("hooks-dir", "default-hook"):
        hooks.mkdir(exist_ok=True)
        for name in ("pre-commit", "post-commit", "reference-transaction", "post-checkout", "pre-push"):
            _script(hooks / name, marker)
    if key is not None:
        value = str(hooks) if kind == "hooks-dir" else script
        git.run(repo, "config", "--local", key, value)
    # The commands krel runs in a restored tree: commit, tag, checkout, log, show, push.
    (repo / "a.txt").write_text("changed\n")
    git.commit_paths(repo, ["a.txt"], "change", ROBOT)
    git.tag(repo, "v1.0.0", "HEAD", "msg", ROBOT)
    git.checkout(repo, "release-1.0", create=True)
    git.run(repo, "log", "-p", "-1")
    git.run(repo, "status")
    git.show_file(repo, "HEAD", "a.txt")
    git.push(repo, "origin", ["refs/tags/v1.0.0:refs/tags/v1.0.0"], dry_run=False)
    assert not marker.exists()
