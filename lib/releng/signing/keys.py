"""ECDSA P-256 signing keys as cosign uses them: PEM files in, DER ECDSA-SHA256 signatures out.

The key bytes and the password stay inside these objects: no message, log line or repr ever holds them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from releng.errors import ReleaseError
from releng.files import write_atomic

KEY_ENV = "KREL_SIGNING_KEY"
PASSWORD_ENV = "KREL_SIGNING_KEY_PASSWORD"
# A PEM key is a few hundred bytes; reading a whole large file named by mistake would only waste memory.
MAX_KEY_FILE = 64 * 1024
_SHA256 = hashes.SHA256()


class SigningKeyError(ReleaseError):
    """A key file cannot be used: missing, unreadable, wrong type, wrong or missing password."""

    @classmethod
    def unreadable(cls, path: Path | str, why: str) -> SigningKeyError:
        return cls(f"signing key {path}: {why}")

    @classmethod
    def wrong_type(cls, path: Path | str, what: str) -> SigningKeyError:
        return cls(f"signing key {path}: {what}; krel signs with ECDSA P-256 keys (cosign's default), "
                   "e.g. from `krel sign generate-key`")


def _key_id(public: ec.EllipticCurvePublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


class VerifyKey:
    """An ECDSA P-256 public key that checks DER signatures over data or over a SHA-256 digest."""

    __slots__ = ("_key", "key_id", "source")

    def __init__(self, key: ec.EllipticCurvePublicKey, source: str = "") -> None:
        self._key = key
        self.key_id = _key_id(key)
        self.source = source

    def verify(self, data: bytes, der: bytes) -> bool:
        """True when `der` is this key's ECDSA-SHA256 signature over `data`."""
        return self.verify_digest(hashlib.sha256(data).digest(), der)

    def verify_digest(self, digest: bytes, der: bytes) -> bool:
        """True when `der` is this key's ECDSA signature over the SHA-256 `digest` (a file hashed as a stream)."""
        try:
            self._key.verify(der, digest, ec.ECDSA(utils.Prehashed(_SHA256)))
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_pem(self) -> bytes:
        """The SubjectPublicKeyInfo PEM (what `cosign public-key` prints and openssl reads)."""
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def __repr__(self) -> str:
        return f"VerifyKey(key_id={self.key_id!r}, source={self.source!r})"


class SigningKey:
    """An ECDSA P-256 private key; signs with ECDSA-SHA256 and returns DER."""

    __slots__ = ("_key", "public", "source")

    def __init__(self, key: ec.EllipticCurvePrivateKey, source: str = "") -> None:
        self._key = key
        self.public = VerifyKey(key.public_key(), source)
        self.source = source

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, data: bytes) -> bytes:
        """The DER ECDSA-SHA256 signature over `data`."""
        return self.sign_digest(hashlib.sha256(data).digest())

    def sign_digest(self, digest: bytes) -> bytes:
        """The DER ECDSA signature over a SHA-256 `digest` (same bytes as signing the data it came from)."""
        return self._key.sign(digest, ec.ECDSA(utils.Prehashed(_SHA256)))

    def public_pem(self) -> bytes:
        return self.public.public_pem()

    def private_pem(self, password: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted with `password` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r}, source={self.source!r})"


def _read_pem(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise SigningKeyError.unreadable(path, f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE:
        raise SigningKeyError.unreadable(path, f"larger than {MAX_KEY_FILE} bytes: not a PEM key")
    if b"SIGSTORE PRIVATE KEY" in data:
        raise SigningKeyError.unreadable(
            path, "a cosign-encrypted key (ENCRYPTED SIGSTORE PRIVATE KEY) is not read here; export it as PKCS#8 PEM")
    return data


def _check_curve(path: Path | str, key: object) -> None:
    """Only EC P-256: cosign's default, and what the simple-signing and openssl checks expect."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return
        raise SigningKeyError.wrong_type(path, f"an EC {key.curve.name} key")
    raise SigningKeyError.wrong_type(path, f"a {_kind(key)} key")


def _kind(key: object) -> str:
    name = type(key).__name__.lstrip("_")
    for prefix in ("RSA", "DSA", "Ed25519", "Ed448", "X25519", "X448", "DH"):
        if name.startswith(prefix):
            return prefix
    return name


def load_signing_key(path: Path, password: bytes | None = None) -> SigningKey:
    """A P-256 private key from a PEM file (PKCS#8 or openssl's "EC PRIVATE KEY", encrypted or not)."""
    data = _read_pem(path)
    encrypted = b"ENCRYPTED" in data
    try:
        key = serialization.load_pem_private_key(data, password if encrypted and password else None)
    except TypeError:
        # Only an encrypted key without a password gets here (a password for a plain key is not passed on).
        raise SigningKeyError.unreadable(path, f"the key is encrypted: set {PASSWORD_ENV}") from None
    except (ValueError, UnsupportedAlgorithm):
        why = "wrong password (cannot decrypt it)" if encrypted else "not a PEM private key"
        raise SigningKeyError.unreadable(path, why) from None
    _check_curve(path, key)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return SigningKey(key, str(path))


def load_verify_key(path: Path) -> VerifyKey:
    """A P-256 public key from a PEM file (`cosign.pub`, `openssl ec -pubout`)."""
    return parse_verify_key(_read_pem(path), path)


def parse_verify_key(data: bytes, source: Path | str) -> VerifyKey:
    """A P-256 public key from PEM bytes read from `source` (a file, or an object such as a staged release-key.pub)."""
    if len(data) > MAX_KEY_FILE:
        raise SigningKeyError.unreadable(source, f"larger than {MAX_KEY_FILE} bytes: not a PEM key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SigningKeyError.unreadable(source, "not a PEM public key") from None
    _check_curve(source, key)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return VerifyKey(key, str(source))


def generate_key(private_path: Path, public_path: Path, password: bytes | None = None) -> SigningKey:
    """A new P-256 key pair: the private key 0600 (encrypted with `password` if given), never replacing a file."""
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise SigningKeyError(f"refusing to overwrite {path}: it exists (move it away to generate a new key)")
    key = SigningKey(ec.generate_private_key(ec.SECP256R1()), str(private_path))
    try:
        write_atomic(private_path, key.private_pem(password), exclusive=True, mode=0o600)
        write_atomic(public_path, key.public_pem(), exclusive=True)
    except FileExistsError:
        raise SigningKeyError(f"refusing to overwrite {private_path} or {public_path}: one appeared") from None
    return key


def password_from_env(environ: Mapping[str, str], name: str = PASSWORD_ENV) -> bytes | None:
    """The key password from the environment; unset or empty means none (cosign accepts empty passwords)."""
    value = environ.get(name, "")
    return value.encode("utf-8") if value else None


def signing_key_from_env(env_var_path: str = KEY_ENV, env_var_password: str = PASSWORD_ENV,
                         environ: Mapping[str, str] | None = None) -> SigningKey:
    """The key named by $KREL_SIGNING_KEY, decrypted with $KREL_SIGNING_KEY_PASSWORD when it is encrypted."""
    env = os.environ if environ is None else environ
    path = env.get(env_var_path, "")
    if not path:
        raise SigningKeyError(f"no signing key: set {env_var_path} to a PEM private key file or pass --key")
    return load_signing_key(Path(path), password_from_env(env, env_var_password))
