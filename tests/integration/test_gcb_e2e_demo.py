"""The branch manager's flow on the demo project: gcbmgr --stage --stream, then --release, list, history."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.registry import RegistryFactory

GENERATE = Path(__file__).resolve().parents[2] / "hack" / "demo_project" / "generate.py"


def test_stage_then_release_on_the_local_runner(
    cli: CliRunner, krel_home: Path, registry_factory: RegistryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = registry_factory("gcb-e2e")
    monkeypatch.setenv("KREL_LOCAL_REGISTRY", registry.host)
    demo = json.loads(
        subprocess.run(
            [sys.executable, str(GENERATE), str(krel_home)], capture_output=True, text=True, check=True, timeout=120
        ).stdout
    )
    bv = demo["build_version"]

    staged = cli.invoke(app, ["gcbmgr", "--stage", "--stream"])
    assert staged.exit_code == 0, staged.output
    assert f'Step #0 - "krel-stage":   krel release --type=alpha --branch=master --build-version={bv}' in staged.stdout
    released = cli.invoke(app, ["gcbmgr", "--release", "--build-version", bv, "--stream"])
    assert released.exit_code == 0, released.output

    jobs = json.loads(cli.invoke(app, ["gcbmgr", "--json"]).stdout)
    assert [(j["kind"], j["status"]) for j in jobs] == [("release", "SUCCESS"), ("stage", "SUCCESS")]
    assert all(j["substitutions"]["_BUILDVERSION"] == bv for j in jobs)
    assert (krel_home / "buckets" / "mock" / "stage" / bv).is_dir()

    today = dt.datetime.now(dt.UTC).date().isoformat()
    table = cli.invoke(app, ["history", "--branch", "master", "--date-from", today]).stdout.splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == ["| `mock stage`", "| `mock release`"]
    assert all(row.endswith(" | Yes |") for row in table[2:])


def test_job_killed_mid_way_fails_and_its_retry_resumes(
    cli: CliRunner, krel_home: Path, registry_factory: RegistryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = registry_factory("gcb-e2e-kill")
    monkeypatch.setenv("KREL_LOCAL_REGISTRY", registry.host)
    subprocess.run([sys.executable, str(GENERATE), str(krel_home)], capture_output=True, check=True, timeout=120)
    submitted = cli.invoke(app, ["gcbmgr", "--stage", "--json"])
    assert submitted.exit_code == 0, submitted.output
    job_id = json.loads(submitted.stdout)["id"]
    job_dir = krel_home / "jobs" / job_id
    deadline = time.monotonic() + 60
    # Kill the worker once the stage job is a few steps in (its journal has finished steps to resume from).
    while (job_dir / "log.txt").read_text().count("[step ") < 6:
        assert time.monotonic() < deadline, (job_dir / "log.txt").read_text()
        time.sleep(0.02)
    os.kill(json.loads((job_dir / "job.json").read_text())["pid"], signal.SIGKILL)
    time.sleep(0.2)
    shown = json.loads(cli.invoke(app, ["gcbmgr", "--job", job_id, "--json"]).stdout)
    assert shown["status"] == "FAILURE" and shown["detail"].startswith("worker process ")

    retried = cli.invoke(app, ["gcbmgr", "--retry", job_id, "--stream"])
    assert retried.exit_code == 0, retried.output
    assert "resuming: Check prerequisites was completed before" in retried.stdout
    jobs = json.loads(cli.invoke(app, ["gcbmgr", "--json"]).stdout)
    assert [j["status"] for j in jobs] == ["SUCCESS", "FAILURE"]
