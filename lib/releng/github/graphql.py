"""Pull requests through GitHub's GraphQL API (httpx): up to 100 per query, so 2,000 PRs cost 20 requests."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from releng.github import ratelimit
from releng.github.base import DEFAULT_API_URL, GitHubError, LiveSource, Progress, expect_object
from releng.notes.pullrequest import PullRequest

log = logging.getLogger(__name__)

BATCH = 100  # pull requests per query; well inside GitHub's node limit with labels(first: 100)

_FIELDS = """
fragment pr on PullRequest {
  number title body url updatedAt mergedAt baseRefName headRefName
  author { login url }
  mergeCommit { oid }
  headRepositoryOwner { login }
  labels(first: 100) { nodes { name } }
}
"""


def _query(numbers: Sequence[int]) -> str:
    aliases = "\n".join(f"    pr{n}: pullRequest(number: {n}) {{ ...pr }}" for n in numbers)
    return (
        "query($owner: String!, $name: String!) {\n  repository(owner: $owner, name: $name) {\n"
        f"{aliases}\n  }}\n  rateLimit {{ remaining resetAt cost }}\n}}\n{_FIELDS}"
    )


def _pull_request(value: Any, where: str) -> PullRequest:
    """A PullRequest from one GraphQL node; GitHubError naming `where` for a node of another shape."""
    node = expect_object(value, where)
    try:
        return _fields(node)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"{where}: not a pull request node ({type(exc).__name__}: {exc})") from None


def _fields(node: dict[str, Any]) -> PullRequest:
    author = node.get("author") or {}
    owner = (node.get("headRepositoryOwner") or {}).get("login") or ""
    head = str(node.get("headRefName") or "")
    return PullRequest(
        number=int(node["number"]),
        title=str(node.get("title") or ""),
        body=str(node.get("body") or ""),
        labels=tuple(str(label["name"]) for label in (node.get("labels") or {}).get("nodes") or []),
        author=str(author.get("login") or ""),
        author_url=str(author.get("url") or ""),
        url=str(node.get("url") or ""),
        merge_commit_sha=str((node.get("mergeCommit") or {}).get("oid") or ""),
        base_ref=str(node.get("baseRefName") or ""),
        head_ref=head,
        head_label=f"{owner}:{head}" if owner else head,
        updated_at=str(node.get("updatedAt") or ""),
        merged_at=str(node.get("mergedAt") or ""),
    )


class GraphQLPullRequests(LiveSource):
    """Batched pull-request lookups over one keep-alive connection; the token goes only into a header."""

    api = "GitHub GraphQL"

    def __init__(
        self,
        org: str,
        repo: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        policy: ratelimit.Policy | None = None,
        batch: int = BATCH,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(org, repo, policy, token)
        self.batch = batch
        base = api_url.rstrip("/")
        # GitHub Enterprise serves REST under /api/v3 and GraphQL under /api/graphql
        self.endpoint = base.removesuffix("/v3") + "/graphql" if base.endswith("/api/v3") else base + "/graphql"
        self._client = httpx.Client(
            headers={"Authorization": f"bearer {token}", "User-Agent": "krel"}, timeout=timeout
        )

    def get(self, numbers: Sequence[int], progress: Progress | None = None) -> dict[int, PullRequest]:
        """All the given pull requests, BATCH per query."""
        wanted = sorted(set(numbers))
        found: dict[int, PullRequest] = {}
        for start in range(0, len(wanted), self.batch):
            chunk = wanted[start : start + self.batch]
            found.update(self._fetch(chunk))
            if progress:
                progress(len(found), len(wanted))
        return found

    def _fetch(self, numbers: Sequence[int]) -> dict[int, PullRequest]:
        payload = {"query": _query(numbers), "variables": {"owner": self.org, "name": self.repo}}
        data = self._retried(lambda: self._post(payload), f"{self.api} {self.endpoint}")
        where = f"{self.api} {self.endpoint}"
        answer = data.get("data")
        repository = expect_object({} if answer is None else answer, f"{where}: data").get("repository")
        if repository is None:
            raise GitHubError(f"{self.api}: repository {self.org}/{self.repo} not found or not readable")
        repository = expect_object(repository, f"{where}: data.repository")
        result = {}
        for n in numbers:
            node = repository.get(f"pr{n}")
            if node is None:
                raise self._not_found(n)
            result[n] = _pull_request(node, f"{where}: pull request #{n}")
        return result

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._count_request()
        response = self._send(self._client, "POST", self.endpoint, json=payload)
        if response.status_code != 200:
            raise GitHubError(f"{self.api} {self.endpoint}: HTTP {response.status_code}")
        data = expect_object(self._json(response, self.endpoint), f"{self.api} {self.endpoint}: answer")
        errors = _errors(data.get("errors"))
        if any(e.get("type") == "RATE_LIMITED" for e in errors):
            wait = _reset_wait(response.headers.get("x-ratelimit-reset"), self.policy)
            log.warning("%s: rate limited, waiting %.0f s", self.api, wait)
            raise ratelimit.RetryableError("primary rate limit", wait)
        hard = [e for e in errors if e.get("type") != "NOT_FOUND"]
        if hard:
            raise GitHubError(f"{self.api}: {self._server_text(hard[0].get('message') or 'error')}")
        return data

    def close(self) -> None:
        """Close the keep-alive connection."""
        self._client.close()


def _errors(value: Any) -> list[dict[str, Any]]:
    """GraphQL `errors` as a list of objects: a lone object or plain strings (some proxies send those) are wrapped."""
    if not value:
        return []
    items = value if isinstance(value, list) else [value]
    return [e if isinstance(e, dict) else {"message": str(e)} for e in items]


def _reset_wait(reset: str | None, policy: ratelimit.Policy) -> float:
    """Seconds until x-ratelimit-reset (epoch seconds), or the secondary wait when the header is absent or garbled."""
    try:
        return max(0.0, float(reset or "") - policy.clock()) + 1.0
    except ValueError:
        return policy.secondary_wait
