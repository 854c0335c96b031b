"""`krel release-issue` against a stateful loopback GitHub answering the issues API (list, create, read, edit).

Every write is checked in the stub's state; job evidence comes from real local-runner job records and the Cloud Build
stand-in, read the way `krel history` reads them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError, UsageError
from releng.gcb import jobfile
from releng.gcb.base import Job
from releng.github import ratelimit
from releng.github.base import GitHubError
from releng.profile import Profile, load_profile
from releng.releaseissue import checklist, cut, tracker
from typer.testing import CliRunner
from werkzeug import Request, Response

from krel.app import app

REPO = "sig/release"
TOKEN = "t0ken-issues"
TAG = "v1.0.0-rc.1"
TITLE = f"Cut {TAG} release"
FAST = ratelimit.Policy(secondary_wait=0.0, secondary_jitter=0.0, server_error_wait=0.0, attempts=3,
                        sleep=lambda _: None)
_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues(?:/(?P<number>\d+))?$")


@dataclass
class IssuesHub:
    """GitHub's issues API for one repository, with state: issues by number, every write logged.

    `fail` holds (method, status, apply) answered before the next call of that method: `apply` performs the write
    anyway (GitHub sometimes creates the issue and still answers 502).
    """

    server: HTTPServer
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    writes: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    fail: list[tuple[str, int, bool]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def add(self, title: str, body: str = "", state: str = "open", pr: bool = False) -> int:
        number = max(self.issues, default=0) + 1
        self.issues[number] = {"number": number, "title": title, "body": body, "state": state,
                               "html_url": f"https://github.com/{REPO}/issues/{number}"}
        if pr:
            self.issues[number]["pull_request"] = {"url": "x"}
        return number

    def titled(self, title: str) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["title"] == title]

    def handle(self, request: Request) -> Response:
        self.calls.append(f"{request.method} {request.path}")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json({"message": "Bad credentials"}, 401)
        match = _PATH.match(request.path)
        if match is None or f"{match['owner']}/{match['repo']}" != REPO:
            return _json({"message": "Not Found"}, 404)
        failure = next((f for f in self.fail if f[0] == request.method), None)
        if failure is not None:
            self.fail.remove(failure)
            if failure[2]:
                self._apply(request, match["number"])
            return _json({"message": "Server Error"}, failure[1])
        return self._apply(request, match["number"])

    def _apply(self, request: Request, number: str | None) -> Response:
        if request.method == "GET" and number is None:
            state = request.args.get("state", "open")
            items = [i for i in self.issues.values() if state == "all" or i["state"] == state]
            per_page, page = int(request.args.get("per_page", "30")), int(request.args.get("page", "1"))
            return _json(items[(page - 1) * per_page: page * per_page])
        if request.method == "POST" and number is None:
            data = request.get_json()
            created = self.add(data["title"], data["body"])
            self.writes.append(("POST", created, data))
            return _json(self.issues[created], 201)
        if number is None or int(number) not in self.issues:
            return _json({"message": "Not Found"}, 404)
        issue = self.issues[int(number)]
        if request.method == "PATCH":
            data = request.get_json()
            issue.update({k: v for k, v in data.items() if k in ("body", "state")})
            self.writes.append(("PATCH", int(number), data))
        return _json(issue)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


@pytest.fixture
def hub(github_server: HTTPServer) -> Iterator[IssuesHub]:
    github_server.clear()
    stub = IssuesHub(server=github_server)
    github_server.expect_request(re.compile(".*")).respond_with_handler(stub.handle)
    yield stub
    github_server.clear()


def write_profile(home: Path, extra: str = "") -> Path:
    """The local profile with a release-team repository (and `extra` TOML appended)."""
    text = (Path(__file__).resolve().parents[2] / "lib/releng/profiles/local.toml").read_text()
    path = home / "issue-profile.toml"
    path.write_text(f'{text}\n[release_issue]\nenabled = true\nrepo = "{REPO}"\nmanagers = ["alice", "bob"]\n{extra}')
    return path


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return load_profile(write_profile(tmp_path), {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})


def client(hub: IssuesHub, token: str = TOKEN) -> Any:
    return tracker.open_client(cut.CutIssue(REPO, TITLE, TAG, "release-1.0"), token, hub.url, FAST)


def job(kind: str, nomock: bool, status: str, start: datetime, minutes: int = 3, tag: str = TAG) -> Job:
    return Job(id=str(uuid.uuid4()), status=status, runner="local", create_time=start, start_time=start,
               finish_time=start + timedelta(minutes=minutes),
               substitutions={"_TYPE": "rc", "_RELEASE_BRANCH": "release-1.0", "_BUILDVERSION": "v1.0.0-rc.0.5+abc",
                              "_NOMOCK": "--nomock" if nomock else ""},
               tags=(kind.upper(), tag), log_url=f"https://console.example/{kind}/{start:%H%M}")


T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CUT = cut.CutIssue(REPO, TITLE, TAG, "release-1.0")


def test_open_creates_once_and_reuses_the_open_issue(hub: IssuesHub, profile: Profile) -> None:
    hub.add("Something else")
    hub.add(TITLE, state="closed")  # an earlier cut's closed issue is not reused
    hub.add(TITLE, pr=True)  # nor a pull request with the title
    first = tracker.open_issue(client(hub), profile, CUT, "2026-03-01")
    assert first.created and first.changed and first.state == "open"
    again = tracker.open_issue(client(hub), profile, CUT, "2026-03-02")
    assert not again.created and again.number == first.number
    assert [w[0] for w in hub.writes] == ["POST"]
    body = hub.issues[first.number]["body"]
    assert "**Date:** 2026-03-01" in body and "@alice, @bob" in body and checklist.BEGIN in body
    assert body.count("- [ ] ") == 6


def test_update_from_history_is_idempotent_and_keeps_human_text(hub: IssuesHub, profile: Profile) -> None:
    number = tracker.open_issue(client(hub), profile, CUT, "2026-03-01").number
    # a release manager writes around the block (and uses Windows line ends)
    hub.issues[number]["body"] = "Notes from alice:\r\n- watch CI\r\n\r\n" + hub.issues[number]["body"] + "\nPS bob"
    hour = timedelta(hours=1)
    jobs = [job("stage", False, "SUCCESS", T0), job("release", False, "FAILURE", T0 + hour),
            job("release", False, "SUCCESS", T0 + 2 * hour), job("stage", True, "FAILURE", T0 + 3 * hour)]
    done = tracker.update_issue(client(hub), profile, CUT, tracker.history_evidence(jobs))
    assert done.changed
    body = hub.issues[number]["body"]
    assert body.startswith("Notes from alice:\n- watch CI\n\n") and body.endswith("\nPS bob")
    assert "- [x] **Mock stage** `krel stage --type rc --branch release-1.0 --build-version v1.0.0-rc.0.5+abc`" in body
    assert "[job log](https://console.example/release/1200) · started 2026-03-01T12:00:00+00:00 · took 00:03:00 · Yes" \
           in body  # the later success, not the failure before it
    assert "- [ ] **Stage** `krel stage --type rc --branch release-1.0 --build-version v1.0.0-rc.0.5+abc --nomock`" \
           in body
    writes = len(hub.writes)
    again = tracker.update_issue(client(hub), profile, CUT, tracker.history_evidence(jobs))
    assert not again.changed and len(hub.writes) == writes  # rerun: no PATCH


def test_update_and_close_through_the_cli_with_local_runner_history(
    hub: IssuesHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for env, value in (("KREL_HOME", str(home)), ("GITHUB_TOKEN", TOKEN), ("KREL_GITHUB_API_URL", hub.url),
                       ("CI", "true")):
        monkeypatch.setenv(env, value)
    prof = str(write_profile(home))
    _local_record(home, job("stage", True, "SUCCESS", T0), TAG)
    _local_record(home, job("stage", True, "SUCCESS", T0), "v9.9.9")  # another cut's job
    cli = CliRunner()
    opened = cli.invoke(app, ["release-issue", "open", "--tag", TAG, "--profile", prof, "--json"])
    assert opened.exit_code == 0, opened.output
    number = json.loads(opened.stdout)["number"]
    updated = cli.invoke(app, ["release-issue", "update", "--tag", TAG, "--profile", prof, "--json"])
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["changed"] is True
    body = hub.issues[number]["body"]
    assert "- [x] **Stage**" in body and body.count("- [x]") == 1 and "file://" in body and "/log.txt)" in body
    refused = cli.invoke(app, ["release-issue", "close", "--tag", TAG, "--profile", prof])
    assert refused.exit_code == 1 and "the announcement is not ticked yet" in refused.stderr
    assert hub.issues[number]["state"] == "open"
    forced = cli.invoke(app, ["release-issue", "close", "--tag", TAG, "--profile", prof, "--force"])
    assert forced.exit_code == 0, forced.output
    assert hub.issues[number]["state"] == "closed" and hub.writes[-1] == ("PATCH", number, {"state": "closed"})
    # a closed issue is not updated (nor reopened): one line saying what to do
    late = cli.invoke(app, ["release-issue", "update", "--tag", TAG, "--profile", prof])
    assert late.exit_code == 1 and f"no open issue {TITLE!r} in {REPO}" in late.stderr


def _local_record(home: Path, found: Job, tag: str) -> None:
    """A finished job as the local runner keeps it (KREL_HOME/jobs/<id>/job.json)."""
    job_dir = home / "jobs" / found.id
    job_dir.mkdir(parents=True)
    (job_dir / jobfile.LOG).write_text("done\n")
    jobfile.write(job_dir, {
        "id": found.id, "runner": "local", "status": found.status, "detail": "",
        "create_time": jobfile.stamp(found.create_time), "start_time": jobfile.stamp(found.start_time),
        "finish_time": jobfile.stamp(found.finish_time), "kind": "stage", "project": "local", "steps": [],
        "substitutions": dict(found.substitutions), "tags": [t if t != TAG else tag for t in found.tags],
        "timeout_s": 60,
    })


# --- hostile ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param("v1.0.0 release\n@everyone", id="tag-newline-mention"),
        pytest.param("v1.0.0`<!--", id="tag-comment-injection"),
        pytest.param("v1.0.0-rc.1 -->", id="tag-marker-end"),
        pytest.param("[x](javascript:alert(1))", id="tag-markdown-link"),
        pytest.param("", id="tag-empty"),
    ],
)
def test_a_tag_that_is_not_a_release_tag_reaches_no_title(tag: str, hub: IssuesHub, profile: Profile) -> None:
    with pytest.raises(UsageError, match="release-issue: --tag"):
        cut.cut_issue(profile, tag)
    assert hub.calls == []


def test_missing_token_is_one_line(hub: IssuesHub) -> None:
    with pytest.raises(UsageError, match=f"GITHUB_TOKEN is not set: export a token that may write issues in {REPO}"):
        client(hub, token="")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param("other-repo", "repository sig/other not found or not readable", id="repo-404"),
        pytest.param("bad-token", "401 Unauthorized: check GITHUB_TOKEN", id="bad-token-401"),
        pytest.param("5xx-forever", "gave up after 3 attempts (server error 503)", id="list-5xx-every-attempt"),
    ],
)
def test_github_refusals_are_one_line_and_write_nothing(
    setup: str, message: str, hub: IssuesHub, profile: Profile
) -> None:
    issue = CUT
    token = TOKEN
    if setup == "other-repo":
        issue = cut.CutIssue("sig/other", TITLE, TAG, "release-1.0")
    if setup == "bad-token":
        token = "wrong"
    if setup == "5xx-forever":
        hub.fail = [("GET", 503, False)] * 3
    with pytest.raises(GitHubError, match=re.escape(message)) as raised:
        tracker.open_issue(tracker.open_client(issue, token, hub.url, FAST), profile, issue, "2026-03-01")
    assert "\n" not in str(raised.value) and token not in str(raised.value)
    assert hub.writes == []


def test_a_post_answered_502_after_creating_is_not_posted_twice(hub: IssuesHub, profile: Profile) -> None:
    hub.fail = [("POST", 502, True)]
    outcome = tracker.open_issue(client(hub), profile, CUT, "2026-03-01")
    assert len(hub.titled(TITLE)) == 1 and outcome.number == hub.titled(TITLE)[0]["number"]
    assert [w[0] for w in hub.writes] == ["POST"]


def test_a_5xx_on_the_patch_then_a_rerun_resumes(hub: IssuesHub, profile: Profile) -> None:
    number = tracker.open_issue(client(hub), profile, CUT, "2026-03-01").number
    hub.fail = [("PATCH", 502, False)] * 3
    jobs = [job("stage", False, "SUCCESS", T0)]
    with pytest.raises(GitHubError, match="gave up after 3 attempts"):
        tracker.update_issue(client(hub), profile, CUT, tracker.history_evidence(jobs))
    assert "- [x]" not in hub.issues[number]["body"]
    assert tracker.update_issue(client(hub), profile, CUT, tracker.history_evidence(jobs)).changed
    assert "- [x] **Mock stage**" in hub.issues[number]["body"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"{checklist.BEGIN}\nno end", id="end-marker-deleted"),
        pytest.param(f"{checklist.END}\n{checklist.BEGIN}", id="markers-swapped"),
        pytest.param(f"{checklist.BEGIN}{checklist.END}{checklist.BEGIN}{checklist.END}", id="block-pasted-twice"),
    ],
)
def test_damaged_markers_are_refused_and_the_body_kept(body: str, hub: IssuesHub, profile: Profile) -> None:
    number = hub.add(TITLE, body)
    with pytest.raises(ReleaseError, match="checklist markers are damaged"):
        tracker.update_issue(client(hub), profile, CUT, tracker.history_evidence([job("stage", False, "SUCCESS", T0)]))
    assert hub.issues[number]["body"] == body and hub.writes == []


def test_an_issue_without_the_block_gets_it_appended(hub: IssuesHub, profile: Profile) -> None:
    number = hub.add(TITLE, "Opened by hand.\n\nSee the schedule.")
    tracker.update_issue(client(hub), profile, CUT, tracker.history_evidence([job("stage", False, "SUCCESS", T0)]))
    body = hub.issues[number]["body"]
    assert body.startswith("Opened by hand.\n\nSee the schedule.\n\n" + checklist.BEGIN)
    assert "- [x] **Mock stage**" in body
