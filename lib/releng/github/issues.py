"""Open issues of a repository through GitHub's REST API (httpx), for krel ff's release-cut guard.

krel (pkg/fastforward, kubernetes/release#2814) lists the open issues of the release team's repository and skips
the fast-forward while one titled "Cut vX.Y.0 release" is open: a fast-forward during a cut can conflict with the
sources already staged. Same token, rate-limit and retry handling as the notes' sources (releng.github.ratelimit).
"""

from __future__ import annotations

import functools
from typing import Any

import httpx

from releng.github import names, ratelimit
from releng.github.base import DEFAULT_API_URL, GitHubError, LiveSource, expect_object

PER_PAGE = 100
MAX_PAGES = 50  # 5,000 open issues: far above any real repository; a server that never ends the list is refused


class OpenIssues(LiveSource):
    """GET /repos/{org}/{repo}/issues?state=open page by page; pull requests (which that list includes) skipped."""

    api = "GitHub REST"

    def __init__(
        self,
        org: str,
        repo: str,
        token: str = "",
        api_url: str = DEFAULT_API_URL,
        policy: ratelimit.Policy | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(names.owner(org), names.repository(repo), policy, token)
        self.endpoint = f"{api_url.rstrip('/')}/repos/{org}/{repo}/issues"
        # krel's client works without a token too (GitHub's unauthenticated limit); send one only when there is one
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "krel"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def find(self, title: str) -> str:
        """The web URL of the open issue titled exactly `title` (pull requests aside), or '' when there is none."""
        try:
            item = self.find_item(title)
        finally:
            self._client.close()
        return str(item.get("html_url") or item.get("url") or "") if item else ""

    def find_item(self, title: str) -> dict[str, Any] | None:
        """The open issue titled exactly `title` as GitHub sends it (pull requests aside), or None."""
        for page in range(1, MAX_PAGES + 1):
            items = self._retried(functools.partial(self._page, page), f"{self.api} {self.endpoint} page {page}")
            for item in items:
                if "pull_request" not in item and item.get("title") == title:
                    return item
            if len(items) < PER_PAGE:
                return None
        raise GitHubError(f"{self.api} {self.endpoint}: more than {MAX_PAGES} pages of open issues; refusing to go on")

    def _page(self, page: int) -> list[dict[str, Any]]:
        self._count_request()
        params: dict[str, str | int] = {"state": "open", "per_page": PER_PAGE, "page": page}
        answer = self._request("GET", self.endpoint, params=params)
        if not isinstance(answer, list):
            raise GitHubError(f"{self.api} {self.endpoint}: expected a JSON list of issues")
        return [expect_object(item, f"{self.api} {self.endpoint}: issue") for item in answer]

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        """One call and its JSON answer; rate limits, 5xx and connection errors raise RetryableError (the caller
        retries), anything else that is not a 2xx is one GitHubError naming the call."""
        response = self._send(self._client, method, url, **kwargs)
        if response.status_code == 404:
            raise GitHubError(f"{self.api}: repository {self.org}/{self.repo} not found or not readable")
        if response.status_code not in (200, 201):
            detail = self._server_text(response.text)
            suffix = f": {detail}" if detail else ""
            raise GitHubError(f"{self.api} {method} {url}: HTTP {response.status_code}{suffix}")
        return self._json(response, f"{method} {url}")


def open_issue_titled(
    repository: str,
    title: str,
    token: str = "",
    api_url: str = DEFAULT_API_URL,
    policy: ratelimit.Policy | None = None,
) -> str:
    """The URL of the open issue `title` in `repository` ("owner/name"), '' when none is open."""
    org, _, repo = repository.partition("/")
    return OpenIssues(org, repo, token, api_url, policy).find(title)
