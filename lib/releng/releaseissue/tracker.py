"""Open, update and close a cut's tracking issue on GitHub: found by its title among the open issues (the list krel
ff's guard reads), never opened twice, edited only when krel's block changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from releng.errors import ReleaseError, UsageError
from releng.gcb.base import Job
from releng.gcb.history import history_rows
from releng.github import ratelimit
from releng.github.base import DEFAULT_API_URL
from releng.profile import Profile
from releng.releaseissue import checklist
from releng.releaseissue.api import Issue, IssueClient
from releng.releaseissue.checklist import Run
from releng.releaseissue.cut import CutIssue, history_runs, packages_runs, render_block, render_body


@dataclass(frozen=True)
class Outcome:
    """What a command did to the issue."""

    number: int
    url: str
    title: str
    state: str
    created: bool = False
    changed: bool = False  # a write was made (POST or PATCH)

    def as_json(self) -> dict[str, object]:
        return {"number": self.number, "url": self.url, "title": self.title, "state": self.state,
                "created": self.created, "changed": self.changed}


def open_client(cut: CutIssue, token: str, api_url: str = DEFAULT_API_URL,
                policy: ratelimit.Policy | None = None) -> IssueClient:
    """The issues client for the cut's repository; writing issues needs a token (one line when there is none)."""
    if not token:
        raise UsageError(
            f"release-issue: GITHUB_TOKEN is not set: export a token that may write issues in {cut.repository}"
        )
    org, _, repo = cut.repository.partition("/")
    return IssueClient(org, repo, token, api_url, policy)


def _outcome(issue: Issue, created: bool = False, changed: bool = False) -> Outcome:
    return Outcome(number=issue.number, url=issue.url, title=issue.title, state=issue.state, created=created,
                   changed=changed)


def _builds_packages(profile: Profile) -> bool:
    return profile.packages is not None


def open_issue(client: IssueClient, profile: Profile, cut: CutIssue, today: str) -> Outcome:
    """The open issue with the cut's title, or a new one from templates/releaseissue/issue.md.j2."""
    found = client.find_open(cut.title)
    if found is not None:
        return _outcome(found)
    block = render_block({}, _builds_packages(profile), profile.template_dir())
    return _outcome(client.create(cut.title, render_body(profile, cut, today, block)), created=True, changed=True)


class NoOpenIssueError(ReleaseError):
    """The cut has no open issue (never opened, or closed once announced)."""


def _find(client: IssueClient, cut: CutIssue) -> Issue:
    found = client.find_open(cut.title)
    if found is None:
        raise NoOpenIssueError(
            f"release-issue: no open issue {cut.title!r} in {cut.repository} (closed, or never opened): "
            f"krel release-issue open --tag {cut.tag}"
        )
    return found


def update_issue(client: IssueClient, profile: Profile, cut: CutIssue, runs: Iterable[Run]) -> Outcome:
    """Tick and fill in the checklist from the evidence; no PATCH when krel's block would not change."""
    issue = _find(client, cut)
    parts = checklist.split(issue.body, issue.url or cut.title)
    evidence = list(runs)
    packages = _builds_packages(profile)
    entries = checklist.merge(parts.entries, [*evidence, *packages_runs(evidence, packages)])
    body = checklist.join(parts, render_block(entries, packages, profile.template_dir()))
    if body == issue.body.replace("\r\n", "\n"):
        return _outcome(issue)
    return _outcome(client.edit(issue.number, body=body), changed=True)


def close_issue(client: IssueClient, cut: CutIssue, force: bool = False) -> Outcome:
    """Close the issue once its announce item is ticked (anything else needs force)."""
    issue = _find(client, cut)
    announced = checklist.split(issue.body, issue.url or cut.title).entries.get("announce", checklist.Entry()).done
    if not announced and not force:
        raise ReleaseError(
            f"release-issue: {issue.url or cut.title}: the announcement is not ticked yet; send it "
            f"(krel announce send --tag {cut.tag} --nomock) or close anyway with --force"
        )
    return _outcome(client.edit(issue.number, state="closed"), changed=True)


def history_evidence(jobs: Iterable[Job], extra: Iterable[Run] = ()) -> list[Run]:
    """The evidence an update uses: the cut's finished jobs (as `krel history` reads them) and `extra` (this run)."""
    return [*history_runs(history_rows(jobs)), *extra]
