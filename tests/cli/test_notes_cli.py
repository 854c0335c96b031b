"""`krel release-notes` and `krel release-notes validate` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.github import REPLAY_V1253, SHARED_DATA, GitHubStub, v1253_prs

VALIDATION = SHARED_DATA / "release-notes-maps-validation"


def notes(cli: CliRunner, repo: Path, *extra: str) -> object:
    return cli.invoke(
        app,
        ["release-notes", "--repo", str(repo), "--start-rev", "v1.25.2", "--end-rev", "v1.25.3",
         "--profile", "kubernetes", *extra],
    )


def test_markdown_from_replay(cli: CliRunner, krel_home: Path, github_v1253_repo: Path) -> None:
    result = notes(cli, github_v1253_repo, "--replay", str(REPLAY_V1253))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = result.stdout  # type: ignore[attr-defined]
    assert out.startswith("## Changes by Kind\n\n### Feature\n\n- Kubernetes is now built with Go 1.19.2")
    assert out.count("\n- ") == 4


def test_json_from_graphql_stub_then_cache(
    cli: CliRunner, krel_home: Path, github_v1253_repo: Path, github_stub: GitHubStub,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    github_stub.prs = v1253_prs()
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_cli_token")
    out = tmp_path / "notes.json"
    args = ("--format", "json", "--output", str(out), "--github-api-url", github_stub.url)
    result = notes(cli, github_v1253_repo, *args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(out.read_text())
    assert sorted(data) == ["112632", "112807", "112840", "112902"]
    assert data["112807"]["kinds"] == ["bug", "regression"] and data["112807"]["duplicate_kind"] is True
    assert data["112902"]["pr_number"] == 112902 and data["112902"]["sigs"] == ["testing", "release"]
    assert github_stub.count("graphql") == 1
    assert notes(cli, github_v1253_repo, *args).exit_code == 0  # type: ignore[attr-defined]
    assert github_stub.count() == 1  # cached rerun: no request


def test_record_with_stub_then_replay(
    cli: CliRunner, krel_home: Path, github_v1253_repo: Path, github_stub: GitHubStub,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    github_stub.prs = v1253_prs()
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_cli_token")
    rec = tmp_path / "rec"
    first = notes(cli, github_v1253_repo, "--record", str(rec), "--source", "rest", "--github-api-url", github_stub.url)
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    assert len(list(rec.glob("GetPullRequest-*.json"))) == 10
    monkeypatch.delenv("GITHUB_TOKEN")
    second = notes(cli, github_v1253_repo, "--replay", str(rec))
    assert second.stdout == first.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ([], 2, "GITHUB_TOKEN is not set"),
        (["--replay", "REPLAY", "--format", "yaml"], 2, "--format: unknown format 'yaml'"),
        (["--replay", "MISSING"], 1, "GetPullRequest-100.json is missing"),
        (["--replay", "REPLAY", "--maps-from", "BADMAP"], 2, "not valid YAML"),
        (["--replay", "UNBALANCED"], 1, "#112902: its release-note block has no closing ``` fence"),
    ],
)
def test_bad_input_one_line(
    cli: CliRunner, krel_home: Path, github_v1253_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    extra: list[str], code: int, message: str,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    missing = tmp_path / "missing"
    shutil.copytree(REPLAY_V1253, missing)
    (missing / "GetPullRequest-100.json").unlink()
    unbalanced = tmp_path / "unbalanced"
    shutil.copytree(REPLAY_V1253, unbalanced)
    record = json.loads((unbalanced / "GetPullRequest-163.json").read_text())
    record["Result"]["body"] = "```release-note\nKubernetes is now built with Go 1.19.2\n"
    (unbalanced / "GetPullRequest-163.json").write_text(json.dumps(record))
    badmap = tmp_path / "badmap"
    badmap.mkdir()
    shutil.copy(VALIDATION / "invalid-yaml-start.yaml", badmap)
    paths = {"REPLAY": REPLAY_V1253, "MISSING": missing, "UNBALANCED": unbalanced, "BADMAP": badmap}
    result = notes(cli, github_v1253_repo, *[str(paths.get(a, a)) for a in extra])
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    assert message in result.output and len(result.output.strip().splitlines()) == 1  # type: ignore[attr-defined]


def test_unknown_revision_is_usage_error(cli: CliRunner, krel_home: Path, github_v1253_repo: Path) -> None:
    result = cli.invoke(app, ["release-notes", "--repo", str(github_v1253_repo), "--start-rev", "nope",
                              "--end-rev", "v1.25.3", "--replay", str(REPLAY_V1253)])
    assert result.exit_code == 2 and "unknown revision 'nope'" in result.output


def test_validate(cli: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(VALIDATION / "valid.yaml", good)
    ok = cli.invoke(app, ["release-notes", "validate", str(good)])
    assert ok.exit_code == 0 and "1 map files valid" in ok.stdout
    bad = cli.invoke(app, ["release-notes", "validate", str(VALIDATION), "--json"])
    assert bad.exit_code == 2
    assert len(json.loads(bad.stdout[: bad.stdout.rindex("}") + 1])["problems"]) == 4


def test_maps_bring_back_empty_cherry_pick_notes(
    cli: CliRunner, krel_home: Path, github_v1253_repo: Path, tmp_path: Path
) -> None:
    """112493 and 112533 have empty blocks; sig-release maps give them the origin PRs' published notes."""
    maps_dir = tmp_path / "maps"
    maps_dir.mkdir()
    (maps_dir / "pr-112493-map.yaml").write_text(
        "pr: 112493\nreleasenote:\n  text: For raw block CSI volumes on Kubernetes, kubelet was incorrectly calling"
        " CSI NodeStageVolume for every single \"map\" operation.\n"
    )
    (maps_dir / "pr-112533-map.yaml").write_text(
        "---\npr: 112533\nreleasenote:\n  text: 'Kube-scheduler: add taints filtering logic consistent with"
        " TaintToleration plugin for PodTopologySpread plugin'\n---\npr: 112533\nreleasenote:\n  sigs: [scheduling]\n"
    )
    result = notes(cli, github_v1253_repo, "--replay", str(REPLAY_V1253), "--maps-from", str(maps_dir),
                   "--format", "json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert sorted(data) == ["112493", "112533", "112632", "112807", "112840", "112902"]
    mapped = data["112533"]
    assert mapped["is_mapped"] and mapped["sigs"] == ["scheduling"] and mapped["kinds"] == ["bug"]
    assert mapped["markdown"] == (
        "Kube-scheduler: add taints filtering logic consistent with TaintToleration plugin for PodTopologySpread"
        " plugin ([#112533](https://github.com/kubernetes/kubernetes/pull/112533), [@SataQiu]"
        "(https://github.com/SataQiu)) [SIG Scheduling]"
    )
