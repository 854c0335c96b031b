"""Which profiles write production only to this machine (no --nomock question), and which must ask (issue 12 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.profile import BUILTIN_DIR, load_profile

VARIABLES = {"krel_home": "/tmp/krel-h", "local_registry": "127.0.0.1:5000"}


def _local(tmp_path: Path, old: str, new: str) -> bool:
    text = (BUILTIN_DIR / "local.toml").read_text()
    assert old in text, old
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(old, new, 1))
    return load_profile(path, VARIABLES).production_is_local()


def test_builtin_profiles() -> None:
    assert load_profile("local", VARIABLES).production_is_local()
    assert not load_profile("kubernetes").production_is_local()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('bucket = "file://{krel_home}/buckets/release"', 'bucket = "gs://krel-prod/release"',
                     id="gs-bucket"),
        pytest.param('registry = "{local_registry}/staging"', 'registry = "gcr.io/prod"', id="remote-registry"),
        pytest.param('validate_registry = "{local_registry}/staging"', 'validate_registry = "127.0.0.1.nip.io/x"',
                     id="loopback-lookalike-host"),
        pytest.param('registry = "{local_registry}/staging"', 'registry = "localhost.example.com/x"',
                     id="localhost-prefixed-host"),
        pytest.param('registry = "{local_registry}/staging"', 'registry = "10.0.0.1:5000/x"', id="lan-registry"),
        pytest.param('transport = "outbox"', 'transport = "smtp"', id="smtp-mail"),
        pytest.param('transport = "outbox"', 'transport = "sendgrid"', id="sendgrid-mail"),
        pytest.param('runner = "local"', 'runner = "gcb"', id="cloud-build-runner"),
        pytest.param('github_release = "bucket"', 'github_release = "publish"', id="github-publish"),
        pytest.param('url = "file://{krel_home}/demo/upstream.git"', 'url = "https://github.com/demo/demo.git"',
                     id="https-upstream-pushed"),
        pytest.param('url = "file://{krel_home}/demo/upstream.git"', 'url = "git@github.com:demo/demo.git"',
                     id="scp-upstream-pushed"),
        pytest.param('github_release = "bucket"', 'github_release = "bucket"\nfastly_service = "svc"', id="cdn-purge"),
    ],
)
def test_any_remote_production_target_asks(tmp_path: Path, old: str, new: str) -> None:
    assert not _local(tmp_path, old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('registry = "{local_registry}/staging"', 'registry = "[::1]:5000/staging"', id="ipv6-loopback"),
        pytest.param('registry = "{local_registry}/staging"', 'registry = "localhost:5000/staging"', id="localhost"),
        pytest.param('url = "file://{krel_home}/demo/upstream.git"', 'url = "/srv/upstream.git"', id="path-upstream"),
        pytest.param('git_push = "push"\nmail_to = ["announce@localhost"',
                     'git_push = "dry-run"\nmail_to = ["announce@localhost"', id="no-push"),
    ],
)
def test_local_spellings_stay_local(tmp_path: Path, old: str, new: str) -> None:
    assert _local(tmp_path, old, new)


def test_notes_registry_defaults_to_nomock_validation_registry(tmp_path: Path) -> None:
    assert load_profile("kubernetes").notes_registry() == load_profile("kubernetes").nomock.validate_registry
    text = (BUILTIN_DIR / "local.toml").read_text().replace('product = "Demo"', 'product = "Demo"\n'
                                                             'public_registry = "registry.example.org/demo"')
    path = tmp_path / "p.toml"
    path.write_text(text)
    assert load_profile(path, VARIABLES).notes_registry() == "registry.example.org/demo"
