"""Pull requests through GitHub's REST API with PyGithub: one call per PR, at most 10 in flight (as krel)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import github
import requests
from github.Repository import Repository

from releng.github import ratelimit
from releng.github.base import DEFAULT_API_URL, GitHubError, LiveSource, Progress, from_rest
from releng.notes.pullrequest import PullRequest

log = logging.getLogger(__name__)

CONCURRENCY = 10


class RestPullRequests(LiveSource):
    """GET /repos/{org}/{repo}/pulls/{n} per pull request, PyGithub's own throttle and retry turned off."""

    api = "GitHub REST"

    def __init__(
        self,
        org: str,
        repo: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        policy: ratelimit.Policy | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        super().__init__(org, repo, policy, token)
        self.concurrency = concurrency
        self._client_args = {"base_url": api_url.rstrip("/"), "token": token, "name": f"{org}/{repo}"}
        # PyGithub's connection keeps each request's verb and URL on the shared connection object until the
        # response is read, so threads sharing one client can receive each other's answers: one client per thread.
        self._local = threading.local()

    def _repo(self) -> Repository:
        repo: Repository | None = getattr(self._local, "repo", None)
        if repo is None:
            args = self._client_args
            # Our retry policy replaces PyGithub's; its default 0.25 s spacing would make 2,000 PRs take minutes.
            client = github.Github(
                base_url=args["base_url"],
                auth=github.Auth.Token(args["token"]),
                retry=None,
                seconds_between_requests=0,
                seconds_between_writes=0,
                lazy=True,  # no GET /repos/{org}/{repo} before the first pull request
            )
            repo = self._local.repo = client.get_repo(args["name"])
        return repo

    def get(self, numbers: Sequence[int], progress: Progress | None = None) -> dict[int, PullRequest]:
        """All the given pull requests, fetched concurrently."""
        wanted = sorted(set(numbers))
        found: dict[int, PullRequest] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for pr in pool.map(self._one, wanted):
                found[pr.number] = pr
                if progress:
                    progress(len(found), len(wanted))
        return found

    def _one(self, number: int) -> PullRequest:
        raw = self._retried(lambda: self._fetch(number), f"{self.api}: pull request #{number}")
        return from_rest(raw, f"{self.api} pull request #{number}")

    def _fetch(self, number: int) -> dict[str, object]:
        self._count_request()
        try:
            raw: dict[str, object] = self._repo().get_pull(number).raw_data
            if raw.get("number") != number:
                # Seen under load with concurrent requests: an answer for another PR must not replace this one
                # (keyed by its own number, it would overwrite that PR and silently drop this one).
                raise ratelimit.RetryableError(f"answered pull request {raw.get('number')!r}", 0.2, backoff=True)
            return raw
        except github.UnknownObjectException:
            raise self._not_found(number) from None
        except github.BadCredentialsException:
            raise self._unauthorized() from None
        except github.GithubException as exc:
            message = str(exc.data) if exc.data else ""
            retry = ratelimit.classify(exc.status, exc.headers or {}, message, self.policy)
            if retry is None:
                raise GitHubError(f"{self.api}: pull request #{number}: HTTP {exc.status}") from None
            log.warning("%s: %s, waiting %.0f s", self.api, retry.reason, retry.wait)
            raise retry from None
        except requests.RequestException as exc:
            raise ratelimit.RetryableError(f"connection error: {type(exc).__name__}", 1.0, backoff=True) from None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # PyGithub reads the answer into its objects; one of another shape (a list, strings) breaks that.
            raise GitHubError(
                f"{self.api}: pull request #{number}: answer of an unexpected shape ({type(exc).__name__})"
            ) from None
