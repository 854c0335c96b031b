"""Bad input to `krel stage` / `krel release`: one clear line, a non-zero exit, nothing in any release area."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from releng import git
from releng.profile import BUILTIN_DIR

from tests.fixtures.releaseflow import FlowEnv

# Not about signing or packages: the local profile without them (tests/fixtures/releaseflow.lean_profile).
FLOW_PROFILE = "lean"

BV_1_0 = "v1.0.0-alpha.0.10+a0185f015f072f"


def _one_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-1500:]
    return errors[0]


def _nothing_released(flow: FlowEnv) -> None:
    for bucket in ("mock", "release"):
        assert not (flow.bucket(bucket) / "release").exists()
    assert set(git.ls_remote_tags(str(flow.upstream))) == {"v1.0.0-alpha.0"}


def _profile(flow: FlowEnv, edit: tuple[str, str]) -> str:
    text = (BUILTIN_DIR / "local.toml").read_text()
    assert edit[0] in text
    path = flow.home / "edited.toml"
    path.write_text(text.replace(*edit))
    return str(path)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["stage", "--branch", "master", "--type", "rc"], 2, "master"),
        (["stage", "--branch", "release-1.0", "--type", "alpha"], 2, "alpha"),
        (["stage", "--branch", "release-1.0", "--type", "nightly"], 2, "nightly"),
        (["stage", "--branch", "feature/x", "--type", "rc"], 2, "feature/x"),
        (["stage", "--branch", "release-1.3", "--type", "rc", "--build-version", BV_1_0], 2,
         "branch and build version does not match, got: release-1.3, required: release-1.0"),
        (["stage", "--branch", "release-1.0", "--type", "rc", "--build-version", "1.0.0+xyz"], 2, "1.0.0+xyz"),
        (["stage", "--branch", "release-1.0", "--type", "official"], 2, "official"),
        (["release", "--branch", "release-1.0", "--type", "rc"], 2, "--build-version"),
        (["release", "--branch", "master", "--type", "alpha", "--build-version", BV_1_0], 1,
         "holds no staged versions, but this release computes v1.0.0-alpha.1"),
        (["stage", "--profile", "no-such-profile"], 2, "no such built-in profile"),
    ],
)
def test_bad_options(flow_env: FlowEnv, args: list[str], code: int, message: str) -> None:
    result = flow_env.krel(*args)
    assert result.returncode == code, result.stderr[-1500:]
    assert message in _one_error(result.stderr)
    _nothing_released(flow_env)


def test_unknown_profile_field(flow_env: FlowEnv) -> None:
    profile = _profile(flow_env, ('command = "./build.sh"', 'comand = "./build.sh"'))
    result = flow_env.krel("stage", "--profile", profile)
    assert result.returncode == 2
    assert "unknown key build.comand; did you mean 'command'?" in _one_error(result.stderr)


def test_missing_build_output_stops_before_upload(flow_env: FlowEnv) -> None:
    profile = _profile(flow_env, ('images = ["demo-server"]', 'images = ["demo-server", "demo-agent"]'))
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--profile", profile)
    assert result.returncode == 1
    assert re.search(r"Verify artifacts of v1\.0\.0-alpha\.1: build output of v1\.0\.0-alpha\.1 is missing "
                     r"release-images/amd64/demo-agent\.tar", _one_error(result.stderr))
    assert not (flow_env.bucket("mock") / "stage").exists()
    _nothing_released(flow_env)


def test_unreachable_bucket(flow_env: FlowEnv) -> None:
    profile = _profile(flow_env, ('bucket = "file://{krel_home}/buckets/mock"', 'bucket = "gs://krel-no-such/mock"'))
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--profile", profile)
    assert result.returncode == 1
    assert "Check prerequisites: credentials missing for the targets: google-cloud" in _one_error(result.stderr)
    dead = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--profile", profile,
                         extra_env={"STORAGE_EMULATOR_HOST": "http://127.0.0.1:9"})
    assert dead.returncode == 1
    assert "gs://krel-no-such/mock/release/: cannot list: storage endpoint http://127.0.0.1:9 is unreachable" \
        in _one_error(dead.stderr)
    _nothing_released(flow_env)


def test_unreachable_registry(flow_env: FlowEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # The client rides out a refused connection for 30 s (a registry restarting); 2 s shows the same outcome.
    from releng.registry import client, ratelimit

    monkeypatch.setattr(client, "RetryPolicy", functools.partial(ratelimit.RetryPolicy, connect_budget=2.0))
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha",
                           extra_env={"KREL_LOCAL_REGISTRY": "127.0.0.1:9"})
    assert result.returncode == 1
    assert "registry 127.0.0.1:9 unreachable" in _one_error(result.stderr)
    assert re.search(r"\[step 1/\d+\] Check prerequisites", result.stderr), result.stderr
    assert not (flow_env.bucket("mock") / "stage").exists()
    _nothing_released(flow_env)


def test_tag_on_another_commit(flow_env: FlowEnv) -> None:
    work = Path(flow_env.project.work)
    first = git.rev_parse(work, "v1.0.0-alpha.0")
    git.run(work, "tag", "v1.0.0-alpha.1", first)
    git.push(work, "origin", ["refs/tags/v1.0.0-alpha.1"], dry_run=False)
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha")
    assert result.returncode == 1
    line = _one_error(result.stderr)
    assert f"tag v1.0.0-alpha.1 already exists but points to commit {first[:12]}, expected a0185f015f07" in line
    assert not (flow_env.bucket("mock") / "stage").exists()
    assert not (flow_env.bucket("mock") / "release").exists()


def test_submit_runs_the_stage_job_on_the_local_runner(flow_env: FlowEnv) -> None:
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--submit", "--stream")
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "krel release --type=alpha --branch=master" in result.stdout
    staged = flow_env.bucket("mock") / "stage" / flow_env.build_version / "v1.0.0-alpha.1" / "gcs-stage"
    assert (staged / "v1.0.0-alpha.1" / "SHA512SUMS").exists()
    assert list((flow_env.home / "jobs").iterdir())  # the local runner's job record


def test_submit_passes_replay_so_the_job_stages_notes(flow_env: FlowEnv) -> None:
    args = ["stage", "--branch", "release-1.0", "--type", "rc", "--submit", "--stream", "--json"]
    result = flow_env.krel(*args, "--replay", str(flow_env.project.replay))
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    (job,) = [p for p in (flow_env.home / "jobs").iterdir() if (p / "job.json").exists()]
    record = json.loads((job / "job.json").read_text())
    assert f"--replay={flow_env.project.replay}" in record["substitutions"]["_REPLAY"]
    notes = flow_env.bucket("mock") / "stage" / flow_env.build_version / "notes"
    assert "101" in json.loads((notes / "release-notes.json").read_text())
