"""Issue 12 item 3: the build's output reaches the log and the reporter as it is printed, the error shows its last
20 lines; the real shell runs each command."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng import buildcmd, git
from releng.errors import ReleaseError
from releng.jobs.clients import Clients, ReleaseTexts
from releng.jobs.handlers.build import build_artifacts
from releng.jobs.steps import BuildArtifacts
from releng.profile import Author, load_profile
from releng.report import RecordingReporter

# A command that goes on only once the first line was seen: if output arrived only at the end it would give up (exit 9).
WAITS_FOR_READER = 'echo first; i=0; while [ ! -e seen ]; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.05; done; ' \
                   'echo second'


def test_lines_arrive_while_the_command_runs(tmp_path: Path) -> None:
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        (tmp_path / "seen").touch()

    done = buildcmd.run_streamed(WAITS_FOR_READER, tmp_path, buildcmd.build_env("v1", "v1"), on_line)
    assert (done.code, seen) == (0, ["first", "second"])


@pytest.mark.parametrize(
    ("command", "code", "tail"),
    [
        pytest.param("for i in $(seq 1 30); do echo line $i; done; exit 2", 2,
                     tuple(f"line {i}" for i in range(11, 31)), id="keeps-last-20"),
        pytest.param("echo out; echo err >&2; echo; exit 4", 4, ("out", "err"), id="stderr-interleaved-blank-dropped"),
        pytest.param("exit 1", 1, (), id="no-output"),
        pytest.param("printf 'no newline \\377 byte'", 0, ("no newline \ufffd byte",), id="undecodable-no-newline"),
    ],
)
def test_finished_keeps_the_last_non_blank_lines(tmp_path: Path, command: str, code: int,
                                                 tail: tuple[str, ...]) -> None:
    done = buildcmd.run_streamed(command, tmp_path, {"PATH": "/usr/bin:/bin"}, lambda line: None)
    assert (done.code, done.tail) == (code, tail)
    assert done.last == (tail[-1] if tail else "no output")


def test_build_env_drops_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_x")
    env = buildcmd.build_env("v1.0.0", "v1.0.0-1+abc")
    assert "GITHUB_TOKEN" not in env and env["KREL_BUILD_VERSION"] == "v1.0.0-1+abc"


@pytest.fixture
def tagged_repo(tmp_path: Path) -> Path:
    repo = git.init(tmp_path / "repo")
    (repo / "README").write_text("x")
    sha = git.commit_paths(repo, ["README"], "initial", Author("t", "t@localhost"))
    assert sha is not None
    git.tag(repo, "v1.0.0", sha, "v1.0.0", Author("t", "t@localhost"))
    return repo


def _run(tmp_path: Path, repo: Path, command: str) -> tuple[RecordingReporter, ReleaseError | None]:
    profile = load_profile("local", {"krel_home": str(tmp_path / "home"), "local_registry": "127.0.0.1:5000"})
    report = RecordingReporter()
    b = Clients(ReleaseTexts(profile), report=report)
    step = BuildArtifacts(str(repo), "v1.0.0", "v1.0.0", command, "_output", str(tmp_path / "_output-v1.0.0"))
    try:
        build_artifacts(step, b)
    except ReleaseError as exc:
        return report, exc
    return report, None


def test_build_step_reports_each_line(tmp_path: Path, tagged_repo: Path) -> None:
    report, error = _run(tmp_path, tagged_repo, "echo compiling; echo linking >&2; mkdir -p _output/x")
    assert error is None
    assert [e for e in report.events if e[0] == "output"] == [("output", "build", "compiling"),
                                                              ("output", "build", "linking")]


def test_failed_build_error_shows_its_last_20_lines(tmp_path: Path, tagged_repo: Path) -> None:
    _, error = _run(tmp_path, tagged_repo, "for i in $(seq 1 25); do echo step $i; done; echo 'cc: boom' >&2; exit 3")
    assert error is not None
    first, *rest = str(error).splitlines()
    assert first == "build command \"for i in $(seq 1 25); do echo step $i; done; echo 'cc: boom' >&2; exit 3\" " \
                    "failed with exit code 3: cc: boom"
    assert rest[0] == "last 20 lines of its output:"
    assert rest[1:] == [f"  | step {i}" for i in range(7, 26)] + ["  | cc: boom"]
