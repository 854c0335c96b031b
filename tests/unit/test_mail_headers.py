"""Mail header values and addresses are checked where a message is made: one UsageError, never a traceback."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from releng.announce.message import Message, check_sender
from releng.errors import UsageError

GOOD = {
    "sender_name": "Release Managers",
    "sender_email": "release@example.org",
    "recipients": ("dev@example.org", "announce@example.org"),
    "subject": "Demo v1.0.0 is live!",
    "html": "<p>hi</p>",
}

# (field, hostile value, what the error names)
HOSTILE = [
    pytest.param("sender_name", "Release\r\nBcc: evil@example.org", "sender name", id="name-crlf"),
    pytest.param("sender_name", "Release\nBcc: evil@example.org", "sender name", id="name-lf"),
    pytest.param("sender_name", 'Eve" <evil@example.org>', "sender name", id="name-forged-address"),
    pytest.param("sender_name", "Release\x00", "sender name", id="name-nul"),
    pytest.param("sender_email", "not-an-address", "sender address", id="email-no-at"),
    pytest.param("sender_email", "a@example.org\r\nBcc: evil@example.org", "sender address", id="email-crlf"),
    pytest.param("sender_email", "Eve <evil@example.org>", "sender address", id="email-display-name"),
    pytest.param("sender_email", "a@example.org, b@example.org", "sender address", id="email-list"),
    pytest.param("sender_email", "", "sender address", id="email-empty"),
    pytest.param("recipients", ("dev@example.org", "x@example.org\nBcc: evil@example.org"), "recipient",
                 id="recipient-lf"),
    pytest.param("recipients", ("dev@example.org", "nobody"), "recipient", id="recipient-no-domain"),
    pytest.param("subject", "Demo v1.0.0 is live!\r\nBcc: evil@example.org", "subject", id="subject-crlf"),
    pytest.param("subject", "Demo\x1b[2J v1.0.0", "subject", id="subject-escape"),
]


@pytest.mark.parametrize(("field", "value", "names"), HOSTILE)
def test_hostile_header_values_are_one_usage_error(field: str, value: object, names: str) -> None:
    with pytest.raises(UsageError) as caught:
        Message(**{**GOOD, field: value})  # type: ignore[arg-type]
    text = str(caught.value)
    assert text.startswith(f"mail: {names}:"), text
    assert "\n" not in text and "\r" not in text and "\x1b" not in text


@pytest.mark.parametrize(("name", "email"), [("Release\r\nX: y", "a@example.org"), ("Release", "a@b@c")])
def test_check_sender_refuses_before_any_work(name: str, email: str) -> None:
    with pytest.raises(UsageError):
        check_sender(name, email)


def test_good_message_has_exactly_the_headers_given() -> None:
    msg = Message(**GOOD)  # type: ignore[arg-type]
    parsed = message_from_bytes(msg.to_email().as_bytes(), policy=policy.default)
    assert parsed["From"] == "Release Managers <release@example.org>"
    assert parsed["To"] == "dev@example.org, announce@example.org"
    assert parsed["Subject"] == GOOD["subject"]
    assert parsed["Bcc"] is None
