"""Parsing untrusted event bodies: every bad body is one EventError naming what and where, never anything else."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.promo.audit.events import (
    DELETE,
    IGNORED,
    INSERT,
    EventError,
    parse_event_file,
    parse_pubsub_push,
    parse_registry_envelope,
)

from tests.unit._audit_common import D_IMAGE, REPO, push_body


def test_gcr_insert_with_tag() -> None:
    event = parse_pubsub_push(push_body({"action": "INSERT", "digest": f"{REPO}@{D_IMAGE}", "tag": f"{REPO}:1.0"}, "7"))
    assert (event.id, event.action, event.repo, event.digest, event.tag) == ("pubsub/7", INSERT, REPO, D_IMAGE, "1.0")


def test_gcr_delete_tag_only() -> None:
    event = parse_pubsub_push(push_body({"action": "DELETE", "tag": f"{REPO}:1.0"}))
    assert (event.action, event.digest, event.tag, event.path) == (DELETE, "", "1.0", "k8s-prod/foo")


def _envelope(*events: dict[str, object]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _reg(action: str, **target: object) -> dict[str, object]:
    base: dict[str, object] = {"repository": "prod/foo", "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    return {"id": "e1", "action": action, "target": {**base, **target}}


def test_registry_envelope_actions() -> None:
    events = parse_registry_envelope(_envelope(
        _reg("push", digest=D_IMAGE, tag="1.0"), _reg("pull", digest=D_IMAGE), _reg("mount", digest=D_IMAGE),
        _reg("delete", tag="1.0", mediaType=None), _reg("push", digest=D_IMAGE, mediaType="application/octet-stream"),
    ), "127.0.0.1:5000")
    assert [e.action for e in events] == [INSERT, IGNORED, IGNORED, DELETE, IGNORED]
    assert events[0].id == "registry/127.0.0.1:5000/e1" and events[0].repo == "127.0.0.1:5000/prod/foo"


def _b64(text: bytes) -> str:
    return base64.b64encode(text).decode()


def _push_raw(message: object) -> bytes:
    return json.dumps({"message": message}).encode()


GOOD = f"{REPO}@{D_IMAGE}"
PUSH_HOSTILE = {
    "not-json": (b"{not json", "not JSON"),
    "binary": (b"\xff\xfe\x00", "not JSON"),
    "array": (b"[1, 2]", "expected a JSON object"),
    "no-message": (b"{}", "expected a JSON object"),
    "message-string": (_push_raw("x"), "expected a JSON object"),
    "data-not-base64": (_push_raw({"messageId": "1", "data": "%%%"}), "not base64"),
    "data-not-json": (_push_raw({"messageId": "1", "data": _b64(b"hello")}), "not JSON"),
    "no-message-id": (push_body({"action": "INSERT", "digest": GOOD}, ""), "message id"),
    "huge-message-id": (push_body({"action": "INSERT", "digest": GOOD}, "x" * 500), "message id"),
    "control-char-id": (push_body({"action": "INSERT", "digest": GOOD}, "a\nb"), "message id"),
    "unknown-action": (push_body({"action": "UPDATE", "digest": GOOD}), "unknown action 'UPDATE'"),
    "lowercase-action": (push_body({"action": "insert", "digest": GOOD}), "unknown action"),
    "missing-action": (push_body({"digest": GOOD}), "unknown action ''"),
    "action-not-string": (push_body({"action": 1, "digest": GOOD}), "action must be a string"),
    "neither-digest-nor-tag": (push_body({"action": "INSERT"}), "neither digest nor tag"),
    "digest-without-sha": (push_body({"action": "INSERT", "digest": REPO}), "no @sha256"),
    "bad-digest-hex": (push_body({"action": "INSERT", "digest": f"{REPO}@sha256:xyz"}), "digest"),
    "tag-without-tag": (push_body({"action": "INSERT", "tag": REPO}), "no :TAG"),
    "no-host": (push_body({"action": "INSERT", "digest": f"foo@{D_IMAGE}"}), "REGISTRY/REPO"),
    "unicode-repo": (push_body({"action": "INSERT", "digest": f"us.gcr.io/안녕@{D_IMAGE}"}), "repository"),
    "repos-disagree": (push_body({"action": "INSERT", "digest": GOOD, "tag": "us.gcr.io/other/x:1"}),
                       "different repositories"),
    "payload-array": (push_body([1]), "expected a JSON object"),
}


@pytest.mark.parametrize("body,problem", PUSH_HOSTILE.values(), ids=PUSH_HOSTILE.keys())
def test_hostile_push_bodies(body: bytes, problem: str) -> None:
    with pytest.raises(EventError, match=problem.replace("(", r"\(")) as info:
        parse_pubsub_push(body)
    assert "\n" not in str(info.value)


REGISTRY_HOSTILE = {
    "events-missing": (b"{}", "non-empty events list"),
    "events-empty": (_envelope(), "non-empty events list"),
    "events-not-list": (b'{"events": {}}', "non-empty events list"),
    "event-not-object": (b'{"events": [1]}', "expected a JSON object"),
    "unknown-action": (_envelope(_reg("replicate", digest=D_IMAGE)), "unknown action 'replicate'"),
    "no-target": (_envelope({"id": "1", "action": "push"}), "target"),
    "no-id": (_envelope({**_reg("push", digest=D_IMAGE), "id": ""}), "message id"),
    "bad-repo": (_envelope(_reg("push", digest=D_IMAGE, repository="../../etc")), "not a repository path"),
    "bad-digest": (_envelope(_reg("push", digest="md5:abc")), "not sha256"),
    "bad-tag": (_envelope(_reg("push", digest=D_IMAGE, tag="-x;rm")), "not a valid tag"),
    "no-digest-no-tag": (_envelope(_reg("push")), "neither digest nor tag"),
    "digest-not-string": (_envelope(_reg("push", digest=5)), "digest must be a string"),
    "deep-json": (b'{"events": ' + b"[" * 100000 + b"]" * 100000 + b"}", "not JSON|expected a JSON object"),
}


@pytest.mark.parametrize("body,problem", REGISTRY_HOSTILE.values(), ids=REGISTRY_HOSTILE.keys())
def test_hostile_registry_envelopes(body: bytes, problem: str) -> None:
    with pytest.raises(EventError, match=problem):
        parse_registry_envelope(body, "127.0.0.1:5000")


def test_event_file_kinds() -> None:
    payload = json.dumps({"action": "INSERT", "digest": GOOD})
    assert parse_event_file(payload, None, "e.json")[0].digest == D_IMAGE
    assert parse_event_file(push_body(json.loads(payload)).decode(), None, "e.json")[0].id == "pubsub/1"
    with pytest.raises(Exception, match="--registry-host"):
        parse_event_file(_envelope(_reg("push", digest=D_IMAGE)).decode(), None, "e.json")


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_event_error(body: bytes) -> None:
    for parse in (parse_pubsub_push, lambda b: parse_registry_envelope(b, "h:1")):
        with contextlib.suppress(EventError):
            parse(body)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4)))
def test_any_json_payload_parses_or_raises_event_error(payload: object) -> None:
    with contextlib.suppress(EventError):
        parse_pubsub_push(push_body(payload))
