"""`krel announce github-page`: render in mock, publish through PyGithub to the stub, bucket on the local profile."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import typer.testing

from krel.app import app
from tests.fixtures.ghrelease import GhState

TOKEN = "ghp_cliFakeToken_0123456789abcdef"


def test_mock_renders_and_publishes_nothing(
    cli: typer.testing.CliRunner, krel_home: Path, ghrelease_stub: GhState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KREL_GITHUB_API_URL", ghrelease_stub.base)
    result = cli.invoke(app, ["announce", "github-page", "--tag", "v1.30.0-rc.1", "--profile", "kubernetes"])
    assert result.exit_code == 0, result.output
    assert "See [the CHANGELOG](https://git.k8s.io/kubernetes/CHANGELOG/CHANGELOG-1.30.md)" in result.output
    assert ghrelease_stub.requests == []


def test_nomock_publishes_with_the_env_token(
    cli: typer.testing.CliRunner,
    krel_home: Path,
    tmp_path: Path,
    ghrelease_stub: GhState,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("KREL_GITHUB_API_URL", ghrelease_stub.base)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    ghrelease_stub.tags.add("v1.30.0")
    asset = tmp_path / "kubernetes.tar.gz"
    asset.write_bytes(b"bytes")
    notes = tmp_path / "notes.md"
    notes.write_text("- a note\n")
    args = ["announce", "github-page", "--tag", "v1.30.0", "--profile", "kubernetes", "--nomock",
            "--asset", str(asset), "--notes-file", str(notes), "--json"]
    result = cli.invoke(app, ["--log-level", "debug", *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "publish" and data["created"] is True and data["make_latest"] is True
    assert ghrelease_stub.assets_of("v1.30.0") == {"kubernetes.tar.gz": b"bytes"}
    outputs = [result.output]

    ghrelease_stub.fail[("PATCH", r".*/releases/\d+")] = (403, "Resource not accessible by integration")
    result = cli.invoke(app, ["--log-level", "debug", *args])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("GitHub answered 403: Resource not accessible by integration")
    # --json: CI reads the same failure as a JSON object on stdout.
    assert json.loads(result.stdout)["error"].endswith("GitHub answered 403: Resource not accessible by integration")
    outputs.append(result.output)

    monkeypatch.delenv("GITHUB_TOKEN")
    result = cli.invoke(app, args)
    assert result.exit_code == 2 and "GITHUB_TOKEN" in result.output

    text = "\n".join(outputs) + caplog.text
    assert TOKEN not in text
    for f in [p for p in krel_home.rglob("*") if p.is_file()]:
        assert TOKEN.encode() not in f.read_bytes()


def test_local_nomock_writes_the_page_into_the_bucket(cli: typer.testing.CliRunner, krel_home: Path) -> None:
    result = cli.invoke(app, ["announce", "github-page", "--tag", "v0.3.0", "--nomock", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    page = krel_home / "buckets" / "release" / "release" / "v0.3.0" / "github-release.md"
    assert data["mode"] == "bucket" and data["location"].endswith("release/v0.3.0/github-release.md")
    assert page.read_text() == data["body"]


def test_bad_tag_and_missing_asset(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    assert cli.invoke(app, ["announce", "github-page", "--tag", "1.30"]).exit_code == 2
    result = cli.invoke(app, ["announce", "github-page", "--tag", "v0.3.0", "--asset", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "cannot be read" in result.output
