"""`krel verify release` on a real mock release (krel stage + krel release on the demo project, real registry),
signed by the jobs as the local profile says: it passes; each tampering fails naming the object; OpenSSL agrees.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from releng import layout
from releng.registry.client import RegistryClient
from releng.signing import cosign, keys

from tests.fixtures.releaseflow import FlowEnv, flow_generator

RC0 = "v1.0.0-rc.0"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> Iterator[FlowEnv]:
    """One mock release of the demo project, signed as the local profile says (module-scoped: ~10 s once)."""
    home = tmp_path_factory.mktemp("signed") / "krel-home"
    registry = registry_factory("signed-release")
    flow = FlowEnv(home, registry.host, flow_generator().create(home))
    old = {k: os.environ.get(k) for k in ("KREL_HOME", "KREL_LOCAL_REGISTRY", "CI")}
    os.environ.update({"KREL_HOME": str(home), "KREL_LOCAL_REGISTRY": registry.host, "CI": "true"})
    try:
        for command in ("stage", "release"):
            extra = ["--build-version", flow.build_version] if command == "release" else []
            done = flow.krel(command, "--branch", "release-1.0", "--type", "rc", *extra)
            assert done.returncode == 0, done.stderr[-2000:]
        yield flow
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        registry.stop()


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


def _flip(path: Path, at: int = 0) -> Callable[[], None]:
    """Flip one byte of path; returns the undo."""
    original = path.read_bytes()
    data = bytearray(original)
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    return lambda: path.write_bytes(original)


def _flip_b64_payload(path: Path) -> Callable[[], None]:
    """Change one byte inside the envelope's decoded payload (re-encoded, so it is still valid base64)."""
    original = path.read_bytes()
    envelope = json.loads(original)
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"sha256") + 20] ^= 0x01
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(envelope))
    return lambda: path.write_bytes(original)


def _swap_image_signature(flow: FlowEnv) -> Callable[[], None]:
    """Point demo-server-amd64's signature tag at the arm64 image's signature manifest."""
    with RegistryClient(flow.registry) as client:
        amd = client.head_manifest("mock/demo-server-amd64", RC0)
        arm = client.head_manifest("mock/demo-server-arm64", RC0)
        assert amd and arm
        amd_tag, arm_tag = cosign.signature_tag(amd.digest), cosign.signature_tag(arm.digest)
        original, media_type, _ = client.get_manifest("mock/demo-server-amd64", amd_tag)
        raw, _, _ = client.get_manifest("mock/demo-server-arm64", arm_tag)
        doc = json.loads(raw)
        for blob in [doc["config"], *doc["layers"]]:
            if not client.blob_exists("mock/demo-server-amd64", blob["digest"]):
                client.mount_blob("mock/demo-server-amd64", blob["digest"], "mock/demo-server-arm64")
        client.put_manifest("mock/demo-server-amd64", amd_tag, raw, media_type)

    def undo() -> None:
        with RegistryClient(flow.registry) as client:
            client.put_manifest("mock/demo-server-amd64", amd_tag, original, media_type)
    return undo


TREE = f"release/{RC0}"
TAMPER: dict[str, tuple[Callable[[FlowEnv], Callable[[], None]], str, str]] = {
    "file-byte": (lambda f: _flip(f.bucket("mock") / TREE / "demo.tar.gz", 100), "demo.tar.gz", "signature"),
    "binary-byte": (lambda f: _flip(f.bucket("mock") / TREE / "bin/linux/arm64/democtl", 3), "democtl", "signature"),
    "sig-byte": (lambda f: _flip(f.bucket("mock") / TREE / "demo.tar.gz.sig", 20), "demo.tar.gz", "signature"),
    "sig-missing": (lambda f: _remove(f.bucket("mock") / TREE / "SHA512SUMS.sig"), "SHA512SUMS", "signature"),
    "sums-byte": (lambda f: _flip(f.bucket("mock") / TREE / "SHA256SUMS", 0), "SHA256SUMS", "signature"),
    "sbom-byte": (lambda f: _flip(f.bucket("mock") / TREE / "demo-release.spdx.json", 40),
                  "demo-release.spdx", "SBOM envelope"),
    "provenance-payload": (lambda f: _flip_b64_payload(f.bucket("mock") / TREE / layout.PROVENANCE_ENVELOPE),
                           layout.PROVENANCE_ENVELOPE, "provenance envelope"),
    "provenance-statement": (lambda f: _flip(f.bucket("mock") / TREE / "provenance.json", 30),
                             layout.PROVENANCE_ENVELOPE, "provenance envelope"),
    "sbom-envelope-payload": (lambda f: _flip_b64_payload(f.bucket("mock") / TREE / "demo-release.spdx.intoto.jsonl"),
                              "demo-release.spdx.intoto.jsonl", "SBOM envelope"),
    "public-key": (lambda f: _flip(f.bucket("mock") / TREE / layout.PUBLIC_KEY_FILE, 40), layout.PUBLIC_KEY_FILE,
                   "public key"),
    "image-signature-swapped": (_swap_image_signature, f"demo-server-amd64:{RC0}", "image signature"),
}


def _remove(path: Path) -> Callable[[], None]:
    original = path.read_bytes()
    path.unlink()
    return lambda: path.write_bytes(original)


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampering_fails_naming_the_object(world: FlowEnv, case: str) -> None:
    tamper, name, check = TAMPER[case]
    undo = tamper(world)
    try:
        done = _verify(world, "--json")
    finally:
        undo()
    assert done.returncode == 1, done.stdout[-2000:]
    failed = [c for c in json.loads(done.stdout)["checks"] if not c["ok"]]
    assert any(c["check"] == check and name in c["object"] for c in failed), failed
    assert name in done.stderr.strip().splitlines()[-1]  # the one error line names it
    assert all(name in c["detail"] or name in c["object"] or c["check"] in ("sha256/sha512", "provenance")
               for c in failed)
