"""Mock never reaches production: a profile whose mock targets alias a nomock target in any spelling is refused on
load by `krel stage --plan` (exit 2, one line, nothing written), and a mock cycle through a profile that spells the
production targets differently (another loopback name, a symlinked bucket path) leaves them byte-identical.

The plain mock cycle on the built-in local profile is tests/integration/test_stage_flow.py
(test_mock_cycle_changes_no_nomock_target); this file adds the aliasing spellings."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.profile import BUILTIN_DIR
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.releaseflow import FlowEnv

PORT = 5999
MOCK_BUCKET = 'bucket = "file://{krel_home}/buckets/mock"'
MOCK_REGISTRY = 'registry = "{local_registry}/mock"'
MOCK_VALIDATE = 'validate_registry = "{local_registry}/mock"'
NOMOCK_REGISTRY = 'registry = "{local_registry}/staging"'
NOMOCK_VALIDATE = 'validate_registry = "{local_registry}/staging"'
MOCK_MAIL = 'mail_to = ["release-test@localhost"]'
UPSTREAM = 'url = "file://{krel_home}/demo/upstream.git"'

# Each: the local profile with these edits must be refused on load, with this text in the one error line.
ALIASES: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "bucket-double-slash": (((MOCK_BUCKET, 'bucket = "file://{krel_home}//buckets//release"'),), "mock.bucket"),
    "bucket-trailing-slash": (((MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/release/"'),), "mock.bucket"),
    "bucket-dot-dot": (((MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/mock/../release"'),), "mock.bucket"),
    "bucket-symlink": (((MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/alias"'),), "mock.bucket"),
    "bucket-inside": (((MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/release/mock"'),), "mock.bucket"),
    "bucket-contains": (((MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets"'),), "mock.bucket"),
    "registry-localhost": (((MOCK_REGISTRY, f'registry = "localhost:{PORT}/staging"'),), "mock.registry"),
    "registry-ipv6-loopback": (((MOCK_REGISTRY, f'registry = "[::1]:{PORT}/staging"'),), "mock.registry"),
    "registry-dot-dot": (((MOCK_REGISTRY, 'registry = "{local_registry}/mock/../staging"'),), "'..' segments"),
    # (a mock registry *below* production, krel's own staging/mock layout, is allowed: repositories match whole)
    "registry-contains": (((MOCK_REGISTRY, f'registry = "LOCALHOST:{PORT}"'),), "mock.registry"),
    "registry-nomock-validate": (((NOMOCK_VALIDATE, 'validate_registry = "{local_registry}/prod"'),
                                  (MOCK_REGISTRY, f'registry = "localhost:{PORT}/prod"')), "nomock.validate_registry"),
    "validate-registry-alias": (((MOCK_VALIDATE, f'validate_registry = "LOCALHOST:{PORT}/staging"'),),
                                "mock.validate_registry"),
    "registry-credentials": (((MOCK_REGISTRY, 'registry = "robot:hunter22@{local_registry}/mock"'),), "***@"),
    "mail-case": (((MOCK_MAIL, 'mail_to = ["Announce@LOCALHOST"]'),), "mail list Announce@LOCALHOST"),
    "upstream-option": (((UPSTREAM, 'url = "--upload-pack=touch {krel_home}/pwned"'),), "upstream.url"),
    "output-dir-outside": ((('output_dir = "_output"', 'output_dir = "../../victim"'),), "build.output_dir"),
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A KREL_HOME with the production bucket holding one object, and a symlink to it."""
    root = tmp_path / "krel-home"
    release = root / "buckets" / "release"
    release.mkdir(parents=True)
    (release / "marker.txt").write_text("production")
    (root / "buckets" / "alias").symlink_to(release)
    return root


def _profile(home: Path, edits: tuple[tuple[str, str], ...]) -> Path:
    text = (BUILTIN_DIR / "local.toml").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = home / "aliased.toml"
    path.write_text(text)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("edits", "message"), ALIASES.values(), ids=ALIASES.keys())
def test_stage_plan_refuses_profile_aliasing_production(home: Path, edits: tuple[tuple[str, str], ...],
                                                        message: str) -> None:
    profile = _profile(home, edits)
    before = _tree(home)
    env = {"KREL_HOME": str(home), "KREL_LOCAL_REGISTRY": f"127.0.0.1:{PORT}", "CI": "true", "NO_COLOR": "1",
           "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["stage", "--branch", "master", "--type", "alpha", "--plan",
                                      "--profile", str(profile)], env=env)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"profile {profile}: " in errors[0] and message in errors[0], errors[0]
    assert "hunter22" not in result.stderr + result.stdout
    assert _tree(home) == before  # nothing written: no workspace, no bucket, no job
    assert not (home / "pwned").exists()


def test_mock_cycle_through_other_spellings_leaves_production_identical(flow_env: FlowEnv) -> None:
    """nomock names this machine as `localhost` and its bucket through a symlink; mock uses 127.0.0.1 and a sibling."""
    port = flow_env.registry.rsplit(":", 1)[1]
    (flow_env.home / "buckets" / "release").mkdir(parents=True, exist_ok=True)
    (flow_env.home / "prod-link").symlink_to(flow_env.home / "buckets")
    text = (BUILTIN_DIR / "local.toml").read_text()
    for old, new in [('bucket = "file://{krel_home}/buckets/release"', 'bucket = "file://{krel_home}/prod-link/release"'),
                     (NOMOCK_VALIDATE, f'validate_registry = "LOCALHOST:{port}/staging/"'),
                     (NOMOCK_REGISTRY, f'registry = "localhost:{port}/staging"')]:
        assert old in text
        text = text.replace(old, new, 1)
    profile = flow_env.home / "spellings.toml"
    profile.write_text(text)
    args = ["--branch", "master", "--type", "alpha", "--profile", str(profile)]
    before = (flow_env.bucket_state("release"), flow_env.registry_state(), flow_env.remote_refs())

    staged = flow_env.krel("stage", *args)
    assert staged.returncode == 0, staged.stderr[-2000:]
    released = flow_env.krel("release", *args, "--build-version", flow_env.build_version)
    assert released.returncode == 0, released.stderr[-2000:]

    after = (flow_env.bucket_state("release"), flow_env.registry_state(), flow_env.remote_refs())
    assert after[0] == before[0] and after[2] == before[2]
    assert {k: v for k, v in after[1].items() if not k.startswith("mock/")} == before[1]
    assert any(k.startswith("mock/demo-server:") for k in after[1])  # the mock run did push, to mock only
    assert (flow_env.bucket("mock") / "release" / "latest.txt").read_text() == "v1.0.0-alpha.1"
