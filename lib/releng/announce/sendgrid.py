"""SendGrid transport (the sendgrid library); one personalization carries every recipient of the mode."""

from __future__ import annotations

import json
import urllib.error
from dataclasses import dataclass, field

import python_http_client.exceptions  # type: ignore[import-untyped]
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import From, Mail, To

from releng import secrets
from releng.announce.message import MailError, Message

DEFAULT_HOST = "https://api.sendgrid.com"


@dataclass(frozen=True)
class SendGridMailer:
    """Posts to {host}/v3/mail/send with the API key from SENDGRID_API_KEY (a value, never logged)."""

    api_key: str = field(repr=False)
    host: str = DEFAULT_HOST

    def describe(self) -> str:
        return f"SendGrid API at {self.host}"

    def send(self, message: Message) -> str:
        if not self.api_key:
            raise MailError("mail: the sendgrid transport needs SENDGRID_API_KEY in the environment")
        mail = Mail(
            from_email=From(message.sender_email, message.sender_name),
            to_emails=[To(r) for r in message.recipients],
            subject=message.subject,
            html_content=message.html,
            plain_text_content=message.text or None,
        )
        client = SendGridAPIClient(api_key=self.api_key, host=self.host)
        try:
            response = client.send(mail)
        except python_http_client.exceptions.HTTPError as exc:
            # The body may quote the request (and its API key) back: mask it before it reaches an error line.
            status, reason = exc.status_code, _server_text(_api_error(exc.body), self.api_key)
            raise MailError(f"mail: SendGrid at {self.host} answered {status}: {reason}; nothing was sent") from None
        except urllib.error.URLError as exc:
            raise MailError(f"mail: cannot reach SendGrid at {self.host}: {exc.reason}") from None
        except OSError as exc:
            raise MailError(f"mail: cannot reach SendGrid at {self.host}: {exc}") from None
        return f"SendGrid accepted the message for {len(message.recipients)} recipient(s): {response.status_code}"


def _server_text(text: str, api_key: str) -> str:
    return secrets.mask_credentials(secrets.mask(text, [api_key] if api_key else []))


def _api_error(body: bytes | str | None) -> str:
    """The first error message of SendGrid's {"errors": [{"message": ...}]} body, else the body's first line."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        errors = json.loads(text).get("errors") or []
        if errors and isinstance(errors[0], dict) and errors[0].get("message"):
            return str(errors[0]["message"])
    except (ValueError, AttributeError):
        pass
    return (text.strip().splitlines() or ["no error message"])[0][:200]
