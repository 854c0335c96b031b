"""A plain-http request to a registry that speaks TLS says so (not a bare "HTTP 400"), for every kind of request,
against a real docker-registry served over TLS; a 400 from a server that does not speak TLS keeps its message."""

from __future__ import annotations

import datetime
import ipaddress
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError
from releng.registry import oci
from releng.registry.client import RegistryClient
from releng.registry.listing import read_listing
from releng.registry.localserver import LocalRegistry, start_local_registry
from releng.registry.transport import speaks_tls
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures._httpstub import loopback_server

DIGEST = "sha256:" + "ab" * 32
CONFIG = b'{"architecture":"amd64","os":"linux"}'
MANIFEST = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'
            b'{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'
            + oci.sha256_digest(CONFIG).encode() + b'","size":' + str(len(CONFIG)).encode() + b'},"layers":[]}')
HINT = r"was sent over plain http, but the registry speaks TLS at this address: use https .*--ca-file or the " \
       r"profile's registry_ca"


def _self_signed(root: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (the CA file a test hands the client), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, Path]]:
    """A docker-registry that speaks only TLS on its port, and the CA file that trusts it."""
    root = tmp_path_factory.mktemp("tls-hint")
    cert, key = _self_signed(root)
    registry = start_local_registry(root / "registry", tls=(cert, key))
    yield registry, cert
    registry.stop()


# Every kind of request the client sends; each reaches the TLS port over plain http.
REQUESTS: dict[str, Callable[[RegistryClient], object]] = {
    "ping": lambda c: c.ping(),
    "catalog": lambda c: c.catalog(),
    "tags-list": lambda c: c.list_tags("hint/app"),
    "tags-list-missing-ok": lambda c: c.list_tags("hint/app", missing_ok=True),
    "listing": lambda c: read_listing(c, "hint/app", missing_ok=True),
    "head-tag": lambda c: c.head_manifest("hint/app", "v1"),
    "head-digest": lambda c: c.head_manifest("hint/app", DIGEST),
    "get-manifest": lambda c: c.get_manifest("hint/app", "v1"),
    "head-blob": lambda c: c.blob_exists("hint/app", DIGEST),
    "get-blob": lambda c: c.get_blob("hint/app", DIGEST),
    "stream-blob": lambda c: c.open_blob("hint/app", DIGEST).__enter__(),
    "push-blob": lambda c: c.push_blob("hint/app", CONFIG),
    "mount-blob": lambda c: c.mount_blob("hint/app", DIGEST, "hint/other"),
    "put-manifest": lambda c: c.put_manifest("hint/app", "v1", MANIFEST, oci.OCI_MANIFEST),
    "delete-manifest": lambda c: c.delete_manifest("hint/app", DIGEST),
}


@pytest.mark.parametrize("send", REQUESTS.values(), ids=REQUESTS.keys())
def test_plain_http_to_a_tls_registry_says_so(tls_registry: tuple[LocalRegistry, Path],
                                             send: Callable[[RegistryClient], object]) -> None:
    registry, _ca = tls_registry
    started = time.monotonic()
    # A loopback registry without a CA is spoken to in plain http: the case a user meets first.
    with RegistryClient(registry.host, retry_budget=30) as client, pytest.raises(ReleaseError) as err:
        send(client)
    message = str(err.value)
    assert re.search(HINT, message), message
    assert message.startswith(f"registry {registry.host}") and "\n" not in message
    assert "HTTP 400" not in message
    assert time.monotonic() - started < 10, "a refusal that retries cannot fix is not retried"


def test_with_its_ca_the_same_registry_is_read_over_https(tls_registry: tuple[LocalRegistry, Path]) -> None:
    registry, ca = tls_registry
    with RegistryClient(registry.host, ca_file=ca) as client:
        assert client.base_url.startswith("https://")
        client.ping()
        assert client.push_blob("hint/ok", CONFIG) is True
        client.put_manifest("hint/ok", "v1", MANIFEST, oci.OCI_MANIFEST)
        head = client.head_manifest("hint/ok", "v1")
        assert head is not None and head.digest == oci.sha256_digest(MANIFEST)
        assert client.list_tags("hint/ok") == ["v1"]


@pytest.fixture(scope="module")
def plain_400() -> Iterator[HTTPServer]:
    """A plain-http server that answers 400 without registry error codes to everything."""
    with loopback_server() as server:
        server.expect_request(re.compile(".*")).respond_with_data("bad request", status=400)
        yield server


@pytest.mark.parametrize("send", [REQUESTS["ping"], REQUESTS["head-tag"], REQUESTS["push-blob"]],
                         ids=["ping", "head-tag", "push-blob"])
def test_a_400_from_a_plain_server_is_not_blamed_on_tls(plain_400: HTTPServer,
                                                        send: Callable[[RegistryClient], object]) -> None:
    with RegistryClient(f"127.0.0.1:{plain_400.port}", retry_budget=1) as client, \
            pytest.raises(ReleaseError, match=r"failed with HTTP 400$") as err:
        send(client)
    assert "TLS" not in str(err.value)


def test_speaks_tls_asks_the_port(tls_registry: tuple[LocalRegistry, Path], plain_400: HTTPServer) -> None:
    registry, _ca = tls_registry
    assert speaks_tls("127.0.0.1", registry.port)
    assert not speaks_tls("127.0.0.1", plain_400.port)


def test_cli_names_the_fix(tls_registry: tuple[LocalRegistry, Path], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    registry, ca = tls_registry
    monkeypatch.setenv("KREL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    with RegistryClient(registry.host, ca_file=ca) as client:
        client.push_blob("hint/cli", CONFIG)
        digest = client.put_manifest("hint/cli", "v1", MANIFEST, oci.OCI_MANIFEST)
    runner = CliRunner()
    refused = runner.invoke(app, ["promote", "snapshot", f"{registry.host}/hint/cli"])
    assert refused.exit_code == 1, refused.output
    assert re.search(HINT, refused.output) and "Traceback" not in refused.output
    ok = runner.invoke(app, ["promote", "snapshot", f"{registry.host}/hint/cli", "--ca-file", str(ca), "-o", "csv"])
    assert ok.exit_code == 0, ok.output
    assert f"cli@{digest},cli:v1" in ok.output
