"""Shared builders for the audit unit tests: a promoted index and a ready Auditor without git or sockets."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from releng.promo.audit.service import Auditor
from releng.promo.audit.source import ManifestSource
from releng.promo.audit.verdict import PromotedIndex

HOST = "us.gcr.io"
REPO = f"{HOST}/k8s-prod/foo"
D_IMAGE = "sha256:" + "1" * 64
D_LIST = "sha256:" + "2" * 64
D_CHILD = "sha256:" + "3" * 64
D_OTHER = "sha256:" + "9" * 64
D_NOTAG = "sha256:" + "4" * 64

INDEX = PromotedIndex("c0ffee" * 6 + "abcd", {
    REPO: {D_IMAGE: frozenset({"1.0"}), D_LIST: frozenset({"2.0", "latest"}), D_NOTAG: frozenset()},
})


def push_body(payload: Any, message_id: str = "1") -> bytes:
    """A Pub/Sub push body as the emulator sends it."""
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps({"subscription": "projects/p/subscriptions/s",
                       "message": {"data": data, "messageId": message_id, "attributes": {}}}).encode()


def ready_auditor(tmp_path: Path, children: dict[str, tuple[str, ...]] | None = None, **kw: Any) -> Auditor:
    """An Auditor judging against INDEX; the child reader answers from `children` (digest -> children)."""
    source = ManifestSource("unused", "main", "manifests", tmp_path, interval=1e9)
    source.index = INDEX
    reads: list[str] = []

    def reader(host: str, path: str, digest: str) -> tuple[str, ...]:
        reads.append(digest)
        return (children or {}).get(digest, ())

    auditor = Auditor(source, reader, **kw)
    auditor.reads_log = reads  # type: ignore[attr-defined]
    return auditor
