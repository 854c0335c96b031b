"""The one mail message every transport sends, and the errors transports raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from releng.errors import ReleaseError


@dataclass(frozen=True)
class Message:
    """An HTML announcement addressed to every recipient of one mode at once."""

    sender_name: str
    sender_email: str
    recipients: tuple[str, ...]
    subject: str
    html: str
    text: str = ""

    def to_email(self) -> EmailMessage:
        """The MIME message: multipart/alternative with a plain-text part and the HTML."""
        msg = EmailMessage()
        msg["From"] = str(Address(self.sender_name, addr_spec=self.sender_email))
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = self.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.sender_email.rpartition("@")[2] or None)
        msg.set_content(self.text or "This announcement is HTML; please view it in an HTML-capable mail reader.\n")
        msg.add_alternative(self.html, subtype="html")
        return msg


class MailError(ReleaseError):
    """A transport failed to deliver; nothing was sent."""


class RecipientsRefusedError(MailError):
    """The server refused some recipients; the message was not sent to anyone."""

    @classmethod
    def for_refused(cls, server: str, refused: Mapping[str, tuple[int, str]]) -> RecipientsRefusedError:
        who = "; ".join(f"{addr} ({code} {reply})" for addr, (code, reply) in sorted(refused.items()))
        return cls(f"mail: {server} refused {len(refused)} recipient(s), nothing was sent: {who}")
