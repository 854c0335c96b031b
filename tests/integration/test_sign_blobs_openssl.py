"""OpenSSL, an independent verifier, accepts every blob signature krel writes and rejects every tampered one."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from releng.signing import blobs, keys


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A key as openssl writes it ("EC PRIVATE KEY"), and its public half."""
    root = tmp_path_factory.mktemp("openssl-key")
    assert _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root / "ec.pem").returncode == 0
    assert _openssl("ec", "-in", root / "ec.pem", "-pubout", "-out", root / "pub.pem").returncode == 0
    return root / "ec.pem", root / "pub.pem"


def _verified_by_openssl(tmp: Path, pub: Path, artifact: Path, sig_path: Path) -> bool:
    der = tmp / "sig.der"
    der.write_bytes(base64.b64decode(sig_path.read_bytes()))
    run = _openssl("dgst", "-sha256", "-verify", pub, "-signature", der, artifact)
    return run.returncode == 0 and "Verified OK" in run.stdout


@pytest.mark.parametrize("size", [0, 1, 4 * 1024 * 1024 + 3], ids=["empty", "one-byte", "over-one-chunk"])
def test_openssl_verifies_krel_file_signatures(tmp_path: Path, keypair: tuple[Path, Path], size: int) -> None:
    key = keys.load_signing_key(keypair[0])
    artifact = tmp_path / "kubernetes.tar.gz"
    artifact.write_bytes(bytes(i % 251 for i in range(size)))
    sig_path = blobs.sign_file(key, artifact)
    assert _verified_by_openssl(tmp_path, keypair[1], artifact, sig_path)
    blobs.verify_file(keys.load_verify_key(keypair[1]), artifact)


def test_krel_verifies_openssl_signatures(tmp_path: Path, keypair: tuple[Path, Path]) -> None:
    artifact = tmp_path / "a.txt"
    artifact.write_bytes(b"release\n")
    assert _openssl("dgst", "-sha256", "-sign", keypair[0], "-out", tmp_path / "a.der", artifact).returncode == 0
    (tmp_path / "a.txt.sig").write_bytes(base64.b64encode((tmp_path / "a.der").read_bytes()))
    blobs.verify_file(keys.load_verify_key(keypair[1]), artifact)


@pytest.mark.parametrize("target", ["file", "signature"])
def test_one_tampered_byte_fails_openssl_and_krel(tmp_path: Path, keypair: tuple[Path, Path], target: str) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"x" * 1000)
    sig_path = blobs.sign_file(keys.load_signing_key(keypair[0]), artifact)
    if target == "file":
        artifact.write_bytes(b"x" * 999 + b"y")
    else:
        der = bytearray(base64.b64decode(sig_path.read_bytes()))
        der[-2] ^= 0x40
        sig_path.write_bytes(base64.b64encode(bytes(der)))
    assert not _verified_by_openssl(tmp_path, keypair[1], artifact, sig_path)
    with pytest.raises(blobs.SignatureError, match=f"{artifact}: "):
        blobs.verify_file(keys.load_verify_key(keypair[1]), artifact)
