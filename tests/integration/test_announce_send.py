"""`announce send` end to end against real parts: the file:// bucket, aiosmtpd on loopback, a SendGrid stand-in."""

from __future__ import annotations

import hashlib
import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from releng.announce import compose, send
from releng.announce.mail import MailAccess, open_mailer
from releng.announce.message import MailError, RecipientsRefusedError
from releng.errors import ReleaseError, UsageError
from releng.objectstore import open_store
from releng.objectstore.base import ObjectStore
from releng.profile import Mail, Profile, load_profile
from werkzeug import Request, Response

from tests.fixtures.smtp import SmtpServer

TAG = "v1.30.2"
TARBALL = b"kubernetes tarball bytes"
CLIENT = b"client tarball bytes"


def _sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def _changelog_html(tarball_sha: str, client_sha: str) -> str:
    # The shape the changelog helper renders: downloads tables with a link cell and a sha512 cell.
    return (
        "<h2>Downloads for v1.30.2</h2>\n<table><thead><tr><th>filename</th><th>sha512 hash</th></tr></thead><tbody>\n"
        f'<tr><td><a href="https://dl.k8s.io/{TAG}/kubernetes.tar.gz">kubernetes.tar.gz</a></td>'
        f"<td>{tarball_sha}</td></tr>\n"
        f'<tr><td><a href="https://dl.k8s.io/{TAG}/bin/linux/amd64/client.tar.gz">client.tar.gz</a></td>'
        f"<td>{client_sha}</td></tr>\n</tbody></table>"
    )


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return load_profile("local", {"krel_home": str(tmp_path / "home"), "local_registry": "127.0.0.1:5000"})


def _publish(profile: Profile, nomock: bool, html_sha: str | None = None) -> ObjectStore:
    """Lay out a released bucket like `krel release` does: files, .sha512 files and announcement.html."""
    store = open_store(profile.targets(nomock).bucket)
    store.put_new(f"release/{TAG}/kubernetes.tar.gz", TARBALL)
    store.put_new(f"release/{TAG}/kubernetes.tar.gz.sha512", _sha512(TARBALL).encode())
    store.put_new(f"release/{TAG}/bin/linux/amd64/client.tar.gz", CLIENT)
    store.put_new(f"release/{TAG}/bin/linux/amd64/client.tar.gz.sha512", _sha512(CLIENT).encode())
    html = _changelog_html(html_sha or _sha512(TARBALL), _sha512(CLIENT))
    a = compose.build_announcement(profile, TAG, go_version="1.22.4", changelog_html=html)
    store.put_new(f"release/{TAG}/announcement.html", a.html.encode())
    return store


def _smtp_mail(server: SmtpServer, user: str = "") -> Mail:
    return Mail(transport="smtp", smtp_host=server.host, smtp_port=server.port, smtp_user=user,
                from_name="Demo Release Managers", from_email="release-managers@localhost")


@pytest.mark.parametrize("nomock", [False, True])
def test_smtp_send_reaches_the_lists_of_the_mode(profile: Profile, smtp_server: SmtpServer, nomock: bool) -> None:
    store = _publish(profile, nomock)
    targets = profile.targets(nomock)
    outgoing = send.prepare_send(profile, targets, TAG, store)
    assert [c.name for c in outgoing.checksums] == ["kubernetes.tar.gz", "bin/linux/amd64/client.tar.gz"]
    receipt = send.deliver(outgoing, open_mailer(_smtp_mail(smtp_server), MailAccess()))
    assert "accepted" in receipt

    [got] = smtp_server.handler.received
    assert got.rcpt_tos == list(targets.mail_to)
    assert got.mail_from == "release-managers@localhost"
    msg = got.message
    assert msg["Subject"] == f"Demo {TAG} is live!"
    assert msg["From"] == "Demo Release Managers <release-managers@localhost>"
    assert msg["To"] == ", ".join(targets.mail_to)
    assert msg.get_content_type() == "multipart/alternative"
    body = msg.get_body(("html",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == store.get(f"release/{TAG}/announcement.html").decode()
    plain = msg.get_body(("plain",))
    assert plain is not None and f"Demo {TAG} has been built" in plain.get_content()


def test_mock_and_nomock_lists_differ(profile: Profile) -> None:
    assert set(profile.targets(False).mail_to).isdisjoint(profile.targets(True).mail_to)


def test_refused_recipient_means_nobody_gets_it(profile: Profile, smtp_server: SmtpServer) -> None:
    store = _publish(profile, True)
    outgoing = send.prepare_send(profile, profile.targets(True), TAG, store)
    smtp_server.handler.refuse.add("dev@localhost")
    with pytest.raises(RecipientsRefusedError) as err:
        send.deliver(outgoing, open_mailer(_smtp_mail(smtp_server), MailAccess()))
    assert "dev@localhost (550" in str(err.value)
    assert "announce@localhost" not in str(err.value)
    assert "nothing was sent" in str(err.value)
    assert smtp_server.handler.received == []


def test_smtp_login_uses_env_password_and_never_shows_it(profile: Profile, smtp_server: SmtpServer) -> None:
    store = _publish(profile, False)
    outgoing = send.prepare_send(profile, profile.targets(False), TAG, store)
    secret = "s3cr3t-smtp-password-value"
    smtp_server.handler.password = secret
    mailer = open_mailer(_smtp_mail(smtp_server), MailAccess(smtp_user="relman", smtp_password=secret))
    assert secret not in repr(mailer) and secret not in mailer.describe()
    send.deliver(outgoing, mailer)
    assert smtp_server.handler.logins == [("relman", secret)]
    assert len(smtp_server.handler.received) == 1

    wrong = open_mailer(_smtp_mail(smtp_server), MailAccess(smtp_user="relman", smtp_password="wrong-password-x"))
    with pytest.raises(MailError) as err:
        send.deliver(outgoing, wrong)
    assert "rejected the login of 'relman'" in str(err.value)
    assert "wrong-password-x" not in str(err.value)


def test_unreachable_smtp_server_is_one_line(profile: Profile) -> None:
    store = _publish(profile, False)
    outgoing = send.prepare_send(profile, profile.targets(False), TAG, store)
    mail = Mail(transport="smtp", smtp_host="127.0.0.1", smtp_port=1)
    with pytest.raises(MailError, match=r"cannot reach SMTP server 127\.0\.0\.1:1"):
        send.deliver(outgoing, open_mailer(mail, MailAccess()))


def test_checksum_mismatch_stops_the_send(profile: Profile, smtp_server: SmtpServer) -> None:
    wrong = _sha512(b"something else")
    store = _publish(profile, False, html_sha=wrong)
    with pytest.raises(send.ChecksumMismatchError) as err:
        send.prepare_send(profile, profile.targets(False), TAG, store)
    text = str(err.value)
    assert "kubernetes.tar.gz" in text and wrong in text and _sha512(TARBALL) in text
    assert "\n" not in text
    assert smtp_server.handler.received == []


def test_missing_sha512_file_stops_the_send(profile: Profile) -> None:
    store = open_store(profile.targets(False).bucket)
    html = _changelog_html(_sha512(TARBALL), _sha512(CLIENT))
    store.put_new(f"release/{TAG}/announcement.html", html.encode())
    with pytest.raises(ReleaseError, match=r"kubernetes\.tar\.gz.sha512 does not exist"):
        send.prepare_send(profile, profile.targets(False), TAG, store)


def test_missing_announcement_and_bad_tag(profile: Profile) -> None:
    store = open_store(profile.targets(False).bucket)
    with pytest.raises(ReleaseError, match=r"no announcement for v9\.9\.9: .*announcement\.html does not exist"):
        send.prepare_send(profile, profile.targets(False), "v9.9.9", store)
    with pytest.raises(UsageError):
        send.prepare_send(profile, profile.targets(False), "latest", store)


def test_branch_announcement_quotes_no_checksums(profile: Profile) -> None:
    a = compose.build_branch_announcement(profile, "v0.3.0-rc.0", "release-0.3")
    assert send.quoted_checksums(a.html, "v0.3.0-rc.0") == []


def test_unlabelled_checksum_is_refused() -> None:
    with pytest.raises(ReleaseError, match="without a download link"):
        send.quoted_checksums(f"<p>sha512 {_sha512(TARBALL)}</p>", TAG)


def test_outbox_writes_one_eml(profile: Profile) -> None:
    store = _publish(profile, False)
    outgoing = send.prepare_send(profile, profile.targets(False), TAG, store)
    receipt = send.deliver(outgoing, open_mailer(profile.mail, MailAccess()))
    [eml] = list(Path(profile.mail.outbox).glob("*.eml"))
    assert str(eml) in receipt
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "release-test@localhost"
    assert msg["Subject"] == f"Demo {TAG} is live!"


class _SendGridStub:
    def __init__(self, status: int = 202, body: str = "") -> None:
        self.status, self.body = status, body
        self.requests: list[tuple[dict[str, str], dict[str, object]]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), json.loads(request.get_data())))
        return Response(self.body, status=self.status, content_type="application/json")


def test_sendgrid_posts_one_personalization(profile: Profile, httpserver: HTTPServer) -> None:
    store = _publish(profile, True)
    outgoing = send.prepare_send(profile, profile.targets(True), TAG, store)
    stub = _SendGridStub()
    httpserver.expect_request("/v3/mail/send", method="POST").respond_with_handler(stub)
    key = "SG.fake-sendgrid-api-key-value"
    mailer = open_mailer(Mail(transport="sendgrid", from_name="Demo RM", from_email="rm@localhost"),
                         MailAccess(sendgrid_api_key=key, sendgrid_host=httpserver.url_for("").rstrip("/")))
    receipt = send.deliver(outgoing, mailer)
    assert "202" in receipt and key not in receipt
    [(headers, payload)] = stub.requests
    assert headers["Authorization"] == f"Bearer {key}"
    assert payload["subject"] == f"Demo {TAG} is live!"
    assert payload["from"] == {"email": "release-managers@localhost", "name": "Demo Release Managers"}
    personalizations = payload["personalizations"]
    assert isinstance(personalizations, list) and len(personalizations) == 1
    assert [t["email"] for t in personalizations[0]["to"]] == ["announce@localhost", "dev@localhost"]
    contents = {c["type"]: c["value"] for c in payload["content"]}  # type: ignore[attr-defined]
    assert contents["text/html"] == outgoing.message.html


def test_sendgrid_error_status_is_one_line(profile: Profile, httpserver: HTTPServer) -> None:
    store = _publish(profile, False)
    outgoing = send.prepare_send(profile, profile.targets(False), TAG, store)
    body = json.dumps({"errors": [{"message": "The provided authorization grant is invalid", "field": None}]})
    httpserver.expect_request("/v3/mail/send", method="POST").respond_with_handler(_SendGridStub(401, body))
    key = "SG.another-fake-key-value"
    mailer = open_mailer(Mail(transport="sendgrid"),
                         MailAccess(sendgrid_api_key=key, sendgrid_host=httpserver.url_for("").rstrip("/")))
    with pytest.raises(MailError) as err:
        send.deliver(outgoing, mailer)
    text = str(err.value)
    assert "answered 401: The provided authorization grant is invalid" in text
    assert key not in text and "\n" not in text


def test_sendgrid_without_key_is_refused(profile: Profile) -> None:
    store = _publish(profile, False)
    outgoing = send.prepare_send(profile, profile.targets(False), TAG, store)
    with pytest.raises(MailError, match="SENDGRID_API_KEY"):
        send.deliver(outgoing, open_mailer(Mail(transport="sendgrid"), MailAccess()))


def test_starttls_then_login(profile: Profile, smtp_tls_server: SmtpServer) -> None:
    store = _publish(profile, False)
    outgoing = send.prepare_send(profile, profile.targets(False), TAG, store)
    smtp_tls_server.handler.password = "tls-password"
    mail = Mail(transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp_tls_server.port, starttls=True,
                smtp_user="relman")
    send.deliver(outgoing, open_mailer(mail, MailAccess(smtp_password="tls-password")))
    assert smtp_tls_server.handler.logins == [("relman", "tls-password")]
    assert len(smtp_tls_server.handler.received) == 1
    # Without STARTTLS the server refuses to go on; the error is one line and nothing is sent.
    plain = Mail(transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp_tls_server.port)
    with pytest.raises(MailError) as err:
        send.deliver(outgoing, open_mailer(plain, MailAccess()))
    assert str(err.value).startswith("mail: 127.0.0.1:") and "STARTTLS" in str(err.value)
    assert len(smtp_tls_server.handler.received) == 1


def test_checks_the_changelog_html_the_notes_renderer_writes(profile: Profile) -> None:
    """The downloads table as the changelog writes it (krel's markdown through markdown-it) is what send checks."""
    from releng.notes import render

    markdown = (
        "### Source Code\n\nfilename | sha512 hash\n-------- | -----------\n"
        f"[kubernetes.tar.gz](https://dl.k8s.io/{TAG}/kubernetes.tar.gz) | {_sha512(TARBALL)}\n"
        f"[client.tar.gz](https://dl.k8s.io/{TAG}/bin/linux/amd64/client.tar.gz) | {_sha512(b'tampered')}\n"
    )
    html = render.html(markdown, f"Kubernetes {TAG}")
    assert send.quoted_checksums(html, TAG) == [
        ("kubernetes.tar.gz", _sha512(TARBALL)),
        ("bin/linux/amd64/client.tar.gz", _sha512(b"tampered")),
    ]
    store = _publish(profile, False)
    with pytest.raises(send.ChecksumMismatchError, match=r"checksum mismatch for bin/linux/amd64/client\.tar\.gz"):
        send.verify_checksums(store, TAG, html)
