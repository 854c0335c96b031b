"""krel history: the stage/release commands run for a branch in a date range, as a markdown table for the issue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from releng.errors import UsageError
from releng.gcb.base import Job, JobRunner
from releng.templates import render

# krel's wording in the "Succeeded?" column.
STATUS_WORDS = {"SUCCESS": "Yes", "FAILURE": "No", "CANCELLED": "No, Canceled", "TIMEOUT": "No, Timeout"}
HEADER = ("Step", "Command", "Link", "Start", "Duration", "Succeeded?")


@dataclass(frozen=True)
class HistoryRow:
    """One finished job as a row of the release issue's table."""

    step: str
    command: str
    link: str
    start: str
    duration: str
    succeeded: str

    # the same job in plain values for --json: no markdown, the runner's own state
    job: str = ""  # "stage" or "release"
    nomock: bool = False
    plain_command: str = ""
    start_time: datetime | None = None
    seconds: int = 0
    state: str = ""  # SUCCESS, FAILURE, CANCELLED, TIMEOUT, ...

    def cells(self) -> tuple[str, ...]:
        """The row's columns in HEADER order."""
        return (self.step, self.command, self.link, self.start, self.duration, self.succeeded)

    def as_json(self) -> dict[str, object]:
        """The row for `krel history --json`: real field names and values (issue 12 item 5)."""
        return {
            "step": self.job,
            "nomock": self.nomock,
            "command": self.plain_command,
            "link": self.link,
            "start": self.start_time.astimezone(UTC).isoformat() if self.start_time else "",
            "duration_seconds": self.seconds,
            "state": self.state,
        }


def date_range(date_from: str, date_to: str = "") -> tuple[datetime, datetime]:
    """From midnight of date_from to midnight after date_to (date_from when empty), UTC (krel parseDateRange)."""
    if not date_from:
        raise UsageError("--date-from: need to specify a start date (YYYY-MM-DD)")
    start = _day(date_from, "--date-from")
    end = _day(date_to, "--date-to") if date_to else start
    if end < start:
        raise UsageError(f"--date-to: {date_to} is before --date-from {date_from}")
    return _midnight(start), _midnight(end + timedelta(days=1))


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag}: invalid date {text!r}: expected YYYY-MM-DD") from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def history_rows(jobs: Iterable[Job]) -> list[HistoryRow]:
    """Finished stage/release jobs, oldest first, with the command reconstructed from their substitutions."""
    rows: list[HistoryRow] = []
    finished = [j for j in jobs if j.kind and j.start_time is not None and j.finish_time is not None]
    for job in sorted(finished, key=lambda j: (j.create_time or j.start_time or datetime.min.replace(tzinfo=UTC))):
        subs = job.substitutions
        command = (
            f"krel {job.kind} --type {subs.get('_TYPE', '')} --branch {subs.get('_RELEASE_BRANCH', '')}"
            f" --build-version {subs.get('_BUILDVERSION', '')}"
        )
        nomock = subs.get("_NOMOCK", "")
        command += f" {nomock}" if nomock else ""
        assert job.start_time is not None and job.duration is not None
        rows.append(
            HistoryRow(
                step=f"`{'' if nomock else 'mock '}{job.kind}`",
                command=f"`{command}`",
                link=job.log_url,
                start=_stamp(job.start_time),
                duration=_hms(job.duration),
                succeeded=STATUS_WORDS.get(job.status, job.status),
                job=job.kind,
                nomock=bool(nomock),
                plain_command=command,
                start_time=job.start_time,
                seconds=_seconds(job.duration),
                state=job.status,
            )
        )
    return rows


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 10000:02d}Z"


def _seconds(duration: timedelta) -> int:
    return max(int(duration.total_seconds()), 0)


def _hms(duration: timedelta) -> str:
    seconds = _seconds(duration)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def history(runner: JobRunner, branch: str, date_from: str, date_to: str = "") -> list[HistoryRow]:
    """The rows for jobs tagged with `branch` created in the date range (krel history)."""
    start, end = date_range(date_from, date_to)
    return history_rows(runner.list_jobs(tags=(branch,), created_after=start, created_before=end))


def render_history(rows: list[HistoryRow], profile_dir: Path | None = None) -> str:
    """The markdown table to paste into the release issue; a profile's template directory may override it."""
    return render("cloudbuild/history.md", profile_dir=profile_dir, header=HEADER, rows=[r.cells() for r in rows])
