"""The record that an announcement went out: archive/<v>/announcement-sent.json in the targets' bucket, written once
after the mail, so `krel release` (rerun, or after `krel announce send`) never mails the same announcement twice."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from releng import layout
from releng.announce.send import Sent
from releng.errors import ReleaseError
from releng.objectstore.base import ObjectStore

# A record is a few hundred bytes; anything much larger is not one of ours (read no further).
_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class SentRecord:
    """When and to whom an announcement was mailed, and by which command."""

    tag: str
    sent_at: str  # ISO 8601, UTC
    recipients: tuple[str, ...]
    receipt: str
    command: str

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "recipients": list(self.recipients)}


class DamagedRecordError(ReleaseError):
    """The sent record is there but unreadable: whether the mail went out is unknown, so nothing is sent."""

    @classmethod
    def at(cls, where: str, problem: str) -> DamagedRecordError:
        return cls(
            f"announce: {where} is not krel's record of a sent announcement ({problem}); nothing was sent: check "
            "the announce lists, then remove the file to send the announcement (or leave it: it was sent)"
        )


class AlreadySentError(ReleaseError):
    """The announcement was mailed before from these targets; `krel announce send` sends it again only with --resend."""

    @classmethod
    def of(cls, record: SentRecord, where: str) -> AlreadySentError:
        return cls(
            f"announce: {record.tag}'s announcement was already sent on {record.sent_at} to "
            f"{', '.join(record.recipients)} ({record.receipt}; by `{record.command}`, recorded in {where}); "
            "nothing was sent: pass --resend to mail it again"
        )


def refuse_second_send(store: ObjectStore, tag: str) -> None:
    """AlreadySentError when `store` records `tag`'s announcement as sent (a damaged record refuses too)."""
    earlier = sent_record(store, tag)
    if earlier is not None:
        raise AlreadySentError.of(earlier, f"{store.url.rstrip('/')}/{layout.announcement_record_key(tag)}")


def sent_record(store: ObjectStore, tag: str) -> SentRecord | None:
    """The record of `tag`'s announcement in `store`, None when it was never mailed from these targets."""
    key = layout.announcement_record_key(tag)
    if not store.exists(key):
        return None
    where = f"{store.url.rstrip('/')}/{key}"
    data = store.get(key)
    if len(data) > _MAX_BYTES:
        raise DamagedRecordError.at(where, f"{len(data)} bytes")
    try:
        item = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than json's stack
        raise DamagedRecordError.at(where, f"not JSON: {type(exc).__name__}") from None
    return _record(item, tag, where)


def _record(item: object, tag: str, where: str) -> SentRecord:
    if not isinstance(item, dict):
        raise DamagedRecordError.at(where, "not a JSON object")
    texts = {name: item.get(name) for name in ("tag", "sent_at", "receipt", "command")}
    recipients = item.get("recipients")
    if not all(isinstance(value, str) for value in texts.values()) or not isinstance(recipients, list) or not all(
        isinstance(r, str) for r in recipients
    ):
        raise DamagedRecordError.at(where, "expected strings tag, sent_at, receipt, command and a list of recipients")
    if texts["tag"] != tag:
        raise DamagedRecordError.at(where, f"it records tag {texts['tag']!r}, not {tag}")
    return SentRecord(tag=tag, sent_at=str(texts["sent_at"]), recipients=tuple(recipients),
                      receipt=str(texts["receipt"]), command=str(texts["command"]))


def record_sent(store: ObjectStore, sent: Sent, when: datetime, command: str) -> SentRecord:
    """Write the record after the mail went out; a record already there (an earlier send) is kept as it is."""
    record = SentRecord(tag=sent.outgoing.tag, sent_at=when.isoformat(timespec="seconds"),
                        recipients=sent.outgoing.message.recipients, receipt=sent.receipt, command=command)
    key = layout.announcement_record_key(record.tag)
    if store.exists(key):
        return record
    data = (json.dumps(record.as_json(), indent=2, sort_keys=True) + "\n").encode()
    store.put_new(key, data, content_type="application/json")
    return record
