"""The GPG key that signs the package repositories (InRelease, Release.gpg, repomd.xml.asc) and each rpm.

Chosen by the targets' `packages_key`: "throwaway" is krel's own key, generated once and kept under $KREL_HOME/keys/
(mock and local targets); "env" is the release key from the environment, never a flag: either
KREL_PACKAGES_GPG_HOME (a GnuPG home holding its secret key) or KREL_PACKAGES_GPG_KEY_FILE (an armoured secret key,
imported into a GnuPG home of krel's own that is removed afterwards); KREL_PACKAGES_GPG_KEY picks one of several keys
and KREL_PACKAGES_GPG_PASSPHRASE unlocks it (handed to gpg in a 0600 file, never on a command line or in a message).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from releng import files
from releng.errors import ReleaseError
from releng.packages import tools

# A Unix socket path holds at most 107 bytes; gpg-agent's lives in the GnuPG home when /run/user/<uid> is absent.
_SOCKET_ROOM = 107 - len("/S.gpg-agent.browser")
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
# The environment the "env" key comes from (read by the CLI, handed down in a KeySource).
HOME_ENV = "KREL_PACKAGES_GPG_HOME"
KEY_ENV = "KREL_PACKAGES_GPG_KEY"
KEY_FILE_ENV = "KREL_PACKAGES_GPG_KEY_FILE"
PASSPHRASE_ENV = "KREL_PACKAGES_GPG_PASSPHRASE"
ENV_NAMES = (HOME_ENV, KEY_ENV, KEY_FILE_ENV, PASSPHRASE_ENV)
# An armoured secret key is a few KiB; a large file named by mistake is refused before gpg reads it.
MAX_KEY_FILE = 1024 * 1024
_ARMOURED_SECRET = b"-----BEGIN PGP PRIVATE KEY BLOCK-----"


class SigningKeyError(ReleaseError):
    """The signing key is missing, ambiguous or unusable."""


@dataclass(frozen=True)
class SigningKey:
    """A secret key in a GnuPG home: its fingerprint and creation time (no signature may predate it)."""

    home: Path
    fingerprint: str
    created: int
    passphrase_file: Path | None = None  # the 0600 file gpg reads the passphrase from, when there is one

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}

    def unlock_args(self) -> list[str]:
        """gpg options that unlock the key without a pinentry: a protected key without a passphrase fails at once."""
        args = ["--pinentry-mode", "loopback"]
        return args + (["--passphrase-file", str(self.passphrase_file)] if self.passphrase_file else [])


@dataclass(frozen=True)
class KeySource:
    """Where a key comes from: krel's keys directory (throwaway) and the environment's values (env)."""

    keys_dir: Path  # $KREL_HOME/keys
    name: str  # the throwaway key's directory name below keys_dir (one per packages bucket)
    gpg_home: str = ""  # KREL_PACKAGES_GPG_HOME
    gpg_key: str = ""  # KREL_PACKAGES_GPG_KEY
    key_file: str = ""  # KREL_PACKAGES_GPG_KEY_FILE
    passphrase: str = field(default="", repr=False)  # KREL_PACKAGES_GPG_PASSPHRASE: a secret, never in a repr

    @classmethod
    def from_environ(cls, keys_dir: Path, name: str, environ: Mapping[str, str]) -> KeySource:
        """The source with the env key's values taken from environ (the CLI passes os.environ)."""
        return cls(keys_dir, name, environ.get(HOME_ENV, ""), environ.get(KEY_ENV, ""),
                   environ.get(KEY_FILE_ENV, ""), environ.get(PASSPHRASE_ENV, ""))


def _secret_keys(home: Path) -> list[tuple[str, int]]:
    """(fingerprint, creation time) of every secret signing key in home."""
    out = tools.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env={"GNUPGHOME": str(home)})
    keys: list[tuple[str, int]] = []
    created = None
    for line in out.decode(errors="replace").splitlines():
        fields = line.split(":")
        if fields[0] == "sec":
            created = int(fields[5]) if fields[5].isdigit() else 0
        elif fields[0] == "fpr" and created is not None:
            keys.append((fields[9], created))
            created = None
    return keys


def _check_home(home: Path, what: str) -> None:
    if len(str(home)) > _SOCKET_ROOM:
        raise SigningKeyError(f"{what} {home} is too long for gpg-agent's socket: at most {_SOCKET_ROOM} characters")
    if any(c.isspace() for c in str(home)):  # rpmsign splits its gpg arguments at whitespace
        raise SigningKeyError(f"{what} {home!r} contains whitespace, which rpmsign cannot pass to gpg")


def throwaway(source: KeySource, scratch: Path) -> SigningKey:
    """krel's own key for this bucket (RSA, as every rpm can verify; created at time 1 so signatures dated at any
    release commit are after it): made on first use and kept as an armoured secret key file, <keys_dir>/<name>.asc
    (0600), imported into krel's temporary GnuPG home for each use; a GnuPG home below a long KREL_HOME would not
    hold gpg-agent's socket."""
    key_file = source.keys_dir / f"{source.name}.asc"
    if not key_file.exists():
        _generate(key_file, f"krel packages ({source.name}) <krel-packages@localhost>", scratch / "new")
    home, where = _imported_home(key_file, scratch, f"throwaway key {key_file}")
    return _only_key(home, "", where)


def _generate(key_file: Path, user_id: str, home: Path) -> None:
    """A new key exported to key_file; when another run made one meanwhile, that one is kept (both runs use it)."""
    _check_home(home, "temporary GnuPG home")
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    tools.run(["gpg", "--batch", "--quiet", "--faked-system-time", "1!", "--pinentry-mode", "loopback",
               "--passphrase", "", "--quick-gen-key", user_id, "rsa3072", "sign", "never"], env=env)
    secret = tools.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--armor",
                        "--export-secret-keys"], env=env)
    with contextlib.suppress(FileExistsError):
        files.write_atomic(key_file, secret, exclusive=True, mode=0o600)


def from_env(source: KeySource, scratch: Path) -> SigningKey:
    """The release key: KREL_PACKAGES_GPG_HOME or KREL_PACKAGES_GPG_KEY_FILE (exactly one), KREL_PACKAGES_GPG_KEY
    when there are several keys, unlocked with KREL_PACKAGES_GPG_PASSPHRASE; checked by signing before it is used."""
    if bool(source.gpg_home) == bool(source.key_file):
        given = "both are set" if source.gpg_home else "neither is set"
        raise SigningKeyError(f"packages: these targets sign with the release key from {HOME_ENV} (a GnuPG home "
                              f"holding the secret key) or {KEY_FILE_ENV} (an armoured secret key file): {given}")
    if source.key_file:
        key_file = Path(source.key_file).expanduser()
        home, where = _imported_home(key_file, scratch, f"{KEY_FILE_ENV} {key_file}")
    else:
        home, where = _given_home(Path(source.gpg_home).expanduser())
    key = _only_key(home, source.gpg_key.upper().replace(" ", ""), where)
    if source.passphrase:
        secret = scratch / "passphrase"
        secret.touch(mode=0o600)
        secret.write_text(source.passphrase, encoding="utf-8")
        key = SigningKey(key.home, key.fingerprint, key.created, secret)
    _check_unlocks(key, where)
    return key


def _given_home(home: Path) -> tuple[Path, str]:
    if not home.is_dir():
        raise SigningKeyError(f"packages: {HOME_ENV} {home} is not a directory")
    _check_home(home, HOME_ENV)
    return home, f"{HOME_ENV} {home}"


def _imported_home(key_file: Path, scratch: Path, where: str) -> tuple[Path, str]:
    """The key file imported into a fresh GnuPG home below scratch (removed with it)."""
    try:
        if not key_file.is_file():
            raise SigningKeyError(f"packages: {where} is not a file")
        if key_file.stat().st_size > MAX_KEY_FILE:
            raise SigningKeyError(f"packages: {where} is larger than {MAX_KEY_FILE} bytes: not a key file")
        data = key_file.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"packages: {where} cannot be read: {exc.strerror}") from None
    if _ARMOURED_SECRET not in data:
        raise SigningKeyError(f"packages: {where} holds no armoured secret key ({_ARMOURED_SECRET.decode()}): "
                              "export it with `gpg --armor --export-secret-keys FINGERPRINT`")
    home = scratch / "gnupg"
    _check_home(home, "temporary GnuPG home")
    home.mkdir(mode=0o700)
    try:
        # Importing a protected key needs no passphrase: gpg-agent keeps it protected until it signs.
        tools.run(["gpg", "--batch", "--quiet", "--import"], env={"GNUPGHOME": str(home)}, stdin=data)
    except tools.ToolError as exc:
        raise SigningKeyError(f"packages: {where} cannot be imported: {exc}") from None
    return home, where


def _check_unlocks(key: SigningKey, where: str) -> None:
    """Sign a few bytes: a wrong or missing passphrase stops here, before anything is written."""
    try:
        detach_sign(key, b"krel packages key check\n")
    except tools.ToolError:
        hint = "is wrong" if key.passphrase_file else "is not set and the key is protected"
        raise SigningKeyError(f"packages: the key {key.fingerprint} in {where} cannot sign: {PASSPHRASE_ENV} "
                              f"{hint}") from None


def _only_key(home: Path, wanted: str, where: str) -> SigningKey:
    keys = _secret_keys(home)
    if wanted:
        if not _FINGERPRINT.fullmatch(wanted):
            raise SigningKeyError(f"packages: {KEY_ENV} {wanted!r} is not a 40-hex-digit fingerprint")
        keys = [k for k in keys if k[0] == wanted]
    if len(keys) != 1:
        found = "no secret key" if not keys else f"{len(keys)} secret keys (set {KEY_ENV})"
        if wanted and not keys:
            found = f"no secret key {wanted}"
        raise SigningKeyError(f"packages: {where} holds {found}; expected exactly one signing key")
    fingerprint, created = keys[0]
    return SigningKey(home, fingerprint, created)


OPENERS: dict[str, Callable[[KeySource, Path], SigningKey]] = {"throwaway": throwaway, "env": from_env}


@contextmanager
def opened(mode: str, source: KeySource) -> Iterator[SigningKey]:
    """The key the targets name (`packages_key`), for the length of the block: afterwards its gpg-agent is stopped
    and krel's temporary GnuPG home (an imported key file, the passphrase file) is removed."""
    scratch = Path(tempfile.mkdtemp(prefix="krel-gpg-"))
    homes: list[Path] = []
    try:
        key = OPENERS[mode](source, scratch)
        homes.append(key.home)
        yield key
    finally:
        # every GnuPG home krel made below scratch (a failed import or generation may have started an agent too)
        homes += [home for home in scratch.iterdir() if home.is_dir()]
        for home in dict.fromkeys(homes):
            stop_agent(home)
        shutil.rmtree(scratch, ignore_errors=True)


def public_key(key: SigningKey) -> bytes:
    """The ASCII-armoured public key, as pkgs.k8s.io serves Release.key and repomd.xml.key."""
    return tools.run(["gpg", "--batch", "--armor", "--export", key.fingerprint], env=key.env())


def _sign(key: SigningKey, data: bytes, mode: str) -> bytes:
    return tools.run(["gpg", "--batch", "--yes", *key.unlock_args(), "--armor", "--digest-algo", "SHA512",
                      "--local-user", key.fingerprint, mode, "--output", "-"], env=key.env(), stdin=data)


def detach_sign(key: SigningKey, data: bytes) -> bytes:
    """An armoured detached signature (Release.gpg, repomd.xml.asc)."""
    return _sign(key, data, "--detach-sign")


def clearsign(key: SigningKey, data: bytes) -> bytes:
    """The clear-signed text (InRelease)."""
    return _sign(key, data, "--clearsign")


def sign_rpm(key: SigningKey, rpm: Path, when: int) -> None:
    """rpmsign --addsign in place, dated `when` (never before the key): the same rpm and key give the same bytes,
    so a rerun publishes nothing new."""
    date = max(when, key.created)
    macros = {
        "__gpg": tools.which("gpg"),
        "_gpg_name": key.fingerprint,
        "_gpg_path": str(key.home),
        "_gpg_sign_cmd_extra_args": " ".join(["--batch", f"--faked-system-time={date}!", *key.unlock_args()]),
    }
    defines = [arg for name, value in macros.items() for arg in ("--define", f"{name} {value}")]
    tools.run(["rpmsign", "--addsign", *defines, str(rpm)], env=key.env(), home=key.home)


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent the signing started for this GnuPG home (it would outlive krel otherwise)."""
    tools.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"])
