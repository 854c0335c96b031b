"""Property tests for the signing parsers: any input parses, or raises our error naming where, never anything else."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from releng.signing import keys
from releng.signing.blobs import SignatureError, decode_signature
from releng.signing.cosign import check_payload, simple_signing_payload
from releng.signing.keys import SigningKeyError

DIGEST = "sha256:" + "ab" * 32
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200),
                 st.binary(max_size=100).map(lambda b: base64.b64encode(b).decode())))
def test_decode_signature_returns_der_or_signature_error(value: str | bytes) -> None:
    try:
        der = decode_signature(value, "art")
    except SignatureError as exc:
        assert str(exc).startswith("art: malformed signature")
    else:
        assert isinstance(der, bytes) and der[0] == 0x30


def _critical(kind: object, claimed: object, reference: object) -> bytes:
    return json.dumps({"critical": {"identity": {"docker-reference": reference}, "image": {
        "docker-manifest-digest": claimed}, "type": kind}, "optional": None}).encode()


@given(st.one_of(st.binary(max_size=300), JSON.map(lambda d: json.dumps(d).encode()),
                 st.tuples(JSON, JSON, JSON).map(lambda t: _critical(*t))))
def test_check_payload_returns_reference_or_signature_error(payload: bytes) -> None:
    try:
        reference = check_payload(payload, DIGEST, "img")
    except SignatureError as exc:
        assert str(exc).startswith("img: signature payload ") and "\n" not in str(exc)
    else:
        assert isinstance(reference, str)


def test_check_payload_accepts_cosigns_own_payload() -> None:
    assert check_payload(simple_signing_payload("gcr.io/p/x", DIGEST), DIGEST, "img") == "gcr.io/p/x"


@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: (
    "-----BEGIN PRIVATE KEY-----\n" + t + "\n-----END PRIVATE KEY-----\n").encode()),
       st.none() | st.binary(min_size=1, max_size=20))
def test_load_signing_key_never_raises_anything_else(data: bytes, password: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.pem"
        path.write_bytes(data)
        try:
            keys.load_signing_key(path, password)
        except SigningKeyError as exc:
            assert str(exc).startswith(f"signing key {path}: ") and "\n" not in str(exc)
        try:
            keys.load_verify_key(path)
        except SigningKeyError as exc:
            assert str(exc).startswith(f"signing key {path}: ")
