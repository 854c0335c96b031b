"""`krel ff` through the CLI on the local profile (upstream = a bare repo under KREL_HOME)."""

from __future__ import annotations

import json
from pathlib import Path

import typer.testing
from releng import git

from krel.app import app
from tests.fixtures.gitrepo import RepoPair
from tests.integration.test_ff_repo import make_k8s_like


def _upstream(krel_home: Path, tmp_path: Path) -> RepoPair:
    """The local profile's upstream (file://KREL_HOME/demo/upstream.git) with release branches cut krel's way."""
    origin = git.init(krel_home / "demo" / "upstream.git", bare=True)
    work = git.init(tmp_path / "dev")
    git.set_remote_url(work, "origin", str(origin))
    pair = RepoPair(work, origin)
    pair.commit("initial", {"README.md": "demo\n"})
    make_k8s_like(pair)
    return pair


def test_mock_is_a_dry_run(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    pair = _upstream(krel_home, tmp_path)
    before = git.ls_remote_heads(str(pair.origin))
    result = cli.invoke(app, ["ff", "--non-interactive"])
    assert result.exit_code == 0, result.output
    assert "dry-run push (mock)" in result.output and "release-1.29" in result.output
    assert "Merge pull request #3" in result.output
    assert git.ls_remote_heads(str(pair.origin)) == before
    assert (krel_home / "workspaces" / "local" / "ff" / "demo" / ".git").is_dir()


def test_nomock_pushes_after_confirmation(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    pair = _upstream(krel_home, tmp_path)
    before = git.ls_remote_heads(str(pair.origin))
    result = cli.invoke(app, ["ff", "--nomock", "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 2  # no TTY and neither --non-interactive nor --yes
    assert git.ls_remote_heads(str(pair.origin)) == before
    result = cli.invoke(app, ["ff", "--nomock", "--yes", "--json", "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pushed"] is True and data["branch"] == "release-1.29" and data["commits"] == 2
    assert git.ls_remote_heads(str(pair.origin))["release-1.29"] == data["head_rev"]
    result = cli.invoke(app, ["ff", "--nomock", "--non-interactive", "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 0, result.output
    assert "nothing to do: release-1.29 already contains origin/master" in result.output


def test_errors_are_one_line(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    _upstream(krel_home, tmp_path)
    cases = [
        (["--branch", "feature"], 2, "feature is not a release branch"),
        (["--branch", "release-1.99"], 1, "branch release-1.99 does not exist on the remote"),
        (["--branch", "release-1.28"], 1, "unable to fast forward release-1.28"),
    ]
    for args, code, text in cases:
        result = cli.invoke(app, ["ff", "--non-interactive", *args])
        assert result.exit_code == code, result.output
        assert text in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_no_release_branch(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    origin = git.init(krel_home / "demo" / "upstream.git", bare=True)
    work = git.init(tmp_path / "dev")
    git.set_remote_url(work, "origin", str(origin))
    RepoPair(work, origin).commit("initial", {"README.md": "demo\n"})
    git.push(work, "origin", ["master"], dry_run=False)
    result = cli.invoke(app, ["ff", "--non-interactive"])
    assert result.exit_code == 2
    assert "no release branch on" in result.output


def test_cleanup_removes_only_a_clone_of_this_run(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path
) -> None:
    pair = _upstream(krel_home, tmp_path)
    clone = tmp_path / "fresh"
    result = cli.invoke(app, ["ff", "--non-interactive", "--cleanup", "--repo", str(clone)])
    assert result.exit_code == 0, result.output
    assert not clone.exists()
    own = git.clone(str(pair.origin), tmp_path / "own")
    result = cli.invoke(app, ["ff", "--non-interactive", "--cleanup", "--repo", str(own)])
    assert result.exit_code == 0, result.output
    assert (own / ".git").is_dir()
    assert "existed before this run" in result.output
