"""Issues 13/14 leftovers against real parts: `krel announce send` refuses a second send of the same release unless
--resend (aiosmtpd on loopback, the local profile's file:// buckets); a promotion rerun copies a destination's
missing signature tag (Debian's docker-registry on loopback)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest
import typer.testing
from cryptography.hazmat.primitives.asymmetric import ec
from releng import layout
from releng.announce import compose
from releng.objectstore import open_store
from releng.profile import BUILTIN_DIR, load_profile
from releng.promo.promote import PromoteOptions, PromotionResult, promote_images
from releng.promo.signatures import COPY_SIGNATURE, SIGN
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import LocalRegistry
from releng.registry.pool import Registries
from releng.signing import cosign
from releng.signing.keys import SigningKey

from krel.app import app
from tests.fixtures.registry import RegistryFactory
from tests.fixtures.smtp import SmtpServer

TAG = "v0.3.0"
DATA = b"demo tarball"


def _publish(home: Path, nomock: bool) -> None:
    """The released files and announcement as krel release leaves them."""
    profile = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    store = open_store(profile.targets(nomock).bucket)
    digest = hashlib.sha512(DATA).hexdigest()
    store.put_new(f"release/{TAG}/demo.tar.gz", DATA)
    store.put_new(f"release/{TAG}/demo.tar.gz.sha512", digest.encode())
    table = f'<table><tr><td><a href="file:///x/release/{TAG}/demo.tar.gz">demo.tar.gz</a></td><td>{digest}</td></tr>' \
            "</table>"
    a = compose.build_announcement(profile, TAG, go_version="1.22.4", changelog_html=table)
    store.put_new(f"release/{TAG}/announcement.html", a.html.encode())


def _smtp_profile(tmp_path: Path, server: SmtpServer) -> Path:
    """The local profile mailing through the aiosmtpd server (a TOML file passed by --profile)."""
    mail = (f'[mail]\ntransport = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {server.port}\n'
            'from_email = "rm@localhost"\n')
    text = re.sub(r"\[mail\]\n(?:[^\[\n].*\n|\n)*", mail + "\n", (BUILTIN_DIR / "local.toml").read_text())
    path = tmp_path / "smtp.toml"
    path.write_text(text)
    return path


def _record_file(home: Path, nomock: bool) -> Path:
    bucket = "release" if nomock else "mock"
    return home / "buckets" / bucket / layout.announcement_record_key(TAG)


def _send(cli: typer.testing.CliRunner, profile: Path, *extra: str) -> typer.testing.Result:
    return cli.invoke(app, ["announce", "send", "--tag", TAG, "--yes", "--profile", str(profile), *extra])


def test_a_second_send_is_refused_and_resend_sends_again(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _publish(krel_home, nomock=True)
    profile = _smtp_profile(tmp_path, smtp_server)
    first = _send(cli, profile, "--nomock")
    assert first.exit_code == 0, first.output
    assert len(smtp_server.handler.received) == 1
    record = _record_file(krel_home, nomock=True)
    written = record.read_bytes()
    assert json.loads(written)["command"] == f"krel announce send --tag {TAG} --nomock"

    again = _send(cli, profile, "--nomock")
    assert again.exit_code == 1
    line = again.output.strip()
    assert "\n" not in line and "already sent" in line and "pass --resend" in line and "nothing was sent" in line
    assert "announce@localhost, dev@localhost" in line and str(record.relative_to(krel_home / "buckets")) in line
    assert len(smtp_server.handler.received) == 1  # the refusal came before the SMTP conversation

    resent = _send(cli, profile, "--nomock", "--resend")
    assert resent.exit_code == 0, resent.output
    assert len(smtp_server.handler.received) == 2
    assert smtp_server.handler.received[1].rcpt_tos == smtp_server.handler.received[0].rcpt_tos
    assert record.read_bytes() == written  # the first send's record stays as it was


# what the targets' bucket holds before `announce send` (no --resend) -> exit code and what the output says
BEFORE = {
    "sent-by-announce-send": ("announce", 1, "already sent"),
    "sent-by-krel-release": ("release", 1, "by `krel release --nomock"),
    "damaged-record": ("{not json", 1, "is not krel's record of a sent announcement"),
    "record-of-another-tag": ("other-tag", 1, "it records tag 'v9.9.9'"),
    "oversized-record": ("big", 1, "bytes)"),
    "sent-in-mock-only": ("mock", 0, "sent:"),  # mock's record is not production's
}


def _seed(home: Path, kind: str) -> None:
    path = _record_file(home, nomock=kind != "mock")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"tag": TAG, "sent_at": "2024-05-01T10:00:00+00:00", "recipients": ["announce@localhost"],
              "receipt": "smtp: 1 accepted", "command": f"krel announce send --tag {TAG} --nomock"}
    if kind == "release":
        record["command"] = "krel release --nomock --build-version v0.3.0-rc.0.1+abc"
    if kind == "other-tag":
        record["tag"] = "v9.9.9"
    text = json.dumps(record)
    if kind == "{not json":
        text = kind
    if kind == "big":
        text = " " * (65 * 1024)
    path.write_text(text)


@pytest.mark.parametrize(("seed", "code", "says"), BEFORE.values(), ids=BEFORE.keys())
def test_what_the_bucket_records_decides_the_send(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, smtp_server: SmtpServer,
    seed: str, code: int, says: str,
) -> None:
    _publish(krel_home, nomock=True)
    _seed(krel_home, seed)
    result = _send(cli, _smtp_profile(tmp_path, smtp_server), "--nomock")
    assert result.exit_code == code, result.output
    assert says in result.output
    assert len(smtp_server.handler.received) == (1 if code == 0 else 0)
    if code:
        assert len(result.output.strip().splitlines()) == 1


def test_refusal_under_json_and_print_only_still_shows(
    cli: typer.testing.CliRunner, krel_home: Path, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _publish(krel_home, nomock=False)
    profile = _smtp_profile(tmp_path, smtp_server)
    assert _send(cli, profile).exit_code == 0
    refused = _send(cli, profile, "--json")
    assert refused.exit_code == 1
    error = json.loads(refused.stdout)
    assert error["exit_code"] == 1 and "already sent" in error["error"]
    shown = _send(cli, profile, "--print-only", "--json")  # showing it sends nothing, so nothing to refuse
    assert shown.exit_code == 0 and json.loads(shown.stdout)["sent"] is False
    assert len(smtp_server.handler.received) == 1


# ---- 5. promoted image signatures are healed on reruns (one local registry: stg/ and prod/ in it) ----------------

_names = count()


@pytest.fixture(scope="module")
def registry(registry_factory: RegistryFactory) -> LocalRegistry:
    return registry_factory("heal-signatures")


@pytest.fixture(scope="module")
def release_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "release")


@pytest.fixture(scope="module")
def promoter_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "promoter")


@pytest.fixture
def client(registry: LocalRegistry) -> Iterator[RegistryClient]:
    with RegistryClient(registry.host) as c:
        yield c


def _promote(manifest: Path, confirm: bool, key: SigningKey | None = None) -> PromotionResult:
    with Registries(rate=500, retries=1) as registries:
        return promote_images(PromoteOptions(manifest=manifest, confirm=confirm, sign_key=key), registries)


def _staged(tmp_path: Path, client: RegistryClient, image: Path, key: SigningKey | None) -> tuple[str, str, Path]:
    """A staged image (signed with the release key unless key is None) and a manifest promoting it to prod/."""
    name = f"app{next(_names)}"
    digest = imagetar.push_image_tarball(client, image, f"stg/{name}", "1.0")
    if key is not None:
        cosign.sign_image(client, f"stg/{name}", digest, key)
    manifest = tmp_path / "promoter-manifest.yaml"
    manifest.write_text(f"registries:\n- name: {client.host}/stg\n  src: true\n- name: {client.host}/prod\n"
                        f"images:\n- name: {name}\n  dmap:\n    \"{digest}\": [\"1.0\"]\n")
    return name, digest, manifest


def _image_only(client: RegistryClient, name: str, digest: str) -> None:
    """What a run that died between the image and its signature left: the image and its tag, no `.sig` tag."""
    copy_image(client, f"stg/{name}", digest, client, f"prod/{name}", ["1.0"])


def _signature_deleted(client: RegistryClient, name: str, digest: str) -> None:
    """A full promotion whose destination signature was deleted afterwards."""
    copy_image(client, f"stg/{name}", digest, client, f"prod/{name}", ["1.0"])
    sig = client.head_manifest(f"stg/{name}", cosign.signature_tag(digest))
    assert sig is not None
    copy_image(client, f"stg/{name}", sig.digest, client, f"prod/{name}", [cosign.signature_tag(digest)])
    assert client.delete_manifest(f"prod/{name}", sig.digest)


def _another_signature(client: RegistryClient, name: str, digest: str) -> None:
    """The destination already carries a signature of its own (another manifest): never touched."""
    copy_image(client, f"stg/{name}", digest, client, f"prod/{name}", ["1.0"])
    cosign.sign_image(client, f"prod/{name}", digest, SigningKey(ec.generate_private_key(ec.SECP256R1()), "other"))


# what the destination holds before the rerun, whether the source is signed, whether the rerun signs with the
# promoter's key -> whether the rerun heals the signature
STATES = {
    "died-between-image-and-signature": (_image_only, True, False, True),
    "died-between-image-and-signature-with-key": (_image_only, True, True, True),
    "signature-deleted": (_signature_deleted, True, False, True),
    "source-unsigned": (_image_only, False, False, False),
    "destination-signed-otherwise": (_another_signature, True, False, False),
}


@pytest.mark.parametrize(("before", "source_signed", "with_key", "heals"), STATES.values(), ids=STATES.keys())
def test_a_rerun_heals_a_missing_destination_signature(
    tmp_path: Path, client: RegistryClient, registry_images: dict[str, Path], release_key: SigningKey,
    promoter_key: SigningKey, before: Callable[[RegistryClient, str, str], None], source_signed: bool,
    with_key: bool, heals: bool,
) -> None:
    name, digest, manifest = _staged(tmp_path, client, registry_images["amd64"], release_key if source_signed else None)
    before(client, name, digest)
    repo, tag = f"prod/{name}", cosign.signature_tag(digest)
    held = client.head_manifest(repo, tag)
    key = promoter_key if with_key else None

    dry = _promote(manifest, confirm=False, key=key)
    assert dry.error() is None and dry.delta is not None and dry.delta.copies == []
    assert client.head_manifest(repo, tag) == held  # the dry run writes nothing
    if not heals:
        assert dry.signatures is None
        assert _promote(manifest, confirm=True, key=key).signatures is None
        assert client.head_manifest(repo, tag) == held
        return
    assert dry.signatures is not None and dry.signatures.healing == {(f"{client.host}/{repo}", digest)}
    assert [s.action for s in dry.signatures.steps] == [COPY_SIGNATURE, *([SIGN] if with_key else [])]

    healed = _promote(manifest, confirm=True, key=key)
    assert healed.error() is None, healed.error()
    assert [o.error for o in healed.signature_outcomes] == [""] * (2 if with_key else 1)
    assert not healed.outcomes  # no image was copied again
    staged_sig = client.head_manifest(f"stg/{name}", tag)
    assert staged_sig is not None
    cosign.verify_image(client, repo, digest, release_key.public)  # the staged signature travelled
    if with_key:
        cosign.verify_image(client, repo, digest, promoter_key.public)
    else:
        assert client.head_manifest(repo, tag) == staged_sig  # the very manifest the source holds
    # healed: the next run finds nothing to do
    again = _promote(manifest, confirm=True, key=key)
    assert again.error() is None and again.signatures is None
