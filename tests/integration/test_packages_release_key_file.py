"""The release key from KREL_PACKAGES_GPG_KEY_FILE: imported into a GnuPG home of krel's own that is gone afterwards,
unlocked with KREL_PACKAGES_GPG_PASSPHRASE (never in a message or repr); gpgv and rpmkeys accept what it signed; every
bad key file, fingerprint or passphrase is one line, before anything is written."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from releng import git
from releng.packages import keys, run
from releng.profile import Profile, load_profile

TAG = "v1.0.0"
PASSPHRASE = "correct horse battery staple"


def _gpg(home: Path, *args: str, stdin: bytes = b"") -> bytes:
    return subprocess.run(["gpg", "--batch", "--quiet", *args], env={"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"},
                          input=stdin, capture_output=True, check=True).stdout


@dataclasses.dataclass(frozen=True)
class World:
    home: Path
    profile: Profile
    protected: Path  # armoured secret key, passphrase PASSPHRASE
    plain: Path  # armoured secret key without passphrase
    both: Path  # two secret keys in one file
    public: Path  # a public key block only
    fingerprint: str  # of `protected`
    other_fingerprint: str  # of `plain`


def _new_key(home: Path, name: str, passphrase: str) -> str:
    _gpg(home, "--pinentry-mode", "loopback", "--passphrase", passphrase, "--quick-gen-key",
         f"{name} <{name}@example.invalid>", "rsa2048", "sign", "never")
    listing = _gpg(home, "--with-colons", "--list-secret-keys", f"{name}@example.invalid").decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # A short path: gpg-agent's socket lives in the GnuPG home (107 bytes at most).
    home = Path(tempfile.mkdtemp(prefix="kk", dir="/tmp"))
    gnupg = home / "g"
    gnupg.mkdir(mode=0o700)
    fpr = _new_key(gnupg, "release", PASSPHRASE)
    other = _new_key(gnupg, "other", "")
    export = ("--pinentry-mode", "loopback", "--armor", "--export-secret-keys")
    files = {"protected": _gpg(gnupg, "--passphrase", PASSPHRASE, *export, fpr),
             "plain": _gpg(gnupg, "--passphrase", "", *export, other),
             "both": _gpg(gnupg, "--passphrase", PASSPHRASE, *export, fpr) + _gpg(gnupg, "--passphrase", "", *export,
                                                                                  other),
             "public": _gpg(gnupg, "--armor", "--export", fpr)}
    for name, data in files.items():
        (home / f"{name}.asc").write_bytes(data)
    subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], check=False)
    repo = home / "src"
    git.init(repo)
    binary = home / "out" / "bin" / "linux" / "amd64" / "demo-server"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\necho demo-server\n")
    git.run(repo, "commit", "--allow-empty", "-q", "-m", "one", env={"GIT_COMMITTER_DATE": "2026-11-01T12:00:00Z"})
    git.run(repo, "tag", TAG)
    profile = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    run.build_release(profile, TAG, ("amd64",), home / "out", repo, home / "pkgs")
    yield World(home, profile, home / "protected.asc", home / "plain.asc", home / "both.asc", home / "public.asc",
                fpr, other)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def scratch_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where krel's temporary GnuPG homes go during the test (short, so gpg-agent's socket fits)."""
    root = Path(tempfile.mkdtemp(prefix="kt", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root  # type: ignore[misc]
    shutil.rmtree(root, ignore_errors=True)


def _targets(world: World, name: str) -> object:
    return dataclasses.replace(world.profile.nomock, packages_key="env",
                               packages_bucket=f"file://{world.home}/buckets/{name}")


def test_key_file_signs_a_release_and_leaves_no_gnupg_home(world: World, scratch_root: Path) -> None:
    targets = _targets(world, "good")
    environ = {"KREL_PACKAGES_GPG_KEY_FILE": str(world.protected), "KREL_PACKAGES_GPG_PASSPHRASE": PASSPHRASE}
    source = run.key_source(targets, world.home / "keys", environ)  # type: ignore[arg-type]
    assert PASSPHRASE not in repr(source)
    deb, rpm = run.publish_release(world.profile, targets, TAG, world.home / "pkgs", source)  # type: ignore[arg-type]
    assert deb.written and rpm.written
    assert list(scratch_root.iterdir()) == []  # the imported key and the passphrase file are gone
    bucket = Path(str(targets.packages_bucket).removeprefix("file://"))  # type: ignore[attr-defined]
    release_key = next(bucket.rglob("deb/Release.key"))
    check = world.home / "check"
    check.mkdir(mode=0o700, exist_ok=True)
    _gpg(check, "--import", str(release_key))
    fingerprints = _gpg(check, "--with-colons", "--list-keys").decode()
    assert world.fingerprint in fingerprints and world.other_fingerprint not in fingerprints
    keyring = world.home / "trusted.gpg"
    keyring.write_bytes(_gpg(check, "--export", world.fingerprint))
    subprocess.run(["gpgconf", "--homedir", str(check), "--kill", "gpg-agent"], check=False)
    inrelease = next(bucket.rglob("deb/InRelease"))
    verified = subprocess.run(["gpgv", "--keyring", str(keyring), str(inrelease)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    dbpath = ["--dbpath", str(world.home / "rpmdb")]
    subprocess.run(["rpmkeys", *dbpath, "--import", str(next(bucket.rglob("rpm/repodata/repomd.xml.key")))],
                   check=True)
    for path in bucket.rglob("*.rpm"):
        checked = subprocess.run(["rpmkeys", *dbpath, "--checksig", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0 and "signatures OK" in checked.stdout, checked.stdout + checked.stderr


def test_an_unprotected_key_file_needs_no_passphrase(world: World, scratch_root: Path) -> None:
    source = keys.KeySource(world.home / "keys", "x", key_file=str(world.plain))
    with keys.opened("env", source) as key:
        assert key.fingerprint == world.other_fingerprint and key.home.is_relative_to(scratch_root)
        assert keys.clearsign(key, b"text\n").startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
    assert list(scratch_root.iterdir()) == []


def test_the_fingerprint_picks_one_of_several(world: World, scratch_root: Path) -> None:
    source = keys.KeySource(world.home / "keys", "x", key_file=str(world.both), gpg_key=world.other_fingerprint.lower())
    with keys.opened("env", source) as key:
        assert key.fingerprint == world.other_fingerprint


def _bad_file(world: World, kind: str) -> str:
    path = world.home / f"bad-{kind}"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot base64 at all\n"
                         b"-----END PGP PRIVATE KEY BLOCK-----\n")
    elif kind == "large":
        path.write_bytes(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n" + b"A" * (keys.MAX_KEY_FILE + 1))
    elif kind == "directory":
        path.mkdir(exist_ok=True)
    elif kind == "binary":
        path.write_bytes(b"\x95\x01\x02" * 100)
    return str(path)


HOSTILE = [
    # (id, environ builder, fragment of the one-line error)
    ("both-home-and-file", lambda w: {"KREL_PACKAGES_GPG_HOME": str(w.home), "KREL_PACKAGES_GPG_KEY_FILE":
                                      str(w.plain)}, "both are set"),
    ("neither", lambda w: {"KREL_PACKAGES_GPG_PASSPHRASE": PASSPHRASE}, "neither is set"),
    ("missing-file", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.home / "nope.asc")}, "nope.asc is not a file"),
    ("directory", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": _bad_file(w, "directory")}, "is not a file"),
    ("empty-file", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": _bad_file(w, "empty")}, "holds no armoured secret key"),
    ("public-key-only", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.public)}, "holds no armoured secret key"),
    ("binary-not-armoured", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": _bad_file(w, "binary")},
     "holds no armoured secret key"),
    ("armour-with-garbage", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": _bad_file(w, "garbage")}, "cannot be imported"),
    ("too-large", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": _bad_file(w, "large")}, "larger than"),
    ("two-keys-no-fingerprint", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.both)},
     "2 secret keys (set KREL_PACKAGES_GPG_KEY)"),
    ("fingerprint-not-hex", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.both), "KREL_PACKAGES_GPG_KEY": "nothex"},
     "is not a 40-hex-digit fingerprint"),
    ("fingerprint-of-another-key", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.plain),
                                              "KREL_PACKAGES_GPG_KEY": w.fingerprint}, "holds no secret key"),
    ("wrong-passphrase", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.protected),
                                    "KREL_PACKAGES_GPG_PASSPHRASE": "not-" + PASSPHRASE},
     "KREL_PACKAGES_GPG_PASSPHRASE is wrong"),
    ("protected-without-passphrase", lambda w: {"KREL_PACKAGES_GPG_KEY_FILE": str(w.protected)},
     "KREL_PACKAGES_GPG_PASSPHRASE is not set and the key is protected"),
    ("home-with-whitespace", lambda w: {"KREL_PACKAGES_GPG_HOME": _home_with_space(w)}, "contains whitespace"),
]


def _home_with_space(world: World) -> str:
    path = world.home / "a b"
    path.mkdir(exist_ok=True)
    return str(path)


@pytest.mark.parametrize(("environ", "fragment"), [pytest.param(e, f, id=i) for i, e, f in HOSTILE])
def test_bad_release_keys_are_one_line_and_write_nothing(world: World, scratch_root: Path, environ: object,
                                                         fragment: str) -> None:
    targets = _targets(world, "hostile")
    env = environ(world)  # type: ignore[operator]
    source = run.key_source(targets, world.home / "keys", env)  # type: ignore[arg-type]
    with pytest.raises(keys.SigningKeyError) as caught:
        run.publish_release(world.profile, targets, TAG, world.home / "pkgs", source)  # type: ignore[arg-type]
    message = str(caught.value)
    assert fragment in message and "\n" not in message
    assert PASSPHRASE not in message
    assert not Path(str(targets.packages_bucket).removeprefix("file://")).exists()  # type: ignore[attr-defined]
    assert list(scratch_root.iterdir()) == []


def test_the_throwaway_key_is_one_file_and_works_below_a_long_krel_home(tmp_path: Path, scratch_root: Path) -> None:
    # KREL_HOME can be longer than a gpg-agent socket path allows: the key is kept as a file, used from a short home.
    keys_dir = tmp_path / ("k" * 120) / "keys"
    source = keys.KeySource(keys_dir, "packages-0123abcd")
    with keys.opened("throwaway", source) as first:
        assert keys.detach_sign(first, b"x").startswith(b"-----BEGIN PGP SIGNATURE-----")
    key_file = keys_dir / "packages-0123abcd.asc"
    assert sorted(p.name for p in keys_dir.iterdir()) == [key_file.name]
    assert key_file.stat().st_mode & 0o777 == 0o600
    with keys.opened("throwaway", source) as again:
        assert (again.fingerprint, again.created) == (first.fingerprint, 1)
    assert list(scratch_root.iterdir()) == []
