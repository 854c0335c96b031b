"""The Mailer protocol and the transports, chosen by `profile.mail.transport` through one dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from releng.announce import outbox, sendgrid, smtp
from releng.announce.message import Message
from releng.errors import UsageError
from releng.profile import Mail, MailTransport


class Mailer(Protocol):
    """Sends one message to all of its recipients, or raises and sends to none."""

    def send(self, message: Message) -> str:
        """Deliver; returns a one-line receipt (server reply, API status or file written)."""
        ...

    def describe(self) -> str:
        """Where the mail goes, without credentials."""
        ...


@dataclass(frozen=True)
class MailAccess:
    """Credentials and endpoints read from the environment at the CLI edge (never from flags or profiles)."""

    smtp_user: str = ""
    smtp_password: str = ""
    sendgrid_api_key: str = ""
    sendgrid_host: str = sendgrid.DEFAULT_HOST

    def __repr__(self) -> str:
        # Never show secrets in tracebacks or logs.
        return f"MailAccess(smtp_user={self.smtp_user!r}, sendgrid_host={self.sendgrid_host!r})"


# Keyed by the profile's mail.transport values (MailTransport): the profile accepts exactly these.
TRANSPORTS: dict[MailTransport, Callable[[Mail, MailAccess], Mailer]] = {
    "smtp": lambda mail, access: smtp.SmtpMailer(
        host=mail.smtp_host,
        port=mail.smtp_port,
        starttls=mail.starttls,
        user=mail.smtp_user or access.smtp_user,
        password=access.smtp_password,
    ),
    "sendgrid": lambda mail, access: sendgrid.SendGridMailer(
        api_key=access.sendgrid_api_key, host=access.sendgrid_host
    ),
    "outbox": lambda mail, access: outbox.OutboxMailer(directory=mail.outbox),
}


def open_mailer(mail: Mail, access: MailAccess) -> Mailer:
    """The transport named by the profile's mail.transport."""
    factory = TRANSPORTS.get(mail.transport)
    if factory is None:
        raise UsageError(f"mail: unknown transport {mail.transport!r} (have {', '.join(sorted(TRANSPORTS))})")
    return factory(mail, access)
