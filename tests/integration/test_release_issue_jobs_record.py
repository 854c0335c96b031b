"""The record of a sent announcement (archive/<v>/announcement-sent.json) in a real file:// bucket: written once after
the mail, read back, and any damaged record refused in one line (whether the mail went out is then unknown)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from releng import layout
from releng.announce.message import Message
from releng.announce.record import DamagedRecordError, record_sent, sent_record
from releng.announce.send import Outgoing, Sent
from releng.objectstore import open_store
from releng.objectstore.base import ObjectStore

TAG = "v1.0.0-rc.1"
KEY = layout.announcement_record_key(TAG)
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return open_store((tmp_path / "bucket").as_uri())


def _sent(receipt: str = "outbox/1.eml") -> Sent:
    message = Message(sender_name="Demo", sender_email="release@localhost", recipients=("a@localhost", "b@localhost"),
                      subject="Demo v1.0.0-rc.1", html="<p>out</p>", text="out\n")
    return Sent(outgoing=Outgoing(tag=TAG, source="file:///x", message=message, checksums=()), receipt=receipt)


def test_written_once_read_back_and_an_earlier_record_kept(store: ObjectStore) -> None:
    assert f"archive/{TAG}/announcement-sent.json" == KEY and sent_record(store, TAG) is None
    first = record_sent(store, _sent(), WHEN, "krel release --nomock")
    read = sent_record(store, TAG)
    assert read == first and read.recipients == ("a@localhost", "b@localhost") and read.sent_at.startswith("2026-03-01")
    before = store.get(KEY)
    record_sent(store, _sent("outbox/2.eml"), WHEN, "krel announce send --tag v1.0.0-rc.1 --nomock")  # a resend
    assert store.get(KEY) == before  # the first send stays the record


GOOD = {"tag": TAG, "sent_at": "2026-03-01T12:00:00+00:00", "recipients": ["a@localhost"], "receipt": "r",
        "command": "krel release"}

DAMAGED = {
    "not-json": b"sent!\n",
    "not-utf8": b"\xff\xfe{}",
    "empty": b"",
    "json-array": b"[]",
    "json-string": b'"sent"',
    "missing-recipients": json.dumps({k: v for k, v in GOOD.items() if k != "recipients"}).encode(),
    "recipients-a-string": json.dumps({**GOOD, "recipients": "a@localhost"}).encode(),
    "recipient-a-number": json.dumps({**GOOD, "recipients": [1]}).encode(),
    "tag-a-number": json.dumps({**GOOD, "tag": 1}).encode(),
    "another-tag": json.dumps({**GOOD, "tag": "v9.9.9"}).encode(),
    "terminal-escape-tag": json.dumps({**GOOD, "tag": "v1.0.0\x1b]8;;http://x\x07"}).encode(),
    "huge": b'{"tag": "' + b"v" * 100_000 + b'"}',
    "deeply-nested": b"[" * 30_000 + b"]" * 30_000,  # below the size cap: the parser's own limit
}


@pytest.mark.parametrize("data", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_record_is_refused_in_one_line(store: ObjectStore, data: bytes) -> None:
    store.put_new(KEY, data)
    with pytest.raises(DamagedRecordError) as caught:
        sent_record(store, TAG)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message and len(message) < 600
    assert KEY in message and "nothing was sent" in message
