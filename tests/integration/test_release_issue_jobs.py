"""The cut's tracking issue kept by the real stage and release commands ([release_issue] enabled, [release]
announce): opened by `krel release-issue open`, updated at the end of `krel stage --nomock` run here and of the
`krel release --nomock` a local-runner job runs (submitted with `krel release --submit`: the hook runs inside the job,
never again in the submitting process), ticked and closed after the release's own announcement. Every write is
checked in the stateful GitHub stub; a rerun of the release mails nothing and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from releng import layout
from releng.releaseissue.checklist import END

from tests.fixtures.releaseflow import FlowEnv
from tests.integration.test_release_issue import REPO, TOKEN, IssuesHub, hub  # noqa: F401

RC0 = "v1.0.0-rc.0"  # what the demo's release-1.0 branch stages first
TITLE = f"Cut {RC0} release"
BRANCH = ["--branch", "release-1.0", "--type", "rc"]

# a stage, a release job and a rerun of the demo project: about 40 s on an idle 2-core machine
pytestmark = pytest.mark.slow


def _profile(home: Path) -> str:
    """The local profile without packages (they are another test's subject, and cost a build), with the release
    issue enabled and the announcement sent by krel release."""
    text = (Path(__file__).resolve().parents[2] / "lib/releng/profiles/local.toml").read_text()
    start, end = text.index("\n[packages]\n"), text.index("\n[signing.mock]\n")
    path = home / "issue-jobs-profile.toml"
    path.write_text(f'{text[:start]}{text[end:]}\n[release_issue]\nenabled = true\nrepo = "{REPO}"\n'
                    "\n[release]\nannounce = true\n")
    return str(path)


def _outbox(flow: FlowEnv) -> list[Path]:
    folder = flow.home / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def _issue(stub: IssuesHub) -> dict[str, object]:
    [issue] = stub.titled(TITLE)
    return issue


def test_stage_and_release_jobs_keep_the_issue_and_the_release_announce_closes_it(
    flow_env: FlowEnv, hub: IssuesHub, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    for name, value in (("GITHUB_TOKEN", TOKEN), ("KREL_GITHUB_API_URL", hub.url)):
        monkeypatch.setenv(name, value)
    profile = _profile(flow_env.home)
    env = {"GITHUB_TOKEN": TOKEN, "KREL_GITHUB_API_URL": hub.url}
    opened = flow_env.krel("release-issue", "open", "--tag", RC0, "--profile", profile, "--json", extra_env=env)
    assert opened.returncode == 0, opened.stderr
    number = json.loads(opened.stdout)["number"]
    assert [w[0] for w in hub.writes] == ["POST"] and "- [x]" not in str(_issue(hub)["body"])

    # stage on this machine: its end adds this run to the issue (one PATCH), and the summary says so
    staged = flow_env.krel("stage", *BRANCH, "--no-notes", "--nomock", "--yes", "--profile", profile, "--json",
                           extra_env=env)
    assert staged.returncode == 0, staged.stderr[-2000:]
    summary = json.loads(staged.stdout)
    assert summary["versions"][0] == RC0 and summary["release_issue"]["number"] == number
    body = str(_issue(hub)["body"])
    assert [w[0] for w in hub.writes] == ["POST", "PATCH"] and body.count("- [x]") == 1
    assert f"krel stage --type rc --branch release-1.0 --build-version {flow_env.build_version} --nomock" in body

    # release as a local-runner job: the submitter asks the announcement's question (--yes) and writes nothing to
    # the issue; the job's own krel release updates it, mails the announcement once, ticks it and closes the issue
    released = flow_env.krel("release", *BRANCH, "--build-version", flow_env.build_version, "--nomock", "--profile",
                             profile, "--submit", "--stream", "--yes", extra_env=env)
    assert released.returncode == 0, released.stdout[-3000:] + released.stderr[-2000:]
    assert [w[0] for w in hub.writes] == ["POST", "PATCH", "PATCH", "PATCH", "PATCH"]
    assert hub.writes[-1][2] == {"state": "closed"}
    final = _issue(hub)
    assert final["state"] == "closed" and str(final["body"]).rstrip().endswith(END)
    # stage, release and announce ticked; the mock items stay open, and this profile builds no packages
    assert str(final["body"]).count("- [x]") == 3 and "sent to 2 recipient(s)" in str(final["body"])
    assert "this profile builds no packages" in str(final["body"])
    [mail] = _outbox(flow_env)
    record = json.loads((flow_env.bucket("release") / layout.announcement_record_key(RC0)).read_text())
    assert record["tag"] == RC0 and sorted(record["recipients"]) == ["announce@localhost", "dev@localhost"]

    # a rerun of the release (here) is a no-op: no second mail, no write to the closed issue, exit 0
    again = flow_env.krel("release", *BRANCH, "--build-version", flow_env.build_version, "--nomock", "--yes",
                          "--profile", profile, "--json", extra_env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["announcement"]["sent"] is False
    assert _outbox(flow_env) == [mail] and len(hub.writes) == 5 and len(hub.titled(TITLE)) == 1
    assert "release issue was not updated" in again.stderr  # closed: said once on stderr, not an error
