"""`krel stage|release --json` list the artifacts CI reads: every file with its URL, size and sha256, every image with
its digest; the release writes the same list as release/<v>/artifacts.json, once, and its preflight refuses a
release whose existing artifacts.json says something else (issue 12 item 5). Local profile, real git, file://
buckets, a real registry; one stage + release for the whole module (slow: a real stage, release and rerun)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from releng import layout
from releng.artifacts import ArtifactsError
from releng.jobs.clients import open_clients
from releng.jobs.handlers.artifacts import check_write_artifacts, write_artifacts
from releng.jobs.steps import WriteArtifacts
from releng.profile import Profile, load_profile
from releng.registry.client import RegistryClient

from tests.fixtures.releaseflow import FlowEnv, flow_generator

pytestmark = pytest.mark.slow
BRANCH_ARGS = ["--branch", "release-1.0", "--type", "rc"]
VERSIONS = ["v1.0.0-rc.0", "v1.1.0-alpha.0"]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> Iterator[FlowEnv]:
    home = tmp_path_factory.mktemp("artifacts") / "krel-home"
    registry = registry_factory("ci-output-artifacts")
    yield FlowEnv(home, registry.host, flow_generator().create(home))
    registry.stop()


@pytest.fixture(scope="module")
def runs(flow: FlowEnv) -> dict[str, dict[str, Any]]:
    staged = flow.krel("stage", *BRANCH_ARGS, "--json")
    assert staged.returncode == 0, staged.stderr[-2000:]
    released = flow.krel("release", *BRANCH_ARGS, "--build-version", flow.build_version, "--json")
    assert released.returncode == 0, released.stderr[-2000:]
    return {"stage": json.loads(staged.stdout), "release": json.loads(released.stdout)}


def _object(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(url.removeprefix("file://"))


@pytest.mark.parametrize("job", ["stage", "release"])
def test_every_file_is_where_its_url_says_with_its_size_and_sha256(runs: dict[str, dict[str, Any]], job: str) -> None:
    listed = runs[job]["artifacts"]
    assert [entry["version"] for entry in listed] == VERSIONS
    for entry in listed:
        assert entry["files"], entry["version"]
        assert [f["name"] for f in entry["files"]] == sorted(f["name"] for f in entry["files"])
        for f in entry["files"]:
            data = _object(f["url"]).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (f["size"], f["sha256"]), f["url"]
            where = "/release/" if job == "release" else "/stage/"
            assert where in f["url"] and f["url"].endswith("/" + f["name"])


@pytest.mark.parametrize("job", ["stage", "release"])
def test_every_image_has_the_digest_its_tag_names(flow: FlowEnv, runs: dict[str, dict[str, Any]], job: str) -> None:
    images = [image for entry in runs[job]["artifacts"] for image in entry["images"]]
    assert images
    for image in images:
        host, _, rest = image["ref"].partition("/")
        repo, _, tag = rest.rpartition(":")
        with RegistryClient(host) as client:
            descriptor = client.head_manifest(repo, tag)
        assert descriptor is not None and descriptor.digest == image["digest"], image
        assert image["digest"].startswith("sha256:")


def test_the_release_writes_the_same_list_once(flow: FlowEnv, runs: dict[str, dict[str, Any]]) -> None:
    bucket = flow.bucket("mock")
    for entry in runs["release"]["artifacts"]:
        written = bucket / layout.artifacts_key(entry["version"])
        assert json.loads(written.read_text()) == entry
    # files are the same objects stage listed, now below release/<v>/
    for staged, released in zip(runs["stage"]["artifacts"], runs["release"]["artifacts"], strict=True):
        assert [(f["name"], f["size"], f["sha256"]) for f in staged["files"]] == [
            (f["name"], f["size"], f["sha256"]) for f in released["files"]
        ]


def test_writing_it_again_writes_nothing(flow: FlowEnv, runs: dict[str, dict[str, Any]]) -> None:
    profile = load_profile("local", {"krel_home": str(flow.home), "local_registry": flow.registry})
    step = _step(flow, profile, VERSIONS[0])
    path = flow.bucket("mock") / step.artifacts_key
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with open_clients(profile, profile.mock) as clients:
        write_artifacts(step, clients)  # what a rerun of the release does
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


# Hostile: an artifacts.json beside the release that says something else. Whatever the difference, the preflight's
# check refuses it and the handler never rewrites it (run against the real bucket and registry of the module's flow).
TAMPERED: dict[str, Callable[[dict[str, Any]], object] | None] = {
    "sha256-changed": lambda doc: doc["files"][0].update(sha256="0" * 64),
    "size-changed": lambda doc: doc["files"][0].update(size=doc["files"][0]["size"] + 1),
    "file-dropped": lambda doc: doc["files"].pop(),
    "file-added": lambda doc: doc["files"].append({"name": "evil", "url": "file:///evil", "size": 1, "sha256": "0"}),
    "name-traversal": lambda doc: doc["files"][0].update(name="../../etc/passwd"),
    "digest-changed": lambda doc: doc["images"][0].update(digest="sha256:" + "0" * 64),
    "image-dropped": lambda doc: doc["images"].pop(),
    "url-elsewhere": lambda doc: doc["files"][0].update(url="https://evil.example/x"),
    "version-changed": lambda doc: doc.update(version="v9.9.9"),
    "reordered": lambda doc: doc["files"].reverse(),
    "not-json": None,
}


def _tampered(original: bytes, case: str) -> bytes:
    change = TAMPERED[case]
    if change is None:
        return b"{not json\x1b[31m"
    doc = json.loads(original)
    change(doc)
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _step(flow: FlowEnv, profile: Profile, version: str) -> WriteArtifacts:
    bv, targets = flow.build_version, profile.mock
    job = layout.job_dir(flow.home, profile.name, targets.bucket, bv, "release")
    return WriteArtifacts(targets.bucket, layout.artifacts_key(version), version, layout.stage_prefix(bv),
                          layout.gcs_stage_prefix(bv, version), layout.release_prefix(version),
                          str(job / "provenance.verified.json"), targets.validate_registry, profile.build.images)


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_different_artifacts_json_is_refused_and_kept(flow: FlowEnv, runs: dict[str, dict[str, Any]],
                                                         case: str) -> None:
    profile = load_profile("local", {"krel_home": str(flow.home), "local_registry": flow.registry})
    step = _step(flow, profile, VERSIONS[0])
    path = flow.bucket("mock") / step.artifacts_key
    original = path.read_bytes()
    tampered = _tampered(original, case)
    assert tampered != original
    with open_clients(profile, profile.mock) as clients:
        check_write_artifacts(step, clients)  # the file as the release wrote it passes
        path.write_bytes(tampered)
        try:
            for run in (check_write_artifacts, write_artifacts):
                with pytest.raises(ArtifactsError, match="exists and lists other artifacts"):
                    run(step, clients)
                assert path.read_bytes() == tampered  # never rewritten
        finally:
            path.write_bytes(original)


def test_the_release_stops_at_the_preflight(flow: FlowEnv, runs: dict[str, dict[str, Any]]) -> None:
    path = flow.bucket("mock") / layout.artifacts_key(VERSIONS[0])
    original = path.read_bytes()
    tampered = _tampered(original, "sha256-changed")
    path.write_bytes(tampered)
    markers = {p: p.read_bytes() for p in (flow.bucket("mock") / "release").glob("*.txt")}
    try:
        result = flow.krel("release", *BRANCH_ARGS, "--build-version", flow.build_version)
        assert result.returncode == 1, result.stdout[-1000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith(f"error: Check everything before publishing anything: List the artifacts of "
                                    f"{VERSIONS[0]}: ")
        assert "artifacts.json exists and lists other artifacts" in errors[0]
        assert path.read_bytes() == tampered
        assert {p: p.read_bytes() for p in markers} == markers
    finally:
        path.write_bytes(original)
