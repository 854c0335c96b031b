"""The profile's CA setting (`registry_ca` per targets, relative to the profile file): promote, snapshot and backup
trust the nomock targets' bundle when talking to a registry served over TLS with a certificate from a CA the test
makes; `--ca-file` overrides it; bad values are refused on load, and a missing bundle is one line at first use."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
from releng.errors import ReleaseError
from releng.jobs.clients import Secrets, open_clients
from releng.profile import BUILTIN_DIR, Profile, load_profile
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.credentials import Credentials, EnvPair
from releng.registry.localserver import LocalRegistry
from typer.testing import CliRunner

from krel.app import app
from tests.integration.test_registry_tls_creds import USER_A, pki, registries  # noqa: F401 (module fixtures, reused)

VARIABLES = {"krel_home": "/tmp/krel-home", "local_registry": "127.0.0.1:5000"}


def _profile(root: Path, nomock_ca: str | None, mock_ca: str | None = None) -> Path:
    """The local profile with registry_ca set in [nomock] (and [mock]), written to root/profiles/p.toml."""
    text = (BUILTIN_DIR / "local.toml").read_text()
    for table, value in (("nomock", nomock_ca), ("mock", mock_ca)):
        if value is not None:
            text = text.replace(f"\n[{table}]\n", f"\n[{table}]\nregistry_ca = {value!r}\n", 1)
    path = root / "profiles" / "p.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tls(registries: dict[str, LocalRegistry], pki: dict[str, Path], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> LocalRegistry:
    """Registry T (https, the test CA, alice), with this test's KREL_HOME and alice's pair scoped to T."""
    t = registries["t"]
    monkeypatch.setenv("KREL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("KREL_REGISTRY_USERNAME", USER_A[0])
    monkeypatch.setenv("KREL_REGISTRY_PASSWORD", USER_A[1])
    monkeypatch.setenv("KREL_REGISTRY_HOST", t.host)
    monkeypatch.delenv("KREL_PROFILE", raising=False)
    return t


@pytest.fixture(scope="module")
def pushed(registries: dict[str, LocalRegistry], pki: dict[str, Path],  # noqa: F811
           registry_images: dict[str, Path]) -> str:
    """An image at T/ca/stg/hello:v1, pushed once for the module; its digest."""
    t = registries["t"]
    with RegistryClient(t.host, auth=Credentials(None, EnvPair(*USER_A))(t.host), ca_file=pki["ca"]) as client:
        return imagetar.push_image_tarball(client, registry_images["amd64"], "ca/stg/hello", "v1")


def _ca_beside(profile: Path, pki: dict[str, Path], name: str = "ca") -> None:  # noqa: F811
    (profile.parent / "certs").mkdir(exist_ok=True)
    shutil.copy(pki[name], profile.parent / "certs" / "ca.pem")


def test_snapshot_trusts_the_profile_ca_relative_to_the_profile_file(
    tls: LocalRegistry, pushed: str, pki: dict[str, Path], tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = _profile(tmp_path, "certs/ca.pem")
    _ca_beside(profile, pki)
    monkeypatch.chdir(tmp_path / "home" if (tmp_path / "home").is_dir() else tmp_path)  # not the profile's directory
    runner = CliRunner()
    ok = runner.invoke(app, ["promote", "snapshot", f"{tls.host}/ca/stg/hello", "--profile", str(profile), "-o", "csv"])
    assert ok.exit_code == 0, ok.output
    assert f"hello@{pushed},hello:v1" in ok.output
    # --ca-file wins over the profile: another CA does not vouch for T.
    other = runner.invoke(app, ["promote", "snapshot", f"{tls.host}/ca/stg/hello", "--profile", str(profile),
                                "--ca-file", str(pki["other"])])
    assert other.exit_code == 1 and "TLS certificate not trusted" in other.output
    # Without the setting a loopback registry is spoken to in plain http, which T (https) refuses.
    plain = runner.invoke(app, ["promote", "snapshot", f"{tls.host}/ca/stg/hello", "--profile",
                                str(_profile(tmp_path / "plain", None))])
    assert plain.exit_code == 1 and "the registry speaks TLS at this address: use https" in plain.output
    assert USER_A[1] not in ok.output + other.output + plain.output


def test_promote_and_backup_use_the_profile_ca(
    tls: LocalRegistry, pushed: str, pki: dict[str, Path], tmp_path: Path,  # noqa: F811
) -> None:
    profile = _profile(tmp_path, str(pki["ca"]))  # an absolute path is taken as it is
    manifest = tmp_path / "promoter-manifest.yaml"
    manifest.write_text(f"registries:\n- name: {tls.host}/ca/stg\n  src: true\n- name: {tls.host}/ca/prod\n"
                        f"images:\n- name: hello\n  dmap:\n    '{pushed}': [v1]\n")
    runner = CliRunner()
    done = runner.invoke(app, ["promote", "images", "--manifest", str(manifest), "--profile", str(profile),
                               "--confirm", "--json"])
    assert done.exit_code == 0 and json.loads(done.stdout)["copied"] == 1, done.output
    rerun = runner.invoke(app, ["promote", "images", "--manifest", str(manifest), "--profile", str(profile), "--json"])
    assert rerun.exit_code == 0 and json.loads(rerun.stdout)["delta"]["copies"] == [], rerun.output
    backup = runner.invoke(app, ["backup", "--from", f"{tls.host}/ca/prod", "--to", f"{tls.host}/ca/bak",
                                 "--profile", str(profile), "--confirm", "--json"])
    assert backup.exit_code == 0, backup.output
    with RegistryClient(tls.host, auth=Credentials(None, EnvPair(*USER_A))(tls.host), ca_file=pki["ca"]) as client:
        head = client.head_manifest("ca/bak/hello", "v1")
    assert head is not None and head.digest == pushed


def test_mock_and_nomock_name_their_own_ca(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, "certs/prod.pem", mock_ca="~/mock-ca.pem"), VARIABLES)
    assert profile.registry_ca_file(profile.nomock) == tmp_path / "profiles" / "certs" / "prod.pem"
    assert profile.registry_ca_file(profile.mock) == Path("~/mock-ca.pem").expanduser()
    local = load_profile(BUILTIN_DIR / "local.toml", VARIABLES)
    assert local.registry_ca_file(local.nomock) is None and local.registry_ca_file(local.mock) is None


BAD_SETTINGS = {
    "option-like": ("'-ca.pem'", r"nomock\.registry_ca: '-ca\.pem' must not start with '-'"),
    "whitespace": ("'my ca.pem'", r"nomock\.registry_ca: 'my ca\.pem' must not contain whitespace"),
    "escape": ('"ca\\u001b[2J.pem"', r"nomock\.registry_ca"),
    "newline": ('"ca.pem\\nX"', r"nomock\.registry_ca"),
    "not-a-string": ("5", r"nomock\.registry_ca must be str, got 5"),
    "a-list": ("['a.pem']", r"nomock\.registry_ca must be str"),
}


@pytest.mark.parametrize(("value", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_bad_registry_ca_settings_are_refused_on_load(tmp_path: Path, value: str, message: str) -> None:
    path = _profile(tmp_path, None)
    path.write_text(path.read_text().replace("\n[nomock]\n", f"\n[nomock]\nregistry_ca = {value}\n", 1))
    with pytest.raises(ReleaseError) as err:
        load_profile(path, VARIABLES)
    text = str(err.value)
    assert "\n" not in text and "\x1b" not in text and str(path) in text
    assert re.search(message, text), text


UNREADABLE = {
    "missing-file": lambda root: "certs/missing.pem",
    "a-directory": lambda root: "certs",
    "not-pem": lambda root: "certs/ca.pem",
}


@pytest.mark.parametrize("case", UNREADABLE.keys())
def test_an_unreadable_profile_ca_is_one_line_at_first_use(
    tls: LocalRegistry, tmp_path: Path, pki: dict[str, Path], case: str,  # noqa: F811
) -> None:
    profile = _profile(tmp_path, UNREADABLE[case](tmp_path))
    _ca_beside(profile, pki, "garbage")
    result = CliRunner().invoke(app, ["promote", "snapshot", f"{tls.host}/ca/stg/hello", "--profile", str(profile)])
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert "\n" not in line and re.search(r"CA file .*/profiles/certs.* is not a readable PEM certificate bundle",
                                          line), line


# -- stage and release: the job's clients ---------------------------------------------------------------------------

def _job_profile(tmp_path: Path, t: LocalRegistry, pki: dict[str, Path], ca: str) -> Profile:  # noqa: F811
    path = _profile(tmp_path, ca, mock_ca=ca)
    _ca_beside(path, pki)
    return load_profile(path, {"krel_home": str(tmp_path / "home"), "local_registry": t.host})


def test_job_clients_use_the_registry_credentials_and_the_targets_ca(
    registries: dict[str, LocalRegistry], pki: dict[str, Path], registry_images: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    t = registries["t"]
    profile = _job_profile(tmp_path, t, pki, "certs/ca.pem")
    docker = tmp_path / "docker" / "config.json"
    docker.parent.mkdir()
    docker.write_text(json.dumps({"auths": {t.host: {"auth": base64.b64encode(":".join(USER_A).encode()).decode()}}}))
    with open_clients(profile, profile.mock, Secrets(registry_credentials=Credentials(docker))) as clients:
        client = clients.registry(t.host)
        assert client.base_url == f"https://{t.host}" and client.auth.name == "docker-config"
        digest = imagetar.push_image_tarball(client, registry_images["arm64"], "mock/hello", "v1")
        head = client.head_manifest("mock/hello", "v1")
    assert head is not None and head.digest == digest


def test_job_secrets_scope_the_env_pair_to_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from krel.jobs import secrets

    monkeypatch.setenv("KREL_REGISTRY_USERNAME", USER_A[0])
    monkeypatch.setenv("KREL_REGISTRY_PASSWORD", USER_A[1])
    monkeypatch.setenv("KREL_REGISTRY_HOST", "registry.example.com:5000")
    creds = secrets().registry_credentials
    assert creds("registry.example.com:5000").username == USER_A[0]
    assert creds("other.example.com").name == "anonymous"  # the pair is never sent to another host
    assert USER_A[1] not in repr(secrets())


def test_job_with_an_unreadable_targets_ca_stops_before_any_step(
    registries: dict[str, LocalRegistry], pki: dict[str, Path], tmp_path: Path,  # noqa: F811
) -> None:
    profile = _job_profile(tmp_path, registries["t"], pki, "certs/absent.pem")
    with pytest.raises(ReleaseError) as err, open_clients(profile, profile.mock, Secrets()):
        pytest.fail("the clients opened with an unreadable CA")
    assert re.fullmatch(r"registry 127\.0\.0\.1:\d+: CA file .*/profiles/certs/absent\.pem is not a readable PEM "
                        r"certificate bundle \(FileNotFoundError\)", str(err.value)), str(err.value)
