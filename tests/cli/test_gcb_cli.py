"""`krel gcbmgr` and `krel history` end to end through typer's CliRunner on the `local` profile."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shlex
import sys
from pathlib import Path

import pytest
from releng.gcb.base import StepSpec, substitute
from releng.gcb.config import GcbFacts, GcbOptions, build_request
from releng.gcb.local import LocalRunner
from releng.profile import BUILTIN_DIR, load_profile
from typer.testing import CliRunner

import krel.ui
from krel.app import app
from tests.fixtures.cloudbuild import CloudBuildStub, CloudbuildUpstream
from tests.fixtures.gcbchoice import chosen

BV = "v1.30.0-1+3ff09514d162b0"
BV_MASTER = "v1.31.0-alpha.1.1+3ff09514d162b0"


def _jobs(home: Path) -> list[Path]:
    jobs = home / "jobs"
    return sorted(p for p in jobs.iterdir() if (p / "job.json").exists()) if jobs.is_dir() else []


def _record(home: Path) -> dict:  # type: ignore[type-arg]
    (job,) = _jobs(home)
    return json.loads((job / "job.json").read_text())


def _cancel_all(cli: CliRunner, home: Path) -> None:
    # The submitted jobs would run `krel stage|release`; these tests only check what was submitted.
    for job in _jobs(home):
        assert cli.invoke(app, ["gcbmgr", "--cancel", job.name]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--stage", "--release", "--build-version", BV], "--stage/--release: cannot specify both"),
        (["--stage", "--type", "rc"], "--type: cannot cut a release candidate or an official release from master"),
        (["--stage", "--type", "official"], "--type: cannot cut a release candidate or an official release"),
        (["--stage", "--branch", "release-1.30"], "--type: cannot cut an alpha or beta release from a release branch"),
        (["--stage", "--branch", "release-1.30", "--type", "beta"], "--type: cannot cut an alpha or beta release"),
        (["--stage", "--build-version", BV, "--build-at-head"], "--build-at-head: cannot specify both"),
        (["--release", "--build-at-head"], "--build-at-head: cannot specify both the 'build-at-head' flag"),
        (["--release"], "--build-version: build version must be specified when sending a release GCB run"),
        (["--stage", "--type", "gamma"], "--type: invalid release type 'gamma'"),
        (["--stage", "--branch", "dev"], "--branch: invalid branch 'dev'"),
        (["--stage", "--build-version", "latest"], "--build-version: invalid build version 'latest'"),
        (["--stage", "--runner", "cloud"], "--runner: unknown job runner 'cloud'"),
    ],
)
def test_validation_errors_exit_2_and_submit_nothing(
    cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream, args: list[str], flag: str
) -> None:
    result = cli.invoke(app, ["gcbmgr", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag}"), result.stderr
    assert _jobs(cloudbuild_upstream.home) == []


def test_list_jobs_empty_and_json(cli: CliRunner, krel_home: Path) -> None:
    result = cli.invoke(app, ["gcbmgr"])
    assert result.exit_code == 0, result.output
    # Off a terminal the listing is TSV: a header of column names and one record per line (none here).
    assert result.stdout.splitlines() == ["ID\tJob\tStatus\tBranch\tType\tBuild version\tCreated\tDuration"]
    result = cli.invoke(app, ["gcbmgr", "--list-jobs", "-2", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_stage_uses_the_ci_marker_and_lists(cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream) -> None:
    result = cli.invoke(app, ["gcbmgr", "--stage", "--json", "--gcp-user", "jane@example.com"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    record = _record(cloudbuild_upstream.home)
    assert job["id"] == record["id"] and job["kind"] == "stage"
    subs = record["substitutions"]
    assert subs["_BUILDVERSION"] == cloudbuild_upstream.build_version
    assert subs["_KUBERNETES_VERSION_TAG"] == "1.31.0-alpha.2"
    assert subs["_NOMOCK"] == "" and subs["_GCP_USER_TAG"] == "jane" and subs["_K8S_ORG"] == "demo"
    assert subs["_KUBE_CROSS_VERSION"] == subs["_KUBE_CROSS_VERSION_LATEST"] == "v1.31.0-go1.23.0-bullseye.0"
    assert record["tags"] == ["jane", "master", "STAGE", "v0.1.0", "alpha", "1", "31", "0", "1.31.0-alpha.2"]
    assert record["timeout_s"] == 3600
    assert "stage ${_NOMOCK} --profile=local" in record["steps"][0]["args"][-1]
    listed = cli.invoke(app, ["gcbmgr", "--list-jobs", "3", "--json"])
    assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]
    table = cli.invoke(app, ["gcbmgr"])
    header, *rows = table.stdout.splitlines()
    assert header.split("\t")[:3] == ["ID", "Job", "Status"]
    assert [row.split("\t")[:2] for row in rows] == [[job["id"][:8], "mock stage"]] and "\tmaster\t" in rows[0]
    _cancel_all(cli, cloudbuild_upstream.home)
    shown = cli.invoke(app, ["gcbmgr", "--job", job["id"], "--json"])
    assert json.loads(shown.stdout)["status"] == "CANCELLED"


def test_release_and_build_at_head(cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream) -> None:
    bv = cloudbuild_upstream.release_build_version
    result = cli.invoke(app, ["gcbmgr", "--release", "--branch", "release-1.30", "--type", "rc", "--build-version", bv])
    assert result.exit_code == 0, result.output
    subs = _record(cloudbuild_upstream.home)["substitutions"]
    bucket = (cloudbuild_upstream.home / "buckets" / "mock").as_uri()
    assert subs["_KUBERNETES_GCS_BUCKET"] == f"{bucket}/stage/{bv}/v1.30.1-rc.1/gcs-stage/v1.30.1-rc.1"
    # kube-cross as pinned on the release branch; "latest" is the default branch's.
    assert subs["_KUBE_CROSS_VERSION"] == "v1.30.0-go1.22.4-bullseye.0"
    assert subs["_KUBE_CROSS_VERSION_LATEST"] == "v1.31.0-go1.23.0-bullseye.0"
    _cancel_all(cli, cloudbuild_upstream.home)
    for job in _jobs(cloudbuild_upstream.home):
        (job / "job.json").rename(job / "job.done")  # keep the next check to one job
    result = cli.invoke(app, ["gcbmgr", "--stage", "--branch", "release-1.30", "--type", "rc", "--build-at-head"])
    assert result.exit_code == 0, result.output
    # The head of release-1.30, described like k/k's hack/lib/version.sh.
    assert _record(cloudbuild_upstream.home)["substitutions"]["_BUILDVERSION"] == bv
    _cancel_all(cli, cloudbuild_upstream.home)


def test_stage_replay_reaches_the_local_job_command(
    cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recording = tmp_path / "my recording"
    recording.mkdir()
    monkeypatch.chdir(tmp_path)
    missing = cli.invoke(app, ["gcbmgr", "--stage", "--replay", "nowhere"])
    assert missing.exit_code == 2 and "error: --replay: nowhere is not a directory" in missing.stderr
    release = cli.invoke(app, ["gcbmgr", "--release", "--build-version", BV_MASTER, "--replay", "my recording"])
    assert release.exit_code == 2 and "--replay: only a stage job writes release notes" in release.stderr
    assert _jobs(cloudbuild_upstream.home) == []

    result = cli.invoke(app, ["gcbmgr", "--stage", "--replay", "my recording", "--json"])
    assert result.exit_code == 0, result.output
    record = _record(cloudbuild_upstream.home)
    _cancel_all(cli, cloudbuild_upstream.home)
    # the relative path reaches the job (which runs elsewhere) as an absolute one, one shell word
    assert record["substitutions"]["_REPLAY"] == " " + shlex.quote(f"--replay={recording}")
    step = StepSpec.from_dict(record["steps"][-1])
    words = shlex.split(substitute(step.args[-1], record["substitutions"]))
    assert words[words.index("stage") :][-1] == f"--replay={recording}"


def test_missing_ci_marker_is_one_line(cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream) -> None:
    (cloudbuild_upstream.home / "buckets" / "ci" / "ci" / "latest.txt").unlink()
    result = cli.invoke(app, ["gcbmgr", "--stage"])
    assert result.exit_code == 1
    assert "no CI version marker" in result.stderr and "ci/latest.txt" in result.stderr
    assert _jobs(cloudbuild_upstream.home) == []


def _remote_mail_profile(home: Path) -> str:
    """The local profile with production mail over SMTP: one production target off this machine, so --nomock asks."""
    text = (BUILTIN_DIR / "local.toml").read_text()
    assert 'transport = "outbox"' in text
    path = home / "remote-mail.toml"
    path.write_text(text.replace('transport = "outbox"', 'transport = "smtp"', 1))
    return str(path)


def test_nomock_needs_yes_without_a_tty_when_production_leaves_the_machine(
    cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream
) -> None:
    profile = _remote_mail_profile(cloudbuild_upstream.home)
    result = cli.invoke(app, ["gcbmgr", "--stage", "--nomock", "--profile", profile])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "'Really submit a --nomock release job against the master branch?' needs an answer" in lines[0]
    assert _jobs(cloudbuild_upstream.home) == []


def test_nomock_to_local_production_asks_nothing(cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream) -> None:
    # every production target of the local profile is on this machine: the job is submitted without a question
    result = cli.invoke(app, ["gcbmgr", "--stage", "--nomock"])
    assert result.exit_code == 0, result.output
    assert "Really" not in result.output
    assert _record(cloudbuild_upstream.home)["substitutions"]["_NOMOCK"] == "--nomock"
    _cancel_all(cli, cloudbuild_upstream.home)


def test_nomock_prompt_three_tries(
    cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(krel.ui, "interactive", lambda: True)
    profile = ["--profile", _remote_mail_profile(cloudbuild_upstream.home)]
    result = cli.invoke(app, ["gcbmgr", "--stage", "--nomock", *profile], input="maybe\nperhaps\nsure\nyes\n")
    assert result.exit_code == 1
    assert result.stdout.count("Really submit a --nomock release job against the master branch? (yes/no)") == 3
    assert _jobs(cloudbuild_upstream.home) == []
    result = cli.invoke(app, ["gcbmgr", "--stage", "--nomock", *profile], input="yes\n")
    assert result.exit_code == 0, result.output
    subs = _record(cloudbuild_upstream.home)["substitutions"]
    assert subs["_NOMOCK"] == "--nomock" and subs["_NOMOCK_TAG"] == "nomock"
    _cancel_all(cli, cloudbuild_upstream.home)


def test_nomock_with_yes_and_mock_never_prompts(
    cli: CliRunner, cloudbuild_upstream: CloudbuildUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(krel.ui, "interactive", lambda: True)
    result = cli.invoke(app, ["gcbmgr", "--stage"], input="")
    assert result.exit_code == 0 and "Really" not in result.stdout
    _cancel_all(cli, cloudbuild_upstream.home)
    result = cli.invoke(app, ["gcbmgr", "--stage", "--nomock", "--yes"], input="")
    assert result.exit_code == 0 and "Really" not in result.stdout
    _cancel_all(cli, cloudbuild_upstream.home)


def _local_job(home: Path, script: str, branch: str = "master") -> str:
    """Submit a job with the real local-profile substitutions whose one step is `script`."""
    runner = LocalRunner(home / "jobs")
    profile = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    bv = BV if branch != "master" else BV_MASTER
    facts = GcbFacts(build_version=bv, branch_is_new=False, gcp_user="rm", git_tag="v0.1.0")
    options = GcbOptions(job="stage", branch=branch, release_type="rc" if branch != "master" else "alpha")
    request = build_request(chosen(options, profile), profile, facts, runner="local", krel_command=runner.krel_command)
    step = StepSpec(name="local", id="test", entrypoint="sh", args=("-c", script))
    return runner.submit(dataclasses.replace(request, steps=(step,))).id


def test_stream_exits_with_the_job_status(cli: CliRunner, krel_home: Path) -> None:
    krel = shlex.join([sys.executable, "-m", "krel"])
    ok = _local_job(krel_home, f"{krel} version")
    result = cli.invoke(app, ["gcbmgr", "--job", ok, "--stream"])
    assert result.exit_code == 0, result.output
    assert 'Step #0 - "test"' in result.stdout and "DONE" in result.stdout
    bad = _local_job(krel_home, "echo broken; exit 4")
    result = cli.invoke(app, ["gcbmgr", "--job", bad, "--stream", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "FAILURE"
    assert "broken" in result.stderr
    assert f"error: job {bad} finished with status FAILURE" in result.stderr
    retried = cli.invoke(app, ["gcbmgr", "--retry", bad[:8], "--json"])
    assert retried.exit_code == 0, retried.output
    again = json.loads(retried.stdout)
    assert again["id"] != bad and again["substitutions"]["_BUILDVERSION"] == BV_MASTER
    assert cli.invoke(app, ["gcbmgr", "--job", again["id"], "--stream"]).exit_code == 1


def test_history_local(cli: CliRunner, krel_home: Path) -> None:
    first = _local_job(krel_home, "true", branch="release-1.30")
    second = _local_job(krel_home, "exit 1", branch="release-1.30")
    _local_job(krel_home, "true")  # another branch
    for job in (first, second):
        assert cli.invoke(app, ["gcbmgr", "--job", job, "--stream"]).exit_code in (0, 1)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    result = cli.invoke(app, ["history", "--branch", "release-1.30", "--date-from", today])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "| Step | Command | Link | Start | Duration | Succeeded? |"
    assert len(lines) == 4
    command = f"`krel stage --type rc --branch release-1.30 --build-version {BV}`"
    assert lines[2].startswith(f"| `mock stage` | {command} | file://") and lines[2].endswith(" | Yes |")
    assert first in lines[2] and second in lines[3] and lines[3].endswith(" | No |")
    assert cli.invoke(app, ["history", "--branch", "release-1.30", "--date-from", "2001-01-01"]).stdout.count("\n") == 2
    bad = cli.invoke(app, ["history", "--date-from", "yesterday"])
    assert bad.exit_code == 2 and "--date-from: invalid date 'yesterday'" in bad.stderr


def test_gcb_runner_through_the_cli(
    cli: CliRunner,
    cloudbuild_upstream: CloudbuildUpstream,
    cloudbuild_stub: CloudBuildStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KREL_CLOUDBUILD_ENDPOINT", cloudbuild_stub.endpoint)
    result = cli.invoke(app, ["gcbmgr", "--stage", "--runner", "gcb", "--project", "demo-proj", "--json"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    method, path, _, body = cloudbuild_stub.requests[0]
    assert (method, path) == ("POST", "/v1/projects/demo-proj/builds")
    assert body["substitutions"]["_BUILDVERSION"] == cloudbuild_upstream.build_version
    assert "STAGE" in body["tags"] and body["timeout"] == "3600s"
    assert body["options"] == {"substitutionOption": 1, "diskSizeGb": "500"}
    assert [s["id"] for s in body["steps"]] == ["clone-tool", "get-krel", "krel-stage"]
    cloudbuild_stub.finish(job["id"], "SUCCESS", "2026-01-02T03:04:05Z", "2026-01-02T03:50:05Z")
    listed = cli.invoke(app, ["gcbmgr", "--runner", "gcb", "--project", "demo-proj", "--json"])
    assert [j["status"] for j in json.loads(listed.stdout)] == ["SUCCESS"]
    streamed = cli.invoke(app, ["gcbmgr", "--runner", "gcb", "--project", "demo-proj", "--job", job["id"], "--stream"])
    assert streamed.exit_code == 0, streamed.output
    created = cloudbuild_stub.builds[job["id"]]["createTime"][:10]
    history = cli.invoke(app, ["history", "--runner", "gcb", "--project", "demo-proj", "--date-from", created])
    assert history.exit_code == 0, history.output
    assert "| `mock stage` | `krel stage --type alpha --branch master" in history.stdout
    assert "| 2026-01-02T03:04:05.00Z | 00:46:00 | Yes |" in history.stdout


def test_gcb_without_credentials_is_one_line(
    cli: CliRunner, krel_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KREL_CLOUDBUILD_ENDPOINT", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    result = cli.invoke(app, ["gcbmgr", "--runner", "gcb"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Cloud Build: no Google Cloud credentials found")
    assert len(result.stderr.strip().splitlines()) == 1
