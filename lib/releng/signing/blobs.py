"""Blob signatures as `cosign sign-blob` writes them: base64 of a DER ECDSA-SHA256 signature over the bytes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import utils

from releng.digests import hash_file
from releng.errors import ReleaseError
from releng.files import write_atomic
from releng.signing.keys import SigningKey, VerifyKey

SIG_SUFFIX = ".sig"
# A P-256 DER signature is at most 72 bytes (96 in base64); anything much larger is not a signature.
MAX_SIGNATURE_B64 = 1024


class SignatureError(ReleaseError):
    """A signature is malformed or does not verify; the message names the artifact."""

    @classmethod
    def mismatch(cls, name: str, key: VerifyKey) -> SignatureError:
        return cls(f"{name}: signature does not verify with key {key.key_id} (file, signature or key differ)")

    @classmethod
    def malformed(cls, name: str, why: str) -> SignatureError:
        return cls(f"{name}: malformed signature: {why}")


@dataclass(frozen=True)
class Outcome:
    """One artifact of a sign or verify run: ok, or why not (the line `krel sign|verify` prints for it)."""

    artifact: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sign_blob(key: SigningKey, data: bytes) -> str:
    """The base64 signature `cosign sign-blob --key` prints for `data`."""
    return base64.b64encode(key.sign(data)).decode("ascii")


def decode_signature(signature_b64: str | bytes, name: str) -> bytes:
    """The DER bytes of a base64 signature; SignatureError naming `name` when it is not base64 of DER ECDSA."""
    text = signature_b64.strip()
    if not text:
        raise SignatureError.malformed(name, "empty")
    if len(text) > MAX_SIGNATURE_B64:
        raise SignatureError.malformed(name, f"{len(text)} characters, expected base64 of at most 72 bytes")
    try:
        der = base64.b64decode(text, validate=True)
        utils.decode_dss_signature(der)  # the DER shape, so a truncated signature says so rather than "mismatch"
    except (binascii.Error, ValueError):
        raise SignatureError.malformed(name, "expected base64 of a DER ECDSA signature") from None
    return der


def verify_blob(key: VerifyKey, data: bytes, signature_b64: str | bytes, name: str) -> None:
    """Check a base64 signature over `data`; SignatureError naming `name` on a malformed or wrong signature."""
    if not key.verify(data, decode_signature(signature_b64, name)):
        raise SignatureError.mismatch(name, key)


def _file_digest(path: Path) -> bytes:
    (hexdigest,) = hash_file(path, ("sha256",))  # streamed: release tarballs do not fit in memory
    return bytes.fromhex(hexdigest)


def signature_path(path: Path, output_dir: Path | None = None) -> Path:
    """Where a file's signature goes: `<file>.sig` beside it, or in `output_dir`."""
    return (output_dir if output_dir is not None else path.parent) / (path.name + SIG_SUFFIX)


def _read_signature(sig_path: Path, name: str) -> bytes:
    try:
        with open(sig_path, "rb") as handle:
            return handle.read(MAX_SIGNATURE_B64 + 1)
    except OSError as exc:
        raise SignatureError(f"{name}: cannot read signature {sig_path}: {exc.strerror or exc}") from None


def sign_file(key: SigningKey, path: Path, output_dir: Path | None = None) -> Path:
    """Write `<file>.sig` (base64, no newline, as cosign's --output-signature); returns its path.

    ECDSA signatures differ on each run, so an existing `.sig` this key verifies is kept (a rerun writes
    nothing); one that does not verify is refused rather than replaced.
    """
    digest = _file_digest(path)
    sig_path = signature_path(path, output_dir)
    if sig_path.exists():
        existing = _read_signature(sig_path, str(path))
        try:
            if key.public.verify_digest(digest, decode_signature(existing, str(sig_path))):
                return sig_path
        except SignatureError:
            pass
        raise SignatureError(f"{path}: refusing to replace {sig_path}: it holds another signature (move it away)")
    signature = base64.b64encode(key.sign_digest(digest))
    try:
        write_atomic(sig_path, signature, exclusive=True)
    except FileExistsError:
        raise SignatureError(f"{path}: refusing to replace {sig_path}: it appeared while signing") from None
    return sig_path


def verify_file(key: VerifyKey, path: Path, sig_path: Path | None = None) -> None:
    """Check `<file>.sig` (or `sig_path`) against the file, hashing it as a stream; SignatureError naming it."""
    sig_path = signature_path(path) if sig_path is None else sig_path
    der = decode_signature(_read_signature(sig_path, str(path)), str(path))
    if not key.verify_digest(_file_digest(path), der):
        raise SignatureError.mismatch(str(path), key)


def sign_files(key: SigningKey, paths: Iterable[Path], output_dir: Path | None = None) -> list[Outcome]:
    """Sign each file (`krel sign blobs`); one failure is reported and the rest are still signed."""
    outcomes = []
    for path in paths:
        try:
            outcomes.append(Outcome(str(path), True, str(sign_file(key, path, output_dir))))
        except ReleaseError as exc:
            outcomes.append(Outcome(str(path), False, str(exc)))
    return outcomes


def verify_files(key: VerifyKey, paths: Iterable[Path], sig_dir: Path | None = None) -> list[Outcome]:
    """Check each file against `<file>.sig` beside it (or in `sig_dir`); `krel verify blobs`."""
    outcomes = []
    for path in paths:
        try:
            verify_file(key, path, signature_path(path, sig_dir))
            outcomes.append(Outcome(str(path), True, f"signed by key {key.key_id}"))
        except ReleaseError as exc:
            outcomes.append(Outcome(str(path), False, str(exc)))
    return outcomes
