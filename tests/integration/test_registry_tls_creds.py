"""Credentials and TLS per registry, against real docker-registry processes: two registries with their own
htpasswd users (one reached through ~/.docker/config.json `auths`, one through a credential helper script on
PATH), a registry served over TLS with a certificate from a CA the test makes, and `--ca-file` on the CLI."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from releng.errors import ReleaseError
from releng.promo.inventory import Registries
from releng.promo.promote import PromoteOptions, promote_images
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.credentials import Credentials, EnvPair, service_accounts
from releng.registry.localserver import LocalRegistry, start_local_registry
from typer.testing import CliRunner

from krel.app import app

USER_A = ("alice", "a-secret-1")
USER_B = ("bob", "b-secret-2")


def _htpasswd(path: Path, user: tuple[str, str]) -> Path:
    path.write_text(f"{user[0]}:{bcrypt.hashpw(user[1].encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    return path


def _auth_config(htpasswd: Path) -> str:
    return f"auth:\n  htpasswd: {{realm: krel-test, path: {htpasswd}}}\n"


def _start(root: Path, **kwargs: object) -> LocalRegistry:
    return start_local_registry(root, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    root = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False),
                               critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    ca_key, ca_cert = ca("krel test CA")
    _, other_cert = ca("some other CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca_cert.subject)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    out = {"ca": root / "ca.pem", "other": root / "other.pem", "cert": root / "server.pem", "key": root / "key.pem",
           "garbage": root / "garbage.pem"}
    out["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out["other"].write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    out["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    out["key"].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    out["garbage"].write_text("not a certificate\n")
    return out


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]) -> Iterator[dict[str, LocalRegistry]]:
    """Registry A (alice, http), registry B (bob, http) and registry T (alice, https with the test CA)."""
    root = tmp_path_factory.mktemp("tls-creds")
    started = {
        "a": _start(root / "a", extra_config=_auth_config(_htpasswd(root / "a.htpasswd", USER_A))),
        "b": _start(root / "b", extra_config=_auth_config(_htpasswd(root / "b.htpasswd", USER_B))),
        "t": _start(root / "t", tls=(pki["cert"], pki["key"]),
                    extra_config=_auth_config(_htpasswd(root / "t.htpasswd", USER_A))),
    }
    yield started
    for registry in started.values():
        registry.stop()


@pytest.fixture
def helper_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker-credential-krel-test` script on PATH: bob for registry B's host, "not found" for anything else."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    script = bindir / "docker-credential-krel-test"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 2\n'
        "read host\n"
        f'echo "$host" >> {log}\n'
        'if [ "$host" = "$KREL_TEST_HELPER_HOST" ]; then\n'
        f'  printf \'{{"ServerURL":"%s","Username":"{USER_B[0]}","Secret":"{USER_B[1]}"}}\' "$host"\n'
        "else\n"
        '  echo "credentials not found in native keychain"; exit 1\n'
        "fi\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def _docker_config(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def _b64(user: tuple[str, str]) -> str:
    return base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def test_each_registry_gets_its_own_credentials(registries: dict[str, LocalRegistry], helper_on_path: Path,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                registry_images: dict[str, Path]) -> None:
    a, b = registries["a"], registries["b"]
    monkeypatch.setenv("KREL_TEST_HELPER_HOST", b.host)
    config = _docker_config(tmp_path, {"auths": {f"https://{a.host}/v1/": {"auth": _b64(USER_A)}},
                                       "credHelpers": {b.host: "krel-test"}})
    creds = Credentials(config)
    with Registries(creds) as regs:
        src, dst = regs.client(a.host), regs.client(b.host)
        digest = imagetar.push_image_tarball(src, registry_images["amd64"], "staging/hello", "v1")
        result = copy_image(src, "staging/hello", digest, dst, "prod/hello", ["v1"])
        assert result.tags_added == ["v1"]
        head = dst.head_manifest("prod/hello", "v1")
        assert head is not None and head.digest == digest
    assert helper_on_path.read_text().split() == [b.host]  # the helper was asked once, for B only
    assert creds(a.host).username == USER_A[0] and creds(b.host).username == USER_B[0]
    # The users are not interchangeable: alice cannot read B.
    with RegistryClient(b.host, auth=Credentials(config)(a.host), retry_budget=1) as wrong, \
            pytest.raises(ReleaseError, match=r"denied \(HTTP 401"):
        wrong.list_tags("prod/hello")


def test_env_pair_goes_only_to_the_host_it_names(registries: dict[str, LocalRegistry], tmp_path: Path) -> None:
    a, b = registries["a"], registries["b"]
    creds = Credentials(tmp_path / "absent.json", EnvPair(*USER_A, host=a.host))
    assert creds(a.host).username == USER_A[0]
    assert creds(b.host).username is None  # anonymous: alice's password is never sent to B
    with RegistryClient(b.host, auth=creds(b.host), retry_budget=1) as client, \
            pytest.raises(ReleaseError) as err:
        client.list_tags("prod/hello")
    assert "denied (HTTP 401" in str(err.value) and "anonymous" in str(err.value)
    # Without a host the pair serves any non-Google host, as it did before KREL_REGISTRY_HOST.
    assert Credentials(None, EnvPair(*USER_A))(b.host).username == USER_A[0]
    assert Credentials(None, EnvPair(*USER_A))("us-docker.pkg.dev").name == "google"


BAD_CONFIG = {
    "not-json": ("{auths:", r"docker config .*config\.json: not valid JSON"),
    "not-an-object": ("[1, 2]", r"config\.json: expected a JSON object"),
    "auths-not-objects": ({"auths": {"h": "x"}}, r"`auths` must map registry hosts to objects"),
    "auth-not-base64": ({"auths": {"HOST": {"auth": "%%%"}}}, r"auths\.HOST\.auth is not base64 of USER:PASSWORD"),
    "auth-without-colon": ({"auths": {"HOST": {"auth": base64.b64encode(b"nocolon").decode()}}},
                           r"auths\.HOST\.auth is not base64"),
    "identity-token-not-string": ({"auths": {"HOST": {"identitytoken": 5}}},
                                  r"auths\.HOST\.identitytoken must be a string of printable ASCII"),
    "helper-not-on-path": ({"credHelpers": {"HOST": "no-such-helper-xyz"}},
                           r"credential helper docker-credential-no-such-helper-xyz \(from .*\) for HOST: "
                           r"docker-credential-no-such-helper-xyz is not on PATH"),
    "helper-name-empty": ({"credHelpers": {"HOST": ""}}, r"`credHelpers` must map registry hosts to helper names"),
    "store-not-string": ({"credsStore": 5}, r"`credsStore` must be a helper name"),
}


@pytest.mark.parametrize(("doc", "message"), BAD_CONFIG.values(), ids=BAD_CONFIG.keys())
def test_bad_docker_config_is_one_line(tmp_path: Path, doc: object, message: str,
                                       registries: dict[str, LocalRegistry]) -> None:
    host = registries["a"].host
    text = json.dumps(doc).replace("HOST", host) if not isinstance(doc, str) else doc
    config = _docker_config(tmp_path, text)
    with pytest.raises(ReleaseError) as err:
        Credentials(config)(host)
    assert "\n" not in str(err.value)
    assert re.search(message.replace("HOST", re.escape(host)), str(err.value)), str(err.value)


HELPER_ANSWERS = {
    "not-json": ("echo hello", r"answer is not JSON with Username and Secret"),
    "no-secret": ("echo '{\"Username\": \"u\"}'", r"answer is not JSON with Username and Secret"),
    "identity-token-empty": ("echo '{\"Username\": \"<token>\", \"Secret\": \"\"}'",
                             r"returned an identity token that is not printable ASCII"),
    "crash": ("echo 'boom: keychain locked' >&2; exit 3", r"exited with 3: boom: keychain locked"),
}


@pytest.mark.parametrize(("body", "message"), HELPER_ANSWERS.values(), ids=HELPER_ANSWERS.keys())
def test_bad_helper_answers_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
                                         message: str) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "docker-credential-bad"
    script.write_text(f"#!/bin/sh\nread host\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    config = _docker_config(tmp_path, {"credsStore": "bad"})
    with pytest.raises(ReleaseError, match=message) as err:
        Credentials(config)("registry.example.com")
    assert "\n" not in str(err.value) and "credential helper docker-credential-bad" in str(err.value)


def test_creds_store_with_nothing_stored_is_anonymous(helper_on_path: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREL_TEST_HELPER_HOST", "elsewhere")
    creds = Credentials(_docker_config(tmp_path, {"credsStore": "krel-test"}))
    assert creds("registry.example.com").name == "anonymous"


def test_google_impersonation_without_adc_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    sa = "k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com"
    creds = Credentials(None, service_accounts={"us-central1-docker.pkg.dev": sa})
    google = creds("us-central1-docker.pkg.dev")
    assert google.name == f"google ({sa})"
    with pytest.raises(ReleaseError, match=rf"^no Google credentials to impersonate {sa} for gcr.io / pkg.dev: run"):
        google._basic_header()  # what answering the registry's first challenge does


# -- TLS with a private CA ----------------------------------------------------------------------------------------

def test_tls_registry_with_the_ca_file(registries: dict[str, LocalRegistry], pki: dict[str, Path],
                                       registry_images: dict[str, Path]) -> None:
    t = registries["t"]
    with Registries(Credentials(None, EnvPair(*USER_A, host=t.host)), ca_file=pki["ca"]) as regs:
        client = regs.client(t.host)
        assert client.base_url.startswith("https://")
        digest = imagetar.push_image_tarball(client, registry_images["arm64"], "tls/hello", "v1")
        head = client.head_manifest("tls/hello", "v1")
        assert head is not None and head.digest == digest


TLS_REFUSALS = {
    "no-ca-file": (None, r"TLS certificate not trusted \(.*CERTIFICATE_VERIFY_FAILED.*\); if the registry uses a "
                         r"private CA, pass its PEM with --ca-file"),
    "another-ca": ("other", r"TLS certificate not trusted"),
    "garbage-ca-file": ("garbage", r"CA file .*garbage\.pem is not a readable PEM certificate bundle"),
    "missing-ca-file": ("missing", r"CA file .*missing\.pem is not a readable PEM certificate bundle"),
}


@pytest.mark.parametrize(("ca", "message"), TLS_REFUSALS.values(), ids=TLS_REFUSALS.keys())
def test_tls_refusals_are_one_line_and_fast(registries: dict[str, LocalRegistry], pki: dict[str, Path],
                                            ca: str | None, message: str) -> None:
    t = registries["t"]
    ca_file = None if ca is None else pki.get(ca, pki["ca"].parent / f"{ca}.pem")
    start = time.monotonic()
    with pytest.raises(ReleaseError, match=message) as err, \
            RegistryClient(t.host, insecure=False, ca_file=ca_file, retry_budget=30) as client:
        client.ping()
    assert time.monotonic() - start < 15, "an untrusted certificate is not retried until the budget runs out"
    assert "\n" not in str(err.value)


def test_cli_snapshot_takes_ca_file(registries: dict[str, LocalRegistry], pki: dict[str, Path],
                                    registry_images: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    t = registries["t"]
    monkeypatch.setenv("KREL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("KREL_REGISTRY_USERNAME", USER_A[0])
    monkeypatch.setenv("KREL_REGISTRY_PASSWORD", USER_A[1])
    monkeypatch.setenv("KREL_REGISTRY_HOST", t.host)
    with RegistryClient(t.host, auth=Credentials(None, EnvPair(*USER_A))(t.host), ca_file=pki["ca"]) as client:
        digest = imagetar.push_image_tarball(client, registry_images["amd64"], "cli/hello", "v2")
    runner = CliRunner()
    ok = runner.invoke(app, ["promote", "snapshot", f"{t.host}/cli/hello", "--ca-file", str(pki["ca"]), "-o", "csv"])
    assert ok.exit_code == 0, ok.output
    assert f"hello@{digest},hello:v2" in ok.output
    refused = runner.invoke(app, ["promote", "snapshot", f"{t.host}/cli/hello", "--ca-file", str(pki["other"])])
    assert refused.exit_code == 1
    assert "TLS certificate not trusted" in refused.output and USER_A[1] not in refused.output


SA = "k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com"


def test_manifest_service_accounts_are_impersonated_per_host(tmp_path: Path) -> None:
    manifest = tmp_path / "promoter-manifest.yaml"
    manifest.write_text(
        "registries:\n- name: gcr.io/k8s-staging-foo\n  src: true\n"
        f"- name: us-central1-docker.pkg.dev/k8s-artifacts-prod/images/foo\n  service-account: {SA}\n"
        "images:\n- name: foo\n  dmap:\n    'sha256:" + "a" * 64 + "': [v1]\n"
    )
    creds = Credentials(tmp_path / "absent.json")
    with Registries(creds) as regs:
        promote_images(PromoteOptions(manifest=manifest, parse_only=True), regs)
    assert creds("us-central1-docker.pkg.dev").name == f"google ({SA})"
    assert creds("gcr.io").name == "google"  # the source has no account: plain ADC


SA_CONFLICTS = {
    "same-host-two-accounts": ([("gcr.io/a", "x@p.iam.gserviceaccount.com"),
                                ("gcr.io/b", "y@p.iam.gserviceaccount.com")],
                               r"^registry host gcr\.io is given two service accounts, x@p\.iam\.gserviceaccount\.com "
                               r"and y@p\.iam\.gserviceaccount\.com; krel authenticates per host"),
    "host-case-differs": ([("GCR.io/a", "x@p.iam.gserviceaccount.com"), ("gcr.io/b", "y@p.iam.gserviceaccount.com")],
                          r"^registry host gcr\.io is given two service accounts"),
}


@pytest.mark.parametrize(("pairs", "message"), SA_CONFLICTS.values(), ids=SA_CONFLICTS.keys())
def test_one_host_with_two_service_accounts_is_refused(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        service_accounts(pairs)
    assert service_accounts([("gcr.io/a", ""), ("gcr.io/b", "x@p")]) == {"gcr.io": "x@p"}
