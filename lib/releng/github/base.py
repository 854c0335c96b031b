"""The pull-request data notes need, the one Protocol every GitHub source implements, and what the live
sources (GraphQL, REST) share: repository, retry policy, request count and their error messages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import httpx

from releng import secrets
from releng.errors import ReleaseError
from releng.github import ratelimit
from releng.notes.pullrequest import PullRequest

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"

# (done, total): called after each pull request is known; the CLI renders it as a bar.
Progress = Callable[[int, int], None]


class GitHubError(ReleaseError):
    """A GitHub source failed (HTTP error, bad payload, missing recording)."""


def from_rest(data: Any, where: str) -> PullRequest:
    """Build a PullRequest from a REST pull-request object; GitHubError naming `where` if it is not one."""
    try:
        user = data.get("user") or {}
        head = data.get("head") or {}
        login = str(user.get("login") or "")
        return PullRequest(
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            labels=tuple(str(label["name"]) for label in data.get("labels") or []),
            author=login,
            author_url=str(user.get("html_url") or (f"https://github.com/{login}" if login else "")),
            url=str(data.get("html_url") or ""),
            merge_commit_sha=str(data.get("merge_commit_sha") or ""),
            base_ref=str((data.get("base") or {}).get("ref") or ""),
            head_ref=str(head.get("ref") or ""),
            head_label=str(head.get("label") or ""),
            updated_at=str(data.get("updated_at") or ""),
            merged_at=str(data.get("merged_at") or ""),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"{where}: not a GitHub pull request object ({type(exc).__name__}: {exc})") from exc


def expect_object(value: Any, where: str) -> dict[str, Any]:
    """value if it is a JSON object; GitHubError naming `where` and what came instead (a list, a string...)."""
    if not isinstance(value, dict):
        raise GitHubError(f"{where}: expected a JSON object, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", type(None): "null", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


class PullRequests(Protocol):
    """Pull-request data by number for one repository."""

    def get(self, numbers: Sequence[int], progress: Progress | None = None) -> dict[int, PullRequest]:
        """Fetch the given pull requests; raise GitHubError if any cannot be had."""
        ...

    @property
    def requests(self) -> int:
        """HTTP requests made so far (0 for offline sources)."""
        ...


class LiveSource:
    """Base of the sources that call GitHub: `api` names them in messages; the request count is thread-safe."""

    api = "GitHub"

    def __init__(self, org: str, repo: str, policy: ratelimit.Policy | None, token: str = "") -> None:
        self.org, self.repo = org, repo
        self._token = token
        self.policy = policy or ratelimit.Policy()
        self._lock = threading.Lock()
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self._requests

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def _retried(self, fn: Callable[[], T], where: str) -> T:
        """fn under the retry policy; GitHubError naming `where` once the attempts run out."""
        try:
            return ratelimit.call(fn, self.policy)
        except ratelimit.RetryableError as exc:
            raise GitHubError(f"{where}: gave up after {self.policy.attempts} attempts ({exc.reason})") from None

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call for _retried: connection errors, rate limits and 5xx raise RetryableError, a 401 is one
        GitHubError; any other answer comes back for the caller to judge (who counts the request)."""
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise ratelimit.RetryableError(f"connection error: {type(exc).__name__}", 1.0, backoff=True) from exc
        retry = ratelimit.classify(response.status_code, response.headers, response.text, self.policy)
        if retry is not None:
            log.warning("%s: %s, waiting %.0f s", self.api, retry.reason, retry.wait)
            raise retry
        if response.status_code == 401:
            raise self._unauthorized()
        return response

    def _json(self, response: httpx.Response, where: str) -> Any:
        """The answer's JSON; GitHubError naming `where` when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            raise GitHubError(f"{self.api} {where}: answer is not JSON") from None

    def _server_text(self, text: object) -> str:
        """Text GitHub sent back, for an error line: the token and credential patterns masked, one short line."""
        masked = secrets.mask_credentials(secrets.mask(str(text), [self._token] if self._token else []))
        return " ".join(masked.split())[:300]

    def _unauthorized(self) -> GitHubError:
        return GitHubError(f"{self.api}: 401 Unauthorized: check GITHUB_TOKEN")

    def _not_found(self, number: int) -> GitHubError:
        return GitHubError(f"{self.api}: pull request #{number} not found in {self.org}/{self.repo}")
