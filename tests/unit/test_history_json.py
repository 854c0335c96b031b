"""krel history --json: real field names and values, no markdown (issue 12 item 5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from releng.gcb.base import Job
from releng.gcb.history import history_rows

T0 = datetime(2020, 6, 18, 10, 0, 0, tzinfo=UTC)


def _job(kind: str, status: str, nomock: str, branch: str = "release-1.19") -> Job:
    return Job(
        id=f"{kind}-1", status=status, runner="gcb", create_time=T0, start_time=T0,
        finish_time=T0 + timedelta(minutes=44, seconds=5),
        substitutions={"_TYPE": "rc", "_RELEASE_BRANCH": branch, "_BUILDVERSION": "v1.19.0-rc.0.1+abcdef0123456",
                       "_NOMOCK": nomock},
        tags=(kind.upper(), branch), log_url="https://example.test/log/1",
    )


@pytest.mark.parametrize(
    ("status", "nomock"),
    [("SUCCESS", "--nomock"), ("FAILURE", ""), ("CANCELLED", ""), ("TIMEOUT", "--nomock")],
    ids=["success-nomock", "failure-mock", "cancelled", "timeout"],
)
def test_json_row_is_plain_values(status: str, nomock: str) -> None:
    [row] = history_rows([_job("release", status, nomock)])
    record = row.as_json()
    assert record == {
        "step": "release",
        "nomock": bool(nomock),
        "command": f"krel release --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456"
                   f"{' --nomock' if nomock else ''}",
        "link": "https://example.test/log/1",
        "start": "2020-06-18T10:00:00+00:00",
        "duration_seconds": 44 * 60 + 5,
        "state": status,
    }
    assert datetime.fromisoformat(str(record["start"])) == T0


@pytest.mark.parametrize(
    "branch",
    ["release-1.19`|<b>x</b>", "release-1.19\n| injected |", "master`"],
    ids=["backtick-pipe-html", "newline-table-row", "trailing-backtick"],
)
def test_hostile_substitutions_stay_one_json_string(branch: str) -> None:
    [row] = history_rows([_job("stage", "SUCCESS", "", branch)])
    record = row.as_json()
    assert json.loads(json.dumps(record))["command"].split("--branch ")[1].startswith(branch)
    assert not str(record["command"]).startswith("`")
