"""DSSE envelopes: PAE as the spec spells it, a signature OpenSSL accepts, and every broken envelope refused by name."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from releng.signing import dsse
from releng.signing.dsse import EnvelopeError
from releng.signing.keys import SigningKey

PAYLOAD = b'{"_type": "https://in-toto.io/Statement/v1", "subject": []}\n'


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "test")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "other")


def test_pae_is_the_spec_example() -> None:
    # secure-systems-lab/dsse protocol.md test vector
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    # lengths count bytes, not characters
    assert dsse.pae("t/\u00e9", b"\xff") == b"DSSEv1 4 t/\xc3\xa9 1 \xff"


def test_round_trip_and_shape(key: SigningKey) -> None:
    envelope = dsse.sign(key, PAYLOAD)
    assert set(envelope) == {"payloadType", "payload", "signatures"}
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(envelope["payload"]) == PAYLOAD
    assert envelope["signatures"][0]["keyid"] == key.key_id
    data = dsse.encode(envelope)
    assert data.endswith(b"\n") and data.count(b"\n") == 1  # one line of .intoto.jsonl
    assert dsse.verify(key.public, data, "x.intoto.jsonl") == PAYLOAD


def test_openssl_verifies_the_pae_signature(key: SigningKey, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed for the independent check"
    envelope = dsse.sign(key, PAYLOAD)
    (tmp_path / "pub.pem").write_bytes(key.public_pem())
    (tmp_path / "sig.der").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    (tmp_path / "pae").write_bytes(dsse.pae(envelope["payloadType"], PAYLOAD))
    argv = [openssl, "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig.der")]
    ok = subprocess.run([*argv, str(tmp_path / "pae")], capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    # the signature is over the PAE, not over the bare payload
    (tmp_path / "payload").write_bytes(PAYLOAD)
    bare = subprocess.run([*argv, str(tmp_path / "payload")], capture_output=True, check=False)
    assert bare.returncode != 0


def test_any_of_several_signatures_verifies(key: SigningKey, other_key: SigningKey) -> None:
    envelope = dsse.sign(other_key, PAYLOAD)
    envelope["signatures"].append(dsse.sign(key, PAYLOAD)["signatures"][0])
    assert dsse.verify(key.public, dsse.encode(envelope), "two") == PAYLOAD


def _edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[SigningKey, SigningKey], bytes]:
    def make(key: SigningKey, other: SigningKey) -> bytes:
        envelope = dsse.sign(key, PAYLOAD)
        change(envelope)
        return json.dumps(envelope).encode()
    return make


def _flip_payload(envelope: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(envelope["payload"]))
    raw[10] ^= 1
    envelope["payload"] = base64.b64encode(bytes(raw)).decode()


def _flip_sig(envelope: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    raw[-1] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()


HOSTILE: dict[str, tuple[Callable[[SigningKey, SigningKey], bytes], str]] = {
    "payload-byte": (_edit(_flip_payload), "no signature verifies"),
    "signature-byte": (_edit(_flip_sig), "no signature verifies|malformed"),
    "payload-type": (_edit(lambda e: e.update(payloadType="application/json")), "payloadType 'application/json'"),
    "type-swap-same-sig": (_edit(lambda e: e.update(payloadType="application/vnd.in-toto+json ")), "payloadType"),
    "other-key": (lambda k, o: dsse.encode(dsse.sign(o, PAYLOAD)), "no signature verifies with key"),
    "truncated-sig": (_edit(lambda e: e["signatures"][0].update(sig=e["signatures"][0]["sig"][:40])), "malformed"),
    "sig-not-base64": (_edit(lambda e: e["signatures"][0].update(sig="!!!")), "malformed"),
    "sig-not-string": (_edit(lambda e: e["signatures"][0].update(sig=5)), "signatures\\[0\\]"),
    "sig-missing": (_edit(lambda e: e["signatures"][0].pop("sig")), "signatures\\[0\\]"),
    "keyid-not-string": (_edit(lambda e: e["signatures"][0].update(keyid=[1])), "signatures\\[0\\]"),
    "entry-not-object": (_edit(lambda e: e.update(signatures=["sig"])), "signatures\\[0\\]"),
    "no-signatures": (_edit(lambda e: e.update(signatures=[])), "non-empty list"),
    "signatures-not-list": (_edit(lambda e: e.update(signatures={"sig": "x"})), "non-empty list"),
    "payload-missing": (_edit(lambda e: e.pop("payload")), "payload is not a base64 string"),
    "payload-not-base64": (_edit(lambda e: e.update(payload="%%%")), "payload is not valid base64"),
    "type-missing": (_edit(lambda e: e.pop("payloadType")), "payloadType is missing"),
    "not-json": (lambda k, o: b"\x00\xffnot json", "not a JSON DSSE envelope"),
    "json-list": (lambda k, o: b"[1, 2]", "not a JSON object"),
    "deep-json": (lambda k, o: b"[" * 100000 + b"]" * 100000, "not a JSON"),
    "empty": (lambda k, o: b"", "not a JSON DSSE envelope"),
    "too-large": (lambda k, o: b" " * (dsse.MAX_ENVELOPE_BYTES + 1), "more than an envelope"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_envelope_is_refused_naming_it(case: str, key: SigningKey, other_key: SigningKey) -> None:
    make, message = HOSTILE[case]
    with pytest.raises(EnvelopeError, match=message) as caught:
        dsse.verify(key.public, make(key, other_key), "rel/provenance.intoto.jsonl")
    assert "rel/provenance.intoto.jsonl" in str(caught.value) and "\n" not in str(caught.value)
