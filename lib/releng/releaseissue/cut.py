"""PURE: which issue tracks a cut (repository, title from the validated tag), the evidence each item gets from the
job history, and the issue's text rendered from templates/releaseissue/."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from releng import version
from releng.errors import ReleaseError, UsageError
from releng.gcb.base import SUCCESS
from releng.gcb.history import HistoryRow
from releng.profile import Profile
from releng.releaseissue import issue_title
from releng.releaseissue.checklist import BEGIN, END, ITEMS, Entry, Run, best_run, state_comment
from releng.templates import render


@dataclass(frozen=True)
class CutIssue:
    """The tracking issue of one cut, named from the profile and a validated tag."""

    repository: str  # owner/name
    title: str
    tag: str
    branch: str  # release-X.Y


def cut_issue(profile: Profile, tag: str) -> CutIssue:
    """The cut issue for `tag`; the tag is the one value that reaches the title and body, so it is checked here."""
    try:
        parsed = version.parse_tag(tag)
    except ReleaseError as exc:
        raise UsageError(f"release-issue: --tag: {exc}") from None
    repository = profile.cut_issue_repository()
    if not repository:
        raise UsageError(
            f"release-issue: profile {profile.name} names no repository for the cut issue: set [release_issue] repo "
            "(or upstream.cut_issue_repo) to owner/name"
        )
    return CutIssue(repository=repository, title=issue_title(profile.upstream.cut_issue_title, tag), tag=tag,
                    branch=version.release_branch_for(parsed))


def history_runs(rows: Iterable[HistoryRow]) -> list[Run]:
    """Stage and release jobs from `krel history`'s reader as evidence for the four job items."""
    return [
        Run(key=f"{'' if row.nomock else 'mock-'}{row.job}", succeeded=row.state == SUCCESS, result=row.succeeded,
            link=row.link, start=_iso(row.start_time), duration=row.duration, command=row.plain_command)
        for row in rows
        if row.job in ("stage", "release")
    ]


def job_run(job: str, nomock: bool, start: datetime, finish: datetime, link: str, command: str) -> Run:
    """This stage or release run, finished successfully (its own job is not in the history until it ends)."""
    seconds = max(int((finish - start).total_seconds()), 0)
    return Run(key=f"{'' if nomock else 'mock-'}{job}", succeeded=True, result="Yes", link=link, start=_iso(start),
               duration=f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}", command=command)


def announce_run(sent_at: datetime, recipients: int, command: str) -> Run:
    """The announcement mailed to the production lists."""
    return Run(key="announce", succeeded=True, result=f"sent to {recipients} recipient(s)", start=_iso(sent_at),
               command=command)


def packages_runs(runs: Iterable[Run], builds_packages: bool) -> list[Run]:
    """krel release publishes the packages before the announcement: the packages item follows the nomock release."""
    release = best_run(r for r in runs if r.key == "release")
    if not builds_packages or release is None:
        return []
    result = "published with the release" if release.succeeded else release.result
    return [Run(key="packages", succeeded=release.succeeded, result=result, link=release.link, start=release.start)]


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


@dataclass(frozen=True)
class Row:
    """One checklist line as the template prints it: every text one line, no backticks or comment markers."""

    key: str
    label: str
    done: bool
    command: str
    link: str
    start: str
    duration: str
    result: str
    note: str


def _line(text: str) -> str:
    """Text from a job record or a human, made safe for one markdown line inside krel's block."""
    flat = " ".join(text.split()).replace("`", "'")
    return flat.replace("<", "&lt;").replace(">", "&gt;")[:300]


def rows(entries: Mapping[str, Entry], builds_packages: bool) -> list[Row]:
    """The checklist lines in order."""
    found = []
    for item in ITEMS:
        entry = entries.get(item.key, Entry())
        note = "ticked by hand" if entry.by_hand else ""
        if item.key == "packages" and not builds_packages and not entry.done:
            note = "this profile builds no packages"
        found.append(Row(key=item.key, label=item.label, done=entry.done, command=_line(entry.command),
                         link=entry.link, start=_line(entry.start), duration=_line(entry.duration),
                         result=_line(entry.result), note=note))
    return found


def render_block(entries: Mapping[str, Entry], builds_packages: bool, profile_dir: Path | None = None) -> str:
    """krel's block, begin marker to end marker."""
    return render("releaseissue/block.md.j2", profile_dir=profile_dir, begin=BEGIN, end=END,
                  rows=rows(entries, builds_packages), state=state_comment(entries)).rstrip("\n")


def render_body(profile: Profile, cut: CutIssue, today: str, block: str) -> str:
    """The body of a new cut issue: date, release managers, links, and krel's block."""
    parsed = version.parse_tag(cut.tag)
    fill = {"{major}": str(parsed.major), "{minor}": str(parsed.minor), "{patch}": str(parsed.patch),
            "{tag}": cut.tag}
    return render(
        "releaseissue/issue.md.j2", profile_dir=profile.template_dir(), title=cut.title, tag=cut.tag, date=today,
        branch=cut.branch, managers=profile.release_issue.managers, product=profile.product,
        upstream=f"{profile.upstream.org}/{profile.upstream.repo}",
        changelog=_fill(profile.links.changelog, fill), release_page=_fill(profile.links.github_release, fill),
        block=block,
    )


def _fill(link: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        link = link.replace(key, value)
    return link
