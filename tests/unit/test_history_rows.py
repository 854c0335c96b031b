"""krel history: rows reconstructed from job substitutions, krel's wording, oldest first, markdown table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from releng.errors import UsageError
from releng.gcb.base import Job
from releng.gcb.history import date_range, history_rows, render_history

T0 = datetime(2020, 6, 18, 10, 0, 0, tzinfo=UTC)


def _job(kind: str, nomock: bool, status: str, start_min: int, minutes: float, finished: bool = True) -> Job:
    start = T0 + timedelta(minutes=start_min)
    return Job(
        id=f"{kind}-{start_min}",
        status=status,
        runner="gcb",
        create_time=start - timedelta(seconds=30),
        start_time=start,
        finish_time=start + timedelta(minutes=minutes) if finished else None,
        substitutions={
            "_TYPE": "rc",
            "_RELEASE_BRANCH": "release-1.19",
            "_BUILDVERSION": "v1.19.0-rc.0.1+abcdef0123456",
            "_NOMOCK": "--nomock" if nomock else "",
        },
        tags=(kind.upper(), "release-1.19"),
        log_url=f"https://console.cloud.google.com/cloud-build/builds/{kind}-{start_min}",
    )


def test_rows_oldest_first_with_krel_wording() -> None:
    jobs = [
        _job("release", True, "SUCCESS", 300, 19.5),
        _job("stage", False, "CANCELLED", 0, 1),
        _job("stage", True, "TIMEOUT", 200, 240),
        _job("stage", False, "SUCCESS", 60, 69 + 1 / 60),
        _job("release", False, "FAILURE", 150, 20),
        _job("stage", False, "WORKING", 400, 0, finished=False),
    ]
    rows = history_rows(jobs)
    assert [r.cells() for r in rows] == [
        (
            "`mock stage`",
            "`krel stage --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456`",
            "https://console.cloud.google.com/cloud-build/builds/stage-0",
            "2020-06-18T10:00:00.00Z",
            "00:01:00",
            "No, Canceled",
        ),
        (
            "`mock stage`",
            "`krel stage --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456`",
            "https://console.cloud.google.com/cloud-build/builds/stage-60",
            "2020-06-18T11:00:00.00Z",
            "01:09:01",
            "Yes",
        ),
        (
            "`mock release`",
            "`krel release --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456`",
            "https://console.cloud.google.com/cloud-build/builds/release-150",
            "2020-06-18T12:30:00.00Z",
            "00:20:00",
            "No",
        ),
        (
            "`stage`",
            "`krel stage --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456 --nomock`",
            "https://console.cloud.google.com/cloud-build/builds/stage-200",
            "2020-06-18T13:20:00.00Z",
            "04:00:00",
            "No, Timeout",
        ),
        (
            "`release`",
            "`krel release --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456 --nomock`",
            "https://console.cloud.google.com/cloud-build/builds/release-300",
            "2020-06-18T15:00:00.00Z",
            "00:19:30",
            "Yes",
        ),
    ]


def test_markdown_table() -> None:
    table = render_history(history_rows([_job("stage", False, "SUCCESS", 0, 44)]))
    assert table.splitlines() == [
        "| Step | Command | Link | Start | Duration | Succeeded? |",
        "|---|---|---|---|---|---|",
        "| `mock stage` | `krel stage --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456`"
        " | https://console.cloud.google.com/cloud-build/builds/stage-0 | 2020-06-18T10:00:00.00Z | 00:44:00 | Yes |",
    ]
    assert render_history([]).splitlines() == [
        "| Step | Command | Link | Start | Duration | Succeeded? |",
        "|---|---|---|---|---|---|",
    ]


@pytest.mark.parametrize(
    ("date_from", "date_to", "start", "end"),
    [
        ("2020-06-18", "", datetime(2020, 6, 18, tzinfo=UTC), datetime(2020, 6, 19, tzinfo=UTC)),
        ("2020-06-18", "2020-06-20", datetime(2020, 6, 18, tzinfo=UTC), datetime(2020, 6, 21, tzinfo=UTC)),
        ("2020-12-31", "", datetime(2020, 12, 31, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)),
    ],
)
def test_date_range(date_from: str, date_to: str, start: datetime, end: datetime) -> None:
    assert date_range(date_from, date_to) == (start, end)


@pytest.mark.parametrize(
    ("date_from", "date_to", "message"),
    [
        ("", "", "--date-from: need to specify a start date"),
        ("18.06.2020", "", "--date-from: invalid date '18.06.2020'"),
        ("2020-06-18", "tomorrow", "--date-to: invalid date 'tomorrow'"),
        ("2020-06-18", "2020-06-01", "--date-to: 2020-06-01 is before --date-from 2020-06-18"),
    ],
)
def test_date_range_errors(date_from: str, date_to: str, message: str) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("?", r"\?")):
        date_range(date_from, date_to)
