import os
from pathlib import Path

import pytest
from releng.files import write_atomic


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("plain text\n", b"plain text\n"),
        ("naïve ünïcode ✓", "naïve ünïcode ✓".encode()),
        (b"\x00\xffbinary", b"\x00\xffbinary"),
        ("", b""),
        ("line one\r\nline two\n", b"line one\r\nline two\n"),  # no newline translation
    ],
)
def test_write_atomic_writes_exact_bytes(tmp_path: Path, data: str | bytes, expected: bytes) -> None:
    target = tmp_path / "deep" / "dir" / "out.txt"
    write_atomic(target, data)
    assert target.read_bytes() == expected
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_write_atomic_replaces_existing(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_exclusive_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "msg.eml"
    write_atomic(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomic(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["msg.eml"]


def test_permissions_follow_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a", "x")
        write_atomic(tmp_path / "b", "x", exclusive=True)
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o644


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "taken", "x")  # os.replace cannot put a file over a directory
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
