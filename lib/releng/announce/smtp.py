"""SMTP transport: STARTTLS and login when configured; every recipient is accepted before any data is sent."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field

from releng import secrets
from releng.announce.message import MailError, Message, RecipientsRefusedError


@dataclass(frozen=True)
class SmtpMailer:
    """Talks to one SMTP server; the password is a value from the environment, never logged."""

    host: str
    port: int
    starttls: bool = False
    user: str = ""
    password: str = field(default="", repr=False)
    timeout_s: float = 30.0

    def describe(self) -> str:
        tls = " with STARTTLS" if self.starttls else ""
        who = f" as {self.user}" if self.user else ""
        return f"smtp://{self.host}:{self.port}{tls}{who}"

    def send(self, message: Message) -> str:
        """One envelope for all recipients; if the server refuses any RCPT, reset and send nothing."""
        try:
            return self._send(message)
        except MailError as exc:
            # Server replies end up in the message; one that quotes the login must not show the password.
            exc.args = (secrets.mask_credentials(secrets.mask(str(exc), [self.password] if self.password else [])),)
            raise

    def _send(self, message: Message) -> str:
        server = f"{self.host}:{self.port}"
        # SMTP needs CRLF line ends; smtplib.data() does not convert bare LF in bytes.
        email = message.to_email()
        data = email.as_bytes(policy=email.policy.clone(linesep="\r\n"))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as client:
                client.ehlo()
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if self.user:
                    client.login(self.user, self.password)
                code, reply = client.mail(message.sender_email)
                if code != 250:
                    raise MailError(f"mail: {server} refused sender {message.sender_email}: {code} {_text(reply)}")
                refused: dict[str, tuple[int, str]] = {}
                for rcpt in message.recipients:
                    code, reply = client.rcpt(rcpt)
                    if code not in (250, 251):
                        refused[rcpt] = (code, _text(reply))
                if refused:
                    # Abort the transaction before DATA, so no recipient gets the mail (no partial send).
                    client.rset()
                    raise RecipientsRefusedError.for_refused(server, refused)
                code, reply = client.data(data)
                if code != 250:
                    raise MailError(f"mail: {server} refused the message: {code} {_text(reply)}")
                count = len(message.recipients)
                return f"{server} accepted the message for {count} recipient(s): {code} {_text(reply)}"
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"mail: {server} rejected the login of {self.user!r}: {exc.smtp_code}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(f"mail: {server} does not support {exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"mail: {server} answered {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPException as exc:
            raise MailError(f"mail: {server}: {exc}") from None
        except ssl.SSLError as exc:
            raise MailError(f"mail: STARTTLS with {server} failed: {exc.reason}") from None
        except OSError as exc:
            raise MailError(f"mail: cannot reach SMTP server {server}: {exc.strerror or exc}") from None


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).replace("\n", " ").strip()
