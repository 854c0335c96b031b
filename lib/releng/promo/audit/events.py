"""Registry change events: Pub/Sub push bodies carrying GCR/Artifact Registry payloads, and the notification
envelopes of the CNCF distribution registry, parsed into one Event shape (the one guard for untrusted bodies)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from releng.errors import ReleaseError, UsageError
from releng.registry import oci, reference

INSERT = "INSERT"
DELETE = "DELETE"
IGNORED = "IGNORED"

# GCR/AR actions as published on topic `gcr`; distribution actions mapped onto them (pull/mount change nothing).
_GCR_ACTIONS = {"INSERT": INSERT, "DELETE": DELETE}
_REGISTRY_ACTIONS = {"push": INSERT, "delete": DELETE, "pull": IGNORED, "mount": IGNORED}
_MAX_ID = 200


class EventError(ReleaseError):
    """A body or event the auditor cannot read: answered with 400 and logged."""

    @classmethod
    def at(cls, where: str, problem: str) -> EventError:
        return cls(f"{where}: {problem}")


@dataclass(frozen=True)
class Event:
    """One change: INSERT/DELETE/IGNORED of HOST/PATH by digest and/or tag; `id` is the sender's delivery id."""

    id: str
    action: str
    host: str
    path: str
    digest: str = ""
    tag: str = ""
    media_type: str = ""

    @property
    def repo(self) -> str:
        """HOST/PATH: the full repository the event names."""
        return f"{self.host}/{self.path}"

    def describe(self) -> dict[str, str]:
        """The event as a flat dict for log lines and reporters."""
        return {"id": self.id, "action": self.action, "repo": self.repo, "digest": self.digest, "tag": self.tag}


def _json(raw: bytes | str, where: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EventError.at(where, f"not JSON ({exc.__class__.__name__})") from None


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EventError.at(where, f"expected a JSON object, got {type(value).__name__}")
    return value


def _text(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EventError.at(where, f"{key} must be a string, got {type(value).__name__}")
    return value


def _delivery_id(value: str, where: str) -> str:
    if not value or len(value) > _MAX_ID or not value.isprintable():
        raise EventError.at(where, "missing or unusable message id")
    return value


def _ref(text: str, where: str, field: str) -> reference.ImageRef:
    try:
        return reference.parse_image_ref(text)
    except UsageError as exc:
        raise EventError.at(where, f"{field}: {exc}") from None


def parse_gcr_payload(doc: Any, message_id: str, where: str) -> Event:
    """A GCR/AR payload `{"action", "digest": "HOST/PATH@sha256:..", "tag": "HOST/PATH:TAG"}` (either may be absent)."""
    doc = _object(doc, where)
    action = _text(doc, "action", where)
    if action not in _GCR_ACTIONS:
        raise EventError.at(where, f"unknown action {action!r}; expected INSERT or DELETE")
    fqin, pqin = _text(doc, "digest", where), _text(doc, "tag", where)
    if not fqin and not pqin:
        raise EventError.at(where, "neither digest nor tag given")
    by_digest = _ref(fqin, where, "digest") if fqin else None
    by_tag = _ref(pqin, where, "tag") if pqin else None
    if by_digest is not None and not by_digest.digest:
        raise EventError.at(where, f"digest {fqin!r} has no @sha256: part")
    if by_tag is not None and not by_tag.tag:
        raise EventError.at(where, f"tag {pqin!r} has no :TAG part")
    if by_digest and by_tag and (by_digest.host, by_digest.repo) != (by_tag.host, by_tag.repo):
        raise EventError.at(where, f"digest {fqin!r} and tag {pqin!r} name different repositories")
    ref = by_digest or by_tag
    assert ref is not None
    digest = by_digest.digest if by_digest and by_digest.digest else ""
    tag = by_tag.tag if by_tag and by_tag.tag else ""
    # Delivery ids are per sender: a Pub/Sub message id and a registry event id never collide.
    event_id = f"pubsub/{_delivery_id(message_id, where)}"
    return Event(event_id, _GCR_ACTIONS[action], ref.host, ref.repo, digest, tag)


def parse_pubsub_push(body: bytes) -> Event:
    """A Pub/Sub push body `{"message": {"data": base64, "messageId": ..}, "subscription": ..}`."""
    where = "pubsub push"
    message = _object(_object(_json(body, where), where).get("message"), f"{where}: message")
    message_id = _text(message, "messageId", where) or _text(message, "message_id", where)
    where = f"pubsub message {message_id[:_MAX_ID]!r}"
    data = _text(message, "data", where)
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EventError.at(where, "data is not base64") from None
    return parse_gcr_payload(_json(payload, where), message_id, where)


def _registry_event(doc: Any, host: str, where: str) -> Event:
    doc = _object(doc, where)
    action = _text(doc, "action", where)
    if action not in _REGISTRY_ACTIONS:
        raise EventError.at(where, f"unknown action {action!r}; expected push, delete, pull or mount")
    target = _object(doc.get("target"), f"{where}: target")
    repo, digest, tag = (_text(target, k, where) for k in ("repository", "digest", "tag"))
    media_type = _text(target, "mediaType", where)
    event_id = f"registry/{host}/{_delivery_id(_text(doc, 'id', where), where)}"
    if not repo or not reference.REPOSITORY.fullmatch(repo):
        raise EventError.at(where, f"target.repository {repo[:100]!r} is not a repository path")
    if digest and not reference.DIGEST.fullmatch(digest):
        raise EventError.at(where, f"target.digest {digest[:100]!r} is not sha256:<64 hex>")
    if tag and not reference.TAG.fullmatch(tag):
        raise EventError.at(where, f"target.tag {tag[:140]!r} is not a valid tag")
    if not digest and not tag:
        raise EventError.at(where, "target has neither digest nor tag")
    mapped = _REGISTRY_ACTIONS[action]
    # Blob events (layers, configs) change no manifest: only manifests are promoted, so only they are judged.
    if media_type and media_type not in oci.MANIFEST_TYPES:
        mapped = IGNORED
    return Event(event_id, mapped, host, repo, digest, tag, media_type)


def parse_registry_envelope(body: bytes, host: str) -> list[Event]:
    """A distribution notification envelope `{"events": [...]}`; host is the registry that sent it."""
    where = f"registry {host} notification"
    events = _object(_json(body, where), where).get("events")
    if not isinstance(events, list) or not events:
        raise EventError.at(where, "expected a non-empty events list")
    return [_registry_event(e, host, f"{where} event {i}") for i, e in enumerate(events)]


def parse_event_file(text: str, registry_host: str | None, where: str) -> list[Event]:
    """One event file for `krel audit check`: a Pub/Sub push body, a GCR payload, or a registry envelope.

    A file that is no event is bad input on the command line (UsageError, exit 2): exit 1 stays "REJECTED".
    """
    try:
        return _event_file(text, registry_host, where)
    except EventError as exc:
        problem = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
        raise UsageError(f"event file {problem}") from None


def _event_file(text: str, registry_host: str | None, where: str) -> list[Event]:
    doc = _object(_json(text, where), where)
    if "message" in doc:
        return [parse_pubsub_push(text.encode())]
    if "events" in doc:
        if not registry_host:
            raise UsageError(f"{where}: a registry notification carries no host name; pass --registry-host")
        return parse_registry_envelope(text.encode(), registry_host)
    return [parse_gcr_payload(doc, str(doc.get("id") or "check"), where)]
