from dataclasses import dataclass
from pathlib import Path

import pytest
from releng.errors import ReleaseError, StepError
from releng.journal import Journal
from releng.plan import Plan, Step
from releng.report import RecordingReporter
from releng.runner import apply


@dataclass(frozen=True)
class Write(Step):
    name: str


def test_apply_runs_in_order_and_journals(tmp_path: Path) -> None:
    seen: list[str] = []
    journal = Journal(tmp_path / "journal.jsonl")
    plan = Plan("job", (Write("a"), Write("b")))
    report = RecordingReporter()
    apply(plan, {Write: lambda s: seen.append(s.name)}, journal, report)
    assert seen == ["a", "b"]
    assert [e for e in report.events if e[0] == "step"] == [("step", "1", "2", "Write"), ("step", "2", "2", "Write")]
    again = Journal(tmp_path / "journal.jsonl")
    assert again.done(Write("a").key()) and again.done(Write("b").key())


def test_failure_stops_and_names_step(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(step: Write) -> None:
        if step.name == "b":
            raise ReleaseError("disk full")
        seen.append(step.name)

    journal = Journal(tmp_path / "j.jsonl")
    with pytest.raises(StepError, match="Write: disk full"):
        apply(Plan("job", (Write("a"), Write("b"), Write("c"))), {Write: handler}, journal, RecordingReporter())
    assert seen == ["a"]
    assert not Journal(tmp_path / "j.jsonl").done(Write("b").key())


def test_truncated_journal_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal(path).record("k1", "t")
    with path.open("a") as f:
        f.write('{"key": "k2", "ti')
    j = Journal(path)
    assert j.done("k1") and not j.done("k2")
