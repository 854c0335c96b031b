"""ui.table off a terminal: TSV with a header, one record per line, ids/digests/paths never wrapped or altered."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from krel import ui

DIGEST = "sha256:" + "ab" * 32
LONG_PATH = "/home/runner/.krel/workspaces/local/file:///stage/v1.31.0-rc.0.12+0123456789abcdef/release/x.tar.gz"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    out = capsys.readouterr().out
    assert out.endswith("\n")
    return out.removesuffix("\n").split("\n")


def test_table_off_a_terminal_is_tsv_with_a_header(capsys: pytest.CaptureFixture[str]) -> None:
    ui.table("images", ["image", "digest", "path"], [("kube-apiserver", DIGEST, LONG_PATH), ("pause", DIGEST, "-")])
    assert _lines(capsys) == [
        "image\tdigest\tpath",
        f"kube-apiserver\t{DIGEST}\t{LONG_PATH}",
        f"pause\t{DIGEST}\t-",
    ]


def test_table_with_no_rows_still_names_its_columns(capsys: pytest.CaptureFixture[str]) -> None:
    ui.table("nothing", ["a", "b"], [])
    assert _lines(capsys) == ["a\tb"]


# Each hostile cell must stay inside its own record: one line, as many fields as columns, nothing from a terminal.
HOSTILE_CELLS = {
    "tab": ("a\tb", "a b"),
    "newline": ("first\nsecond", "first second"),
    "crlf": ("first\r\nsecond", "first second"),
    "carriage-return": ("ok\rforged", "okforged"),
    "escape-sequence": ("\x1b[31mred\x1b[0m", "red"),
    "osc-title": ("\x1b]0;pwned\x07text", "text"),
    "c1-csi": ("\x9b31mx", "31mx"),
    "markup": ("[bold]x[/bold] [/]", "[bold]x[/bold] [/]"),
    "very-long": ("x" * 500, "x" * 500),
    "empty": ("", ""),
    "non-str": (12345, "12345"),
    "unicode": ("größe ✓ 版本", "größe ✓ 版本"),
}


@pytest.mark.parametrize(("cell", "expected"), list(HOSTILE_CELLS.values()), ids=list(HOSTILE_CELLS))
def test_hostile_cell_stays_in_its_record(capsys: pytest.CaptureFixture[str], cell: object, expected: str) -> None:
    ui.table("t", ["before", "cell", "after"], [("L", cell, "R")])
    lines = _lines(capsys)
    assert lines == ["before\tcell\tafter", f"L\t{expected}\tR"]


def test_records_off_a_terminal_have_no_header(capsys: pytest.CaptureFixture[str]) -> None:
    ui.records("copies", ["from", "digest"], [("a", DIGEST)])
    assert _lines(capsys) == [f"a\t{DIGEST}"]


def test_table_on_a_terminal_is_a_rich_table(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    terminal = ui._SafeConsole(file=buffer, force_terminal=True, width=200, color_system=None, markup=False)
    monkeypatch.setattr(ui, "console", terminal)
    ui.table("images", ["image", "digest"], [("pause", DIGEST)])
    text = buffer.getvalue()
    assert "images" in text and "┃" in text and DIGEST in text and "\t" not in text


def test_print_json_is_plain(capsys: pytest.CaptureFixture[str]) -> None:
    ui.print_json({"b": 1, "a": "x"})
    assert capsys.readouterr().out == '{\n  "a": "x",\n  "b": 1\n}\n'


def test_pipe_console_is_not_a_terminal() -> None:
    # The guard the TSV branch depends on: a console writing to a pipe (or CliRunner's buffer) is not a terminal.
    assert not Console(file=io.StringIO()).is_terminal
