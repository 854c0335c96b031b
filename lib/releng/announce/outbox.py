"""The local profile's transport: each message becomes one .eml file in a directory."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from releng.announce.message import MailError, Message
from releng.files import write_atomic


@dataclass(frozen=True)
class OutboxMailer:
    """Writes RFC 5322 files an operator (or a test) can open; written atomically, never half a file."""

    directory: str

    def describe(self) -> str:
        return f"outbox {self.directory}"

    def send(self, message: Message) -> str:
        if not self.directory:
            raise MailError("mail: the outbox transport needs mail.outbox (a directory) in the profile")
        folder = Path(self.directory)
        slug = re.sub(r"[^A-Za-z0-9.+-]+", "-", message.subject).strip("-")[:80] or "message"
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.time_ns() % 1_000_000_000:09d}-{slug}.eml"
        try:
            # Exclusive: a name already taken is an error, never a message silently replaced.
            write_atomic(folder / name, message.to_email().as_bytes(), base=folder, exclusive=True)
        except OSError as exc:
            raise MailError(f"mail: cannot write to outbox {folder}: {exc.strerror}") from None
        return f"wrote {folder / name} for {len(message.recipients)} recipient(s)"
