"""DSSE envelopes (in-toto's signature wrapper): sign a payload over its PAE, verify an envelope's bytes.

Spec: github.com/secure-systems-lab/dsse (protocol.md, envelope.md). The signature covers the payload type too, so
an envelope can never be replayed as another kind of document.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from releng.errors import ReleaseError
from releng.signing.blobs import SignatureError, decode_signature
from releng.signing.keys import SigningKey, VerifyKey

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
# An envelope holds one provenance statement or one SBOM statement: a few MiB at most.
MAX_ENVELOPE_BYTES = 64 << 20


class EnvelopeError(ReleaseError):
    """An envelope is malformed, of another payload type, or no signature verifies; the message names it."""


@dataclass(frozen=True)
class Envelope:
    """A parsed envelope: the payload bytes (decoded), its type, and (keyid, DER signature) pairs."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (lengths in bytes)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign(key: SigningKey, payload: bytes, payload_type: str = INTOTO_PAYLOAD_TYPE) -> dict[str, Any]:
    """The envelope of `payload`, signed by `key` (keyid: the key's short id)."""
    signature = base64.b64encode(key.sign(pae(payload_type, payload))).decode("ascii")
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key.key_id, "sig": signature}],
    }


def encode(envelope: dict[str, Any]) -> bytes:
    """One JSON line (the .intoto.jsonl convention: one envelope per line)."""
    return (json.dumps(envelope, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _b64(value: Any, what: str, name: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"{name}: {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{name}: {what} is not valid base64") from None


def parse(data: bytes, name: str) -> Envelope:
    """The envelope in `data` (a JSON object, or the first line of a .jsonl); EnvelopeError naming `name`."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"{name}: {len(data)} bytes, more than an envelope's {MAX_ENVELOPE_BYTES}")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise EnvelopeError(f"{name}: not a JSON DSSE envelope") from None
    if not isinstance(doc, dict):
        raise EnvelopeError(f"{name}: not a JSON object with payloadType, payload and signatures")
    payload_type, raw_signatures = doc.get("payloadType"), doc.get("signatures")
    if not isinstance(payload_type, str):
        raise EnvelopeError(f"{name}: payloadType is missing or not a string")
    payload = _b64(doc.get("payload"), "payload", name)
    if not isinstance(raw_signatures, list) or not raw_signatures:
        raise EnvelopeError(f"{name}: signatures is not a non-empty list")
    signatures = []
    for index, entry in enumerate(raw_signatures):
        sig = entry.get("sig") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("keyid", ""), str) or not isinstance(sig, str):
            raise EnvelopeError(f"{name}: signatures[{index}] is not an object with a string keyid and sig")
        try:
            der = decode_signature(sig, name)
        except SignatureError as exc:
            raise EnvelopeError(f"{exc} (signatures[{index}])") from None
        signatures.append((str(entry.get("keyid", "")), der))
    return Envelope(payload_type, payload, tuple(signatures))


def verify(key: VerifyKey, data: bytes, name: str, payload_type: str = INTOTO_PAYLOAD_TYPE) -> bytes:
    """The payload of the envelope `data` once its type is `payload_type` and one signature verifies with `key`.

    DSSE: every signature is over PAE(type, payload); keyid is only a hint, so each signature is tried.
    """
    envelope = parse(data, name)
    if envelope.payload_type != payload_type:
        raise EnvelopeError(f"{name}: payloadType {envelope.payload_type[:80]!r}, expected {payload_type!r}")
    message = pae(envelope.payload_type, envelope.payload)
    if not any(key.verify(message, der) for _, der in envelope.signatures):
        raise EnvelopeError(f"{name}: no signature verifies with key {key.key_id} (payload, signature or key differ)")
    return envelope.payload
