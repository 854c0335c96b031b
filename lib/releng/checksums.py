"""krel's checksum file layout: write SHA256SUMS/SHA512SUMS and per-file sums, verify them over a store."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from releng import layout
from releng.digests import ALGORITHMS, hash_files, hash_stream
from releng.errors import ReleaseError
from releng.objectstore import open_store
from releng.objectstore.base import ObjectStore

SUMS_FILES = {"sha256": "SHA256SUMS", "sha512": "SHA512SUMS"}
_SKIP_SUFFIXES = (".sha256", ".sha512")


def is_checksum_file(name: str) -> bool:
    """True for the files write_checksums produces, and for signing's side files (never checksummed, as in krel)."""
    base = name.rsplit("/", 1)[-1]
    return base in SUMS_FILES.values() or base.endswith(_SKIP_SUFFIXES) or layout.is_signing_file(base)


def _tree_files(root: Path) -> list[Path]:
    files = [Path(d) / f for d, _, names in os.walk(root) for f in names]
    return sorted(p for p in files if not is_checksum_file(p.name))


def write_checksums(root: Path, workers: int = 2) -> dict[str, tuple[str, str]]:
    """krel layout: `<file>.sha256`/`<file>.sha512` (hex only) per file, plus SHA256SUMS/SHA512SUMS over the tree."""
    if not root.is_dir():
        raise ReleaseError(f"checksums: {root} is not a directory")
    digests = hash_files(_tree_files(root), workers=workers)
    by_rel = {p.relative_to(root).as_posix(): d for p, d in digests.items()}
    try:
        for path, (sha256, sha512) in digests.items():
            path.with_name(path.name + ".sha256").write_text(sha256)
            path.with_name(path.name + ".sha512").write_text(sha512)
        for index, algorithm in enumerate(ALGORITHMS):
            lines = "".join(f"{d[index]}  {rel}\n" for rel, d in sorted(by_rel.items()))
            (root / SUMS_FILES[algorithm]).write_text(lines)
    except OSError as e:
        raise ReleaseError(f"checksums: cannot write checksum files under {root}: {e.strerror or e}") from e
    return by_rel


@dataclass(frozen=True)
class Verified:
    """Result of verify_checksums: the relative paths that were checked against both sums files."""

    files: tuple[str, ...]


class ChecksumMismatchError(ReleaseError):
    """A staged file does not match its recorded digest."""

    @classmethod
    def for_file(cls, where: str, rel: str, algorithm: str, want: str, got: str) -> ChecksumMismatchError:
        return cls(f"{where}/{rel}: {algorithm} is {got[:16]}…, expected {want[:16]}… from {SUMS_FILES[algorithm]}")


def _parse_sums(text: str, where: str, sums_name: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or not rel or not digest.isalnum():
            raise ReleaseError(f"{where}/{sums_name}:{number}: expected '<hex>  <path>', got {line[:60]!r}")
        entries[rel] = digest.lower()
    return entries


def listed_files(store: ObjectStore, prefix: str) -> tuple[str, ...]:
    """The paths SHA256SUMS under prefix lists (read only; verify_checksums checks them)."""
    base = prefix.strip("/")
    name = SUMS_FILES["sha256"]
    text = store.get(f"{base}/{name}" if base else name).decode()
    return tuple(sorted(_parse_sums(text, f"{store.url}/{base}" if base else store.url, name)))


def verify_checksums(
    source: ObjectStore | Path | str, prefix: str = "", workers: int = 4, unlisted_ok: bool = False
) -> Verified:
    """Check every file listed in SHA256SUMS/SHA512SUMS (and its .sha256/.sha512 files) under prefix.

    source is a store, a local directory (Path) or a store URL (str). `unlisted_ok`: other files may sit beside
    them (a release directory also holds notes and the announcement).
    """
    if isinstance(source, Path):
        store = open_store(source.resolve().as_uri())
    elif isinstance(source, str):
        store = open_store(source)
    else:
        store = source
    base = prefix.strip("/")
    where = f"{store.url}/{base}" if base else store.url

    def key(rel: str) -> str:
        return f"{base}/{rel}" if base else rel

    sums = {}
    for algorithm, sums_name in SUMS_FILES.items():
        if not store.exists(key(sums_name)):
            raise ReleaseError(f"{where}: {sums_name} is missing; expected checksums written by the stage step")
        sums[algorithm] = _parse_sums(store.get(key(sums_name)).decode(), where, sums_name)
    if set(sums["sha256"]) != set(sums["sha512"]):
        odd = sorted(set(sums["sha256"]) ^ set(sums["sha512"]))
        raise ReleaseError(f"{where}: SHA256SUMS and SHA512SUMS list different files (e.g. {odd[0]})")
    listed = {info.key[len(base) + 1:] if base else info.key for info in store.list(f"{base}/" if base else "")}
    unlisted = sorted(rel for rel in listed if not is_checksum_file(rel) and rel not in sums["sha256"])
    if unlisted and not unlisted_ok:
        raise ReleaseError(f"{where}: {unlisted[0]} is not in SHA256SUMS ({len(unlisted)} unlisted files)")

    def check(rel: str) -> None:
        if rel not in listed:
            raise ReleaseError(f"{where}/{rel}: listed in SHA256SUMS but missing")
        with store.reader(key(rel)) as stream:
            got = hash_stream(stream)
        for algorithm in ALGORITHMS:
            want = sums[algorithm][rel]
            if got[algorithm] != want:
                raise ChecksumMismatchError.for_file(where, rel, algorithm, want, got[algorithm])
            side = f"{rel}.{algorithm}"
            if side in listed and store.get(key(side)).decode().strip().lower() != want:
                raise ReleaseError(f"{where}/{side}: does not match {SUMS_FILES[algorithm]}")

    files = sorted(sums["sha256"])
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="verify") as pool:
        try:
            for future in [pool.submit(check, rel) for rel in files]:
                future.result()
        finally:
            pool.shutdown(cancel_futures=True)
    return Verified(tuple(files))
