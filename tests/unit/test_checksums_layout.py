"""Checksums: one-read digests equal hashlib's, krel's file layout, and verification of a tree or store."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from releng.checksums import (
    ChecksumMismatchError,
    is_checksum_file,
    verify_checksums,
    write_checksums,
)
from releng.digests import HashingReader, hash_file, hash_stream
from releng.errors import ReleaseError
from releng.objectstore import open_store


@pytest.mark.parametrize("size", [0, 1, 4 * 1024 * 1024 - 1, 4 * 1024 * 1024, 9 * 1024 * 1024 + 7])
def test_hash_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(path) == (hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest())
    assert hash_file(path, ("md5",)) == (hashlib.md5(data).hexdigest(),)


@settings(max_examples=40, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=8), read_size=st.integers(1, 5000))
def test_hashing_reader_sees_every_byte_once(chunks: list[bytes], read_size: int) -> None:
    data = b"".join(chunks)
    seen: list[int] = []
    reader = HashingReader(io.BytesIO(data), on_bytes=seen.append)  # type: ignore[arg-type]
    out = b""
    while part := reader.read(read_size):
        out += part
    digests = reader.hasher.hexdigests()
    assert out == data and sum(seen) == len(data) and reader.tell() == len(data)
    assert digests == {"sha256": hashlib.sha256(data).hexdigest(), "sha512": hashlib.sha512(data).hexdigest()}


def test_hash_file_missing_is_release_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"checksums: cannot read .*missing"):
        hash_file(tmp_path / "missing")


def _tree(root: Path) -> dict[str, bytes]:
    files = {
        "kubernetes.tar.gz": b"tar",
        "bin/linux/amd64/kubectl": b"kubectl-amd64",
        "bin/linux/arm64/kubectl": b"kubectl-arm64",
        "extra/gce/node.yaml": b"node: yes\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_write_checksums_layout(tmp_path: Path) -> None:
    files = _tree(tmp_path)
    write_checksums(tmp_path)
    for rel, data in files.items():
        assert (tmp_path / f"{rel}.sha256").read_text() == hashlib.sha256(data).hexdigest()
        assert (tmp_path / f"{rel}.sha512").read_text() == hashlib.sha512(data).hexdigest()
    lines = (tmp_path / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == sorted(files)
    assert f"{hashlib.sha256(b'tar').hexdigest()}  kubernetes.tar.gz" in lines
    sha512 = (tmp_path / "SHA512SUMS").read_text()
    assert f"{hashlib.sha512(b'kubectl-arm64').hexdigest()}  bin/linux/arm64/kubectl\n" in sha512
    # Rerunning does not checksum the checksum files.
    write_checksums(tmp_path)
    assert (tmp_path / "SHA256SUMS").read_text().splitlines() == lines
    assert not (tmp_path / "SHA256SUMS.sha256").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("SHA256SUMS", True), ("a/b.sha512", True), ("x.sha256", True), ("kubectl", False), ("SHA256SUMS.txt", False)],
)
def test_is_checksum_file(name: str, expected: bool) -> None:
    assert is_checksum_file(name) is expected


def test_verify_dir_and_store(tmp_path: Path) -> None:
    root = tmp_path / "stage" / "v1.0.0"
    root.mkdir(parents=True)
    files = _tree(root)
    write_checksums(root)
    assert verify_checksums(root).files == tuple(sorted(files))
    assert verify_checksums(tmp_path.as_uri(), "stage/v1.0.0/").files == tuple(sorted(files))
    assert verify_checksums(open_store(tmp_path.as_uri()), "stage/v1.0.0").files == tuple(sorted(files))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: (r / "bin/linux/amd64/kubectl").write_bytes(b"evil"), "kubectl: sha256 is .* expected"),
        (lambda r: (r / "kubernetes.tar.gz").unlink(), "kubernetes.tar.gz: listed in SHA256SUMS but missing"),
        (lambda r: (r / "new-file").write_bytes(b"x"), "new-file is not in SHA256SUMS"),
        (lambda r: (r / "SHA512SUMS").unlink(), "SHA512SUMS is missing"),
        (lambda r: (r / "SHA256SUMS").write_text("garbage\n"), r"SHA256SUMS:1: expected '<hex>  <path>'"),
        (lambda r: (r / "extra/gce/node.yaml.sha512").write_text("00"), r"node.yaml.sha512: does not match"),
        (lambda r: (r / "SHA512SUMS").write_text("ab  only-this\n"), "list different files"),
    ],
)
def test_verify_finds_damage(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path)
    write_checksums(tmp_path)
    damage(tmp_path)
    with pytest.raises(ReleaseError, match=message) as info:
        verify_checksums(tmp_path)
    assert "\n" not in str(info.value)


def test_mismatch_error_type(tmp_path: Path) -> None:
    _tree(tmp_path)
    write_checksums(tmp_path)
    (tmp_path / "kubernetes.tar.gz").write_bytes(b"other")
    with pytest.raises(ChecksumMismatchError):
        verify_checksums(tmp_path)


def test_hash_stream_on_bytes_callback() -> None:
    seen: list[int] = []
    hash_stream(io.BytesIO(b"a" * 10), on_bytes=seen.append)  # type: ignore[arg-type]
    assert seen == [10]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_sums_parser_parses_or_raises_ours(text: str) -> None:
    from releng.checksums import _parse_sums

    try:
        entries = _parse_sums(text, "gs://b/p", "SHA256SUMS")
    except ReleaseError as e:
        assert "\n" not in str(e)
    else:
        assert all(rel and digest for rel, digest in entries.items())


class _NoReadinto:
    """A stream with only read(): read_view must fall back to copying into its buffer."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=20000), size=st.integers(1, 7000), readinto=st.booleans())
def test_read_view_reuses_buffers_and_hashes_every_byte(data: bytes, size: int, readinto: bool) -> None:
    raw = io.BytesIO(data) if readinto else _NoReadinto(data)
    reader = HashingReader(raw, on_bytes=None)  # type: ignore[arg-type]
    out = bytearray()
    while view := reader.read_view(size):
        out += view  # consumed before the next call, as the contract says
    reader.close()
    assert bytes(out) == data
    assert reader.hasher.hexdigests() == {"sha256": hashlib.sha256(data).hexdigest(),
                                          "sha512": hashlib.sha512(data).hexdigest()}


@pytest.mark.parametrize("size", [0, 300, 70_000])
def test_small_files_are_hashed_without_large_buffers(tmp_path: Path, size: int) -> None:
    """A release verifies hundreds of small objects: each must not zero-fill 4 MiB read buffers."""
    import tracemalloc

    path = tmp_path / "small"
    path.write_bytes(os.urandom(size))
    tracemalloc.start()
    try:
        digests = hash_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digests[0] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert peak < 1 << 20, peak
