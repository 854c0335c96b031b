"""GitHub PR sources against a local server answering GitHub's REST and GraphQL shapes (real httpx and PyGithub)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from releng import github
from releng.errors import UsageError
from releng.github import ratelimit
from releng.github.base import GitHubError, from_rest
from releng.github.cache import CachedPullRequests
from releng.github.replay import ReplayPullRequests
from releng.registry.localserver import free_port

from tests.fixtures.github import REPLAY_V1253, GitHubStub, v1253_prs

TOKEN = "ghp_notarealtoken0123456789"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def policy(sleeps: Sleeps) -> ratelimit.Policy:
    return ratelimit.Policy(sleep=sleeps, clock=lambda: 1_000_000.0)


def synthetic(n: int) -> dict[int, dict[str, Any]]:
    return {
        i: {
            "number": i, "title": f"PR {i}", "body": f"```release-note\nNote {i}\n```", "html_url": f"https://x/pull/{i}",
            "labels": [{"name": "kind/bug"}, {"name": "sig/node"}], "user": {"login": "dev", "html_url": "https://x/dev"},
            "merge_commit_sha": f"{i:040x}", "base": {"ref": "master"}, "head": {"ref": "topic", "label": "dev:topic"},
            "updated_at": "2024-01-01T00:00:00Z", "merged_at": "2024-01-01T00:00:00Z",
        }
        for i in range(1, n + 1)
    }


@pytest.mark.parametrize("source", ["graphql", "rest"])
def test_sources_return_the_recorded_pull_requests(github_stub: GitHubStub, source: str) -> None:
    github_stub.prs = v1253_prs()
    prs = github.open_pull_requests("kubernetes", "kubernetes", TOKEN, api_url=github_stub.url, source=source)
    got = prs.get(sorted(github_stub.prs))
    expected = {n: from_rest(pr, "x") for n, pr in github_stub.prs.items()}
    assert got == expected
    if source == "graphql":
        assert github_stub.count("graphql") == prs.requests == 2  # 127 PRs in batches of 100
        assert set(github_stub.auth_headers) == {f"bearer {TOKEN}"}
    else:
        assert github_stub.count("rest") == prs.requests == 127
        assert set(github_stub.auth_headers) == {f"token {TOKEN}"}


def test_graphql_batches_hundreds_into_few_requests(github_stub: GitHubStub) -> None:
    github_stub.prs = synthetic(450)
    prs = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url)
    progress: list[tuple[int, int]] = []
    assert len(prs.get(list(range(1, 451)), lambda d, t: progress.append((d, t)))) == 450
    assert github_stub.count() == 5 and progress[-1] == (450, 450)


def test_cache_rerun_makes_no_request(github_stub: GitHubStub, tmp_path: Path) -> None:
    github_stub.prs = synthetic(30)
    first = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, cache_dir=tmp_path, source="rest")
    first.get(list(range(1, 21)))
    assert github_stub.count() == 20
    again = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, cache_dir=tmp_path, source="rest")
    assert len(again.get(list(range(1, 31)))) == 30
    assert github_stub.count() == 30  # only the 10 new ones were asked for
    assert isinstance(again, CachedPullRequests) and again.hits == 20
    expired = CachedPullRequests(again.inner, tmp_path, "o", "r", ttl=10, clock=lambda: 2e10)
    expired.get([1])
    assert github_stub.count() == 31


def test_record_then_replay_round_trip(github_stub: GitHubStub, tmp_path: Path) -> None:
    github_stub.prs = synthetic(12)
    recorder = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, record_dir=tmp_path / "rec")
    live = recorder.get(list(range(1, 13)))
    files = sorted(p.name for p in (tmp_path / "rec").iterdir())
    assert len(files) == 12 and "GetPullRequest-0.json" in files
    record = json.loads((tmp_path / "rec" / "GetPullRequest-0.json").read_text())
    assert set(record) == {"Result", "LastPage"}
    replayed = github.open_pull_requests("o", "r", replay_dir=tmp_path / "rec").get(list(range(1, 13)))
    assert replayed == live


@pytest.mark.parametrize("source", ["graphql", "rest"])
@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        ((403, {}, '{"message": "You have exceeded a secondary rate limit."}'), (60.0, 90.0)),
        ((403, {"Retry-After": "7"}, '{"message": "secondary"}'), (7.0, 7.0)),
        ((403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000004"}, '{"message": "API rate limit"}'),
         (5.0, 5.0)),
        ((502, {}, '{"message": "bad gateway"}'), (1.0, 1.0)),
    ],
)
def test_rate_limits_wait_then_succeed(
    github_stub: GitHubStub, source: str, failure: tuple[int, dict[str, str], str], expected_wait: tuple[float, float]
) -> None:
    github_stub.prs = synthetic(3)
    github_stub.failures = [failure]
    sleeps = Sleeps()
    prs = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, source=source, policy=policy(sleeps))
    assert len(prs.get([1, 2, 3])) == 3
    assert len(sleeps.waits) == 1 and expected_wait[0] <= sleeps.waits[0] <= expected_wait[1]


def test_server_errors_back_off_then_give_up(github_stub: GitHubStub) -> None:
    github_stub.prs = synthetic(1)
    github_stub.failures = [(500, {}, "{}")] * 10
    sleeps = Sleeps()
    prs = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, policy=policy(sleeps))
    with pytest.raises(GitHubError, match=r"gave up after 6 attempts \(server error 500\)"):
        prs.get([1])
    assert sleeps.waits == [1.0, 2.0, 4.0, 8.0, 16.0]


@pytest.mark.parametrize("source", ["graphql", "rest"])
def test_errors_are_one_line_and_never_show_the_token(github_stub: GitHubStub, source: str) -> None:
    github_stub.failures = [(401, {}, '{"message": "Bad credentials"}')]
    prs = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, source=source)
    with pytest.raises(GitHubError) as info:
        prs.get([1])
    assert "401" in str(info.value) and TOKEN not in str(info.value)
    with pytest.raises(GitHubError, match="pull request #77 not found in o/r"):
        prs.get([77])


def test_missing_token_and_record_with_replay_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="GITHUB_TOKEN is not set"):
        github.open_pull_requests("o", "r")
    with pytest.raises(UsageError, match="cannot be used together"):
        github.open_pull_requests("o", "r", replay_dir=tmp_path, record_dir=tmp_path)


def test_replay_with_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    copy = tmp_path / "replay"
    shutil.copytree(REPLAY_V1253, copy)
    (copy / "GetPullRequest-100.json").unlink()
    with pytest.raises(GitHubError, match=r"GetPullRequest-100\.json is missing \(recording runs 47…173\)"):
        ReplayPullRequests(copy)
    with pytest.raises(GitHubError, match="no recorded response for pull request #1"):
        ReplayPullRequests(REPLAY_V1253).get([112902, 1])


@pytest.mark.parametrize("source", ["graphql", "rest"])
def test_connection_failures_are_retried_then_reported(source: str) -> None:
    port = free_port()  # a loopback port with nothing listening: every attempt is refused
    sleeps = Sleeps()
    prs = github.open_pull_requests(
        "o", "r", TOKEN, api_url=f"http://127.0.0.1:{port}", source=source, policy=policy(sleeps)
    )
    with pytest.raises(GitHubError, match=r"gave up after 6 attempts \(connection error"):
        prs.get([1])
    assert sleeps.waits == [1.0, 2.0, 4.0, 8.0, 16.0]


@pytest.mark.parametrize("source", ["graphql", "rest"])
def test_token_never_reaches_the_logs(
    github_stub: GitHubStub, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    github_stub.prs = synthetic(3)
    github_stub.failures = [(403, {"Retry-After": "0"}, '{"message": "secondary rate limit"}')]
    caplog.set_level("DEBUG")
    prs = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, source=source, policy=policy(Sleeps()))
    assert len(prs.get([1, 2, 3])) == 3
    assert caplog.records and any("secondary rate limit" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


def test_rest_answer_for_another_pull_request_is_never_taken(github_stub: GitHubStub) -> None:
    # An answer carrying another PR's number would overwrite that PR and silently drop the one asked for.
    github_stub.prs = synthetic(3)
    github_stub.prs[2] = {**github_stub.prs[2], "number": 3}
    sleeps = Sleeps()
    prs = github.open_pull_requests("o", "r", TOKEN, api_url=github_stub.url, source="rest", policy=policy(sleeps),
                                    cache_dir=None)
    with pytest.raises(GitHubError, match=r"pull request #2.*answered pull request 3"):
        prs.get([1, 2, 3])
