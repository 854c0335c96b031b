"""Signing keys: P-256 PEM files load (plain, encrypted, openssl's EC form); every other key or password is refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from releng.errors import ReleaseError
from releng.signing import keys
from releng.signing.keys import SigningKey, SigningKeyError

PASSWORD = b"correct horse battery staple 42"
WRONG = b"not-the-pw-9137"
COSIGN_KEY = (b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n"
              b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")


def _pem_private(key: object, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
                 password: bytes | None = None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)  # type: ignore[attr-defined,no-any-return]


def _pem_public(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def others() -> dict[str, object]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=1024 * 2),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "secp256k1": ec.generate_private_key(ec.SECP256K1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "dsa": dsa.generate_private_key(key_size=2048),
    }


@pytest.mark.parametrize(("fmt", "password"), [
    (serialization.PrivateFormat.PKCS8, None),
    (serialization.PrivateFormat.PKCS8, PASSWORD),
    (serialization.PrivateFormat.TraditionalOpenSSL, None),  # "EC PRIVATE KEY", as `openssl ecparam -genkey` writes
    (serialization.PrivateFormat.TraditionalOpenSSL, PASSWORD),
], ids=["pkcs8", "pkcs8-encrypted", "ec-private-key", "ec-private-key-encrypted"])
def test_p256_private_keys_load_and_sign(tmp_path: Path, p256: ec.EllipticCurvePrivateKey,
                                         fmt: serialization.PrivateFormat, password: bytes | None) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(_pem_private(p256, fmt, password))
    key = keys.load_signing_key(path, password)
    der = key.sign(b"payload")
    assert key.public.verify(b"payload", der)
    assert not key.public.verify(b"payloae", der)
    assert key.public_pem() == _pem_public(p256)


def test_password_for_a_plain_key_is_ignored(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(_pem_private(p256))
    assert keys.load_signing_key(path, b"unused").key_id == SigningKey(p256).key_id


# Hostile private key files: (id, how to write the file, password, words the one-line error must hold)
PRIVATE_CASES: list[tuple[str, Callable[[Path, dict[str, object], ec.EllipticCurvePrivateKey], None], bytes | None,
                          tuple[str, ...]]] = [
    ("rsa", lambda p, o, k: p.write_bytes(_pem_private(o["rsa"])), None, ("RSA key", "P-256")),
    ("p384", lambda p, o, k: p.write_bytes(_pem_private(o["p384"])), None, ("secp384r1", "P-256")),
    ("secp256k1", lambda p, o, k: p.write_bytes(_pem_private(o["secp256k1"])), None, ("secp256k1", "P-256")),
    ("ed25519", lambda p, o, k: p.write_bytes(_pem_private(o["ed25519"])), None, ("Ed25519 key",)),
    ("dsa", lambda p, o, k: p.write_bytes(_pem_private(o["dsa"])), None, ("DSA key",)),
    ("rsa-encrypted", lambda p, o, k: p.write_bytes(_pem_private(o["rsa"], password=PASSWORD)), PASSWORD,
     ("RSA key",)),
    ("wrong-password", lambda p, o, k: p.write_bytes(_pem_private(k, password=PASSWORD)), WRONG, ("wrong password",)),
    ("wrong-password-ec-form", lambda p, o, k: p.write_bytes(
        _pem_private(k, serialization.PrivateFormat.TraditionalOpenSSL, PASSWORD)), WRONG, ("wrong password",)),
    ("missing-password", lambda p, o, k: p.write_bytes(_pem_private(k, password=PASSWORD)), None,
     ("encrypted", "KREL_SIGNING_KEY_PASSWORD")),
    ("public-key-as-private", lambda p, o, k: p.write_bytes(_pem_public(k)), None, ("not a PEM private key",)),
    ("garbage", lambda p, o, k: p.write_bytes(b"hello\x00world"), None, ("not a PEM private key",)),
    ("empty", lambda p, o, k: p.write_bytes(b""), None, ("not a PEM private key",)),
    ("truncated-pem", lambda p, o, k: p.write_bytes(_pem_private(k)[:120]), None, ("not a PEM private key",)),
    ("huge", lambda p, o, k: p.write_bytes(b"A" * (keys.MAX_KEY_FILE + 10)), None, ("larger than",)),
    ("missing-file", lambda p, o, k: None, None, ("cannot read it",)),
    ("directory", lambda p, o, k: p.mkdir(), None, ("cannot read it",)),
    ("cosign-format", lambda p, o, k: p.write_bytes(COSIGN_KEY), PASSWORD, ("SIGSTORE", "PKCS#8")),
]


@pytest.mark.parametrize(("write", "password", "words"), [c[1:] for c in PRIVATE_CASES],
                         ids=[c[0] for c in PRIVATE_CASES])
def test_hostile_private_keys_are_refused_in_one_line(
        tmp_path: Path, others: dict[str, object], p256: ec.EllipticCurvePrivateKey,
        write: Callable[[Path, dict[str, object], ec.EllipticCurvePrivateKey], None], password: bytes | None,
        words: tuple[str, ...]) -> None:
    path = tmp_path / "k.pem"
    write(path, others, p256)
    with pytest.raises(SigningKeyError) as info:
        keys.load_signing_key(path, password)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message
    if password:
        assert password.decode() not in message


PUBLIC_CASES: list[tuple[str, Callable[[dict[str, object], ec.EllipticCurvePrivateKey], bytes], tuple[str, ...]]] = [
    ("rsa", lambda o, k: _pem_public(o["rsa"]), ("RSA key",)),
    ("p384", lambda o, k: _pem_public(o["p384"]), ("secp384r1",)),
    ("ed25519", lambda o, k: _pem_public(o["ed25519"]), ("Ed25519 key",)),
    ("private-as-public", lambda o, k: _pem_private(k), ("not a PEM public key",)),
    ("garbage", lambda o, k: b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", ("not a PEM public",)),
]


@pytest.mark.parametrize(("content", "words"), [c[1:] for c in PUBLIC_CASES], ids=[c[0] for c in PUBLIC_CASES])
def test_hostile_public_keys_are_refused(tmp_path: Path, others: dict[str, object], p256: ec.EllipticCurvePrivateKey,
                                        content: Callable[[dict[str, object], ec.EllipticCurvePrivateKey], bytes],
                                        words: tuple[str, ...]) -> None:
    path = tmp_path / "k.pub"
    path.write_bytes(content(others, p256))
    with pytest.raises(SigningKeyError) as info:
        keys.load_verify_key(path)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("password", [None, PASSWORD], ids=["plain", "encrypted"])
def test_generate_key_writes_a_private_0600_pair_that_loads(tmp_path: Path, password: bytes | None) -> None:
    priv, pub = tmp_path / "keys" / "cosign.key", tmp_path / "keys" / "cosign.pub"
    made = keys.generate_key(priv, pub, password)
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert (b"ENCRYPTED" in priv.read_bytes()) is bool(password)
    loaded = keys.load_signing_key(priv, password)
    assert loaded.key_id == made.key_id == keys.load_verify_key(pub).key_id
    assert keys.load_verify_key(pub).verify(b"x", loaded.sign(b"x"))
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["cosign.key", "cosign.pub"]  # no temp left


@pytest.mark.parametrize("which", ["private", "public", "private-symlink"])
def test_generate_key_never_overwrites(tmp_path: Path, which: str) -> None:
    priv, pub = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    victim = tmp_path / "victim"
    victim.write_text("precious")
    if which == "private":
        priv.write_text("old key")
    elif which == "public":
        pub.write_text("old pub")
    else:
        os.symlink(victim, priv)
    before = {p.name: (p.read_bytes() if not p.is_symlink() else os.readlink(p)) for p in tmp_path.iterdir()}
    with pytest.raises(SigningKeyError, match="refusing to overwrite"):
        keys.generate_key(priv, pub)
    after = {p.name: (p.read_bytes() if not p.is_symlink() else os.readlink(p)) for p in tmp_path.iterdir()}
    assert after == before


def test_secrets_stay_out_of_repr_and_messages(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    path = tmp_path / "k.pem"
    pem = _pem_private(p256, password=PASSWORD)
    path.write_bytes(pem)
    key = keys.load_signing_key(path, PASSWORD)
    private_number = str(p256.private_numbers().private_value)
    for text in (repr(key), str(key), repr(key.public)):
        assert key.key_id in text
        assert "PRIVATE" not in text and private_number not in text and PASSWORD.decode() not in text
    with pytest.raises(ReleaseError) as info:
        keys.load_signing_key(path, PASSWORD + b"x")
    assert PASSWORD.decode() not in str(info.value) and "PRIVATE KEY-----" not in str(info.value)


def test_signing_key_from_env(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(_pem_private(p256, password=PASSWORD))
    env = {"KREL_SIGNING_KEY": str(path), "KREL_SIGNING_KEY_PASSWORD": PASSWORD.decode()}
    assert keys.signing_key_from_env(environ=env).key_id == SigningKey(p256).key_id
    with pytest.raises(SigningKeyError, match="KREL_SIGNING_KEY_PASSWORD"):
        keys.signing_key_from_env(environ={"KREL_SIGNING_KEY": str(path)})
    with pytest.raises(SigningKeyError, match="no signing key: set KREL_SIGNING_KEY"):
        keys.signing_key_from_env(environ={})


def test_the_password_variable_is_a_masked_secret() -> None:
    from releng import secrets
    assert "KREL_SIGNING_KEY_PASSWORD" in secrets.SECRET_ENV
