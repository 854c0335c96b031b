"""Handler rules that need no network: markers forward only (with races), provenance and SBOM, credentials."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from releng import markers, provenance, sbom
from releng.errors import ReleaseError
from releng.jobs.clients import Clients, ReleaseTexts
from releng.jobs.handlers import bucket
from releng.jobs.stage import required_credentials
from releng.jobs.steps import PublishMarkers
from releng.objectstore import PreconditionFailedError, open_store
from releng.profile import load_profile

VARS = {"krel_home": "/krel-home", "local_registry": "127.0.0.1:5000"}


def _backends(tmp_path: Path, store: Any = None) -> Clients:
    profile = load_profile("local", VARS)
    return Clients(ReleaseTexts(profile), stores={store.url: store} if store is not None else {})


def _markers(version: str) -> tuple[str, ...]:
    major, minor = version[1:].split(".")[:2]
    base = "stable" if "-" not in version else "latest"
    return (f"release/{base}.txt", f"release/{base}-{major}.txt", f"release/{base}-{major}.{minor}.txt")


def _released(store: Any, version: str) -> Any:
    """The release path holds the version's files, as it does when PublishMarkers runs after CopyToRelease."""
    store.put_new(f"release/{version}/demo.tar.gz", b"released")
    return store


# (already published, version released) -> markers afterwards, or the error
MARKER_CASES = [
    ({}, "v1.30.0-rc.1", {"latest.txt": "v1.30.0-rc.1", "latest-1.txt": "v1.30.0-rc.1",
                          "latest-1.30.txt": "v1.30.0-rc.1"}),
    ({"latest.txt": "v1.31.0-alpha.0", "latest-1.txt": "v1.31.0-alpha.0", "latest-1.30.txt": "v1.30.0-rc.0"},
     "v1.30.0-rc.1",
     {"latest.txt": "v1.31.0-alpha.0", "latest-1.txt": "v1.31.0-alpha.0", "latest-1.30.txt": "v1.30.0-rc.1"}),
    ({"stable.txt": "v1.31.2", "stable-1.txt": "v1.31.2", "stable-1.30.txt": "v1.30.4"}, "v1.30.5",
     {"stable.txt": "v1.31.2", "stable-1.txt": "v1.31.2", "stable-1.30.txt": "v1.30.5"}),
    ({"latest.txt": "v1.30.0-rc.1", "latest-1.txt": "v1.30.0-rc.1", "latest-1.30.txt": "v1.30.0-rc.1"},
     "v1.30.0-rc.1",
     {"latest.txt": "v1.30.0-rc.1", "latest-1.txt": "v1.30.0-rc.1", "latest-1.30.txt": "v1.30.0-rc.1"}),
    ({"latest-1.30.txt": "v1.30.0-rc.2"}, "v1.30.0-rc.1",
     "release/latest-1.30.txt holds v1.30.0-rc.2, newer than v1.30.0-rc.1; markers never move backwards"),
]


@pytest.mark.parametrize(("published", "version", "expected"), MARKER_CASES)
def test_markers_move_forward_only(tmp_path: Path, published: dict[str, str], version: str, expected: Any) -> None:
    store = open_store((tmp_path / "bucket").as_uri())
    for name, content in published.items():
        store.put_new(f"release/{name}", content.encode())
    _released(store, version)
    step = PublishMarkers(store.url, version, _markers(version))
    if isinstance(expected, str):
        with pytest.raises(markers.MarkerBackwardsError, match=expected):
            bucket.publish_markers(step, _backends(tmp_path, store))
        return
    before = {key: store.read_generation(key) for key in step.markers}
    bucket.publish_markers(step, _backends(tmp_path, store))
    after = {key.removeprefix("release/"): store.get(key).decode() for key in step.markers}
    assert after == {k: v for k, v in expected.items() if f"release/{k}" in step.markers}
    for key in step.markers:
        if before[key] is not None and before[key][0].decode() == after[key.removeprefix("release/")]:
            assert store.read_generation(key) == before[key]  # untouched, not rewritten


class _RacingStore:
    """A real store whose first `lose` generation-guarded writes lose a race (another writer got there first)."""

    def __init__(self, inner: Any, lose: int, rival: str) -> None:
        self.inner, self.lose, self.rival = inner, lose, rival
        self.url = inner.url

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_if_generation(self, key: str, data: bytes, generation: int | None, content_type: str | None = None) -> int:
        if self.lose > 0:
            self.lose -= 1
            current = self.inner.read_generation(key)
            self.inner.put_if_generation(key, self.rival.encode(), current[1] if current else None)
            raise PreconditionFailedError(f"{self.url}/{key}: generation changed")
        return int(self.inner.put_if_generation(key, data, generation, content_type))


def test_marker_write_retries_a_lost_race_and_rechecks(tmp_path: Path) -> None:
    store = _RacingStore(_released(open_store((tmp_path / "b").as_uri()), "v1.30.0-rc.1"), lose=1, rival="v1.30.0-rc.0")
    step = PublishMarkers(store.url, "v1.30.0-rc.1", _markers("v1.30.0-rc.1"))
    bucket.publish_markers(step, _backends(tmp_path, store))
    assert {store.get(k).decode() for k in _markers("v1.30.0-rc.1")} == {"v1.30.0-rc.1"}


def test_marker_race_won_by_a_newer_release_is_not_overwritten(tmp_path: Path) -> None:
    store = _RacingStore(_released(open_store((tmp_path / "b").as_uri()), "v1.30.0-rc.1"), lose=1,
                         rival="v1.31.0-alpha.1")
    step = PublishMarkers(store.url, "v1.30.0-rc.1", _markers("v1.30.0-rc.1"))
    bucket.publish_markers(step, _backends(tmp_path, store))
    assert store.get("release/latest.txt") == b"v1.31.0-alpha.1"
    assert store.get("release/latest-1.30.txt") == b"v1.30.0-rc.1"


def test_marker_for_a_version_with_no_released_files_is_refused(tmp_path: Path) -> None:
    store = open_store((tmp_path / "b").as_uri())
    store.put_new("release/v1.30.0-rc.10/demo.tar.gz", b"a neighbour with a longer name")
    step = PublishMarkers(store.url, "v1.30.0-rc.1", _markers("v1.30.0-rc.1"))
    with pytest.raises(ReleaseError, match=r"release files don't exist at .*/release/v1\.30\.0-rc\.1;"):
        bucket.publish_markers(step, _backends(tmp_path, store))
    assert not store.exists("release/latest.txt")


def test_marker_that_keeps_changing_is_an_error(tmp_path: Path) -> None:
    store = _RacingStore(_released(open_store((tmp_path / "b").as_uri()), "v1.30.0-rc.1"), lose=99, rival="v1.0.0-rc.0")
    step = PublishMarkers(store.url, "v1.30.0-rc.1", ("release/latest.txt",))
    with pytest.raises(ReleaseError, match="generation kept changing"):
        bucket.publish_markers(step, _backends(tmp_path, store))


def _staged(tmp_path: Path) -> tuple[Any, Path]:
    build = tmp_path / "_output-v1.0.0"
    tree = build / "gcs-stage" / "v1.0.0"
    (tree / "bin/linux/amd64").mkdir(parents=True)
    (tree / "demo.tar.gz").write_bytes(b"tarball")
    (tree / "bin/linux/amd64/demo").write_bytes(b"binary")
    (tree / "demo.tar.gz.sha256").write_text("not a subject")
    (build / "release-images/amd64").mkdir(parents=True)
    (build / "release-images/amd64/demo.tar").write_bytes(b"image")
    store = open_store((tmp_path / "bucket").as_uri())
    for path in sorted(p for p in build.rglob("*") if p.is_file()):
        store.put_new(f"stage/bv/v1.0.0/{path.relative_to(build).as_posix()}", path)
    return store, build


def test_provenance_names_every_staged_file_and_verifies(tmp_path: Path) -> None:
    store, build = _staged(tmp_path)
    subjects = provenance.subjects_of(build, "v1.0.0")
    # checksum files are published too, so they are subjects like any other staged object
    assert [s.name for s in subjects] == [
        "v1.0.0/gcs-stage/v1.0.0/bin/linux/amd64/demo", "v1.0.0/gcs-stage/v1.0.0/demo.tar.gz",
        "v1.0.0/gcs-stage/v1.0.0/demo.tar.gz.sha256", "v1.0.0/release-images/amd64/demo.tar"]
    assert (subjects[1].sha256, subjects[1].size) == (hashlib.sha256(b"tarball").hexdigest(), 7)
    doc = provenance.statement(subjects, "file:///up.git", "abc123", "bv", ["v1.0.0"], "builder")
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"] == {"gitCommit": "abc123"}
    assert provenance.encode(doc) == provenance.encode(json.loads(provenance.encode(doc)))
    store.put_new("stage/bv/provenance.json", provenance.encode(doc))
    assert len(provenance.verify(store, "stage/bv", "stage/bv/provenance.json")) == 4
    assert provenance.subject_sha256(store, "stage/bv/provenance.json", "v1.0.0/gcs-stage/v1.0.0/demo.tar.gz") == (
        hashlib.sha256(b"tarball").hexdigest())
    with pytest.raises(ReleaseError, match=r"records no subject src\.tar\.gz"):
        provenance.subject_sha256(store, "stage/bv/provenance.json", "src.tar.gz")

    tampered = store.root / "stage/bv/v1.0.0/gcs-stage/v1.0.0/demo.tar.gz"
    tampered.unlink()
    tampered.write_bytes(b"tarbal!")
    with pytest.raises(ReleaseError, match=r"demo\.tar\.gz: sha256 .* does not match provenance"):
        provenance.verify(store, "stage/bv", "stage/bv/provenance.json")
    tampered.unlink()
    with pytest.raises(ReleaseError, match=r"subject v1\.0\.0/gcs-stage/v1\.0\.0/demo\.tar\.gz is not staged"):
        provenance.verify(store, "stage/bv", "stage/bv/provenance.json")


def test_sbom_is_spdx_23_and_reproducible(tmp_path: Path) -> None:
    _, build = _staged(tmp_path)
    tree = build / "gcs-stage" / "v1.0.0"
    first = sbom.release_document(tree, "v1.0.0", "Demo", "file:///up.git", "abc123")
    assert first == sbom.release_document(tree, "v1.0.0", "Demo", "file:///up.git", "abc123")
    assert first["spdxVersion"] == "SPDX-2.3" and first["dataLicense"] == "CC0-1.0"
    assert {f["fileName"] for f in first["files"]} == {"./demo.tar.gz", "./bin/linux/amd64/demo"}
    sha1s = sorted(hashlib.sha1(data).hexdigest() for data in (b"tarball", b"binary"))
    code = first["packages"][0]["packageVerificationCode"]["packageVerificationCodeValue"]
    assert code == hashlib.sha1("".join(sha1s).encode()).hexdigest()
    assert sbom.write_release_sbom(tree, "v1.0.0", "Demo", "u", "c").name == "demo-release.spdx.json"


@pytest.mark.parametrize(
    ("profile", "nomock", "expected"),
    [
        ("local", False, ()),
        ("local", True, ()),
        ("kubernetes", False, ("google-cloud",)),
        ("kubernetes", True, ("google-cloud", "GITHUB_TOKEN")),
    ],
)
def test_required_credentials(profile: str, nomock: bool, expected: tuple[str, ...]) -> None:
    loaded = load_profile(profile, VARS)
    assert required_credentials(loaded.targets(nomock), loaded.upstream.url) == expected


def test_push_token_travels_in_git_env_config_only() -> None:
    from releng.jobs.handlers.git import _auth_env

    assert _auth_env("file:///srv/upstream.git", "ghp_secret") is None
    assert _auth_env("https://github.com/kubernetes/kubernetes", "") is None
    env = _auth_env("https://github.com/kubernetes/kubernetes", "ghp_secret")
    assert env is not None and env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hwX3NlY3JldA=="


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x7fELF\x02\x01" + bytes(12) + (62).to_bytes(2, "little"), "amd64"),
        (b"\x7fELF\x02\x01" + bytes(12) + (183).to_bytes(2, "little"), "arm64"),
        (b"\x7fELF\x02\x02" + bytes(12) + (22).to_bytes(2, "big"), "s390x"),
        (b"\x7fELF\x02\x01" + bytes(12) + (999).to_bytes(2, "little"), "e_machine 999"),
        (b"#!/bin/sh\necho hello world\n", None),
        (b"\x7fEL", None),
    ],
)
def test_elf_arch(tmp_path: Path, head: bytes, expected: str | None) -> None:
    from releng.jobs.handlers.build import elf_arch

    path = tmp_path / "bin"
    path.write_bytes(head + bytes(8))
    assert elf_arch(path) == expected


def _build_output(root: Path, image_arch: str = "arm64", binary: bytes = b"#!/bin/sh\n") -> Path:
    from releng.registry.imagetar import build_image_tarball

    (root / "release-tars").mkdir(parents=True)
    (root / "release-tars/demo.tar.gz").write_bytes(b"tgz")
    for arch in ("amd64", "arm64"):
        (root / f"bin/linux/{arch}").mkdir(parents=True)
        (root / f"bin/linux/{arch}/demo").write_bytes(binary)
        build_image_tarball(root / f"release-images/{arch}/demo.tar", {"x": b"y"}, image_arch if arch == "arm64"
                            else arch)
    return root


@pytest.mark.parametrize(
    ("image_arch", "binary", "error"),
    [
        ("arm64", b"#!/bin/sh\n", None),
        ("amd64", b"#!/bin/sh\n", r"release-images/arm64/demo\.tar: image is for amd64, expected arm64"),
        ("arm64", b"\x7fELF\x02\x01" + bytes(12) + (62).to_bytes(2, "little") + bytes(8),
         r"bin/linux/arm64/demo: binary is for amd64, expected arm64"),
    ],
)
def test_verify_artifacts_checks_arches(tmp_path: Path, image_arch: str, binary: bytes, error: str | None) -> None:
    from releng.jobs.handlers.build import verify_artifacts
    from releng.jobs.steps import VerifyArtifacts

    root = _build_output(tmp_path / "out", image_arch, binary)
    step = VerifyArtifacts(str(root), "v1.0.0", ("amd64", "arm64"), ("demo",))
    if error is None:
        verify_artifacts(step, _backends(tmp_path))
    else:
        with pytest.raises(ReleaseError, match=error):
            verify_artifacts(step, _backends(tmp_path))


@pytest.fixture
def tagged_repo(tmp_path: Path) -> Path:
    from releng import git
    from releng.profile import Author

    repo = git.init(tmp_path / "repo")
    (repo / "README").write_text("x")
    sha = git.commit_paths(repo, ["README"], "initial", Author("t", "t@localhost"))
    assert sha is not None
    git.tag(repo, "v1.0.0", sha, "v1.0.0", Author("t", "t@localhost"))
    return repo


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("mkdir -p _output && env > _output/env.txt", None),
        ("echo compiling; echo 'cc: fatal: out of memory' >&2; exit 3",
         "build command .* failed with exit code 3: cc: fatal: out of memory"),
        ("true", "build command 'true' produced no _output/"),
    ],
)
def test_build_runs_at_the_tag_without_secrets(
    tmp_path: Path, tagged_repo: Path, monkeypatch: pytest.MonkeyPatch, command: str, error: str | None
) -> None:
    from releng.jobs.handlers.build import BUILD_DONE, build_artifacts
    from releng.jobs.steps import BuildArtifacts

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_must_not_leak")
    step = BuildArtifacts(str(tagged_repo), "v1.0.0", "v1.0.0", command, "_output", str(tmp_path / "_output-v1.0.0"))
    if error is not None:
        with pytest.raises(ReleaseError, match=error):
            build_artifacts(step, _backends(tmp_path))
        return
    build_artifacts(step, _backends(tmp_path))
    env = (tmp_path / "_output-v1.0.0" / "env.txt").read_text()
    assert "KREL_VERSION=v1.0.0" in env and "ghp_must_not_leak" not in env
    assert (tmp_path / "_output-v1.0.0" / BUILD_DONE).exists() and not (tagged_repo / "_output").exists()
    build_artifacts(step, _backends(tmp_path))  # a rerun finds the build done


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of a bare upstream with two commits on master (the build commit is the second)."""
    from releng import git
    from releng.profile import Author

    work = git.init(tmp_path / "work")
    for name in ("a", "b"):
        (work / name).write_text(name)
        git.commit_paths(work, [name], name, Author("t", "t@localhost"))
    git.clone(str(work), tmp_path / "upstream.git", bare=True)
    return git.clone(str(tmp_path / "upstream.git"), tmp_path / "clone")


def _tag_step(repo: Path, version: str, branch: str, create: bool, release_commit: bool) -> Any:
    from releng import git
    from releng.jobs.steps import TagVersion

    return TagVersion(str(repo), version, git.rev_parse(repo, "master"), branch, create, release_commit,
                      f"Demo release {version}", f"Release commit for Demo {version}",
                      load_profile("local", VARS).git_author)


def test_tagging_a_new_branch_is_idempotent_and_survives_a_kill(tmp_path: Path, clone: Path) -> None:
    from releng import git
    from releng.jobs.handlers.git import tag_version

    build = git.rev_parse(clone, "master")
    rc0 = _tag_step(clone, "v1.0.0-rc.0", "release-1.0", True, True)
    alpha0 = _tag_step(clone, "v1.1.0-alpha.0", "master", False, False)
    b = _backends(tmp_path)
    tag_version(rc0, b)
    tag_version(alpha0, b)
    rc0_commit = git.tag_commit(clone, "v1.0.0-rc.0")
    assert git.run(clone, "rev-parse", f"{rc0_commit}^").strip() == build
    assert git.rev_parse(clone, "release-1.0") == rc0_commit
    assert git.tag_commit(clone, "v1.1.0-alpha.0") == build
    tag_version(rc0, b)  # a rerun changes nothing
    tag_version(alpha0, b)
    assert git.tag_commit(clone, "v1.0.0-rc.0") == rc0_commit
    assert git.rev_parse(clone, "release-1.0") == rc0_commit

    # killed after the empty release commit, before the tag: the rerun tags that commit, makes no second one
    git.run(clone, "tag", "-d", "v1.0.0-rc.0")
    git.checkout(clone, "release-1.0")
    time.sleep(1.1)  # a recreated release commit would now get a new timestamp, so a new sha
    tag_version(rc0, b)
    assert git.tag_commit(clone, "v1.0.0-rc.0") == rc0_commit


def test_tagging_refuses_a_moved_branch_and_a_remote_tag_elsewhere(tmp_path: Path, clone: Path) -> None:
    from releng import git
    from releng.jobs.handlers.git import tag_version
    from releng.profile import Author

    b = _backends(tmp_path)
    step = _tag_step(clone, "v1.0.1", "release-1.0", False, True)
    git.checkout(clone, "release-1.0", create=True)
    (clone / "c").write_text("c")
    git.commit_paths(clone, ["c"], "c", Author("t", "t@localhost"))
    with pytest.raises(ReleaseError, match=r"branch release-1\.0 is at .*, not at the build commit"):
        tag_version(step, b)

    upstream = tmp_path / "upstream.git"
    git.run(upstream, "tag", "v1.0.2", git.rev_parse(upstream, "master^"))
    with pytest.raises(git.TagConflictError, match=r"tag v1\.0\.2 already exists but points to commit"):
        tag_version(_tag_step(clone, "v1.0.2", "master", False, False), b)
