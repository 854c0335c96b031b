"""`krel audit pull`: streaming pull from a Pub/Sub subscription (no public endpoint needed), same judging."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from releng.errors import ReleaseError
from releng.promo.audit.events import EventError, parse_gcr_payload
from releng.promo.audit.service import Auditor

log = logging.getLogger(__name__)


def _on_message(auditor: Auditor, message: Any) -> bool:
    """Judge one pulled message; ack unless judging failed inside (then nack: Pub/Sub redelivers)."""
    where = f"pubsub message {message.message_id!r}"
    try:
        payload = json.loads(message.data)
        event = parse_gcr_payload(payload, message.message_id, where)
    except (ValueError, UnicodeDecodeError, EventError) as exc:
        log.warning("malformed, acknowledged and dropped: %s: %s", where, exc)
        message.ack()
        return True
    try:
        auditor.handle([event])
    except Exception:
        log.exception("not judged, nacked for redelivery: %s", where)
        message.nack()
        return False
    message.ack()
    return True


def pull(auditor: Auditor, subscription: str, *, max_messages: int = 0, timeout: float | None = None) -> int:
    """Pull and judge until max_messages were handled (0: forever) or timeout seconds; returns how many."""
    import google.cloud.pubsub_v1 as pubsub_v1
    from google.api_core import exceptions as gexc

    done = threading.Event()
    handled = 0
    lock = threading.Lock()

    def callback(message: Any) -> None:
        nonlocal handled
        auditor.refresh()
        if _on_message(auditor, message):
            with lock:
                handled += 1
                if max_messages and handled >= max_messages:
                    done.set()

    with pubsub_v1.SubscriberClient() as subscriber:
        future = subscriber.subscribe(subscription, callback,
                                      flow_control=pubsub_v1.types.FlowControl(max_messages=100))
        future.add_done_callback(lambda _: done.set())  # a missing subscription ends the pull at once
        try:
            done.wait(timeout)
        finally:
            future.cancel()
            try:
                future.result(timeout=10)
            except gexc.GoogleAPICallError as exc:
                raise ReleaseError(f"pubsub subscription {subscription}: {exc.message}") from None
            except Exception:  # cancelled: the normal end of a streaming pull
                pass
    auditor.expire_held()
    return handled
