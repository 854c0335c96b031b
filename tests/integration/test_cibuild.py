"""krel ci-build against real git repositories and a file:// CI bucket: version from git describe, write-once
ci/<version>/ objects with checksums, forward-only markers, and every hostile input stopping with one line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from releng import git
from releng.cibuild import BuildFailedError, ci_build
from releng.errors import ReleaseError
from releng.markers import MarkerContentError
from releng.objectstore.base import ObjectExistsError
from releng.paths import PathEscapeError
from releng.profile import Build, Profile, Upstream, load_profile
from typer.testing import CliRunner

from tests.fixtures.gitrepo import RepoPair
from tests.fixtures.releaseflow import flow_generator

BUILD_OK = 'mkdir -p _output/bin && printf "%s\\n" "$KREL_VERSION" > _output/version.txt && cp README.md _output/bin/'


def _profile(home: Path, repo: RepoPair, command: str = BUILD_OK, output_dir: str = "_output") -> Profile:
    base = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    upstream = Upstream(url=f"file://{repo.origin}", org="demo", repo="demo")
    return dataclasses.replace(base, upstream=upstream, build=Build(command=command, output_dir=output_dir))


def _tagged(repo: RepoPair) -> RepoPair:
    git.run(repo.work, "tag", "-a", "v1.2.0-alpha.0", "-m", "alpha")
    repo.commit("feature", {"feature.txt": "x\n"})
    git.push(repo.work, "origin", ["master", "refs/tags/v1.2.0-alpha.0"], dry_run=False)
    return repo


def _ci(home: Path) -> Path:
    return home / "buckets" / "ci" / "ci"


def _state(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def test_publishes_version_objects_checksums_and_markers(tmp_path: Path, git_repo: RepoPair) -> None:
    home = tmp_path / "home"
    repo = _tagged(git_repo)
    result = ci_build(_profile(home, repo), home)
    head = git.rev_parse(repo.work, "HEAD")
    assert result.version == f"v1.2.0-alpha.0.1+{head[:14]}" and result.commit == head
    build = _ci(home) / result.version
    assert (build / "version.txt").read_text() == result.version + "\n"
    sha = hashlib.sha256((build / "version.txt").read_bytes()).hexdigest()
    assert (build / "version.txt.sha256").read_text() == sha
    assert f"{sha}  version.txt" in (build / "SHA256SUMS").read_text()
    for name in ("latest.txt", "latest-1.txt", "latest-1.2.txt"):
        assert (_ci(home) / name).read_text() == result.version
    assert dict(result.markers) == {f"ci/{n}": "moved" for n in ("latest.txt", "latest-1.txt", "latest-1.2.txt")}
    assert not list((home / "ci-builds" / "local").iterdir())  # the fresh clone is removed once published

    again = ci_build(_profile(home, repo), home)
    assert again.already_published and again.files == result.files
    assert set(dict(again.markers).values()) == {f"kept {result.version}"}


def test_older_revision_never_moves_markers_back(tmp_path: Path, git_repo: RepoPair) -> None:
    home = tmp_path / "home"
    repo = _tagged(git_repo)
    newest = ci_build(_profile(home, repo), home)
    older = ci_build(_profile(home, repo), home, "v1.2.0-alpha.0")
    assert older.version == "v1.2.0-alpha.0"
    assert (_ci(home) / "v1.2.0-alpha.0/version.txt").is_file()
    assert (_ci(home) / "latest-1.2.txt").read_text() == newest.version
    assert set(dict(older.markers).values()) == {f"kept {newest.version}"}


def test_release_branch_by_name(tmp_path: Path, git_repo: RepoPair) -> None:
    home = tmp_path / "home"
    repo = _tagged(git_repo)
    git.checkout(repo.work, "release-1.2", create=True)
    repo.commit("on the branch", {"branch.txt": "b\n"})
    git.push(repo.work, "origin", ["release-1.2"], dry_run=False)
    result = ci_build(_profile(home, repo), home, "release-1.2")
    assert result.commit == git.rev_parse(repo.work, "release-1.2")


@pytest.mark.parametrize(
    ("revision", "command", "output_dir", "error", "message"),
    [
        pytest.param("no-such-branch", BUILD_OK, "_output", ReleaseError, "revision 'no-such-branch' not found",
                     id="unknown-revision"),
        pytest.param("--upload-pack=touch /tmp/x", BUILD_OK, "_output", ReleaseError, "revision",
                     id="option-as-revision"),
        pytest.param("deadbeef" * 5, BUILD_OK, "_output", ReleaseError, "not found", id="unknown-sha"),
        pytest.param("", 'echo compiling; echo "cc: error: boom" >&2; exit 3', "_output", BuildFailedError,
                     "failed with exit code 3: cc: error: boom (full log: ", id="build-fails"),
        pytest.param("", "true", "_output", ReleaseError, "produced no _output/", id="build-no-output"),
        pytest.param("", BUILD_OK, "../outside", PathEscapeError, "build.output_dir '../outside' leaves",
                     id="output-dir-escapes"),
        pytest.param("", "mkdir -p _output && ln -s /etc/passwd _output/passwd", "_output", ReleaseError,
                     "is a symlink", id="output-symlink"),
    ],
)
def test_hostile_inputs_stop_before_any_write(tmp_path: Path, git_repo: RepoPair, revision: str, command: str,
                                              output_dir: str, error: type[Exception], message: str) -> None:
    home = tmp_path / "home"
    repo = _tagged(git_repo)
    with pytest.raises(error) as caught:
        ci_build(_profile(home, repo, command, output_dir), home, revision)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert _state(_ci(home)) == {}  # no object and no marker


def test_build_failure_keeps_the_log_and_names_it(tmp_path: Path, git_repo: RepoPair) -> None:
    home = tmp_path / "home"
    command = 'for i in $(seq 1 30); do echo "line $i"; done; exit 2'
    with pytest.raises(BuildFailedError) as caught:
        ci_build(_profile(home, _tagged(git_repo), command), home)
    log = Path(str(caught.value).rsplit("full log: ", 1)[1].rstrip(")"))
    assert log.read_text().splitlines()[-1] == "line 30" and log.is_relative_to(home / "ci-builds")


def test_existing_ci_object_with_other_content_is_never_overwritten(tmp_path: Path, git_repo: RepoPair) -> None:
    home = tmp_path / "home"
    repo = _tagged(git_repo)
    version = f"v1.2.0-alpha.0.1+{git.rev_parse(repo.work, 'HEAD')[:14]}"
    planted = _ci(home) / version / "version.txt"
    planted.parent.mkdir(parents=True)
    planted.write_text("someone else's build\n")
    with pytest.raises(ObjectExistsError, match=r"version\.txt already exists with different content"):
        ci_build(_profile(home, repo), home)
    assert planted.read_text() == "someone else's build\n"
    assert sorted(_state(_ci(home))) == [f"{version}/version.txt"]  # nothing else written, no marker


@pytest.mark.parametrize(
    ("published", "error"),
    [
        pytest.param("v9.9.9", None, id="newer-marker-kept"),
        pytest.param("not a version\x1b[31m", MarkerContentError, id="garbage-marker"),
    ],
)
def test_marker_holding_other_content(tmp_path: Path, git_repo: RepoPair, published: str,
                                      error: type[Exception] | None) -> None:
    home = tmp_path / "home"
    marker = _ci(home) / "latest.txt"
    marker.parent.mkdir(parents=True)
    marker.write_text(published)
    if error is None:
        result = ci_build(_profile(home, _tagged(git_repo)), home)
        assert dict(result.markers)["ci/latest.txt"] == f"kept {published}"
    else:
        with pytest.raises(error):
            ci_build(_profile(home, _tagged(git_repo)), home)
    assert marker.read_text() == published


def test_cli_builds_the_demo_project(tmp_path: Path) -> None:
    from krel.app import app

    home = tmp_path / "krel-home"
    project = flow_generator().create(home)
    work = Path(project.work)
    (work / "NEWS.md").write_text("a change after the CI build the generator recorded\n")
    git.run(work, "add", "NEWS.md")
    git.run(work, "-c", "user.name=Dev", "-c", "user.email=dev@localhost", "commit", "--quiet", "-m", "news")
    git.push(work, "origin", ["master"], dry_run=False)
    env = {"KREL_HOME": str(home), "CI": "true", "KREL_LOCAL_REGISTRY": "127.0.0.1:5999"}
    result = CliRunner().invoke(app, ["ci-build", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    head = git.rev_parse(work, "HEAD")
    assert data["version"] == f"v1.0.0-alpha.0.11+{head[:14]}" != project.build_version
    assert (_ci(home) / "latest.txt").read_text() == data["version"]
    keys = {f["key"] for f in data["files"]}
    assert f"ci/{data['version']}/release-tars/demo-server-linux-amd64.tar.gz" in keys
    bad = CliRunner().invoke(app, ["ci-build", "--revision", "nope"], env=env)
    assert bad.exit_code == 1 and "revision 'nope' not found" in bad.stderr
