"""`krel audit check EVENT.json` end to end against a real manifests repository (git, bare origin): exit 0 when
every event is VERIFIED, 1 when one is REJECTED, 2 for bad usage or a file that is no event; one line per error;
the manifests clone never outlives the command."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from releng import git
from typer.testing import CliRunner

from krel.app import app
from tests.cli.test_hostile_cli import assert_one_clean_error
from tests.fixtures.gitrepo import RepoPair

REGISTRY = "127.0.0.1:5999"  # never contacted: judging these events needs no registry read
GCR = "us.gcr.io/k8s-prod"
D_IMAGE = "sha256:" + "a" * 64
D_OTHER = "sha256:" + "b" * 64
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def manifests(git_repo: RepoPair) -> list[str]:
    """The manifests repository promoting app@D_IMAGE as 1.0 to GCR and REGISTRY/prod; the audit options for it."""
    registries = f"registries:\n- name: staging.example/app\n  src: true\n- name: {REGISTRY}/prod\n- name: {GCR}\n"
    git_repo.commit("promote app", {
        "audit/manifests/app/promoter-manifest.yaml": registries,
        "audit/images/app/images.yaml": f'- name: app\n  dmap:\n    "{D_IMAGE}": ["1.0"]\n',
    })
    git.push(git_repo.work, "origin", ["master"], dry_run=False)
    return ["--repo", str(git_repo.origin), "--branch", "master", "--thin-manifest-dir", "audit"]


def _gcr(action: str, digest: str = "", tag: str = "") -> dict[str, Any]:
    return {"action": action, **({"digest": f"{GCR}/app@{digest}"} if digest else {}),
            **({"tag": f"{GCR}/app:{tag}"} if tag else {})}


def _push_body(payload: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return {"message": {"data": data, "messageId": "4711"}, "subscription": "projects/p/subscriptions/s"}


def _envelope(action: str, digest: str, tag: str) -> dict[str, Any]:
    target = {"mediaType": OCI_MANIFEST, "repository": "prod/app", "digest": digest, "tag": tag}
    return {"events": [{"id": "ev-1", "action": action, "target": target}]}


VERDICTS = [
    pytest.param(_gcr("INSERT", D_IMAGE, "1.0"), [], 0, ["VERIFIED"], id="gcr-listed-digest-and-tag"),
    pytest.param(_push_body(_gcr("INSERT", D_IMAGE, "1.0")), [], 0, ["VERIFIED"], id="pubsub-push-listed"),
    pytest.param(_envelope("push", D_IMAGE, "1.0"), ["--registry-host", REGISTRY], 0, ["VERIFIED"],
                 id="registry-push-listed"),
    pytest.param(_gcr("INSERT", D_IMAGE, "evil"), [], 1, ["REJECTED"], id="gcr-unlisted-tag"),
    pytest.param(_gcr("INSERT", D_OTHER, "1.0"), [], 1, ["REJECTED"], id="gcr-unlisted-digest"),
    pytest.param(_gcr("DELETE", D_IMAGE), [], 1, ["REJECTED"], id="gcr-delete-promoted"),
    pytest.param(_envelope("delete", D_IMAGE, ""), ["--registry-host", REGISTRY], 1, ["REJECTED"],
                 id="registry-delete-promoted"),
    pytest.param(_envelope("pull", D_IMAGE, "1.0"), ["--registry-host", REGISTRY], 0, ["IGNORED"],
                 id="registry-pull-ignored"),
]


@pytest.mark.parametrize(("event", "extra", "code", "expected"), VERDICTS)
def test_check_verdict_and_exit_code(cli: CliRunner, krel_home: Path, tmp_path: Path, manifests: list[str],
                                     event: dict[str, Any], extra: list[str], code: int, expected: list[str]) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = cli.invoke(app, ["audit", "check", str(path), *manifests, *extra, "--json"])
    assert result.exit_code == code, result.output
    rows = json.loads(result.stdout)
    assert [r["verdict"] for r in rows] == expected
    assert not list((krel_home / "audit").iterdir())  # the manifests clone went with the command


def test_check_table_and_jsonl_report(cli: CliRunner, tmp_path: Path, manifests: list[str]) -> None:
    path, report = tmp_path / "event.json", tmp_path / "rejected.jsonl"
    path.write_text(json.dumps(_gcr("INSERT", D_IMAGE, "evil")))
    result = cli.invoke(app, ["audit", "check", str(path), *manifests, "--report-jsonl", str(report)])
    assert result.exit_code == 1, result.output
    header, row = result.stdout.splitlines()
    assert header.split("\t")[:3] == ["verdict", "action", "repo"]
    assert row.split("\t")[:5] == ["REJECTED", "INSERT", f"{GCR}/app", D_IMAGE, "evil"]
    (line,) = report.read_text().splitlines()
    assert json.loads(line)["tag"] == "evil"


# Bad usage and files that are no event: exit 2, one line naming the file, nothing cloned.
BAD = [
    pytest.param(None, [], "missing.json: cannot be read", id="file-missing"),
    pytest.param(b"caf\xe9", [], "cannot be read", id="file-not-utf8"),
    pytest.param(b"just text", [], "not JSON", id="file-not-json"),
    pytest.param(b"[1, 2]", [], "expected a JSON object", id="file-a-list"),
    pytest.param(b'{"action": "INSERT"}', [], "neither digest nor tag", id="gcr-no-reference"),
    pytest.param(b'{"action": "UPSERT", "tag": "us.gcr.io/k8s-prod/app:1"}', [], "unknown action", id="gcr-action"),
    pytest.param(json.dumps(_gcr("INSERT", D_IMAGE, "1.0[/x]\x1b]0;pwned\x07")).encode(), [], "tag",
                 id="gcr-tag-markup-osc"),
    pytest.param(json.dumps({"message": {"data": "%%%", "messageId": "1"}}).encode(), [], "not base64",
                 id="push-data-not-base64"),
    pytest.param(json.dumps(_envelope("push", D_IMAGE, "1.0")).encode(), [], "--registry-host",
                 id="envelope-without-registry-host"),
    pytest.param(json.dumps(_envelope("push", "sha256:xyz", "1.0")).encode(), ["--registry-host", REGISTRY],
                 "not sha256", id="envelope-bad-digest"),
    pytest.param(json.dumps(_gcr("INSERT", D_IMAGE)).encode(), ["--thin-manifest-dir", "../../etc"],
                 "--thin-manifest-dir", id="manifest-dir-escapes"),
]


@pytest.mark.parametrize(("content", "extra", "message"), BAD)
def test_check_bad_input_is_usage(cli: CliRunner, krel_home: Path, tmp_path: Path, manifests: list[str],
                                  content: bytes | None, extra: list[str], message: str) -> None:
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_bytes(content)
    result = cli.invoke(app, ["audit", "check", str(path), *manifests, *extra])
    line = assert_one_clean_error(result, 2)
    assert message in line and ("missing.json" in line or message.startswith("--")), line
    assert not (krel_home / "audit").exists() or not list((krel_home / "audit").iterdir())


def test_check_unreadable_manifests_repository_is_one_line(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(_gcr("INSERT", D_IMAGE, "1.0")))
    result = cli.invoke(app, ["audit", "check", str(path), "--repo", str(tmp_path / "no-such-repo"),
                              "--branch", "master", "--thin-manifest-dir", "audit"])
    assert "no-such-repo" in assert_one_clean_error(result, 1)


def test_check_requires_the_manifests_options(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(_gcr("INSERT", D_IMAGE, "1.0")))
    assert_one_clean_error(cli.invoke(app, ["audit", "check", str(path)]), 2)
