import os
import signal
import subprocess
import time
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


def test_kill_group_kills_the_whole_group_and_ignores_a_gone_one() -> None:
    # The leader starts a child in its group, as a build step does; both must die.
    proc = subprocess.Popen(["sh", "-c", "sleep 30 & wait"], process_group=0)
    try:
        jobfile.kill_group(proc.pid)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert _group_gone(proc.pid)
        jobfile.kill_group(proc.pid)  # already gone: no error
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _group_gone(pgid: int) -> bool:
    # The killed child is a zombie until its new parent reaps it; give that a moment.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False
