"""A cut's tracking issue from open to closed, filled in by the tool alone: opened by `krel release-issue open`,
updated by the end-of-job hook of each stage and release (krel/cutflow.after_job, with the local runner's history),
ticked and closed by `krel announce send --nomock` once the mail is in the outbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from releng.profile import load_profile
from releng.releaseissue.checklist import END
from typer.testing import CliRunner

from krel import cutflow
from krel.app import app
from krel.options import profile_variables
from tests.integration.test_release_issue import REPO, TAG, TITLE, TOKEN, IssuesHub, hub, write_profile  # noqa: F401

ANNOUNCEMENT = "<html><body><p>Demo v1.0.0-rc.1 is out.</p></body></html>\n"


def test_open_update_after_each_job_then_announce_closes_it(
    hub: IssuesHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for env, value in (("KREL_HOME", str(home)), ("GITHUB_TOKEN", TOKEN), ("KREL_GITHUB_API_URL", hub.url),
                       ("CI", "true")):
        monkeypatch.setenv(env, value)
    path = write_profile(home)
    cli = CliRunner()
    opened = cli.invoke(app, ["release-issue", "open", "--tag", TAG, "--profile", str(path), "--json"])
    assert opened.exit_code == 0, opened.output
    number = json.loads(opened.stdout)["number"]

    prof = load_profile(path, profile_variables())
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    for job, nomock in (("stage", False), ("release", False), ("stage", True), ("release", True)):
        command = f"krel {job} --type rc --branch release-1.0{' --nomock' if nomock else ''}"
        log_file = (home / f"{job}-{nomock}.log").as_uri()
        outcome = cutflow.after_job(prof, job, nomock, (TAG, "v1.1.0-alpha.0"), started, log_file, command)
        assert outcome is not None and outcome.changed and outcome.number == number
        assert f"`{command}` · [job log]({log_file})" in hub.issues[number]["body"]
    body = hub.issues[number]["body"]
    assert body.count("- [x]") == 5 and "published with the release" in body  # the packages came with the release

    # the release wrote its announcement (no checksums quoted: nothing to compare); announce send mails and closes
    released = home / "buckets" / "release" / "release" / TAG
    released.mkdir(parents=True)
    (released / "announcement.html").write_text(ANNOUNCEMENT)
    sent = cli.invoke(app, ["announce", "send", "--tag", TAG, "--nomock", "--yes", "--profile", str(path), "--json"])
    assert sent.exit_code == 0, sent.output
    result = json.loads(sent.stdout)
    assert result["sent"] is True and result["release_issue"]["state"] == "closed"
    assert len(list((home / "outbox").glob("*.eml"))) == 1
    final = hub.issues[number]
    assert final["state"] == "closed" and final["body"].count("- [x]") == 6
    assert "sent to 2 recipient(s)" in final["body"] and final["body"].rstrip().endswith(END)
    assert [w[0] for w in hub.writes] == ["POST", "PATCH", "PATCH", "PATCH", "PATCH", "PATCH", "PATCH"]
    assert len(hub.titled(TITLE)) == 1 and REPO == "sig/release"
