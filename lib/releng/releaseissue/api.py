"""The GitHub issues calls the cut issue needs (create, read, edit), on the client krel ff's guard lists them with:
same token, retry policy and error lines as the notes' sources (releng.github)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releng.github.base import GitHubError, expect_object
from releng.github.issues import OpenIssues


@dataclass(frozen=True)
class Issue:
    """An issue as krel uses it."""

    number: int
    title: str
    body: str
    state: str  # open | closed
    url: str  # the web page


class IssueClient(OpenIssues):
    """GET/POST/PATCH on /repos/{org}/{repo}/issues[/{number}]; every call retried on rate limits and 5xx."""

    def find_open(self, title: str) -> Issue | None:
        """The open issue titled exactly `title` (GitHub's list of open issues, pull requests aside), or None."""
        item = self.find_item(title)
        return _issue(item, f"{self.api} {self.endpoint}") if item is not None else None

    def get(self, number: int) -> Issue:
        """Issue `number` as it is now."""
        return self._call("GET", f"{self.endpoint}/{number}")

    def create(self, title: str, body: str, assignees: tuple[str, ...] = ()) -> Issue:
        """POST a new issue."""
        payload: dict[str, Any] = {"title": title, "body": body}
        if assignees:
            payload["assignees"] = list(assignees)
        where = f"{self.api} POST {self.endpoint}"
        attempts = 0

        def once() -> Any:
            nonlocal attempts
            attempts += 1
            # A POST answered with a 5xx may still have created the issue: look before posting again (never two).
            earlier = self.find_item(title) if attempts > 1 else None
            if earlier is not None:
                return earlier
            self._count_request()
            return self._request("POST", self.endpoint, json=payload)

        return _issue(self._retried(once, where), where)

    def edit(self, number: int, *, body: str | None = None, state: str | None = None) -> Issue:
        """PATCH the body and/or the state of issue `number`."""
        payload = {key: value for key, value in (("body", body), ("state", state)) if value is not None}
        return self._call("PATCH", f"{self.endpoint}/{number}", json=payload)

    def close(self) -> None:
        """Release the HTTP connection."""
        self._client.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> Issue:
        where = f"{self.api} {method} {url}"

        def once() -> Any:
            self._count_request()
            return self._request(method, url, **kwargs)

        return _issue(self._retried(once, where), where)


def _issue(data: Any, where: str) -> Issue:
    """An Issue from GitHub's issue object; GitHubError naming `where` when the answer has another shape."""
    item = expect_object(data, where)
    try:
        return Issue(
            number=int(item["number"]),
            title=str(item.get("title") or ""),
            body=str(item.get("body") or ""),
            state=str(item.get("state") or "open"),
            url=str(item.get("html_url") or item.get("url") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"{where}: not a GitHub issue object ({type(exc).__name__}: {exc})") from None
