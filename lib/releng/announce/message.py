"""The one mail message every transport sends, and the errors transports raise."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from releng import address, names
from releng.errors import ReleaseError, UsageError


def _check(what: str, value: str, check: Callable[[str], None]) -> None:
    try:
        check(value)
    except UsageError as exc:
        raise UsageError(f"mail: {what}: {exc}") from None


def check_sender(name: str, email: str) -> None:
    """The From header's parts: a name without CR/LF, quotes or brackets, and one bare address (UsageError)."""
    _check("sender name", name, names.check_person_name)
    _check("sender address", email, address.check_mail)


@dataclass(frozen=True)
class Message:
    """An HTML announcement addressed to every recipient of one mode at once."""

    sender_name: str
    sender_email: str
    recipients: tuple[str, ...]
    subject: str
    html: str
    text: str = ""

    def __post_init__(self) -> None:
        # Checked where a message is made: a CR/LF in a header value would add headers (or crash the mail library).
        check_sender(self.sender_name, self.sender_email)
        for recipient in self.recipients:
            _check("recipient", recipient, address.check_mail)
        _check("subject", self.subject, names.check_one_line)

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
