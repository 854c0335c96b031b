"""The release SBOM is valid SPDX 2.3 (spdx-tools parses and validates it), names every artifact with its checksums,
and is dated by the release commit, never 1970."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from releng import checksums, git, sbom
from releng.objectstore import open_store
from releng.profile import Author
from spdx_tools.spdx.model import ChecksumAlgorithm
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

ARTIFACTS = {"demo.tar.gz": b"tarball", "demo-src.tar.gz": b"source", "bin/linux/amd64/demo": b"binary",
             "bin/linux/arm64/demo": b"binary arm64", "weird name+1.txt": b"x"}
CREATED = sbom.creation_time(1_700_000_000)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "gcs-stage" / "v1.2.3"
    for rel, data in ARTIFACTS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_creation_time_is_utc_seconds() -> None:
    assert CREATED == "2023-11-14T22:13:20Z"
    assert sbom.creation_time(0) == "1970-01-01T00:00:00Z"  # only when the commit says so


UPSTREAMS = {"file:///up.git": "NOASSERTION", "/srv/up.git": "NOASSERTION",
             "https://github.com/demo/demo.git": "git+https://github.com/demo/demo.git@0123abc"}


@pytest.mark.parametrize("upstream", sorted(UPSTREAMS))
def test_spdx_tools_parse_and_validate_it(tree: Path, upstream: str) -> None:
    path = sbom.write_release_sbom(tree, "v1.2.3", "Demo", upstream, "0123abc", CREATED)
    location = json.loads(path.read_text())["packages"][0]["downloadLocation"]
    assert location == UPSTREAMS[upstream]
    checksums.write_checksums(tree)
    document = parse_file(str(path))
    assert validate_full_spdx_document(document) == []
    assert document.creation_info.created.isoformat() == "2023-11-14T22:13:20"
    names = {f.name: f for f in document.files}
    # every artifact, with its SHA256; nothing else (not the SBOM itself, not the checksum files)
    assert set(names) == {f"./{rel}" for rel in ARTIFACTS}
    for rel, data in ARTIFACTS.items():
        sums = {c.algorithm: c.value for c in names[f"./{rel}"].checksums}
        assert sums[ChecksumAlgorithm.SHA256] == hashlib.sha256(data).hexdigest()
        assert sums[ChecksumAlgorithm.SHA1] == hashlib.sha1(data).hexdigest()
    listed = checksums.listed_files(open_store(tree.as_uri()), "")
    assert {f"./{rel}" for rel in listed} - set(names) == {f"./{path.name}"}


def test_signing_side_files_are_not_artifacts(tree: Path) -> None:
    checksums.write_checksums(tree)
    for extra in ("demo.tar.gz.sig", "SHA256SUMS.sig", "demo-release.spdx.intoto.jsonl", "release-key.pub"):
        (tree / extra).write_text("side file")
    document = sbom.release_document(tree, "v1.2.3", "Demo", "file:///up.git", "0123abc", CREATED)
    assert {f["fileName"] for f in document["files"]} == {f"./{rel}" for rel in ARTIFACTS}


def test_release_commit_time_dates_it(tmp_path: Path) -> None:
    """The stage step dates the SBOM by the tag's commit: same tag, same document, on any day it runs."""
    repo = git.init(tmp_path / "repo")
    author = Author("Robot", "robot@localhost")
    git.run(repo, "commit", "--allow-empty", "-q", "-m", "release",
            env={"GIT_COMMITTER_DATE": "2024-02-29T12:34:56+05:00", "GIT_AUTHOR_DATE": "2001-01-01T00:00:00Z",
                 "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
                 "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email})
    git.run(repo, "tag", "v1.2.3")
    assert sbom.release_time(repo, "v1.2.3") == "2024-02-29T07:34:56Z"  # committer time, in UTC
