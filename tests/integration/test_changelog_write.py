"""write_changelog on real git repositories: start-revision rules, X.Y.0 drafts, dependencies, failure safety."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from releng import git
from releng.changelog import ChangelogOptions, revisions, write_changelog
from releng.errors import ReleaseError
from releng.github.replay import ReplayPullRequests
from releng.profile import Author

from tests.fixtures.github import REPLAY_V1253, build_v1253_repo
from tests.fixtures.gitrepo import RepoPair

ROBOT = Author("Kubernetes Release Robot", "k8s-release-robot@users.noreply.github.com")
EXPECTED = (REPLAY_V1253 / "EXPECTED-CHANGELOG-v1.25.3.md").read_text(encoding="utf-8")
GO_MOD_V1252 = """module k8s.io/kubernetes

require (
\tgithub.com/stretchr/objx v0.2.0 // indirect
\tgithub.com/stretchr/testify v1.7.0
\tgo.uber.org/goleak v1.1.10
\tgolang.org/x/lint v0.0.0-20210508222113-6edffad5e616 // indirect
\tsigs.k8s.io/apiserver-network-proxy/konnectivity-client v0.0.32
\tsigs.k8s.io/yaml v1.2.0
)
"""
GO_MOD_V1253 = (
    GO_MOD_V1252.replace("objx v0.2.0", "objx v0.4.0")
    .replace("testify v1.7.0", "testify v1.8.0")
    .replace("goleak v1.1.10", "goleak v1.2.0")
    .replace("20210508222113-6edffad5e616", "20190930215403-16217165b5de")
    .replace("konnectivity-client v0.0.32", "konnectivity-client v0.0.33")
)


def replay_dir(path: Path, numbers: list[int], body: str = "```release-note\nNote {n}.\n```") -> Path:
    path.mkdir()
    for seq, n in enumerate(numbers):
        pr = {
            "number": n, "body": body.format(n=n), "labels": [{"name": "kind/feature"}, {"name": "sig/release"}],
            "user": {"login": "dev", "html_url": "https://github.com/dev"}, "html_url": f"https://github.com/o/r/pull/{n}",
        }
        (path / f"GetPullRequest-{seq}.json").write_text(json.dumps({"Result": pr, "LastPage": 0}))
    return path


def options(repo: Path, tag: str, replay: Path, **kw: object) -> ChangelogOptions:
    return ChangelogOptions(repo=repo, tag=tag, pull_requests=ReplayPullRequests(replay), author=ROBOT, **kw)  # type: ignore[arg-type]


def test_dependencies_section_matches_published_v1253(tmp_path: Path) -> None:
    repo = build_v1253_repo(tmp_path)
    # two revisions whose go.mod files hold what kubernetes had at v1.25.2 and v1.25.3
    git.checkout(repo, "release-1.25")
    (repo / "go.mod").write_text(GO_MOD_V1252)
    start = git.commit_paths(repo, ["go.mod"], "go.mod at v1.25.2", ROBOT)
    (repo / "go.mod").write_text(GO_MOD_V1253)
    end = git.commit_paths(repo, ["go.mod"], "go.mod at v1.25.3", ROBOT)
    assert start is not None and end is not None
    git.checkout(repo, "master")
    result = write_changelog(
        options(repo, "v1.25.3", REPLAY_V1253, start_rev=start, end_rev=end, branch="release-1.25")
    )
    published = EXPECTED[EXPECTED.index("## Dependencies\n") :]
    ours = result.markdown[result.markdown.index("## Dependencies\n") :]
    assert ours == published


def test_start_revision_rules(git_repo: RepoPair) -> None:
    repo = git_repo.work
    sha = git.rev_parse(repo, "HEAD")
    git.tag(repo, "v1.25.0", sha, "v1.25.0", ROBOT)
    git_repo.merge_pr(1)
    git.tag(repo, "v1.26.0-alpha.1", git.rev_parse(repo, "HEAD"), "a1", ROBOT)
    git_repo.merge_pr(2)
    git.tag(repo, "v1.26.0-alpha.2", git.rev_parse(repo, "HEAD"), "a2", ROBOT)
    git.checkout(repo, "release-1.26", create=True)
    git_repo.merge_pr(3)
    git.tag(repo, "v1.26.0-rc.0", git.rev_parse(repo, "HEAD"), "rc0", ROBOT)
    git_repo.merge_pr(4)
    head = git.rev_parse(repo, "HEAD")
    cases = {
        "v1.26.0-alpha.1": "v1.25.0",
        "v1.26.0": "v1.25.0",
        "v1.26.0-alpha.3": "v1.26.0-alpha.2",
        "v1.26.0-rc.1": "v1.26.0-rc.0",
        "v1.26.0-beta.0": "v1.26.0-alpha.2",
        "v1.26.3": "v1.26.2",
    }
    assert {tag: revisions.start_tag(repo, tag, head) for tag in cases} == cases
    assert revisions.end_revision(repo, "release-1.26") == "release-1.26"


def test_first_minor_release_uses_draft_and_prunes_other_changelogs(git_repo: RepoPair, tmp_path: Path) -> None:
    repo = git_repo.work
    git_repo.commit("changelogs", {"CHANGELOG/CHANGELOG-1.25.md": "old\n", "CHANGELOG/README.md": "# CHANGELOGs\n"})
    git.tag(repo, "v1.25.0", git.rev_parse(repo, "HEAD"), "v1.25.0", ROBOT)
    git_repo.merge_pr(7)
    git.checkout(repo, "release-1.26", create=True)
    git.checkout(repo, "master")
    draft = tmp_path / "release-notes-draft.md"
    draft.write_text("## Changes by Kind\n\n### Feature\n\n- Curated note. ([#7](https://x/7), [@dev](https://x/dev))\n")
    draft.with_suffix(".json").write_text('{"7": {"text": "Curated note."}}\n')
    result = write_changelog(
        options(repo, "v1.26.0", replay_dir(tmp_path / "r", [7]), draft=draft, dependencies=False,
                json_file=tmp_path / "out" / "notes.json", html_file=tmp_path / "out" / "notes.html")
    )
    assert result.start_rev == "v1.25.0" and len(result.commits) == 2
    assert "## Changelog since v1.25.0\n\n## Changes by Kind\n\n### Feature\n\n- Curated note." in result.markdown
    assert json.loads((tmp_path / "out" / "notes.json").read_text()) == {"7": {"text": "Curated note."}}
    assert "<li>Curated note." in (tmp_path / "out" / "notes.html").read_text()
    on_branch = git.run(repo, "ls-tree", "--name-only", "release-1.26", "CHANGELOG/").split()
    assert on_branch == ["CHANGELOG/CHANGELOG-1.26.md", "CHANGELOG/README.md"]
    on_master = git.run(repo, "ls-tree", "--name-only", "master", "CHANGELOG/").split()
    assert "CHANGELOG/CHANGELOG-1.25.md" in on_master and "CHANGELOG/CHANGELOG-1.26.md" in on_master
    readme = git.show_file(repo, "master", "CHANGELOG/README.md")
    assert readme == "# CHANGELOGs\n\n- [CHANGELOG-1.26.md](./CHANGELOG-1.26.md)\n"


def test_push_modes(git_repo: RepoPair, tmp_path: Path) -> None:
    repo = git_repo.work
    git.tag(repo, "v1.0.0", git.rev_parse(repo, "HEAD"), "v1.0.0", ROBOT)
    git_repo.merge_pr(5)
    replay = replay_dir(tmp_path / "r", [5])
    dry = write_changelog(options(repo, "v1.0.1", replay, branch="master", push="dry-run", dependencies=False))
    assert "refs/heads/master" in dry.pushed
    assert git.ls_remote_heads(str(git_repo.origin))["master"] != git.rev_parse(repo, "master")
    real = write_changelog(options(repo, "v1.0.1", replay, branch="master", push="push", dependencies=False))
    assert real.commits == ()
    assert git.ls_remote_heads(str(git_repo.origin))["master"] == git.rev_parse(repo, "master")


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda d: (d / "maps").mkdir() or (d / "maps" / "m.yaml").write_text("pr: [\n"), "not valid YAML"),
        (lambda d: None, "no closing ``` fence"),
        (lambda d: None, "end marker"),
    ],
)
def test_failures_leave_no_commit_and_no_file(
    git_repo: RepoPair, tmp_path: Path, make_bad: Callable[[Path], object], message: str
) -> None:
    repo = git_repo.work
    git.tag(repo, "v1.0.0", git.rev_parse(repo, "HEAD"), "v1.0.0", ROBOT)
    git_repo.merge_pr(5)
    make_bad(tmp_path)
    body = "```release-note\nopen fence\n" if "fence" in message else "```release-note\nok\n```"
    if message == "end marker":
        git_repo.commit("broken changelog", {"CHANGELOG/CHANGELOG-1.0.md": "# v1.0.0\nno markers\n"})
    replay = replay_dir(tmp_path / "r", [5], body)
    before = git.rev_parse(repo, "master")
    maps = (tmp_path / "maps",) if (tmp_path / "maps").exists() else ()
    with pytest.raises(ReleaseError, match=message):
        write_changelog(options(repo, "v1.0.1", replay, branch="master", maps_from=maps, html_file=tmp_path / "x.html"))
    assert git.rev_parse(repo, "master") == before
    assert git.run(repo, "status", "--porcelain") == "" and not (tmp_path / "x.html").exists()
