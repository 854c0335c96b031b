"""A build version is staged for one branch and type: a second staging with other flags is refused, not mixed in."""

from __future__ import annotations

import shutil

from tests.fixtures.releaseflow import FlowEnv

# Not about signing or packages: the local profile without them (tests/fixtures/releaseflow.lean_profile).
FLOW_PROFILE = "lean"


def _run_log(key: str) -> bool:
    return "/logs/" in key  # every run archives its own log by design


def test_same_build_version_other_branch_is_refused(flow_env: FlowEnv) -> None:
    staged = flow_env.krel("stage", "--branch", "release-1.0", "--type", "rc")
    assert staged.returncode == 0, staged.stderr[-2000:]
    before = flow_env.bucket_state("mock", _run_log)

    # Same machine: the saved facts name the first run's flags.
    again = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--build-version", flow_env.build_version)
    assert again.returncode == 2
    assert "already staged here for --branch release-1.0 --type rc" in again.stderr.replace("\n", " ")

    # The original flags still resume cleanly.
    rerun = flow_env.krel("stage", "--branch", "release-1.0", "--type", "rc")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert flow_env.bucket_state("mock", _run_log) == before

    # Another machine (no local job state): the bucket still tells.
    shutil.rmtree(flow_env.home / "workspaces")
    other = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--build-version", flow_env.build_version)
    assert other.returncode == 2
    assert "already holds v1.0.0-rc.0, v1.1.0-alpha.0" in other.stderr.replace("\n", " ")
    assert flow_env.bucket_state("mock", _run_log) == before
