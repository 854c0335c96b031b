"""Which sha512s an announcement quotes, and for which released file: a table of HTML shapes plus a property."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.announce.send import quoted_checksums
from releng.errors import ReleaseError

TAG = "v1.30.2"
A = hashlib.sha512(b"a").hexdigest()
B = hashlib.sha512(b"b").hexdigest()


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>no tables at all</p>", []),
        (f'<td><a href="https://dl.k8s.io/{TAG}/kubernetes.tar.gz">k</a></td><td>{A}</td>', [("kubernetes.tar.gz", A)]),
        (f"<a href='https://dl.k8s.io/release/{TAG}/bin/linux/amd64/kubectl'>x</a> {A.upper()}",
         [("bin/linux/amd64/kubectl", A)]),
        (f"<a href=https://dl.k8s.io/{TAG}/a.tar.gz>a</a>{A}<a href=https://dl.k8s.io/{TAG}/b.tar.gz>b</a>{B}",
         [("a.tar.gz", A), ("b.tar.gz", B)]),
        (f'<a href="https://dl.k8s.io/{TAG}/a%2Bb.tar.gz?x=1&amp;y=2">a</a> {A}', [("a+b.tar.gz", A)]),
        (f'<a href="file:///tmp/buckets/release/release/{TAG}/demo.tar.gz">d</a> | {A}', [("demo.tar.gz", A)]),
        # a 64-hex sha256 or a longer hex run is not a quoted sha512
        (f'<a href="https://dl.k8s.io/{TAG}/a.tar.gz">a</a> {A[:64]} {A}0', []),
    ],
)
def test_quoted_checksums(html: str, expected: list[tuple[str, str]]) -> None:
    assert quoted_checksums(html, TAG) == expected


@pytest.mark.parametrize(
    "html",
    [
        f"<p>{A}</p>",  # no link before it
        f'<a href="https://dl.k8s.io/v1.30.1/a.tar.gz">other release</a> {A}',  # link to another tag
        f'<a href="https://dl.k8s.io/{TAG}/">dir</a> {A}',  # link to the release directory itself
    ],
)
def test_unattributable_checksum_is_refused(html: str) -> None:
    with pytest.raises(ReleaseError, match="cannot tell which released file"):
        quoted_checksums(html, TAG)


@given(st.text())
def test_any_text_parses_or_raises_release_error(text: str) -> None:
    try:
        result = quoted_checksums(text, TAG)
    except ReleaseError:
        return
    assert all(len(digest) == 128 for _, digest in result)
