"""The local job runner: detached workers, job.json + log.txt, stream, cancel, timeout, dead workers, isolation."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from releng.errors import UsageError
from releng.gcb.base import BuildRequest, Job, StepSpec
from releng.gcb.config import GcbFacts, GcbOptions, build_request
from releng.gcb.jobfile import alive
from releng.gcb.local import LocalRunner
from releng.profile import load_profile

from tests.fixtures.gcbchoice import chosen

BV = "v1.31.0-alpha.1.1+3ff09514d162b0"
PY = shlex.quote(sys.executable)


def _request(runner: LocalRunner, home: Path, *scripts: str, timeout_s: int = 60) -> BuildRequest:
    """The real stage request for the local profile, with its steps replaced by shell scripts."""
    profile = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    facts = GcbFacts(build_version=BV, branch_is_new=False, gcp_user="rm", git_tag="v0.1.0")
    request = build_request(
        chosen(GcbOptions(job="stage"), profile), profile, facts, runner=runner.name, krel_command=runner.krel_command
    )
    steps = tuple(
        StepSpec(name="local", id=f"s{i}", entrypoint="sh", args=("-c", script), env=("WHICH=${_BUILDVERSION}",))
        for i, script in enumerate(scripts)
    )
    return dataclasses.replace(request, steps=steps, timeout_s=timeout_s)


def _wait(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _record(runner: LocalRunner, job: Job) -> dict:  # type: ignore[type-arg]
    return json.loads((runner.jobs_dir / job.id / "job.json").read_text())


@pytest.fixture
def runner(krel_home: Path) -> LocalRunner:
    return LocalRunner(krel_home / "jobs")


def test_job_runs_real_krel_commands_and_streams(runner: LocalRunner, krel_home: Path) -> None:
    request = _request(
        runner,
        krel_home,
        f"{runner.krel_command} version --json",
        'echo "building $$WHICH in $(pwd)" && echo data > out.txt',
        f"{runner.krel_command} gcbmgr --list-jobs 1 --json",
    )
    job = runner.submit(request)
    assert job.status in ("QUEUED", "WORKING") and job.kind == "stage"
    out: list[str] = []
    final = runner.stream(job.id, out.append, poll_s=0.05)
    log = "".join(out)
    assert final.status == "SUCCESS", log
    assert '"python": "3.' in log
    assert f'Step #1 - "s1": building {BV} in {runner.jobs_dir / job.id / "workspace"}' in log
    assert f'"id": "{job.id}"' in log  # the job sees itself WORKING through `krel gcbmgr --list-jobs`
    assert log.endswith("DONE\n")
    assert (runner.jobs_dir / job.id / "workspace" / "out.txt").read_text() == "data\n"
    record = _record(runner, job)
    assert record["status"] == "SUCCESS"
    assert record["substitutions"] == dict(request.substitutions)
    tags = ["rm", "master", "STAGE", "v0.1.0", "alpha", "1", "31", "0", "1.31.0-alpha.2"]
    assert record["tags"] == list(request.tags) == tags
    assert [s["id"] for s in record["steps"]] == ["s0", "s1", "s2"]
    assert final.create_time and final.start_time and final.finish_time
    assert final.create_time <= final.start_time <= final.finish_time
    assert (runner.jobs_dir / job.id / "log.txt").read_text() == log


def test_failing_step_stops_the_job(runner: LocalRunner, krel_home: Path) -> None:
    job = runner.submit(_request(runner, krel_home, "echo first; exit 3", "echo never"))
    out: list[str] = []
    final = runner.stream(job.id, out.append, poll_s=0.05)
    assert final.status == "FAILURE"
    assert final.detail == 'Step #0 - "s0" failed: exit status 3'
    assert "first" in "".join(out) and "never" not in "".join(out)


def test_two_jobs_at_once_do_not_interfere(runner: LocalRunner, krel_home: Path) -> None:
    meeting = krel_home / "meeting"
    meeting.mkdir()
    # Each job waits (up to 30 s) until both are running, so they provably overlap.
    # $BUILD_ID is a Cloud Build substitution; $$i reaches the shell as $i.
    script = (
        f'echo "$BUILD_ID" > mine.txt; touch {meeting}/$BUILD_ID; '
        f"for i in $$(seq 600); do [ $$(ls {meeting} | wc -l) -ge 2 ] && break; sleep 0.05; done; "
        'for i in 1 2 3 4 5; do echo "$BUILD_ID line $$i"; sleep 0.05; done; '
        f"test $$(ls {meeting} | wc -l) -eq 2"
    )
    a = runner.submit(_request(runner, krel_home, script))
    b = runner.submit(_request(runner, krel_home, script))
    finals = [runner.stream(j.id, lambda _: None, poll_s=0.05) for j in (a, b)]
    assert [f.status for f in finals] == ["SUCCESS", "SUCCESS"]
    for job, other in ((a, b), (b, a)):
        log = (runner.jobs_dir / job.id / "log.txt").read_text()
        assert log.count(f"{job.id} line") == 5 and other.id not in log
        assert (runner.jobs_dir / job.id / "workspace" / "mine.txt").read_text() == f"{job.id}\n"
        assert _record(runner, job)["substitutions"] == _record(runner, other)["substitutions"]
    assert sorted(p.name for p in meeting.iterdir()) == sorted([a.id, b.id])


def test_killed_worker_shows_failure(runner: LocalRunner, krel_home: Path) -> None:
    job = runner.submit(_request(runner, krel_home, "echo started; sleep 30"))
    log = runner.jobs_dir / job.id / "log.txt"
    _wait(lambda: "step_pgid" in _record(runner, job) and "started" in log.read_text())
    record = _record(runner, job)
    os.kill(record["pid"], signal.SIGKILL)
    _wait(lambda: not alive(record["pid"], record["pid_start"]))
    final = runner.get(job.id)
    assert final.status == "FAILURE"
    assert final.detail == f"worker process {record['pid']} died"
    assert _record(runner, job)["status"] == "FAILURE"
    _wait(lambda: not alive(record["step_pgid"], None))  # the step died with its worker


def test_cancel_kills_the_process_group(runner: LocalRunner, krel_home: Path) -> None:
    job = runner.submit(_request(runner, krel_home, "sleep 30 & echo started; wait"))
    _wait(lambda: "started" in (runner.jobs_dir / job.id / "log.txt").read_text())
    record = _record(runner, job)
    cancelled = runner.cancel(job.id)
    assert cancelled.status == "CANCELLED" and cancelled.finish_time is not None
    _wait(lambda: not alive(record["pid"], record["pid_start"]) and not alive(record["step_pgid"], None))
    # Every process of the step's group is gone (the backgrounded sleep too).
    _wait(lambda: subprocess.run(["pgrep", "-g", str(record["step_pgid"])], capture_output=True).returncode == 1)
    assert runner.get(job.id).status == "CANCELLED"
    assert runner.cancel(job.id).status == "CANCELLED"  # cancelling again is a no-op


def test_timeout_is_enforced(runner: LocalRunner, krel_home: Path) -> None:
    job = runner.submit(_request(runner, krel_home, "echo started; sleep 30", "echo never", timeout_s=1))
    started = time.monotonic()
    final = runner.stream(job.id, lambda _: None, poll_s=0.05)
    assert final.status == "TIMEOUT"
    assert time.monotonic() - started < 10
    assert "timed out after 1s" in final.detail
    assert "never" not in (runner.jobs_dir / job.id / "log.txt").read_text()


def test_secrets_never_reach_the_record_or_log(
    runner: LocalRunner, krel_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_verysecretvalue123")
    job = runner.submit(_request(runner, krel_home, 'echo "token is $$GITHUB_TOKEN"; test -n "$$GITHUB_TOKEN"'))
    final = runner.stream(job.id, lambda _: None, poll_s=0.05)
    assert final.status == "SUCCESS"  # the step had the secret in its environment
    job_dir = runner.jobs_dir / job.id
    assert "token is ***" in (job_dir / "log.txt").read_text()
    for path in job_dir.rglob("*"):
        if path.is_file():
            assert "ghp_verysecretvalue123" not in path.read_text(errors="replace"), path


def test_job_survives_the_process_that_submitted_it(runner: LocalRunner, krel_home: Path) -> None:
    request = _request(runner, krel_home, "sleep 2; echo finished later")
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from releng.gcb.base import BuildRequest, StepSpec\n"
        "from releng.gcb.local import LocalRunner\n"
        "data = json.loads(sys.argv[2])\n"
        "steps = tuple(StepSpec.from_dict(s) for s in data.pop('steps'))\n"
        "data['secrets'] = tuple(tuple(s) for s in data['secrets'])\n"
        "data['tags'] = tuple(data['tags'])\n"
        "print(LocalRunner(Path(sys.argv[1])).submit(BuildRequest(steps=steps, **data)).id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(runner.jobs_dir), json.dumps(request.as_dict())],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    job_id = done.stdout.strip()
    assert runner.get(job_id).status in ("QUEUED", "WORKING")  # the submitter has exited; the job goes on
    final = runner.stream(job_id, lambda _: None, poll_s=0.05)
    assert final.status == "SUCCESS"
    assert "finished later" in (runner.jobs_dir / job_id / "log.txt").read_text()


def test_list_get_by_prefix_and_filter(runner: LocalRunner, krel_home: Path) -> None:
    first = runner.submit(_request(runner, krel_home, "true"))
    second = runner.submit(dataclasses.replace(_request(runner, krel_home, "true"), tags=("RELEASE", "release-1.30")))
    for job in (first, second):
        runner.stream(job.id, lambda _: None, poll_s=0.05)
    assert [j.id for j in runner.list_jobs()] == [second.id, first.id]
    assert [j.id for j in runner.list_jobs(limit=1)] == [second.id]
    assert [j.id for j in runner.list_jobs(tags=("STAGE",))] == [first.id]
    assert [j.id for j in runner.list_jobs(tags=("RELEASE", "release-1.30"))] == [second.id]
    assert runner.get(first.id[:13]).id == first.id
    (runner.jobs_dir / "half-created").mkdir()  # no job.json: not a job
    assert len(runner.list_jobs()) == 2
    for bad in ("*", "../x", "", first.id[:2], "nonexistent"):
        with pytest.raises(UsageError):
            runner.get(bad)


def test_retry_reruns_the_same_request(runner: LocalRunner, krel_home: Path) -> None:
    flag = krel_home / "second-time"
    job = runner.submit(_request(runner, krel_home, f"test -e {flag} || (touch {flag}; exit 1)"))
    assert runner.stream(job.id, lambda _: None, poll_s=0.05).status == "FAILURE"
    again = runner.retry(job.id)
    assert again.id != job.id
    assert runner.stream(again.id, lambda _: None, poll_s=0.05).status == "SUCCESS"
    assert again.substitutions == job.substitutions and again.tags == job.tags
    assert _record(runner, again)["steps"] == _record(runner, job)["steps"]


def test_a_step_ends_with_everything_it_started(runner: LocalRunner, krel_home: Path) -> None:
    job = runner.submit(_request(runner, krel_home, "sleep 300 & echo $$! > bg.pid", "echo next"))
    final = runner.stream(job.id, lambda _: None, poll_s=0.05)
    assert final.status == "SUCCESS"
    background = int((runner.jobs_dir / job.id / "workspace" / "bg.pid").read_text())
    _wait(lambda: not alive(background, None))
