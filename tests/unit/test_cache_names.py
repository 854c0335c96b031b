"""GitHub names that become cache paths: GitHub's own rules at the entry, and the cache never leaves its root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from releng import github
from releng.errors import ReleaseError, UsageError
from releng.files import UnsafePathError
from releng.github import names
from releng.github.cache import CachedPullRequests
from releng.github.replay import ReplayPullRequests
from typer.testing import CliRunner

from krel.app import app

BAD_OWNERS = {
    "dotdot-climb": "../../x",
    "absolute": "/etc",
    "absolute-tmp": "/tmp/krel-cache-escape",
    "dot": ".",
    "dotdot": "..",
    "slash": "a/b",
    "leading-hyphen": "-kubernetes",
    "double-hyphen": "k8s--infra",
    "underscore": "k8s_infra",
    "dot-inside": "k8s.io",
    "empty": "",
    "space": "kube rnetes",
    "nul": "kube\0rnetes",
    "newline": "kubernetes\n",
    "non-ascii": "kübernetes",
    "too-long-40": "a" * 40,
    "backslash": "a\\b",
    "option-like": "--upload-pack=x",
}
GOOD_OWNERS = ["kubernetes", "kubernetes-sigs", "k8s", "a", "A1-b2", "a" * 39, "legacy-"]

BAD_REPOS = {
    "dot": ".",
    "dotdot": "..",
    "dotdot-climb": "../x",
    "absolute": "/etc/passwd",
    "slash": "a/b",
    "empty": "",
    "space": "re lease",
    "nul": "re\0lease",
    "newline": "release\n",
    "non-ascii": "réléase",
    "too-long-101": "r" * 101,
    "backslash": "a\\b",
    "tilde-home": "~",
}
GOOD_REPOS = ["kubernetes", ".github", "release_notes", "re.lease-1", "...", "r" * 100, "-x"]


@pytest.mark.parametrize("name", BAD_OWNERS.values(), ids=BAD_OWNERS.keys())
def test_bad_owner_is_one_usage_line(name: str) -> None:
    with pytest.raises(UsageError, match="GitHub organisation") as info:
        names.owner(name)
    assert "\n" not in str(info.value).replace(repr(name), "")


@pytest.mark.parametrize("name", GOOD_OWNERS)
def test_good_owner(name: str) -> None:
    assert names.owner(name) == name


@pytest.mark.parametrize("name", BAD_REPOS.values(), ids=BAD_REPOS.keys())
def test_bad_repository_is_one_usage_line(name: str) -> None:
    with pytest.raises(UsageError, match="GitHub repository"):
        names.repository(name)


@pytest.mark.parametrize("name", GOOD_REPOS)
def test_good_repository(name: str) -> None:
    assert names.repository(name) == name


def _replay(path: Path) -> ReplayPullRequests:
    path.mkdir()
    pr = {"number": 7, "body": "x", "labels": [], "user": {"login": "dev"}, "html_url": "https://github.com/o/r/pull/7"}
    (path / "GetPullRequest-0.json").write_text(json.dumps({"Result": pr, "LastPage": 0}))
    return ReplayPullRequests(path)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("org", "repo"),
    [("../../x", "r"), ("/abs", "r"), ("o", ".."), ("o", "../../../escape"), ("..", "..")],
    ids=["org-climb", "org-absolute", "repo-dotdot", "repo-climb", "both-dotdot"],
)
def test_cache_refuses_names_that_leave_its_root(tmp_path: Path, org: str, repo: str) -> None:
    cache = tmp_path / "a" / "b" / "cache"
    with pytest.raises(UsageError):
        CachedPullRequests(_replay(tmp_path / "replay"), cache, org, repo)
    with pytest.raises(UsageError):
        github.open_pull_requests(org, repo, token="t", cache_dir=cache)
    assert _tree(tmp_path) == ["replay", "replay/GetPullRequest-0.json"]


def test_cache_stores_inside_its_root(tmp_path: Path) -> None:
    cached = CachedPullRequests(_replay(tmp_path / "replay"), tmp_path / "cache", "kubernetes", ".github")
    assert list(cached.get([7])) == [7]
    assert _tree(tmp_path / "cache") == ["kubernetes", "kubernetes/.github", "kubernetes/.github/7.json"]


@pytest.mark.parametrize("link_at", ["kubernetes", "kubernetes/release", "kubernetes/release/7.json"])
def test_cache_never_writes_through_a_link(tmp_path: Path, link_at: str) -> None:
    cache, outside = tmp_path / "cache", tmp_path / "outside"
    outside.mkdir()
    (outside / "7.json").write_text("not krel's\n")
    link = cache / link_at
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside / "7.json" if link_at.endswith(".json") else outside, link)
    cached = CachedPullRequests(_replay(tmp_path / "replay"), cache, "kubernetes", "release")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        cached.get([7])
    assert _tree(outside) == ["7.json"] and (outside / "7.json").read_text() == "not krel's\n"


@pytest.mark.parametrize(
    "flags",
    [["--org", "../../x"], ["--org", "/tmp/abs"], ["--repo-name", ".."], ["--repo-name", "a/b"]],
    ids=["cli-org-climb", "cli-org-absolute", "cli-repo-dotdot", "cli-repo-slash"],
)
def test_cli_names_exit_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str]) -> None:
    monkeypatch.setenv("KREL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    result = CliRunner().invoke(
        app, ["release-notes", "--repo", str(tmp_path), "--start-rev", "a", "--end-rev", "b", *flags]
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "GitHub" in lines[0]
    assert not (tmp_path / "home" / "cache").exists()
    assert isinstance(result.exception, SystemExit | ReleaseError)
