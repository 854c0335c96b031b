"""stage + release (nomock, notes) on the local profile, then `krel announce send` mails what was published."""

from __future__ import annotations

import email
import json
import re
from email.message import Message
from pathlib import Path

from tests.fixtures.releaseflow import FlowEnv

# Not about signing or packages: the local profile without them (tests/fixtures/releaseflow.lean_profile).
FLOW_PROFILE = "lean"

RC0 = "v1.0.0-rc.0"
BRANCH_ARGS = ["--branch", "release-1.0", "--type", "rc"]
NOMOCK_LISTS = {"announce@localhost", "dev@localhost"}
MOCK_LIST = {"release-test@localhost"}


def _outbox(flow: FlowEnv) -> list[Path]:
    folder = flow.home / "outbox"
    return sorted(p for p in folder.glob("*.eml")) if folder.exists() else []


def _recipients(msg: Message) -> set[str]:
    return {a.strip() for a in str(msg["To"]).split(",")}


def _html(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("the mail has no text/html part")


def _send(flow: FlowEnv, *extra: str) -> tuple[int, str, str]:
    result = flow.krel("announce", "send", "--tag", RC0, "--json", *extra)
    return result.returncode, result.stdout, result.stderr


def test_release_then_announce_send_verifies_checksums_and_mails_the_lists(flow_env: FlowEnv) -> None:
    replay = ["--replay", str(flow_env.project.replay)]
    for mode in ([], ["--nomock"]):
        staged = flow_env.krel("stage", *BRANCH_ARGS, *replay, *mode)
        assert staged.returncode == 0, staged.stderr[-2000:]
        done = flow_env.krel("release", *BRANCH_ARGS, "--build-version", flow_env.build_version, *mode)
        assert done.returncode == 0, done.stderr[-2000:]

    # nomock: the published announcement, checksums checked against the released .sha512 files
    code, out, err = _send(flow_env, "--nomock", "--yes")
    assert code == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["sent"] is True and summary["checksums_verified"] > 0
    assert set(summary["to"]) == NOMOCK_LISTS
    assert summary["source"].endswith(f"/buckets/release/release/{RC0}/announcement.html")
    [sent] = _outbox(flow_env)
    msg = email.message_from_bytes(sent.read_bytes())
    assert _recipients(msg) == NOMOCK_LISTS
    body = _html(msg)
    released = flow_env.bucket("release") / "release" / RC0
    table = re.search(r"<table>.*?sha512 hash.*?</table>", body, re.S)
    assert table is not None, "no download table in the mail"
    assert (released / "demo.tar.gz.sha512").read_text().split()[0] in table.group(0)
    assert f"{flow_env.bucket('release').as_uri()}/release/{RC0}/demo.tar.gz" in table.group(0)
    # the Container Images table names the profile's production registry, with no registry.k8s.io console links
    assert f"<td>{flow_env.registry}/staging/demo-server:{RC0}</td>" in body
    assert "console.cloud.google.com" not in body and "registry.k8s.io" not in body

    # a released .sha512 that no longer matches the announcement stops the send, naming the file
    sha_file = released / "demo.tar.gz.sha512"
    sha_file.write_text("0" * 128 + "  demo.tar.gz\n")
    code, _, err = _send(flow_env, "--nomock", "--yes")
    assert code == 1
    assert "checksum mismatch for demo.tar.gz" in err and "demo.tar.gz.sha512" in err and "nothing was sent" in err
    assert _outbox(flow_env) == [sent]

    # mock: the mock bucket's announcement, mailed only to the test list
    code, out, err = _send(flow_env)
    assert code == 0, err[-2000:]
    assert json.loads(out)["checksums_verified"] > 0
    [mock_mail] = [p for p in _outbox(flow_env) if p != sent]
    mock_msg = email.message_from_bytes(mock_mail.read_bytes())
    assert _recipients(mock_msg) == MOCK_LIST
    assert re.search(r"<table>.*?sha512 hash.*?</table>", _html(mock_msg), re.S)
