"""`krel sign` and `krel verify` end to end: generate a key, sign files and images in a real registry, verify them;
one line per artifact, exit 1 when any fails, one clean error line for a bad key, 2 for bad usage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.localserver import LocalRegistry
from typer.testing import CliRunner

from krel.app import app
from tests.cli.test_hostile_cli import assert_one_clean_error
from tests.fixtures.registry import RegistryFactory

PASSWORD = "s3cret-signing-pw-771"


@pytest.fixture
def env(krel_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("KREL_SIGNING_KEY", "KREL_SIGNING_KEY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _run(cli: CliRunner, *args: str, env: dict[str, str] | None = None) -> object:
    return cli.invoke(app, list(args), env=env)


def _keys(cli: CliRunner, where: Path, password: str | None = None) -> tuple[Path, Path]:
    result = _run(cli, "sign", "generate-key", "--output-dir", str(where), "--json",
                  env={"KREL_SIGNING_KEY_PASSWORD": password} if password else None)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    doc = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert doc["encrypted"] is bool(password)
    return Path(doc["private_key"]), Path(doc["public_key"])


def test_sign_and_verify_blobs(cli: CliRunner, env: Path) -> None:
    key, pub = _keys(cli, env / "keys", PASSWORD)
    files = [env / "a.tar.gz", env / "b.txt"]
    for f in files:
        f.write_bytes(f.name.encode() * 100)
    signed = _run(cli, "sign", "blobs", "--key", str(key), *map(str, files),
                  env={"KREL_SIGNING_KEY_PASSWORD": PASSWORD})
    assert signed.exit_code == 0, signed.output  # type: ignore[attr-defined]
    lines = signed.stdout.splitlines()  # type: ignore[attr-defined]
    assert [line.split("\t")[:2] for line in lines] == [["ok", str(f)] for f in files]
    assert PASSWORD not in signed.output  # type: ignore[attr-defined]
    ok = _run(cli, "verify", "blobs", "--key", str(pub), *map(str, files), "--json")
    assert ok.exit_code == 0
    assert [r["ok"] for r in json.loads(ok.stdout)["results"]] == [True, True]  # type: ignore[attr-defined]
    files[1].write_bytes(b"tampered")
    bad = _run(cli, "verify", "blobs", "--key", str(pub), *map(str, files))
    line = assert_one_clean_error(bad, 1)
    assert "verify blobs: 1 of 2 failed" in line and str(files[1]) in line
    assert bad.stdout.splitlines()[1].startswith(f"FAILED\t{files[1]}\t")  # type: ignore[attr-defined]
    # the key from the environment, as in a job
    again = _run(cli, "sign", "blobs", str(files[0]),
                 env={"KREL_SIGNING_KEY": str(key), "KREL_SIGNING_KEY_PASSWORD": PASSWORD})
    assert again.exit_code == 0  # the existing .sig (this key's) is kept


def _rsa_key(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _p384_pub(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP384R1())
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


# (id, argv after `krel` given (tmp dir, private key, public key), extra env, exit code, words in the one line)
HOSTILE: list[tuple[str, object, dict[str, str], int, str]] = [
    ("no-key", lambda t, k, p: ["sign", "blobs", str(t / "f")], {}, 1, "no signing key: set KREL_SIGNING_KEY"),
    ("missing-password", lambda t, k, p: ["sign", "blobs", "--key", str(k), str(t / "f")], {}, 1,
     "KREL_SIGNING_KEY_PASSWORD"),
    ("wrong-password", lambda t, k, p: ["sign", "blobs", "--key", str(k), str(t / "f")],
     {"KREL_SIGNING_KEY_PASSWORD": "not-" + PASSWORD}, 1, "wrong password"),
    ("rsa-key", lambda t, k, p: ["sign", "blobs", "--key", str(_rsa_key(t / "rsa.pem")), str(t / "f")], {}, 1,
     "RSA key"),
    ("p384-public", lambda t, k, p: ["verify", "blobs", "--key", str(_p384_pub(t / "p384.pub")), str(t / "f")], {}, 1,
     "secp384r1"),
    ("private-as-public", lambda t, k, p: ["verify", "blobs", "--key", str(k), str(t / "f")], {}, 1,
     "not a PEM public key"),
    ("no-files", lambda t, k, p: ["verify", "blobs", "--key", str(p)], {}, 2, "Missing argument"),
    ("verify-without-key", lambda t, k, p: ["verify", "blobs", str(t / "f")], {}, 2, "--key"),
    ("bad-image-ref", lambda t, k, p: ["verify", "images", "--key", str(p), "not a ref"], {}, 2,
     "expected REGISTRY/REPO"),
    ("ref-without-tag", lambda t, k, p: ["verify", "images", "--key", str(p), "127.0.0.1:1/repo"], {}, 2,
     "needs a :tag or @sha256"),
    ("generate-bad-name", lambda t, k, p: ["sign", "generate-key", "--output-dir", str(t), "--name", "../x"], {}, 1,
     "plain path component"),
    ("generate-over-existing", lambda t, k, p: ["sign", "generate-key", "--output-dir", str(k.parent)], {}, 1,
     "refusing to overwrite"),
]


@pytest.mark.parametrize(("argv", "extra", "code", "words"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_sign_and_verify_invocations(cli: CliRunner, env: Path, argv: object, extra: dict[str, str],
                                              code: int, words: str) -> None:
    key, pub = _keys(cli, env / "keys", PASSWORD)
    (env / "f").write_bytes(b"data")
    result = _run(cli, *argv(env, key, pub), env=extra)  # type: ignore[operator]
    line = assert_one_clean_error(result, code)
    assert words in line
    assert PASSWORD not in result.output  # type: ignore[attr-defined]
    assert not list(env.rglob("*.sig")) and not (env / "x.key").exists()


@pytest.fixture(scope="module")
def reg(registry_factory: RegistryFactory) -> LocalRegistry:
    return registry_factory("sign-cli")


@pytest.fixture
def client(reg: LocalRegistry) -> Iterator[RegistryClient]:
    with RegistryClient(reg.host) as c:
        yield c


def test_sign_and_verify_images(cli: CliRunner, env: Path, client: RegistryClient,
                                registry_images: dict[str, Path]) -> None:
    key, pub = _keys(cli, env / "keys")
    _other_key, other_pub = _keys(cli, env / "other")
    digest = imagetar.push_image_tarball(client, registry_images["amd64"], "cli/app", "v1")
    imagetar.push_image_tarball(client, registry_images["arm64"], "cli/unsigned", "v1")
    ref = f"{client.host}/cli/app:v1"
    signed = _run(cli, "sign", "images", "--key", str(key), ref)
    assert signed.exit_code == 0, signed.output  # type: ignore[attr-defined]
    assert signed.stdout.startswith(f"ok\t{ref}\tsigned {digest}")  # type: ignore[attr-defined]
    rerun = _run(cli, "sign", "images", "--key", str(key), ref)
    assert f"present {digest}" in rerun.stdout  # type: ignore[attr-defined]
    ok = _run(cli, "verify", "images", "--key", str(pub), ref, f"{client.host}/cli/app@{digest}", "--json")
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]
    assert all(r["ok"] for r in json.loads(ok.stdout)["results"])  # type: ignore[attr-defined]
    unsigned = f"{client.host}/cli/unsigned:v1"
    bad = _run(cli, "verify", "images", "--key", str(other_pub), ref, unsigned, f"{client.host}/cli/absent:v1")
    line = assert_one_clean_error(bad, 1)
    assert "verify images: 3 of 3 failed" in line
    rows = [r.split("\t") for r in bad.stdout.splitlines()]  # type: ignore[attr-defined]
    assert [r[0] for r in rows] == ["FAILED"] * 3
    assert "no signature verifies with key" in rows[0][2] and "no signature (no sha256-" in rows[1][2]
    assert "no such image" in rows[2][2]


def test_promote_with_sign_key(cli: CliRunner, env: Path, client: RegistryClient,
                               registry_images: dict[str, Path]) -> None:
    """`krel promote images --sign-key`: the plan shows the signature steps, --confirm writes them, and
    `krel verify images` accepts both the staged signature and the promoter's in production."""
    release_key, release_pub = _keys(cli, env / "release")
    promoter_key, promoter_pub = _keys(cli, env / "promoter", PASSWORD)
    digest = imagetar.push_image_tarball(client, registry_images["amd64"], "stg/promoted", "1.0")
    assert _run(cli, "sign", "images", "--key", str(release_key), f"{client.host}/stg/promoted:1.0").exit_code == 0
    manifest = env / "promoter-manifest.yaml"
    manifest.write_text(f"registries:\n- name: {client.host}/stg\n  src: true\n- name: {client.host}/prod\n"
                        f"images:\n- name: promoted\n  dmap:\n    \"{digest}\": [\"1.0\"]\n")
    argv = ["promote", "images", "--manifest", str(manifest), "--sign-key", str(promoter_key), "--no-cache"]
    wrong = _run(cli, *argv, env={"KREL_SIGNING_KEY_PASSWORD": "not-" + PASSWORD})
    assert "wrong password" in assert_one_clean_error(wrong, 1)
    plan = _run(cli, *argv, env={"KREL_SIGNING_KEY_PASSWORD": PASSWORD})
    assert plan.exit_code == 0, plan.output  # type: ignore[attr-defined]
    actions = [line.split("\t")[-1] for line in plan.stdout.splitlines() if "\t" in line]  # type: ignore[attr-defined]
    assert "copy-signature" in actions and "sign" in actions
    assert client.list_tags("prod/promoted", missing_ok=True) == []
    done = _run(cli, *argv, "--confirm", env={"KREL_SIGNING_KEY_PASSWORD": PASSWORD})
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    prod_ref = f"{client.host}/prod/promoted:1.0"
    for pub in (release_pub, promoter_pub):
        assert _run(cli, "verify", "images", "--key", str(pub), prod_ref).exit_code == 0
