"""krel stage + krel release end to end on the local profile: real git, file:// buckets, a real registry."""

from __future__ import annotations

import json
import shutil

from releng import git
from releng.profile import BUILTIN_DIR
from releng.registry import oci
from releng.registry.client import RegistryClient
from releng.registry.imagetar import build_image_tarball, push_image_tarball

from tests.fixtures.releaseflow import FlowEnv

RC0, ALPHA0 = "v1.0.0-rc.0", "v1.1.0-alpha.0"
BRANCH_ARGS = ["--branch", "release-1.0", "--type", "rc"]


def _stage_release(flow: FlowEnv, *extra: str, notes: bool = False, fresh_machine: bool = False) -> None:
    replay = ["--replay", str(flow.project.replay)] if notes else []
    staged = flow.krel("stage", *BRANCH_ARGS, *replay, *extra)
    assert staged.returncode == 0, staged.stderr[-2000:]
    command = f"krel release {'--nomock ' if '--nomock' in extra else ''}--type=rc --branch=release-1.0 " \
              f"--build-version={flow.build_version} --profile=local"
    assert command in staged.stdout.replace("\n  ", " ")
    if fresh_machine:
        # krel's release job runs elsewhere: only the bucket, the registry and the git remote carry over
        shutil.rmtree(flow.home / "workspaces")
    released = flow.krel("release", *BRANCH_ARGS, "--build-version", flow.build_version, *extra)
    assert released.returncode == 0, released.stderr[-2000:]


def test_mock_cycle_changes_no_nomock_target(flow_env: FlowEnv) -> None:
    before = (flow_env.bucket_state("release"), flow_env.registry_state(), flow_env.remote_refs())
    _stage_release(flow_env, notes=True, fresh_machine=True)
    # the packages went to the mock packages bucket only (the nomock one is never created)
    assert not flow_env.bucket("packages").exists()
    assert any(k.endswith(".rpm") for k in flow_env.bucket_state("packages-mock"))
    pushed = {f"mock/{r}:{v}" for r in ("demo-server", "demo-server-amd64", "demo-server-arm64") for v in (RC0, ALPHA0)}
    registry = flow_env.registry_state()
    # the local profile signs in mock: each pushed image has its cosign signature tag beside it, in mock only
    signatures = {f"{ref.split(':')[0]}:{registry[ref].replace(':', '-')}.sig" for ref in pushed}
    assert (flow_env.bucket_state("release"), registry.keys() - pushed - signatures,
            flow_env.remote_refs()) == (before[0], set(), before[2])
    assert signatures <= registry.keys()

    mock = flow_env.bucket_state("mock")
    bv = flow_env.build_version
    for v in (RC0, ALPHA0):
        stage = f"stage/{bv}/{v}/gcs-stage/{v}"
        for name in ("SHA256SUMS", "SHA512SUMS", "demo-release.spdx.json", "demo.tar.gz", "demo.tar.gz.sha512",
                     "bin/linux/arm64/democtl", "bin/linux/amd64/demo-server.sha256"):
            assert f"{stage}/{name}" in mock and f"release/{v}/{name}" in mock, name
            assert mock[f"{stage}/{name}"] == mock[f"release/{v}/{name}"]
        assert f"stage/{bv}/{v}/release-images/arm64/demo-server.tar" in mock
    assert {f"stage/{bv}/src.tar.gz", f"stage/{bv}/provenance.json", f"release/{RC0}/announcement.html",
            f"release/{RC0}/provenance.json", f"release/{ALPHA0}/provenance.json"} <= set(mock)
    markers = {name: (flow_env.bucket("mock") / "release" / name).read_text() for name in
               ("latest.txt", "latest-1.txt", "latest-1.0.txt", "latest-1.1.txt")}
    assert markers == {"latest.txt": ALPHA0, "latest-1.txt": ALPHA0, "latest-1.0.txt": RC0, "latest-1.1.txt": ALPHA0}
    assert any(k.startswith(f"archive/{RC0}/release-") for k in mock)
    notes = json.loads((flow_env.bucket("mock") / f"release/{RC0}/release-notes.json").read_text())
    assert {"101", "102", "104"} <= set(notes) and "105" not in notes  # 105's note is NONE
    index = json.loads((flow_env.bucket("mock") / "release/release-notes-index.json").read_text())
    assert index == {RC0: f"{flow_env.bucket('mock').as_uri()}/release/{RC0}/release-notes.json"}
    assert "--listen" in (flow_env.bucket("mock") / f"release/{RC0}/release-notes.html").read_text()

    sbom = json.loads((flow_env.bucket("mock") / f"release/{RC0}/demo-release.spdx.json").read_text())
    assert sbom["spdxVersion"] == "SPDX-2.3" and sbom["packages"][0]["versionInfo"] == RC0
    assert "./demo.tar.gz" in {f["fileName"] for f in sbom["files"]}
    assert not sbom["creationInfo"]["created"].startswith("1970")  # dated by the release commit
    signed = {f"release/{RC0}/demo.tar.gz.sig", f"release/{RC0}/SHA256SUMS.sig", f"release/{RC0}/release-key.pub",
              f"release/{RC0}/demo-release.spdx.intoto.jsonl", f"release/{RC0}/provenance.intoto.jsonl",
              f"stage/{bv}/provenance.intoto.jsonl"}
    assert signed <= set(mock)
    statement = json.loads((flow_env.bucket("mock") / f"stage/{bv}/provenance.json").read_text())
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert f"{RC0}/gcs-stage/{RC0}/demo.tar.gz" in {s["name"] for s in statement["subject"]}

    with RegistryClient(flow_env.registry) as client:
        raw, media_type, _ = client.get_manifest("mock/demo-server", RC0)
        doc = oci.parse_manifest(raw, "list")
        assert media_type in oci.INDEX_TYPES
        assert sorted(p.architecture for _, p in oci.children(doc, "list") if p) == ["amd64", "arm64"]


def test_nomock_cycle_pushes_and_is_idempotent(flow_env: FlowEnv) -> None:
    _stage_release(flow_env)
    mock_state = flow_env.bucket_state("mock")
    _stage_release(flow_env, "--nomock")
    assert flow_env.bucket_state("mock") == mock_state

    refs = flow_env.remote_refs()
    build_commit = flow_env.build_version.rsplit("+", 1)[1]
    upstream = flow_env.upstream
    rc0 = refs[f"refs/tags/{RC0}"]
    # krel: rc.0 sits on an empty release commit on the new branch, whose parent is the build commit
    assert git.run(upstream, "rev-parse", f"{rc0}^").startswith(build_commit)
    assert git.run(upstream, "log", "-1", "--format=%s", rc0).strip() == f"Release commit for Demo {RC0}"
    assert refs["refs/heads/release-1.0"] == rc0
    assert refs[f"refs/tags/{ALPHA0}"].startswith(build_commit)
    assert (flow_env.bucket("release") / "release" / RC0 / "github-release.md").exists()
    assert "staging/demo-server:" + RC0 in flow_env.registry_state()

    # a second run of the release changes nothing
    state = (flow_env.bucket_state("release", lambda k: k.startswith("archive/")), flow_env.registry_state(), refs)
    again = flow_env.krel("release", *BRANCH_ARGS, "--build-version", flow_env.build_version, "--nomock")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already on the remote" in again.stderr
    after = (flow_env.bucket_state("release", lambda k: k.startswith("archive/")), flow_env.registry_state(),
             flow_env.remote_refs())
    assert after == state


def test_released_objects_and_markers_never_move(flow_env: FlowEnv) -> None:
    _stage_release(flow_env, "--nomock")
    release = flow_env.bucket("release") / "release"
    args = ["release", *BRANCH_ARGS, "--build-version", flow_env.build_version, "--nomock"]

    marker = release / "latest-1.0.txt"
    marker.write_text("v1.0.5")
    moved = flow_env.krel(*args)
    assert moved.returncode == 1
    assert "latest-1.0.txt holds v1.0.5, newer than v1.0.0-rc.0; markers never move backwards" in moved.stderr
    assert marker.read_text() == "v1.0.5"
    marker.write_text(RC0)

    tarball = release / RC0 / "demo.tar.gz"
    tarball.unlink()
    tarball.write_bytes(b"tampered")
    overwritten = flow_env.krel(*args)
    assert overwritten.returncode == 1
    assert "already exists with different content" in overwritten.stderr
    assert tarball.read_bytes() == b"tampered"


def test_a_pushed_image_is_never_replaced(flow_env: FlowEnv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = build_image_tarball(tmp_path / "other.tar", {"bin/other": b"not the demo"}, "amd64")
    with RegistryClient(flow_env.registry) as client:
        digest = push_image_tarball(client, other, "mock/demo-server-amd64", "v1.0.0-alpha.1")
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha")
    assert result.returncode == 1
    assert f"mock/demo-server-amd64:v1.0.0-alpha.1 already exists as {digest[:19]}" in result.stderr
    assert "pushed images are never replaced" in result.stderr
    with RegistryClient(flow_env.registry) as client:
        found = client.head_manifest("mock/demo-server-amd64", "v1.0.0-alpha.1")
        assert found is not None and found.digest == digest


def test_release_names_the_staged_versions_when_they_differ(flow_env: FlowEnv) -> None:
    staged = flow_env.krel("stage", "--branch", "master", "--type", "alpha")
    assert staged.returncode == 0, staged.stderr[-1500:]
    result = flow_env.krel("release", "--branch", "master", "--type", "beta", "--build-version", flow_env.build_version)
    assert result.returncode == 1
    assert f"stage/{flow_env.build_version} holds v1.0.0-alpha.1, but this release computes v1.0.0-beta.0" \
        in result.stderr
    assert not (flow_env.bucket("mock") / "release").exists()


def test_release_stops_before_any_push_when_images_are_not_promoted(flow_env: FlowEnv) -> None:
    text = (BUILTIN_DIR / "local.toml").read_text()
    old = 'validate_registry = "{local_registry}/staging"'
    assert old in text
    profile = flow_env.home / "promoted.toml"
    profile.write_text(text.replace(old, 'validate_registry = "{local_registry}/prod"'))
    args = ["--branch", "master", "--type", "alpha", "--nomock", "--profile", str(profile)]
    staged = flow_env.krel("stage", *args)
    assert staged.returncode == 0, staged.stderr[-1500:]
    refs = flow_env.remote_refs()
    result = flow_env.krel("release", *args, "--build-version", flow_env.build_version)
    assert result.returncode == 1
    assert "image 127.0.0.1:" in result.stderr and "/prod/demo-server:v1.0.0-alpha.1 not found; images must " \
        "exist before git objects are pushed" in result.stderr
    assert not (flow_env.bucket("release") / "release").exists()
    assert flow_env.remote_refs() == refs
