"""Acceptance on real data: `krel changelog` for Kubernetes v1.25.3 from krel's own GitHub recording."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from releng import git
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.github import REPLAY_V1253

EXPECTED = (REPLAY_V1253 / "EXPECTED-CHANGELOG-v1.25.3.md").read_text(encoding="utf-8")
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "notes" / "changelog-v1.25.3.md"
# krel's rules over the 10 PRs of v1.25.3 (see INDEX.tsv): heading -> PRs
PLACED = {"Feature": {112902}, "Bug or Regression": {112632, 112807, 112840}}
# release-note-none label or NONE block (112667, 112447, 112611, 112808); empty block (112493, 112533)
EXCLUDED = {112667, 112493, 112447, 112611, 112533, 112808}
LINK = re.compile(r"\(\[#(\d+)\]\(https://github\.com/kubernetes/kubernetes/pull/\1\), \[@[\w-]+\]\(https://github\.com/[\w-]+\)\)")


def sections(markdown: str) -> dict[str, list[str]]:
    """### heading -> its bullet lines, within one tag's section."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in markdown.split("\n"):
        if line.startswith("#"):
            current = line.lstrip("#").strip()
            found.setdefault(current, [])
        elif line.startswith("- "):
            found.setdefault(current, []).append(line)
        elif line.startswith("  ") and found.get(current):
            found[current][-1] += "\n" + line  # continuation of a multi-line note
    return found


def run(cli: CliRunner, repo: Path, *extra: str) -> dict[str, object]:
    result = cli.invoke(
        app,
        ["changelog", "--tag", "v1.25.3", "--branch", "release-1.25", "--repo", str(repo),
         "--replay", str(REPLAY_V1253), "--no-dependencies", "--profile", "kubernetes", "--json", *extra],
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_changelog_v1253_places_every_note_once(cli: CliRunner, krel_home: Path, github_v1253_repo: Path) -> None:
    repo = github_v1253_repo
    origin_before = git.ls_remote_heads(str(repo / ".." / "origin.git"))
    summary = run(cli, repo)
    assert summary["start_rev"] == "v1.25.2"
    assert summary["counts"] == {"Bug or Regression": 3, "Feature": 1}
    assert summary["pull_requests"] == 10 and set(summary["excluded"]) == EXCLUDED  # type: ignore[arg-type]

    content = git.show_file(repo, "master", "CHANGELOG/CHANGELOG-1.25.md")
    assert content is not None
    section = content[content.index("# v1.25.3\n") : content.index("# v1.25.2\n")]
    # no downloads: krel's template trims the Downloads part away, so one blank line follows the title
    assert section.startswith("# v1.25.3\n\n## Changelog since v1.25.2\n\n## Changes by Kind\n\n### Feature\n")
    assert section.endswith("\n\n\n\n") and "Urgent Upgrade Notes" not in section
    headings = sections(section)
    for heading, prs in PLACED.items():
        numbers = [int(LINK.search(line).group(1)) for line in headings[heading]]  # type: ignore[union-attr]
        assert sorted(numbers) == sorted(prs), heading
    every = " ".join(section.split("\n"))
    for pr in EXCLUDED:
        assert f"#{pr}]" not in every
    for pr in set().union(*PLACED.values()):
        assert every.count(f"[#{pr}]") == 1

    expected_lines = sections(EXPECTED)
    # the one note whose recorded body matches the published wording is identical byte for byte
    assert headings["Feature"] == expected_lines["Feature"]
    # SIG suffixes follow krel's pretty names, as published
    ours = {int(LINK.search(line).group(1)): line for line in headings["Bug or Regression"]}  # type: ignore[union-attr]
    assert ours[112840].endswith("[SIG Network and Windows]")
    assert ours[112807].endswith("[SIG Cloud Provider and Network]")
    assert ours[112632].endswith("[SIG API Machinery]")
    # extraction: CRLF removed, text capitalised, one line
    assert ours[112632].startswith("- Fix 1.23 regression in list cost estimation in Priority and Fairness")

    # TOC regenerated over both sections, duplicate anchors suffixed
    assert content.startswith("<!-- BEGIN MUNGE: GENERATED_TOC -->\n\n- [v1.25.3](#v1253)\n")
    assert "  - [Changelog since v1.25.2](#changelog-since-v1252)" in content
    assert "- [Bug or Regression](#bug-or-regression-1)" in content
    readme = git.show_file(repo, "master", "CHANGELOG/README.md") or ""
    assert readme.index("- [CHANGELOG-1.25.md](./CHANGELOG-1.25.md)") < readme.index("CHANGELOG-1.24.md")

    master_log = git.run(repo, "log", "-1", "--format=%an <%ae>|%s", "master").strip()
    assert master_log == (
        "Kubernetes Release Robot <k8s-release-robot@users.noreply.github.com>|"
        "CHANGELOG: Update directory for v1.25.3 release"
    )
    branch_log = git.run(repo, "log", "-1", "--format=%an|%s", "release-1.25").strip()
    assert branch_log == "Kubernetes Release Robot|Update CHANGELOG/CHANGELOG-1.25.md for v1.25.3"
    assert git.show_file(repo, "release-1.25", "CHANGELOG/CHANGELOG-1.25.md") == content
    assert len(summary["commits"]) == 2  # type: ignore[arg-type]
    # mock: the push was a dry run
    assert git.ls_remote_heads(str(repo / ".." / "origin.git")) == origin_before

    # our own rendering is pinned too; KREL_UPDATE_GOLDEN=1 rewrites it (review the diff before committing)
    if os.environ.get("KREL_UPDATE_GOLDEN"):
        GOLDEN.write_text(content, encoding="utf-8")
    assert content == GOLDEN.read_text(encoding="utf-8")

    again = run(cli, repo)
    assert again["commits"] == []
    assert git.show_file(repo, "master", "CHANGELOG/CHANGELOG-1.25.md") == content


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--tag", "v1.25"], 2, "v1.25"),
        (["--tag", "v1.25.3", "--start-rev", "v9.9.9"], 2, "unknown revision 'v9.9.9'"),
        (["--tag", "v1.25.3", "--start-rev", "release-1.25", "--end-rev", "v1.25.2"], 2, "is after end revision"),
        (["--tag", "v1.25.3", "--replay", "/nonexistent"], 1, "does not exist"),
        (["--tag", "v1.25.3", "--replay", str(REPLAY_V1253), "--record", "/tmp/x"], 2, "cannot be used together"),
    ],
)
def test_changelog_bad_input_changes_nothing(
    cli: CliRunner, krel_home: Path, github_v1253_repo: Path, args: list[str], code: int, message: str
) -> None:
    repo = github_v1253_repo
    before = {b: git.rev_parse(repo, b) for b in ("master", "release-1.25")}
    base = ["changelog", "--repo", str(repo), "--profile", "kubernetes"]
    if "--replay" not in args:
        base += ["--replay", str(REPLAY_V1253)]
    result = cli.invoke(app, [*base, *args])
    assert result.exit_code == code, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert {b: git.rev_parse(repo, b) for b in before} == before
    assert git.run(repo, "status", "--porcelain") == ""


def test_downloads_tables_match_published_layout(
    cli: CliRunner, krel_home: Path, github_v1253_repo: Path, tmp_path: Path
) -> None:
    tars = tmp_path / "release-tars"
    tars.mkdir()
    names = re.findall(r"^\[(kubernetes[\w.-]*\.tar\.gz)\]", EXPECTED, re.M)
    assert len(names) == 24
    for name in names:
        (tars / name).write_bytes(name.encode())
    # --nomock picks the dl.k8s.io download URL; its real push goes to the test's local bare origin
    summary = run(cli, github_v1253_repo, "--tars", str(tars), "--nomock", "--yes")
    assert summary["push_mode"] == "push"
    assert git.ls_remote_heads(str(github_v1253_repo / ".." / "origin.git"))["master"] == summary["commits"][0]  # type: ignore[index]
    content = git.show_file(github_v1253_repo, "master", "CHANGELOG/CHANGELOG-1.25.md") or ""
    mask = re.compile(r"\| [0-9a-f]{128}$", re.M)
    ours = content[content.index("# v1.25.3\n") : content.index("## Changelog since v1.25.2")]
    published = EXPECTED[: EXPECTED.index("### Container Images")]
    assert mask.sub("| <sha512>", ours) == mask.sub("| <sha512>", published)


ORDER = ["deprecation", "api-change", "feature", "design", "documentation", "failing-test", "bug", "other"]
TITLES = {"api-change": "API Change", "failing-test": "Failing Test", "bug": "Bug or Regression",
          "other": "Other (Cleanup or Flake)"}


def expected_heading(labels: list[str]) -> str:
    """krel's placement, computed independently from the labels."""
    kinds = [{"regression": "bug", "cleanup": "other", "flake": "other"}.get(k, k)
             for k in (label[5:] for label in labels if label.startswith("kind/"))]
    if not kinds:
        return "Uncategorized"
    kind = min(kinds, key=ORDER.index)
    return TITLES.get(kind, kind.title())


def publishable(body: str, labels: list[str]) -> bool:
    if "release-note-none" in labels or "/release-note-none" in body:
        return False
    start = body.find("```release-note")
    if start < 0:
        return False
    text = body[body.index("\n", start) + 1 :]
    text = text[: text.find("```")].strip().strip("'\"").lower()
    return text not in ("", "none", "n/a", "na")


def test_branch_head_picks_up_every_later_merge(cli: CliRunner, krel_home: Path, tmp_path: Path) -> None:
    """krel takes a patch release's end revision from the branch head: all 127 recorded PRs land in v1.25.3."""
    from tests.fixtures.github import build_v1253_repo, v1253_prs, v1253_rows

    repo = build_v1253_repo(tmp_path, later=117)
    prs = v1253_prs()
    assert len(v1253_rows()) == 127
    want: dict[str, set[int]] = {}
    for n, pr in prs.items():
        labels = [label["name"] for label in pr["labels"]]
        if publishable(pr["body"] or "", labels):
            want.setdefault(expected_heading(labels), set()).add(n)
    summary = run(cli, repo)
    content = git.show_file(repo, "master", "CHANGELOG/CHANGELOG-1.25.md") or ""
    section = content[content.index("# v1.25.3\n") : content.index("# v1.25.2\n")]
    got = {h: {int(LINK.search(line).group(1)) for line in lines}  # type: ignore[union-attr]
           for h, lines in sections(section).items() if lines}
    assert got == want
    assert summary["counts"] == {h: len(v) for h, v in want.items()}
    assert sum(len(v) for v in want.values()) == sum(summary["counts"].values())  # type: ignore[attr-defined]
