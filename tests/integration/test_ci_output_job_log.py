"""A job's streamed log in a pipe (issue 12 item 5): the record rows a job prints (TSV) come without the runner's
`Step #N - "id": ` prefix, every other line keeps it; run on the real local runner, with a real worker process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from releng.gcb.base import BuildRequest, StepSpec
from releng.gcb.local import LocalRunner

from krel import ui

# What the step prints: a header line, two TSV records, a record holding an escape sequence, and a plain line
SCRIPT = r"""printf 'staged v1.0.0\nimage\tdigest\nkube-apiserver\tsha256:%s\npause\t-\n' "$(printf 'ab%.0s' $(seq 32))"
printf 'evil\t\033]0;title\007x\ndone, no tab here\n'
printf 'last line without a break\tz'"""


def _request() -> BuildRequest:
    step = StepSpec(name="bash", id="krel-stage", entrypoint="bash", args=("-c", SCRIPT))
    return BuildRequest(kind="stage", project="p", steps=(step,), substitutions={}, tags=(), timeout_s=60)


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    runner = LocalRunner(tmp_path_factory.mktemp("jobs"))
    job = runner.submit(_request())
    out = io.StringIO()
    log = ui.JobLog(out)
    final = runner.stream(job.id, log.write, poll_s=0.05)
    log.close()
    assert final.status == "SUCCESS", out.getvalue()
    return out.getvalue().splitlines()


def test_record_rows_lose_the_step_prefix(streamed: list[str]) -> None:
    assert "image\tdigest" in streamed
    assert f"kube-apiserver\tsha256:{'ab' * 32}" in streamed
    assert "pause\t-" in streamed
    assert "last line without a break\tz" in streamed  # the tail the job ended without a line break


def test_other_lines_keep_it(streamed: list[str]) -> None:
    assert 'Step #0 - "krel-stage": staged v1.0.0' in streamed
    assert 'Step #0 - "krel-stage": done, no tab here' in streamed
    assert all("\t" not in line for line in streamed if line.startswith("Step #"))


def test_no_escape_reaches_the_pipe(streamed: list[str]) -> None:
    assert all("\x1b" not in line and "\x07" not in line for line in streamed)
    assert "evil\tx" in streamed  # the whole OSC sequence removed, the record kept


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param('Step #3 - "krel-stage": a\tb', "a\tb", id="record"),
        pytest.param("Step #12: a\tb", "a\tb", id="record-step-without-id"),
        pytest.param('Step #3 - "krel-stage": plain', 'Step #3 - "krel-stage": plain', id="plain-kept"),
        pytest.param("a\tb", "a\tb", id="no-prefix"),
        pytest.param('Step #x - "s": a\tb', 'Step #x - "s": a\tb', id="not-a-step-number"),
        pytest.param('Xstep #1 - "s": a\tb', 'Xstep #1 - "s": a\tb', id="prefix-not-at-start"),
        pytest.param('Step #1 - "a": Step #2 - "b": c\td', 'Step #2 - "b": c\td', id="one-prefix-only"),
        pytest.param("", "", id="empty"),
    ],
)
def test_record_row(line: str, expected: str) -> None:
    assert ui.record_row(line) == expected


def test_chunks_split_anywhere_give_the_same_lines(tmp_path: Path) -> None:
    text = 'Step #0 - "s": a\tb\nStep #0 - "s": plain\nStep #0 - "s": c\td\n'
    whole, pieces = io.StringIO(), io.StringIO()
    ui.JobLog(whole).write(text)
    log = ui.JobLog(pieces)
    for i in range(len(text)):
        log.write(text[i])
    assert whole.getvalue() == pieces.getvalue() == "a\tb\nStep #0 - \"s\": plain\nc\td\n"
