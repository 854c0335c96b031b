"""Signed releases end to end on the demo project (real git, file:// buckets, a real registry), signed by the jobs
as the local profile says. Mock: `krel verify release` passes, OpenSSL agrees, each tampering of the released objects
fails naming it. Nomock: `krel release --nomock` refuses a tampered stage before writing anything, then releases
the untouched one, which verifies.

One module-scoped world (a mock stage + release and a nomock stage: the slow part, once); each tampering case works
on its own copy of the released tree, or undoes its registry change.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from releng import layout
from releng.objectstore import open_store
from releng.profile import load_profile
from releng.registry.client import RegistryClient
from releng.signing import cosign, dsse, keys
from releng.signing import release as signed

from tests.fixtures.releaseflow import FlowEnv, module_world

RC0 = "v1.0.0-rc.0"
BRANCH = ("--branch", "release-1.0", "--type", "rc")


def _bv(flow: FlowEnv) -> tuple[str, str]:
    return ("--build-version", flow.build_version)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> Iterator[FlowEnv]:
    """A mock release of the demo project and a nomock stage of it, signed as the local profile says."""
    with module_world(tmp_path_factory, registry_factory, "signed-release",
                      lambda flow: [("stage", *BRANCH), ("release", *_bv(flow), *BRANCH),
                                    ("stage", "--nomock", *BRANCH)]) as flow:
        yield flow


def _verify(flow: FlowEnv, *extra: str) -> subprocess.CompletedProcess[str]:
    return flow.krel("verify", "release", "--tag", RC0, *extra)


def test_signed_release_verifies(world: FlowEnv) -> None:
    done = _verify(world, "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    checks = {(c["check"], c["object"].rsplit("/", 1)[-1]) for c in report["checks"]}
    assert report["ok"] and all(c["ok"] for c in report["checks"])
    for name in ("demo.tar.gz", "SHA256SUMS", "SHA512SUMS", "demo-release.spdx.json", "democtl"):
        assert ("signature", name) in checks, name
    assert ("provenance", "demo.tar.gz") in checks
    assert ("provenance envelope", layout.PROVENANCE_ENVELOPE) in checks
    assert ("SBOM envelope", "demo-release.spdx.intoto.jsonl") in checks
    assert ("public key", layout.PUBLIC_KEY_FILE) in checks
    images = {c["object"] for c in report["checks"] if c["check"] == "image signature"}
    assert images == {f"{world.registry}/mock/{r}:{RC0}" for r in
                      ("demo-server", "demo-server-amd64", "demo-server-arm64")}
    table = _verify(world)
    assert table.returncode == 0 and "result\tcheck\tobject\tdetail" in table.stdout  # TSV without a terminal


def test_openssl_verifies_every_sig(world: FlowEnv, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl
    tree = world.bucket("mock") / "release" / RC0
    pub = tree / layout.PUBLIC_KEY_FILE
    sigs = sorted(tree.rglob("*.sig"))
    assert len(sigs) > 5
    for sig in sigs:
        der = tmp_path / "sig.der"
        der.write_bytes(base64.b64decode(sig.read_bytes()))
        target = sig.with_suffix("")
        done = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(pub), "-signature", str(der), str(target)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "Verified OK" in done.stdout, (target, done.stderr)


def test_other_key_fails_everything_signed(world: FlowEnv, tmp_path: Path) -> None:
    keys.generate_key(tmp_path / "o.key", tmp_path / "o.pub")
    done = _verify(world, "--key", str(tmp_path / "o.pub"), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    failed = {c["check"] for c in report["checks"] if not c["ok"]}
    assert failed == {"signature", "provenance envelope", "SBOM envelope", "public key", "image signature"}
    assert "checks failed" in done.stderr and "\n" not in done.stderr.strip()


def _flip(path: Path, at: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _flip_payload(path: Path) -> None:
    """Change one byte inside the envelope's decoded payload (re-encoded, so it is still valid base64 and JSON)."""
    envelope = json.loads(path.read_bytes())
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"sha256") + 20] ^= 0x01
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(envelope))


def _other_key_envelope(path: Path) -> None:
    """The same payload, signed by a key that is not the targets' (a well-formed envelope, wrongly signed)."""
    payload = base64.b64decode(json.loads(path.read_bytes())["payload"])
    with tempfile.TemporaryDirectory() as scratch:
        other = keys.generate_key(Path(scratch) / "other.key", Path(scratch) / "other.pub")
    path.write_bytes(dsse.encode(dsse.sign(other, payload)))


@contextmanager
def _swapped_image_signature(flow: FlowEnv, prefix: str) -> Iterator[None]:
    """Point <prefix>/demo-server-amd64's signature tag at the arm64 image's signature manifest, then put it back."""
    amd_repo, arm_repo = f"{prefix}/demo-server-amd64", f"{prefix}/demo-server-arm64"
    with RegistryClient(flow.registry) as client:
        amd, arm = client.head_manifest(amd_repo, RC0), client.head_manifest(arm_repo, RC0)
        assert amd and arm
        amd_tag, arm_tag = cosign.signature_tag(amd.digest), cosign.signature_tag(arm.digest)
        original, media_type, _ = client.get_manifest(amd_repo, amd_tag)
        raw, _, _ = client.get_manifest(arm_repo, arm_tag)
        doc = json.loads(raw)
        for blob in [doc["config"], *doc["layers"]]:
            if not client.blob_exists(amd_repo, blob["digest"]):
                client.mount_blob(amd_repo, blob["digest"], arm_repo)
        client.put_manifest(amd_repo, amd_tag, raw, media_type)
        try:
            yield
        finally:
            client.put_manifest(amd_repo, amd_tag, original, media_type)


# ---- mock: the released tree, verified ---------------------------------------------------------------------------

# case -> (tamper a copy of release/<tag> (its root), what the failing check names, which check)
TAMPER: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "file-byte": (lambda t: _flip(t / "demo.tar.gz", 100), "demo.tar.gz", "signature"),
    "binary-byte": (lambda t: _flip(t / "bin/linux/arm64/democtl", 3), "democtl", "signature"),
    "sig-byte": (lambda t: _flip(t / "demo.tar.gz.sig", 20), "demo.tar.gz", "signature"),
    "sig-missing": (lambda t: (t / "SHA512SUMS.sig").unlink(), "SHA512SUMS", "signature"),
    "sig-of-another-file": (lambda t: shutil.copy(t / "SHA256SUMS.sig", t / "demo.tar.gz.sig"), "demo.tar.gz",
                            "signature"),
    "sums-byte": (lambda t: _flip(t / "SHA256SUMS", 0), "SHA256SUMS", "signature"),
    "sbom-byte": (lambda t: _flip(t / "demo-release.spdx.json", 40), "demo-release.spdx", "SBOM envelope"),
    "provenance-payload": (lambda t: _flip_payload(t / layout.PROVENANCE_ENVELOPE), layout.PROVENANCE_ENVELOPE,
                           "provenance envelope"),
    "provenance-other-key": (lambda t: _other_key_envelope(t / layout.PROVENANCE_ENVELOPE),
                             layout.PROVENANCE_ENVELOPE, "provenance envelope"),
    "provenance-statement": (lambda t: _flip(t / "provenance.json", 30), layout.PROVENANCE_ENVELOPE,
                             "provenance envelope"),
    "provenance-envelope-missing": (lambda t: (t / layout.PROVENANCE_ENVELOPE).unlink(), layout.PROVENANCE_ENVELOPE,
                                    "provenance envelope"),
    "sbom-envelope-payload": (lambda t: _flip_payload(t / "demo-release.spdx.intoto.jsonl"),
                              "demo-release.spdx.intoto.jsonl", "SBOM envelope"),
    "public-key": (lambda t: _flip(t / layout.PUBLIC_KEY_FILE, 40), layout.PUBLIC_KEY_FILE, "public key"),
}


def _profile(flow: FlowEnv) -> Any:
    return load_profile("local", {"krel_home": str(flow.home), "local_registry": flow.registry})


def _verify_copy(flow: FlowEnv, bucket: Path, with_images: bool) -> list[signed.Finding]:
    """What `krel verify release` checks, on the tree copied into `bucket` (the library call the command makes)."""
    profile = _profile(flow)
    public = signed.load_verify_key("", profile.signing_for(False), flow.home, False, {})
    target = signed.ReleaseTarget(bucket.as_uri(), profile.mock.validate_registry, profile.build.images,
                                  profile.build.arches)
    with RegistryClient(flow.registry) as client:
        return signed.verify_release(open_store(bucket.as_uri()), client if with_images else None, target, RC0,
                                     public)


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampering_a_released_object_fails_naming_it(world: FlowEnv, case: str, tmp_path: Path) -> None:
    tamper, name, check = TAMPER[case]
    tree = tmp_path / "bucket" / "release" / RC0
    shutil.copytree(world.bucket("mock") / "release" / RC0, tree)
    assert all(f.ok for f in _verify_copy(world, tmp_path / "bucket", with_images=False))  # the copy verifies
    tamper(tree)
    failed = [f for f in _verify_copy(world, tmp_path / "bucket", with_images=False) if not f.ok]
    assert any(f.check == check and name in f.subject for f in failed), failed
    assert all(name in f.detail or name in f.subject or f.check in ("sha256/sha512", "provenance") for f in failed)


def test_swapped_image_signature_fails_naming_the_image(world: FlowEnv) -> None:
    with _swapped_image_signature(world, "mock"):
        done = _verify(world, "--json")
    assert done.returncode == 1, done.stdout[-2000:]
    failed = [c for c in json.loads(done.stdout)["checks"] if not c["ok"]]
    assert [(c["check"], c["object"]) for c in failed] == [
        ("image signature", f"{world.registry}/mock/demo-server-amd64:{RC0}")]
    assert f"demo-server-amd64:{RC0}" in done.stderr.strip().splitlines()[-1]  # the one error line names it


def test_mock_release_on_another_machine_checks_with_the_staged_key(world: FlowEnv) -> None:
    """A mock release job on another machine than its stage's (Cloud Build: a fresh KREL_HOME per job) has no mock
    throwaway key: it checks with the key the stage published, and makes none. Another machine's own mock key is
    used as it is, and fails. (This world's keys and job workspaces are set aside meanwhile, then put back.)"""
    home = world.home
    aside = {name: home.parent / f"{name.replace('/', '-')}.aside" for name in ("keys/mock", "workspaces")}
    for name, where in aside.items():
        (home / name).rename(where)
    try:
        own_key = home / "keys" / "mock" / "signing.key"
        own_key.parent.mkdir(parents=True)
        keys.generate_key(own_key, own_key.with_suffix(".pub"))
        refused = world.krel("release", *BRANCH, *_bv(world))
        assert refused.returncode == 1, refused.stderr[-2000:]
        assert "signature" in refused.stderr.strip().splitlines()[-1]
        shutil.rmtree(home / "keys" / "mock")
        done = world.krel("release", *BRANCH, *_bv(world))
        assert done.returncode == 0, done.stderr[-2000:]
        staged_key = world.bucket("mock") / "release" / RC0 / layout.PUBLIC_KEY_FILE
        assert f"checking with the key the stage published ({keys.load_verify_key(staged_key).key_id}" in done.stderr
        assert not (home / "keys" / "mock").exists()  # no new throwaway key
    finally:
        for name, where in aside.items():
            shutil.rmtree(home / name, ignore_errors=True)
            where.rename(home / name)


# ---- nomock: the release refuses a tampered stage before its first write, then releases the untouched one ----------

def _staged(flow: FlowEnv) -> Path:
    return flow.bucket("release") / "stage" / flow.build_version


@contextmanager
def _tampered_file(path: Path, tamper: Callable[[Path], None]) -> Iterator[None]:
    original = path.read_bytes()
    tamper(path)
    try:
        yield
    finally:
        path.write_bytes(original)


# What only the signature check can catch (a staged file or .sig is a provenance subject: VerifyStaged refuses it
# first, tests/integration/test_hostile_staging.py); each release run hashes the whole stage, so the cases are few.
STAGE_TAMPER: dict[str, tuple[Callable[[FlowEnv], Any], str]] = {
    "envelope-payload": (lambda f: _tampered_file(_staged(f) / layout.PROVENANCE_ENVELOPE, _flip_payload),
                         layout.PROVENANCE_ENVELOPE),
    "envelope-other-key": (lambda f: _tampered_file(_staged(f) / layout.PROVENANCE_ENVELOPE, _other_key_envelope),
                           layout.PROVENANCE_ENVELOPE),
    "image-signature-swapped": (lambda f: _swapped_image_signature(f, "staging"), f"demo-server-amd64:{RC0}"),
}


@pytest.mark.parametrize("case", sorted(STAGE_TAMPER))
def test_nomock_release_refuses_a_tampered_stage(world: FlowEnv, case: str) -> None:
    tampered, name = STAGE_TAMPER[case]
    before = world.bucket_state("release")
    with tampered(world):
        done = world.krel("release", "--nomock", *BRANCH, *_bv(world))
    assert done.returncode == 1, done.stdout[-2000:]
    assert name in done.stderr.strip().splitlines()[-1], done.stderr[-1000:]
    assert world.bucket_state("release") == before  # nothing written: no release/, no markers, no logs


def test_nomock_release_is_signed_end_to_end(world: FlowEnv) -> None:
    done = world.krel("release", "--nomock", *BRANCH, *_bv(world))
    assert done.returncode == 0, done.stderr[-2000:]
    verified = _verify(world, "--nomock", "--json")
    assert verified.returncode == 0, verified.stdout[-3000:]
    report = json.loads(verified.stdout)
    images = {c["object"] for c in report["checks"] if c["check"] == "image signature" and c["ok"]}
    assert images == {f"{world.registry}/staging/{r}:{RC0}" for r in
                      ("demo-server", "demo-server-amd64", "demo-server-arm64")}
    # production's key is not mock's: mock's public key fails every signature of the nomock release
    mock_pub = world.bucket("mock") / "release" / RC0 / layout.PUBLIC_KEY_FILE
    other = _verify(world, "--nomock", "--key", str(mock_pub), "--json")
    assert other.returncode == 1
    assert not any(c["ok"] for c in json.loads(other.stdout)["checks"] if c["check"] != "sha256/sha512")

