"""SIGKILL at every step boundary and mid-upload, rerun, and end in the same state as an uninterrupted run."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

from releng.errors import ReleaseError
from releng.jobs import run as job
from releng.jobs.clients import FaultHooks, open_clients
from releng.jobs.options import JobOptions
from releng.profile import load_profile

from tests.fixtures.releaseflow import FlowEnv

# Not about signing or packages: the local profile without them (tests/fixtures/releaseflow.lean_profile).
FLOW_PROFILE = "lean"

KILLED = -signal.SIGKILL


def _child(home: str, registry: str, profile_name: str, job_name: str, build_version: str, kill_at: int | None,
           mid: bool) -> None:
    profile = load_profile(profile_name, {"krel_home": home, "local_registry": registry})
    options = JobOptions("master", "alpha", build_version, profile, Path(home), nomock=True)
    targets = profile.targets(True)
    try:
        with open_clients(profile, targets, hooks=FaultHooks(kill_at, mid)) as clients:
            job.run(job_name, options, targets, clients)
    except ReleaseError as exc:
        print(f"error: {exc}", flush=True)
        os._exit(1)
    os._exit(0)


def _run(flow: FlowEnv, job_name: str, kill_at: int | None = None, mid_upload: bool = False) -> int | None:
    """One run of the job in a forked process (cheap: no interpreter start-up), SIGKILLed where asked."""
    process = multiprocessing.get_context("fork").Process(
        target=_child,
        args=(str(flow.home), flow.registry, flow.profile, job_name, flow.build_version, kill_at, mid_upload),
    )
    process.start()
    process.join(120)
    return process.exitcode


def _steps(flow: FlowEnv, job_name: str) -> int:
    profile = load_profile(flow.profile, {"krel_home": str(flow.home), "local_registry": flow.registry})
    options = JobOptions("master", "alpha", flow.build_version, profile, flow.home, nomock=True)
    with open_clients(profile, profile.targets(True)) as clients:
        return len(job.run(job_name, options, profile.targets(True), clients, plan_only=True).plan.steps)


def _final_state(flow: FlowEnv) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    def varies_by_design(key: str) -> bool:
        # Logs are new objects per run; src.tar.gz holds tag objects stamped with the time they were made, and the
        # provenance and artifacts.json record src.tar.gz's digest.
        return key.startswith("archive/") or "/logs/" in key or key.endswith(
            ("/src.tar.gz", "/provenance.json", "/artifacts.json"))

    return flow.bucket_state("release", varies_by_design), flow.registry_state(), flow.remote_refs()


def test_kill_at_every_step_boundary_and_mid_upload_then_resume(flow_env_factory) -> None:  # type: ignore[no-untyped-def]
    # The uninterrupted run first, in the same KREL_HOME path the interrupted one will use: paths end up in SBOMs.
    clean = flow_env_factory("world")
    assert _run(clean, "stage") == 0
    assert _run(clean, "release") == 0
    want = _final_state(clean)
    shutil.rmtree(clean.home)

    interrupted = flow_env_factory("world")
    assert _run(interrupted, "stage", mid_upload=True) == KILLED
    staged = interrupted.bucket_state("release")
    assert staged and not any(k.endswith("SHA256SUMS") for k in staged)  # died with part of the tree uploaded
    for job_name in ("stage", "release"):
        total = _steps(interrupted, job_name)
        kill_at = 1
        while (code := _run(interrupted, job_name, kill_at=kill_at)) == KILLED:
            kill_at += 1
        assert code == 0
        assert kill_at == total + 1, f"{job_name}: killed before each of its {total} steps"

    got = _final_state(interrupted)
    for index in range(3):
        diff = {k: (got[index].get(k), want[index].get(k)) for k in got[index].keys() | want[index].keys()
                if got[index].get(k) != want[index].get(k)}
        assert not diff, diff
    bucket, registry, refs = got
    assert "release/v1.0.0-alpha.1/SHA512SUMS" in bucket and "release/latest-1.0.txt" in bucket
    assert "staging/demo-server:v1.0.0-alpha.1" in registry and "refs/tags/v1.0.0-alpha.1" in refs


def test_cli_honours_the_kill_hook_and_a_rerun_resumes(flow_env: FlowEnv) -> None:
    args = ["stage", "--branch", "master", "--type", "alpha", "--nomock"]
    killed = flow_env.krel_process(*args, extra_env={"KREL_TEST_KILL_AT_STEP": "6"})
    assert killed.returncode == KILLED
    resumed = flow_env.krel(*args, "--json")
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True
    log = Path(summary["log"]).read_text()
    assert log.count("[step 1/") == 2 and "Prepare workspace was completed before; checking its outputs" in log
