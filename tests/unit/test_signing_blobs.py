"""Blob signatures: base64 DER ECDSA over the bytes; every malformed or foreign signature fails naming the artifact."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, utils
from releng.signing import blobs
from releng.signing.blobs import SignatureError
from releng.signing.keys import SigningKey

DATA = b"kubernetes-server-linux-amd64.tar.gz bytes\n" * 50


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "test")


@pytest.fixture(scope="module")
def other() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "other")


def test_blob_signature_round_trip_and_shape(key: SigningKey) -> None:
    sig = blobs.sign_blob(key, DATA)
    der = base64.b64decode(sig, validate=True)
    r, s = utils.decode_dss_signature(der)
    assert r > 0 and s > 0 and len(der) <= 72
    blobs.verify_blob(key.public, DATA, sig, "a.tar.gz")
    blobs.verify_blob(key.public, DATA, sig + "\n", "a.tar.gz")  # a .sig file with a trailing newline still reads


def _flip(text: str, index: int) -> str:
    der = bytearray(base64.b64decode(text))
    der[index] ^= 0x01
    return base64.b64encode(bytes(der)).decode()


# (id, signature made from a good one and the other key's, data verified, words in the message)
BAD: list[tuple[str, Callable[[str, SigningKey], str], bytes, str]] = [
    ("tampered-data", lambda s, o: s, DATA[:-1] + b"?", "does not verify"),
    ("data-one-byte-longer", lambda s, o: s, DATA + b"\n", "does not verify"),
    ("another-key", lambda s, o: blobs.sign_blob(o, DATA), DATA, "does not verify"),
    ("other-data-signature", lambda s, o: blobs.sign_blob(o, b"other"), DATA, "does not verify"),
    ("flipped-last-byte", lambda s, o: _flip(s, -1), DATA, "does not verify"),
    ("truncated", lambda s, o: base64.b64encode(base64.b64decode(s)[:-5]).decode(), DATA, "malformed"),
    ("truncated-base64", lambda s, o: s[:-3], DATA, "malformed"),
    ("flipped-der-header", lambda s, o: _flip(s, 0), DATA, "malformed"),
    ("garbage-base64", lambda s, o: base64.b64encode(b"not a signature at all").decode(), DATA, "malformed"),
    ("not-base64", lambda s, o: "!!!%%%", DATA, "malformed"),
    ("empty", lambda s, o: "", DATA, "malformed"),
    ("whitespace-only", lambda s, o: " \n", DATA, "malformed"),
    ("huge", lambda s, o: "A" * 5000, DATA, "malformed"),
    ("raw-der-not-base64", lambda s, o: base64.b64decode(s).decode("latin-1"), DATA, "malformed"),
    ("zero-r-s", lambda s, o: base64.b64encode(utils.encode_dss_signature(0, 0)).decode(), DATA, "does not verify"),
]


@pytest.mark.parametrize(("mutate", "data", "word"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_signatures_fail_naming_the_artifact(key: SigningKey, other: SigningKey,
                                                 mutate: Callable[[str, SigningKey], str], data: bytes,
                                                 word: str) -> None:
    sig = mutate(blobs.sign_blob(key, DATA), other)
    with pytest.raises(SignatureError) as info:
        blobs.verify_blob(key.public, data, sig, "bin/kubectl")
    assert str(info.value).startswith("bin/kubectl: ") and word in str(info.value)
    assert "\n" not in str(info.value)


def test_sign_file_writes_sig_and_verifies_streamed(tmp_path: Path, key: SigningKey, other: SigningKey) -> None:
    art = tmp_path / "a.tar.gz"
    art.write_bytes(DATA)
    sig_path = blobs.sign_file(key, art)
    assert sig_path == tmp_path / "a.tar.gz.sig"
    text = sig_path.read_text()
    assert "\n" not in text  # as cosign --output-signature writes it
    blobs.verify_blob(key.public, DATA, text, "a")  # streamed file signature == in-memory blob signature
    blobs.verify_file(key.public, art)
    assert blobs.sign_file(key, art) == sig_path and sig_path.read_text() == text  # rerun keeps the signature
    with pytest.raises(SignatureError, match="refusing to replace"):
        blobs.sign_file(other, art)
    assert sig_path.read_text() == text
    with pytest.raises(SignatureError, match="does not verify"):
        blobs.verify_file(other.public, art)
    art.write_bytes(DATA[:10] + b"X" + DATA[11:])
    with pytest.raises(SignatureError, match=f"{art}: signature does not verify"):
        blobs.verify_file(key.public, art)


def test_sign_file_output_dir_and_missing_files(tmp_path: Path, key: SigningKey) -> None:
    art = tmp_path / "a.bin"
    art.write_bytes(b"x")
    out = tmp_path / "sigs"
    sig_path = blobs.sign_file(key, art, out)
    assert sig_path == out / "a.bin.sig"
    blobs.verify_file(key.public, art, sig_path)
    with pytest.raises(SignatureError, match="cannot read signature"):
        blobs.verify_file(key.public, art)  # no a.bin.sig beside it
    with pytest.raises(Exception, match="cannot read"):
        blobs.sign_file(key, tmp_path / "absent.bin")
