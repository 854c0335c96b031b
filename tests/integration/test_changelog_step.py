"""The stage job's WriteNotes step handler, on the v1.25.3 repository and on a first release."""

from __future__ import annotations

import json
from pathlib import Path

from releng import git
from releng.jobs import steps
from releng.jobs.clients import Clients, ReleaseTexts
from releng.jobs.handlers import HANDLERS
from releng.jobs.handlers.notes import write_notes
from releng.profile import load_profile
from releng.report import RecordingReporter

from tests.fixtures.github import REPLAY_V1253
from tests.fixtures.gitrepo import RepoPair


def backends() -> Clients:
    return Clients(ReleaseTexts(load_profile("kubernetes")), report=RecordingReporter())


def step(repo: Path, out: Path, tag: str, branch: str, replay: Path) -> steps.WriteNotes:
    return steps.WriteNotes(
        repo=str(repo), tag=tag, branch=branch, html_file=str(out / "release-notes.html"),
        json_file=str(out / "release-notes.json"), tars_dir=str(out / "missing-tars"),
        download_url="https://dl.k8s.io", replay_dir=str(replay), org="kubernetes", repo_name="kubernetes",
        image_registry="registry.k8s.io", author=load_profile("kubernetes").git_author, remote="origin",
        default_branch="master",
    )


def test_write_notes_step_commits_locally_and_is_idempotent(github_v1253_repo: Path, tmp_path: Path) -> None:
    repo = github_v1253_repo
    origin = str(repo / ".." / "origin.git")
    before = git.ls_remote_heads(origin)
    b = backends()
    write_notes(step(repo, tmp_path, "v1.25.3", "release-1.25", REPLAY_V1253), b)
    subject = git.run(repo, "log", "-1", "--format=%s", "master").strip()
    assert subject == "CHANGELOG: Update directory for v1.25.3 release"
    assert sorted(json.loads((tmp_path / "release-notes.json").read_text())) == ["112632", "112807", "112840", "112902"]
    assert "<h1>v1.25.3</h1>" in (tmp_path / "release-notes.html").read_text()
    assert git.ls_remote_heads(origin) == before  # the step never pushes
    heads = {b_: git.rev_parse(repo, b_) for b_ in ("master", "release-1.25")}
    write_notes(step(repo, tmp_path, "v1.25.3", "release-1.25", REPLAY_V1253), b)
    assert {b_: git.rev_parse(repo, b_) for b_ in heads} == heads
    assert any("Bug or Regression: 3, Feature: 1" in e[-1] for e in b.report.events)  # type: ignore[attr-defined]


def test_first_release_starts_at_the_root_commit(git_repo: RepoPair, tmp_path: Path) -> None:
    git_repo.merge_pr(3)
    replay = tmp_path / "replay"
    replay.mkdir()
    pr = {"number": 3, "body": "```release-note\nFirst feature.\n```", "labels": [{"name": "kind/feature"}],
          "user": {"login": "dev"}, "html_url": "https://github.com/o/r/pull/3"}
    (replay / "GetPullRequest-1.json").write_text(json.dumps({"Result": pr, "LastPage": 0}))
    write_notes(step(git_repo.work, tmp_path, "v0.1.0", "master", replay), backends())
    content = git.show_file(git_repo.work, "master", "CHANGELOG/CHANGELOG-0.1.md") or ""
    line = "- First feature. ([#3](https://github.com/o/r/pull/3), [@dev](https://github.com/dev))"
    assert f"### Feature\n\n{line}" in content


def test_the_stage_job_runs_this_handler(github_v1253_repo: Path, tmp_path: Path) -> None:
    handler = HANDLERS[steps.WriteNotes]
    handler(step(github_v1253_repo, tmp_path, "v1.25.3", "release-1.25", REPLAY_V1253), backends())
    assert (tmp_path / "release-notes.json").exists()
    changed = git.run(github_v1253_repo, "show", "--name-only", "--format=", "release-1.25")
    assert changed.split() == ["CHANGELOG/CHANGELOG-1.25.md"]
