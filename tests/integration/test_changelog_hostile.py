"""Hostile repositories and notes for `krel changelog`: symlinks, dirty work trees, failed commits, odd note text.

Each case runs write_changelog on a real git repository and checks that nothing outside krel's own files changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from releng import git, templates
from releng.changelog import ChangelogOptions, toc, write_changelog
from releng.errors import ReleaseError
from releng.github.replay import ReplayPullRequests
from releng.notes import extract
from releng.profile import Author

from tests.fixtures.gitrepo import RepoPair

ROBOT = Author("Release Robot", "robot@example.test")
CHANGELOG = "CHANGELOG/CHANGELOG-1.0.md"
README = "CHANGELOG/README.md"


def replay(path: Path, bodies: dict[int, str]) -> ReplayPullRequests:
    path.mkdir(parents=True, exist_ok=True)
    for seq, (n, body) in enumerate(bodies.items()):
        pr = {
            "number": n, "body": body, "labels": [{"name": "kind/bug"}],
            "user": {"login": "dev", "html_url": "https://github.com/dev"}, "html_url": f"https://github.com/o/r/pull/{n}",
        }
        (path / f"GetPullRequest-{seq}.json").write_text(json.dumps({"Result": pr, "LastPage": 0}))
    return ReplayPullRequests(path)


def note(text: str) -> str:
    return f"```release-note\n{text}\n```"


def released_repo(pair: RepoPair) -> Path:
    """master + release-1.0 with v1.0.0 tagged and PR 5 merged on the branch; master checked out."""
    repo = pair.work
    git.tag(repo, "v1.0.0", git.rev_parse(repo, "HEAD"), "v1.0.0", ROBOT)
    git.checkout(repo, "release-1.0", create=True)
    pair.merge_pr(5)
    git.checkout(repo, "master")
    return repo


def run(repo: Path, tmp_path: Path, tag: str = "v1.0.1", body: str = note("Fixed it."), **kw: object) -> object:
    prs = replay(tmp_path / f"replay-{len(list(tmp_path.glob('replay-*')))}", {5: body})
    options = ChangelogOptions(repo=repo, tag=tag, pull_requests=prs, author=ROBOT, dependencies=False, **kw)  # type: ignore[arg-type]
    return write_changelog(options)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under root: file bytes, or the target of a link (never followed)."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def repo_state(repo: Path) -> tuple[str, str, str]:
    return git.rev_parse(repo, "master"), git.rev_parse(repo, "release-1.0"), git.run(repo, "status", "--porcelain")


def commit_link(repo: Path, name: str, target: Path, branch: str = "master") -> None:
    git.checkout(repo, branch)
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, repo / name)
    git.run(repo, "add", "--", name)
    git.run(repo, "commit", "--quiet", "-m", f"link {name}", env={
        "GIT_AUTHOR_NAME": "d", "GIT_AUTHOR_EMAIL": "d@x", "GIT_COMMITTER_NAME": "d", "GIT_COMMITTER_EMAIL": "d@x"})
    git.checkout(repo, "master")


def _untracked_dir_link(repo: Path, outside: Path) -> None:
    os.symlink(outside, repo / "CHANGELOG")


def _tracked_dir_link(repo: Path, outside: Path) -> None:
    commit_link(repo, "CHANGELOG", outside)


def _tracked_file_link(repo: Path, outside: Path) -> None:
    commit_link(repo, CHANGELOG, outside / "CHANGELOG-1.0.md")


def _tracked_readme_link(repo: Path, outside: Path) -> None:
    commit_link(repo, README, outside / "README.md")


def _branch_only_dir_link(repo: Path, outside: Path) -> None:
    commit_link(repo, "CHANGELOG", outside, branch="release-1.0")


def _untracked_file_link(repo: Path, outside: Path) -> None:
    (repo / "CHANGELOG").mkdir()
    os.symlink(outside / "CHANGELOG-1.0.md", repo / CHANGELOG)


SYMLINK_CASES: dict[str, Callable[[Path, Path], None]] = {
    "untracked-CHANGELOG-dir-link": _untracked_dir_link,
    "tracked-CHANGELOG-dir-link-on-master": _tracked_dir_link,
    "tracked-changelog-file-link": _tracked_file_link,
    "tracked-readme-link": _tracked_readme_link,
    "CHANGELOG-dir-link-only-on-release-branch": _branch_only_dir_link,
    "untracked-changelog-file-link": _untracked_file_link,
}


@pytest.mark.parametrize("plant", SYMLINK_CASES.values(), ids=SYMLINK_CASES.keys())
def test_symlinks_in_the_repository_are_refused_before_anything_is_written(
    git_repo: RepoPair, tmp_path: Path, plant: Callable[[Path, Path], None]
) -> None:
    repo = released_repo(git_repo)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "CHANGELOG-1.0.md").write_text("precious changelog\n")
    (outside / "README.md").write_text("precious readme\n")
    plant(repo, outside)
    before_outside, before_repo = snapshot(outside), repo_state(repo)
    with pytest.raises(ReleaseError, match="symbolic link"):
        run(repo, tmp_path)
    assert snapshot(outside) == before_outside
    assert repo_state(repo) == before_repo
    assert git.current_branch(repo) == "master"


@pytest.mark.parametrize("which", ["html_file", "json_file"])
def test_output_file_link_is_refused_before_committing(git_repo: RepoPair, tmp_path: Path, which: str) -> None:
    repo = released_repo(git_repo)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "out" / "notes.out"
    link.parent.mkdir()
    os.symlink(victim, link)
    before = repo_state(repo)
    with pytest.raises(ReleaseError, match="symbolic link"):
        run(repo, tmp_path, **{which: link})
    assert victim.read_text() == "keep me\n" and link.is_symlink()
    assert repo_state(repo) == before


def test_failed_commit_restores_only_krels_files(git_repo: RepoPair, tmp_path: Path) -> None:
    repo = released_repo(git_repo)
    git_repo.commit("changelog", {CHANGELOG: "<!-- BEGIN MUNGE: GENERATED_TOC -->\n<!-- END MUNGE: GENERATED_TOC -->\n",
                                  "notes.txt": "tracked\n"})
    (repo / "notes.txt").write_text("uncommitted edit elsewhere\n")
    (repo / "scratch.txt").write_text("untracked\n")
    files_before, state_before = snapshot(repo / "CHANGELOG"), repo_state(repo)
    (repo / ".git" / "index.lock").write_text("")  # git add fails after krel wrote both files
    try:
        with pytest.raises(ReleaseError, match=r"index\.lock"):
            run(repo, tmp_path)
    finally:
        (repo / ".git" / "index.lock").unlink()
    assert snapshot(repo / "CHANGELOG") == files_before  # README.md, which krel created, is gone again
    assert repo_state(repo) == state_before
    assert (repo / "notes.txt").read_text() == "uncommitted edit elsewhere\n"
    assert (repo / "scratch.txt").read_text() == "untracked\n"


@pytest.mark.parametrize(
    "dirty",
    [
        {CHANGELOG: "an untracked changelog someone is writing\n"},
        {README: "an untracked readme\n"},
    ],
    ids=["untracked-changelog", "untracked-readme"],
)
def test_uncommitted_content_at_krels_paths_is_refused(
    git_repo: RepoPair, tmp_path: Path, dirty: dict[str, str]
) -> None:
    repo = released_repo(git_repo)
    for rel, text in dirty.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    before = repo_state(repo)
    with pytest.raises(ReleaseError, match="uncommitted content"):
        run(repo, tmp_path)
    assert repo_state(repo) == before
    assert all((repo / rel).read_text() == text for rel, text in dirty.items())


def minor_repo(pair: RepoPair, files: dict[str, str] | None = None) -> Path:
    """v1.0.0 tagged on master (with `files` committed), PR 5 merged, release-1.1 cut: ready for v1.1.0."""
    repo = pair.work
    if files:
        pair.commit("changelogs", files)
    git.tag(repo, "v1.0.0", git.rev_parse(repo, "HEAD"), "v1.0.0", ROBOT)
    pair.merge_pr(5)
    git.checkout(repo, "release-1.1", create=True)
    git.checkout(repo, "master")
    return repo


def test_xy0_prune_removes_only_tracked_changelogs(git_repo: RepoPair, tmp_path: Path) -> None:
    repo = minor_repo(git_repo, {CHANGELOG: "old\n", README: "# CHANGELOGs\n"})
    (repo / "CHANGELOG" / "CHANGELOG-0.8.md").write_text("untracked, not krel's\n")
    draft = tmp_path / "draft.md"
    draft.write_text("## Changes by Kind\n\n- Curated.\n")
    run(repo, tmp_path, tag="v1.1.0", draft=draft)
    assert git.run(repo, "ls-tree", "--name-only", "release-1.1", "CHANGELOG/").split() == [
        "CHANGELOG/CHANGELOG-1.1.md", README]
    assert (repo / "CHANGELOG" / "CHANGELOG-0.8.md").read_text() == "untracked, not krel's\n"


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda d: (d / "draft.md").write_bytes(b"## Notes\n\xff\xfe latin-1 \xe9\n"), "draft.md"),
        (lambda d: ((d / "draft.md").write_text("ok\n"), (d / "draft.json").write_bytes(b'{"\xff": 1}')), "draft.json"),
    ],
    ids=["draft-not-utf8", "draft-json-not-utf8"],
)
def test_non_utf8_inputs_are_one_line_naming_the_file(
    git_repo: RepoPair, tmp_path: Path, make: Callable[[Path], object], where: str
) -> None:
    repo = minor_repo(git_repo)
    make(tmp_path)
    before = git.rev_parse(repo, "master")
    with pytest.raises(ReleaseError, match=rf"{where}: not UTF-8 text") as info:
        run(repo, tmp_path, tag="v1.1.0", draft=tmp_path / "draft.md")
    assert "\n" not in str(info.value) and git.rev_parse(repo, "master") == before


def test_non_utf8_changelog_on_master_is_one_line(git_repo: RepoPair, tmp_path: Path) -> None:
    repo = released_repo(git_repo)
    (repo / "CHANGELOG").mkdir()
    (repo / CHANGELOG).write_bytes(b"<!-- BEGIN MUNGE: GENERATED_TOC -->\n\xff\n<!-- END MUNGE: GENERATED_TOC -->\n")
    git.commit_paths(repo, [CHANGELOG], "latin-1 changelog", ROBOT)
    with pytest.raises(ReleaseError, match=r"master:CHANGELOG/CHANGELOG-1.0.md is not UTF-8 text"):
        run(repo, tmp_path)


# Note texts that once confused the section parser; each is written, rerun, and followed by a newer release.
HOSTILE_NOTES = {
    "tilde-fence": "Fixed it.\n~~~\nnot closed",
    "backtick-fence-unbalanced": "Fixed it.\n````\ncode",
    "mixed-fences": "A.\n~~~~\n```\n~~~\nB.",
    "heading-of-older-release": "Fixed it.\n# v1.0.0\n\n## Changelog since v0.9.0",
    "heading-of-same-release": "Fixed it.\n# v1.0.1\n\n\n## Downloads for v1.0.1",
    "heading-in-code-block": "Fixed it.\n```\n# v1.0.0\n```",
    "html-comment": "Fixed it.\n<!--\n# v1.0.0\n-->",
    "toc-end-marker": "Fixed it.\n<!-- END MUNGE: GENERATED_TOC -->",
    "windows-line-endings": "Fixed it.\r\n~~~\r\n# v1.0.0\r\nmore",
    "very-long-line": "Fixed " + "x" * 200_000 + ".",
}


@pytest.mark.parametrize("text", HOSTILE_NOTES.values(), ids=HOSTILE_NOTES.keys())
def test_rerun_with_hostile_notes_changes_nothing_and_keeps_older_sections(
    git_repo: RepoPair, tmp_path: Path, text: str
) -> None:
    repo = released_repo(git_repo)
    older = run(repo, tmp_path, tag="v1.0.1", body=note("Older release note."))
    git.checkout(repo, "release-1.0")
    git.tag(repo, "v1.0.1", git.rev_parse(repo, "HEAD"), "v1.0.1", ROBOT)
    git_repo.merge_pr(6)
    git.checkout(repo, "master")
    body = note(text) if "\r" not in text else f"```release-note\r\n{text}\r\n```"
    prs = replay(tmp_path / "hostile", {6: body})
    options = ChangelogOptions(repo=repo, tag="v1.0.2", pull_requests=prs, author=ROBOT, dependencies=False)
    first = write_changelog(options)
    content = git.show_file(repo, "master", CHANGELOG)
    assert content is not None and older.markdown in content  # type: ignore[attr-defined]
    assert first.commits and content.index(first.markdown) < content.index(older.markdown)  # type: ignore[attr-defined]
    again = write_changelog(options)
    assert again.commits == () and git.show_file(repo, "master", CHANGELOG) == content
    assert git.show_file(repo, "release-1.0", CHANGELOG) == content


# Property tests on the CHANGELOG merge itself, with sections rendered by krel's own template and note renderer.
FRAGMENTS = [
    "~~~", "```", "````", "~~~~~", "```go", "~~~ info", "# v1.0.0", "# v1.0.1", "# v1.0.2", "## Downloads for v1.0.2",
    "## Changelog since v1.0.1", "<!--", "-->", toc.TOC_END, toc.TOC_BEGIN,
    "", " ", "text", "x" * 300, "#", "- item", "    indented code", "\r", "\t", "* star", "1. one", "> quote",
]
note_texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)),
    min_size=1, max_size=12,
).map("\n".join)


def section(tag: str, previous: str, notes: list[str], draft: str | None = None) -> str:
    entries = [extract.markdown(text, n, "dev", f"https://github.com/o/r/pull/{n}", "", []) for n, text in
               enumerate(notes, 1)]
    notes_md = draft if draft is not None else (
        "## Changes by Kind\n\n### Bug or Regression\n\n" + "".join(f"- {e}\n" for e in entries))
    return templates.render("changelog/section.md.j2", tag=tag, previous=previous, downloads_md="",
                            notes_md=notes_md, dependencies_md="")


def history(notes: list[list[str]]) -> tuple[str, list[str]]:
    """A file with v1.0.0, v1.0.1, ... written in order, and the sections as written."""
    content: str | None = None
    sections = []
    for patch, texts in enumerate(notes):
        sections.append(section(f"v1.0.{patch}", f"v1.0.{patch - 1}" if patch else "v0.9.0", texts))
        content = toc.merge(content, sections[-1], f"v1.0.{patch}", "f")
    assert content is not None
    return content, sections


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(note_texts, min_size=1, max_size=3), min_size=2, max_size=4))
def test_property_rerun_is_byte_identical_and_older_sections_survive(notes: list[list[str]]) -> None:
    content, sections = history(notes)
    assert all(s in content for s in sections)
    for patch, texts in enumerate(notes):  # rerun every release, newest and older ones alike
        tag = f"v1.0.{patch}"
        assert toc.merge(content, section(tag, f"v1.0.{patch - 1}" if patch else "v0.9.0", texts), tag, "f") == content


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(note_texts, min_size=1, max_size=3), min_size=2, max_size=4), st.lists(note_texts, min_size=1))
def test_property_changed_notes_replace_only_their_own_section(notes: list[list[str]], new: list[str]) -> None:
    content, sections = history(notes)
    newest = len(notes) - 1
    replacement = section(f"v1.0.{newest}", f"v1.0.{newest - 1}", new)
    merged = toc.merge(content, replacement, f"v1.0.{newest}", "f")
    assert all(s in merged for s in sections[:-1]) and replacement in merged
    body = merged[merged.index(toc.TOC_END):]
    assert body.count(f"\n# v1.0.{newest}\n") == 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(note_texts, min_size=1, max_size=2), min_size=1, max_size=3), note_texts)
def test_property_curated_draft_of_any_content_reruns_identically(notes: list[list[str]], draft: str) -> None:
    content, sections = history(notes)
    tag = f"v1.0.{len(notes)}"
    newest = section(tag, f"v1.0.{len(notes) - 1}", [], draft=draft + "\n")
    once = toc.merge(content, newest, tag, "f")
    assert all(s in once for s in sections) and newest in once
    assert toc.merge(once, newest, tag, "f") == once


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(note_texts, min_size=1, max_size=2), min_size=1, max_size=3), st.lists(note_texts, min_size=1))
def test_property_crlf_file_keeps_its_line_endings(notes: list[list[str]], new: list[str]) -> None:
    content, sections = history(notes)
    crlf = content.replace("\n", "\r\n")
    tag = f"v1.0.{len(notes)}"
    newest = section(tag, f"v1.0.{len(notes) - 1}", new)
    once = toc.merge(crlf, newest, tag, "f")
    assert "\n" not in once.replace("\r\n", "")
    assert all(s.replace("\n", "\r\n") in once for s in [*sections, newest])
    assert toc.merge(once, newest, tag, "f") == once


def test_text_before_the_toc_is_kept() -> None:
    content, _ = history([["One."]])
    prefixed = "Maintainers' note: do not edit by hand.\n\n" + content
    merged = toc.merge(prefixed, section("v1.0.1", "v1.0.0", ["Two."]), "v1.0.1", "f")
    assert merged.startswith("Maintainers' note: do not edit by hand.\n\n" + toc.TOC_BEGIN)


def test_two_sections_for_one_tag_are_refused_not_guessed() -> None:
    content, _ = history([["One."], ["Two."]])
    doubled = content + section("v1.0.1", "v1.0.0", ["Again."])
    with pytest.raises(ReleaseError, match=r"2 sections are headed '# v1\.0\.1'"):
        toc.merge(doubled, section("v1.0.1", "v1.0.0", ["Changed."]), "v1.0.1", "f")


# issue 12: a stale clone, a failed push, a rerun that would drop the downloads.
def _advance_remote(pair: RepoPair, tmp_path: Path, branch: str) -> str:
    """Someone else pushes a commit to origin/<branch>; the work clone does not know it yet."""
    other = git.clone(str(pair.origin), tmp_path / "other", branch=branch)
    (other / "theirs.txt").write_text("a colleague's change\n")
    sha = git.commit_paths(other, ["theirs.txt"], "their change", ROBOT)
    git.push(other, "origin", [branch], dry_run=False)
    assert sha is not None
    return sha


@pytest.mark.parametrize("behind", ["master", "release-1.0"])
def test_clone_behind_its_remote_is_refused_before_committing(git_repo: RepoPair, tmp_path: Path, behind: str) -> None:
    repo = released_repo(git_repo)
    git.push(repo, "origin", ["master", "release-1.0"], dry_run=False)
    _advance_remote(git_repo, tmp_path, behind)
    before = repo_state(repo)
    with pytest.raises(ReleaseError, match=rf"{behind} is 1 commit\(s\) behind origin/{behind}"):
        run(repo, tmp_path, push="dry-run")
    assert repo_state(repo) == before


def test_failed_push_leaves_the_branches_as_they_were(tmp_path: Path) -> None:
    # a non-bare upstream with master checked out refuses pushes to master: a real, repeatable push failure
    upstream = git.init(tmp_path / "upstream")
    RepoPair(upstream, upstream).commit("initial", {"README.md": "demo\n"})
    repo = git.clone(str(upstream), tmp_path / "work")
    git.tag(repo, "v1.0.0", git.rev_parse(repo, "HEAD"), "v1.0.0", ROBOT)
    RepoPair(repo, upstream).merge_pr(5)
    before = repo_state_master(repo)
    with pytest.raises(ReleaseError, match="push to origin failed, the changelog commits were undone") as info:
        run(repo, tmp_path, branch="master", push="push")
    assert "\n" not in str(info.value)
    assert repo_state_master(repo) == before
    assert not (repo / CHANGELOG).exists()


def repo_state_master(repo: Path) -> tuple[str, str]:
    return git.rev_parse(repo, "master"), git.run(repo, "status", "--porcelain")


def _tars(path: Path) -> Path:
    path.mkdir()
    for name in ("kubernetes.tar.gz", "kubernetes-src.tar.gz", "kubernetes-client-linux-amd64.tar.gz"):
        (path / name).write_bytes(name.encode())
    return path


def test_rerun_without_tars_keeps_the_downloads_unless_told(git_repo: RepoPair, tmp_path: Path) -> None:
    repo = released_repo(git_repo)
    first = run(repo, tmp_path, tars_dir=_tars(tmp_path / "tars"))
    assert "## Downloads for v1.0.1" in first.markdown  # type: ignore[attr-defined]
    before = repo_state(repo)
    with pytest.raises(ReleaseError, match=r"v1\.0\.1 entry lists downloads this run would remove") as info:
        run(repo, tmp_path)
    assert info.value.exit_code == 2 and repo_state(repo) == before
    dropped = run(repo, tmp_path, drop_downloads=True)
    content = git.show_file(repo, "master", CHANGELOG)
    assert dropped.commits and content is not None and "## Downloads for v1.0.1" not in content  # type: ignore[attr-defined]
