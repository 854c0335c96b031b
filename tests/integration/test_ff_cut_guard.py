"""krel ff's release-cut guard (kubernetes/release#2814) against a loopback GitHub answering the issues list.

Real git repositories with a bare remote, the real httpx client, a local HTTP server standing in for GitHub.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from pytest_httpserver import HTTPServer
from releng import git
from releng.errors import ReleaseError
from releng.fastforward import FastForwardOptions, cut_issue_title, prepare_fast_forward
from releng.github import ratelimit
from releng.github.issues import MAX_PAGES, PER_PAGE, open_issue_titled
from werkzeug import Request, Response

from krel.app import app
from tests.cli.test_ff_cli import _upstream
from tests.fixtures.gitrepo import ROBOT, RepoPair
from tests.integration.test_ff_repo import make_k8s_like

REPO = "kubernetes/sig-release"
TITLE = "Cut v1.29.0 release"  # make_k8s_like's latest branch is release-1.29
FAST = ratelimit.Policy(secondary_wait=0.0, secondary_jitter=0.0, server_error_wait=0.0, attempts=3,
                        sleep=lambda _: None)


def issue(n: int, title: str, pr: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"number": n, "title": title, "html_url": f"https://github.com/{REPO}/issues/{n}"}
    if pr:
        item["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{n}"}
    return item


@dataclass
class IssuesStub:
    """GET /repos/kubernetes/sig-release/issues: `issues` in pages of PER_PAGE; `answers` are sent first, in order."""

    server: HTTPServer
    issues: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)
    endless: bool = False  # every page full: a server that never ends the list

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def handle(self, request: Request) -> Response:
        self.seen.append({"path": request.path, "auth": request.headers.get("Authorization", ""),
                          **request.args.to_dict()})
        if self.answers:
            status, headers, body = self.answers.pop(0)
            return Response(body, status=status, headers=headers, content_type="application/json")
        if request.path != f"/repos/{REPO}/issues" or request.args.get("state") != "open":
            return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")
        page = int(request.args.get("page", "1"))
        if self.endless:
            return Response(json.dumps([issue(i, f"other {i}") for i in range(PER_PAGE)]),
                            content_type="application/json")
        chunk = self.issues[(page - 1) * PER_PAGE : page * PER_PAGE]
        return Response(json.dumps(chunk), content_type="application/json")


@pytest.fixture
def issues_stub(github_server: HTTPServer) -> Iterator[IssuesStub]:
    github_server.clear()
    stub = IssuesStub(server=github_server)
    github_server.expect_request(re.compile(".*")).respond_with_handler(stub.handle)
    yield stub
    github_server.clear()


@pytest.fixture
def k8s_remote(git_repo: RepoPair) -> RepoPair:
    make_k8s_like(git_repo)
    return git_repo


def _options(pair: RepoPair, tmp_path: Path, stub: IssuesStub | None, push: bool = True) -> FastForwardOptions:
    lookup = None
    if stub is not None:
        url = stub.url

        def lookup(title: str) -> str:
            return open_issue_titled(REPO, title, "t0ken", url, FAST)

    return FastForwardOptions(repo=tmp_path / "ff-clone", upstream_url=str(pair.origin), author=ROBOT, push=push,
                              open_issue=lookup)


def test_open_cut_issue_skips_the_fast_forward(k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path) -> None:
    issues_stub.issues = [issue(1, "Something else"), issue(2814, TITLE)]
    before = git.ls_remote_heads(str(k8s_remote.origin))
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    assert ff.noop == f"the release cut issue {TITLE!r} is open (https://github.com/{REPO}/issues/2814); " \
                      "skipping the fast-forward"
    assert ff.head_rev == "" and git.ls_remote_heads(str(k8s_remote.origin)) == before
    assert issues_stub.seen[0]["auth"] == "Bearer t0ken" and issues_stub.seen[0]["per_page"] == str(PER_PAGE)


@pytest.mark.parametrize(
    "listed",
    [
        pytest.param([], id="no-open-issues"),
        pytest.param([issue(5, TITLE, pr=True)], id="same-title-but-a-pull-request"),
        pytest.param([issue(6, "Cut v1.28.0 release")], id="another-release-cut"),
        pytest.param([issue(7, "cut v1.29.0 release")], id="title-differs-in-case"),
        pytest.param([issue(8, TITLE + " (follow-up)")], id="title-with-suffix"),
    ],
)
def test_no_matching_open_issue_lets_the_merge_happen(
    k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path, listed: list[dict[str, Any]]
) -> None:
    issues_stub.issues = listed
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    assert ff.noop == "" and ff.head_rev and len(ff.commits) == 2


def test_issue_on_a_later_page_is_found(k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path) -> None:
    issues_stub.issues = [issue(i, f"other {i}") for i in range(PER_PAGE)] + [issue(4242, TITLE)]
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    assert "issues/4242" in ff.noop and [s["page"] for s in issues_stub.seen] == ["1", "2"]


def test_no_repository_configured_asks_nobody(k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path) -> None:
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, None))
    assert ff.noop == "" and issues_stub.seen == []


def test_official_tag_noop_comes_before_the_issue_lookup(
    k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path
) -> None:
    """krel returns before listing issues when the latest branch already has its vX.Y.0."""
    git.tag(k8s_remote.work, "v1.29.0", git.rev_parse(k8s_remote.work, "release-1.29"), "v1.29.0", ROBOT)
    git.push(k8s_remote.work, "origin", ["refs/tags/v1.29.0"], dry_run=False)
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    assert "already has its official tag" in ff.noop and issues_stub.seen == []


RESET = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}


def test_rate_limit_and_server_errors_are_retried(
    k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path
) -> None:
    issues_stub.issues = [issue(2814, TITLE)]
    issues_stub.answers = [(403, RESET, '{"message": "API rate limit exceeded"}'), (502, {}, "bad gateway")]
    ff = prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    assert "issues/2814" in ff.noop and len(issues_stub.seen) == 3


# Hostile or broken answers: one GitHubError line naming the API, nothing merged or pushed.
HOSTILE = {
    "unauthorized": ([(401, {}, '{"message": "Bad credentials"}')], "401 Unauthorized: check GITHUB_TOKEN"),
    "not-found": ([(404, {}, '{"message": "Not Found"}')], f"repository {REPO} not found"),
    "forbidden": ([(403, {}, '{"message": "Resource not accessible"}')], "HTTP 403"),
    "server-down": ([(500, {}, "")] * 3, "gave up after 3 attempts (server error 500)"),
    "rate-limited-forever": ([(429, {"Retry-After": "0"}, "")] * 3, "gave up after 3 attempts (secondary rate limit)"),
    "not-json": ([(200, {}, "<html>")], "answer is not JSON"),
    "object-not-list": ([(200, {}, '{"items": []}')], "expected a JSON list of issues"),
    "list-of-strings": ([(200, {}, '["Cut v1.29.0 release"]')], "issue: expected a JSON object, got a string"),
    "list-of-nulls": ([(200, {}, "[null]")], "issue: expected a JSON object, got null"),
    "redirect": ([(301, {"Location": "http://example.invalid/"}, "")], "HTTP 301"),
}


@pytest.mark.parametrize(("answers", "message"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_broken_github_answers_stop_with_one_line(
    k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path, answers: list[tuple[int, dict[str, str], str]],
    message: str,
) -> None:
    issues_stub.answers = list(answers)
    before = git.ls_remote_heads(str(k8s_remote.origin))
    with pytest.raises(ReleaseError) as caught:
        prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    text = str(caught.value)
    assert message in text and "\n" not in text and "t0ken" not in text
    assert git.ls_remote_heads(str(k8s_remote.origin)) == before
    assert not git.ref_exists(tmp_path / "ff-clone", "refs/heads/release-1.29")  # no local merge either


def test_endless_issue_list_is_refused(k8s_remote: RepoPair, issues_stub: IssuesStub, tmp_path: Path) -> None:
    issues_stub.endless = True
    with pytest.raises(ReleaseError, match=f"more than {MAX_PAGES} pages of open issues"):
        prepare_fast_forward(_options(k8s_remote, tmp_path, issues_stub))
    assert len(issues_stub.seen) == MAX_PAGES


@pytest.mark.parametrize(
    ("pattern", "branch", "title"),
    [
        ("Cut {version} release", "release-1.29", "Cut v1.29.0 release"),
        ("Cut {version} release", "release-1.100", "Cut v1.100.0 release"),
        ("Release cut: {version}", "release-2.0", "Release cut: v2.0.0"),
    ],
)
def test_cut_issue_title_is_krels_branch_to_version(pattern: str, branch: str, title: str) -> None:
    assert cut_issue_title(pattern, branch) == title


def test_cli_reads_repository_from_profile_and_token_from_env(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, issues_stub: IssuesStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`krel ff` with a profile naming cut_issue_repo: GITHUB_TOKEN and KREL_GITHUB_API_URL read at the edge."""
    pair = _upstream(krel_home, tmp_path)
    issues_stub.issues = [issue(2814, TITLE)]
    local = (Path(__file__).resolve().parents[2] / "lib" / "releng" / "profiles" / "local.toml").read_text()
    profile = tmp_path / "guarded.toml"
    profile.write_text(local.replace("[upstream]\n", f'[upstream]\ncut_issue_repo = "{REPO}"\n', 1))
    monkeypatch.setenv("GITHUB_TOKEN", "s3cret-token")
    monkeypatch.setenv("KREL_GITHUB_API_URL", issues_stub.url)
    before = git.ls_remote_heads(str(pair.origin))
    result = cli.invoke(app, ["ff", "--nomock", "--yes", "--json", "--profile", str(profile),
                              "--repo", str(tmp_path / "clone")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pushed"] is False and "release cut issue" in data["noop"]
    assert git.ls_remote_heads(str(pair.origin)) == before
    assert issues_stub.seen[0]["auth"] == "Bearer s3cret-token" and "s3cret-token" not in result.output


def test_ff_submit_runs_the_fast_forward_job_on_the_local_runner(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`krel ff --submit`: krel's fast-forward job on the local runner, FORCE_BUILD_KREL from the environment."""
    pair = _upstream(krel_home, tmp_path)
    before = git.ls_remote_heads(str(pair.origin))
    monkeypatch.setenv("FORCE_BUILD_KREL", "true")
    result = cli.invoke(app, ["ff", "--submit", "--stream", "--json", "--runner", "local"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)  # the job's log went to stderr: stdout stays JSON
    assert job["kind"] == "fast-forward" and job["status"] == "SUCCESS"
    assert job["substitutions"]["_FORCE_BUILD_KREL"] == "true" and "FAST_FORWARD" in job["tags"]
    log = (krel_home / "jobs" / job["id"] / "log.txt").read_text()
    assert "dry-run push (mock)" in log and "release-1.29" in log
    assert git.ls_remote_heads(str(pair.origin)) == before  # mock: the job's push was a dry run


def test_ff_submit_refuses_a_hostile_force_build_krel(
    cli: typer.testing.CliRunner, krel_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_BUILD_KREL", "true\nX=1")
    result = cli.invoke(app, ["ff", "--submit", "--runner", "local"])
    assert result.exit_code == 2 and "FORCE_BUILD_KREL" in result.output
    assert not (krel_home / "jobs").exists() or not any((krel_home / "jobs").iterdir())
