"""GitHub pull-request data for release notes: GraphQL, REST, replay and record, with an on-disk cache.

Entry point: `open_pull_requests(org, repo, token=None, replay_dir=None, record_dir=None, cache_dir=None,
api_url="https://api.github.com", source="graphql", policy=None) -> PullRequests`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from releng.errors import UsageError
from releng.github import names, ratelimit
from releng.github.base import DEFAULT_API_URL, GitHubError, Progress, PullRequests
from releng.github.cache import CachedPullRequests
from releng.github.graphql import GraphQLPullRequests
from releng.github.replay import RecordingPullRequests, ReplayPullRequests
from releng.notes.pullrequest import PullRequest

__all__ = ["DEFAULT_API_URL", "GitHubError", "Progress", "PullRequest", "PullRequests", "open_pull_requests"]



def _rest(*args: object, **kwargs: object) -> PullRequests:
    # PyGithub takes half a second to import; only the REST source needs it.
    from releng.github.rest import RestPullRequests

    return RestPullRequests(*args, **kwargs)  # type: ignore[arg-type]


_LIVE: dict[str, Callable[..., PullRequests]] = {"graphql": GraphQLPullRequests, "rest": _rest}


def open_pull_requests(
    org: str,
    repo: str,
    token: str | None = None,
    replay_dir: Path | None = None,
    record_dir: Path | None = None,
    cache_dir: Path | None = None,
    api_url: str = DEFAULT_API_URL,
    source: str = "graphql",
    policy: ratelimit.Policy | None = None,
) -> PullRequests:
    """The pull-request source the options name: replay, or a live source (cached, optionally recorded)."""
    # the names go into API URLs and cache paths: GitHub's own name rules, checked once here
    names.owner(org)
    names.repository(repo)
    if replay_dir is not None and record_dir is not None:
        raise UsageError("--record and --replay cannot be used together: replay reads what record writes")
    if replay_dir is not None:
        return ReplayPullRequests(replay_dir)
    if source not in _LIVE:
        raise UsageError(f"unknown GitHub source {source!r}: expected one of {', '.join(sorted(_LIVE))}")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set: export a GitHub token, or pass --replay DIR to use recorded data")
    live: PullRequests = _LIVE[source](org, repo, token, api_url=api_url, policy=policy)
    if record_dir is not None:
        # a recording must hold every PR the run asks for, so it bypasses the cache
        return RecordingPullRequests(live, record_dir)
    if cache_dir is not None:
        return CachedPullRequests(live, cache_dir, org, repo)
    return live
