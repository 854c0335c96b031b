"""`krel announce build|send` through the CLI on the local profile: files, recipients, exit codes, secrets."""

from __future__ import annotations

import hashlib
import logging
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import typer.testing
from pytest_httpserver import HTTPServer
from releng.announce import compose
from releng.objectstore import open_store
from releng.profile import BUILTIN_DIR, Profile, load_profile
from werkzeug import Response

from krel.app import app
from tests.fixtures.smtp import SmtpServer

TAG = "v0.3.0"
DATA = b"demo tarball"
SECRETS = {
    "GITHUB_TOKEN": "ghp_fakeTokenValue1234567890",
    "SENDGRID_API_KEY": "SG.fakeSendgridKey.abcdef123456",
    "KREL_SMTP_PASSWORD": "fake-smtp-password-0987",
}


def _local(home: Path) -> Profile:
    return load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})


def _publish(home: Path, nomock: bool, sha: str | None = None) -> None:
    profile = _local(home)
    store = open_store(profile.targets(nomock).bucket)
    digest = hashlib.sha512(DATA).hexdigest()
    store.put_new(f"release/{TAG}/demo.tar.gz", DATA)
    store.put_new(f"release/{TAG}/demo.tar.gz.sha512", digest.encode())
    link = f'<a href="file:///x/release/{TAG}/demo.tar.gz">demo.tar.gz</a>'
    table = f"<table><tr><td>{link}</td><td>{sha or digest}</td></tr></table>"
    a = compose.build_announcement(profile, TAG, go_version="1.22.4", changelog_html=table)
    store.put_new(f"release/{TAG}/announcement.html", a.html.encode())


def _profile_with_mail(home: Path, tmp_path: Path, mail: str) -> Path:
    """The local profile with its [mail] table replaced (a TOML file passed by --profile)."""
    text = (BUILTIN_DIR / "local.toml").read_text()
    text = re.sub(r"\[mail\]\n(?:[^\[\n].*\n|\n)*", mail.strip() + "\n\n", text)
    path = tmp_path / "mailprofile.toml"
    path.write_text(text)
    return path


def _outbox(home: Path) -> list[Path]:
    return sorted((home / "outbox").glob("*.eml"))


def test_build_release_and_branch(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    html = tmp_path / "cl.html"
    html.write_text("<h2>Changes</h2>\n")
    out = tmp_path / "work"
    result = cli.invoke(app, ["announce", "build", "--tag", TAG, "--changelog-html", str(html),
                              "--go-version", "1.22.4", "--work-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "announcement-subject.txt").read_text() == f"Demo {TAG} is live!"
    page = (out / "announcement.html").read_text()
    assert "<hr>\n<h2>Changes</h2>\n<hr>" in page and "has been built and pushed.\n" in page  # local: no toolchain line

    result = cli.invoke(app, ["announce", "build", "--tag", "v0.4.0-rc.0", "--branch", "release-0.4",
                              "--work-dir", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert '"kind": "branch"' in result.stdout
    assert "release-0.4 branch has been created" in (out / "announcement.html").read_text()


def test_build_bad_input(cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path) -> None:
    result = cli.invoke(
        app, ["announce", "build", "--tag", "nope", "--go-version", "1.22", "--work-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    result = cli.invoke(app, ["announce", "build", "--tag", TAG, "--go-version", "1.22",
                              "--changelog-html", str(tmp_path / "missing.html"), "--work-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read changelog HTML" in result.output
    assert not (tmp_path / "announcement.html").exists()


def test_send_print_only_sends_nothing(cli: typer.testing.CliRunner, krel_home: Path) -> None:
    _publish(krel_home, nomock=False)
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "--print-only"])
    assert result.exit_code == 0, result.output
    assert "release-test@localhost" in result.output and "Demo v0.3.0 is live!" in result.output
    assert "has been built and pushed" in result.output
    assert _outbox(krel_home) == []


def test_send_mock_goes_to_the_test_list(cli: typer.testing.CliRunner, krel_home: Path) -> None:
    _publish(krel_home, nomock=False)
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "-n", "Jane Doe", "-e", "jane@localhost"])
    assert result.exit_code == 0, result.output
    [eml] = _outbox(krel_home)
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "release-test@localhost"
    assert msg["From"] == "Jane Doe <jane@localhost>"


def test_send_nomock_to_local_production_asks_nothing(cli: typer.testing.CliRunner, krel_home: Path) -> None:
    # the local profile's production mail is its outbox: nothing leaves the machine, so nothing is asked (item 6)
    _publish(krel_home, nomock=True)
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "--nomock", "--json"])
    assert result.exit_code == 0, result.output
    [eml] = _outbox(krel_home)
    assert message_from_bytes(eml.read_bytes(), policy=policy.default)["To"] == "announce@localhost, dev@localhost"


def test_send_nomock_by_smtp_needs_yes_without_a_tty(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _publish(krel_home, nomock=True)
    prof = _profile_with_mail(krel_home, tmp_path, f"""
[mail]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
from_email = "rm@localhost"
""")
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "--nomock", "--profile", str(prof)])
    assert result.exit_code == 2
    assert "--yes" in result.output
    assert smtp_server.handler.received == []
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "--nomock", "--yes", "--profile", str(prof)])
    assert result.exit_code == 0, result.output
    assert len(smtp_server.handler.received) == 1


def test_send_errors_are_one_line(cli: typer.testing.CliRunner, krel_home: Path) -> None:
    result = cli.invoke(app, ["announce", "send", "--tag", TAG])
    assert result.exit_code == 1
    assert "no announcement for v0.3.0" in result.output
    assert len(result.output.strip().splitlines()) == 1
    _publish(krel_home, nomock=False, sha="ab" * 64)
    result = cli.invoke(app, ["announce", "send", "--tag", TAG])
    assert result.exit_code == 1
    assert "checksum mismatch for demo.tar.gz" in result.output
    assert _outbox(krel_home) == []


def test_smtp_refusal_exits_1(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _publish(krel_home, nomock=True)
    prof = _profile_with_mail(krel_home, tmp_path, f"""
[mail]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
from_email = "rm@localhost"
""")
    smtp_server.handler.refuse.add("announce@localhost")
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "--nomock", "--yes", "--profile", str(prof)])
    assert result.exit_code == 1
    assert "refused 1 recipient(s), nothing was sent: announce@localhost (550" in result.output
    assert smtp_server.handler.received == []


def test_no_secret_in_output_logs_or_files(
    cli: typer.testing.CliRunner,
    krel_home: Path,
    tmp_path: Path,
    smtp_server: SmtpServer,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KREL_SMTP_USER", "relman")
    caplog.set_level(logging.DEBUG)
    _publish(krel_home, nomock=False)
    outputs: list[str] = []

    smtp_server.handler.password = SECRETS["KREL_SMTP_PASSWORD"]
    smtp = _profile_with_mail(krel_home, tmp_path, f"""
[mail]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
""")
    result = cli.invoke(app, ["announce", "send", "--tag", TAG, "--profile", str(smtp)])
    assert result.exit_code == 0, result.output
    assert smtp_server.handler.logins == [("relman", SECRETS["KREL_SMTP_PASSWORD"])]
    outputs.append(result.output)
    monkeypatch.setenv("KREL_SMTP_PASSWORD", "not-the-password")
    # --resend: the mock send above is recorded; these two check the failures, not the second-send refusal
    result = cli.invoke(app, ["--log-level", "debug", "announce", "send", "--tag", TAG, "--resend",
                              "--profile", str(smtp)])
    assert result.exit_code == 1
    outputs.append(result.output)
    monkeypatch.setenv("KREL_SMTP_PASSWORD", SECRETS["KREL_SMTP_PASSWORD"])

    httpserver.expect_request("/v3/mail/send").respond_with_response(
        Response('{"errors":[{"message":"forbidden"}]}', status=403, content_type="application/json"))
    monkeypatch.setenv("KREL_SENDGRID_HOST", httpserver.url_for("").rstrip("/"))
    sg = _profile_with_mail(krel_home, tmp_path, '[mail]\ntransport = "sendgrid"\n')
    result = cli.invoke(app, ["--log-level", "debug", "announce", "send", "--tag", TAG, "--resend",
                              "--profile", str(sg)])
    assert result.exit_code == 1
    assert "answered 403: forbidden" in result.output
    outputs.append(result.output)

    text = "\n".join(outputs) + "\n" + caplog.text
    files = [p for p in krel_home.rglob("*") if p.is_file()] + [p for p in tmp_path.rglob("*") if p.is_file()]
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked into output or logs"
        for f in files:
            assert value.encode() not in f.read_bytes(), f"{name} leaked into {f}"
