from pathlib import Path

import pytest
from releng.gcb import jobfile


@pytest.mark.parametrize(
    ("status", "changed"),
    [
        ("QUEUED", True),
        ("WORKING", True),
        ("SUCCESS", False),
        ("FAILURE", False),
        ("CANCELLED", False),
        ("TIMEOUT", False),
        ("INTERNAL_ERROR", False),
    ],
)
def test_conclude_only_ends_unfinished_records(status: str, changed: bool) -> None:
    record = {"status": status, "finish_time": None, "detail": "before"}
    assert jobfile.conclude(record, "FAILURE", "worker died") is changed
    if changed:
        assert record["status"] == "FAILURE" and record["detail"] == "worker died"
        assert jobfile.parse_stamp(record["finish_time"]) is not None
    else:
        assert record == {"status": status, "finish_time": None, "detail": "before"}


def test_finish_first_writer_wins(tmp_path: Path) -> None:
    jobfile.write(tmp_path, {"id": "j1", "status": "WORKING", "finish_time": None, "detail": ""})
    assert jobfile.finish(tmp_path, "CANCELLED", "cancelled")["status"] == "CANCELLED"
    again = jobfile.finish(tmp_path, "SUCCESS", "")
    assert again["status"] == "CANCELLED" and again["detail"] == "cancelled"
    assert jobfile.read(tmp_path)["status"] == "CANCELLED"
