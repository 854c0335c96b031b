"""The GPG key that signs the package repositories (InRelease, Release.gpg, repomd.xml.asc) and each rpm.

Chosen by the targets' `packages_key`: "throwaway" is krel's own key, generated once in its own GNUPGHOME under
$KREL_HOME/keys/ (mock and local targets); "env" is the release key in KREL_PACKAGES_GPG_HOME (a GnuPG home holding
its secret key; KREL_PACKAGES_GPG_KEY picks one of several), read by the CLI, never a flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from releng.errors import ReleaseError
from releng.packages import tools

# A Unix socket path holds at most 107 bytes; gpg-agent's lives in the GnuPG home when /run/user/<uid> is absent.
_SOCKET_ROOM = 107 - len("/S.gpg-agent.browser")
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")


class SigningKeyError(ReleaseError):
    """The signing key is missing, ambiguous or unusable."""


@dataclass(frozen=True)
class SigningKey:
    """A secret key in a GnuPG home: its fingerprint and creation time (no signature may predate it)."""

    home: Path
    fingerprint: str
    created: int

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}


@dataclass(frozen=True)
class KeySource:
    """Where a key comes from: krel's keys directory (throwaway) and the environment's values (env)."""

    keys_dir: Path  # $KREL_HOME/keys
    name: str  # the throwaway key's directory name below keys_dir (one per packages bucket)
    gpg_home: str = ""  # KREL_PACKAGES_GPG_HOME
    gpg_key: str = ""  # KREL_PACKAGES_GPG_KEY


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


def throwaway(source: KeySource) -> SigningKey:
    """krel's own key for this bucket, generated on first use (RSA, as every rpm can verify; created at time 1 so
    signatures dated at any release commit are after it)."""
    home = source.keys_dir / source.name
    _check_home(home, "key directory")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    if not _secret_keys(home):
        tools.run(["gpg", "--batch", "--quiet", "--faked-system-time", "1!", "--passphrase", "",
                   "--quick-gen-key", f"krel packages ({source.name}) <krel-packages@localhost>", "rsa3072", "sign",
                   "never"], env={"GNUPGHOME": str(home)})
    return _only_key(home, "", f"throwaway key directory {home}")


def from_env(source: KeySource) -> SigningKey:
    """The release key: KREL_PACKAGES_GPG_HOME (required), KREL_PACKAGES_GPG_KEY when it holds several."""
    if not source.gpg_home:
        raise SigningKeyError("packages: these targets sign with the key in KREL_PACKAGES_GPG_HOME (a GnuPG home "
                              "holding the secret key), which is not set")
    home = Path(source.gpg_home).expanduser()
    if not home.is_dir():
        raise SigningKeyError(f"packages: KREL_PACKAGES_GPG_HOME {home} is not a directory")
    _check_home(home, "KREL_PACKAGES_GPG_HOME")
    return _only_key(home, source.gpg_key.upper().replace(" ", ""), f"KREL_PACKAGES_GPG_HOME {home}")


def _only_key(home: Path, wanted: str, where: str) -> SigningKey:
    keys = _secret_keys(home)
    if wanted:
        if not _FINGERPRINT.fullmatch(wanted):
            raise SigningKeyError(f"packages: KREL_PACKAGES_GPG_KEY {wanted!r} is not a 40-hex-digit fingerprint")
        keys = [k for k in keys if k[0] == wanted]
    if len(keys) != 1:
        found = "no secret key" if not keys else f"{len(keys)} secret keys (set KREL_PACKAGES_GPG_KEY)"
        raise SigningKeyError(f"packages: {where} holds {found}; expected exactly one signing key")
    fingerprint, created = keys[0]
    return SigningKey(home, fingerprint, created)


OPENERS: dict[str, Callable[[KeySource], SigningKey]] = {"throwaway": throwaway, "env": from_env}


def open_key(mode: str, source: KeySource) -> SigningKey:
    """The key the targets name (`packages_key`)."""
    return OPENERS[mode](source)


def public_key(key: SigningKey) -> bytes:
    """The ASCII-armoured public key, as pkgs.k8s.io serves Release.key and repomd.xml.key."""
    return tools.run(["gpg", "--batch", "--armor", "--export", key.fingerprint], env=key.env())


def _sign(key: SigningKey, data: bytes, mode: str) -> bytes:
    return tools.run(["gpg", "--batch", "--yes", "--armor", "--digest-algo", "SHA512", "--local-user",
                      key.fingerprint, mode, "--output", "-"], env=key.env(), stdin=data)


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
        "_gpg_sign_cmd_extra_args": f"--batch --faked-system-time={date}!",
    }
    defines = [arg for name, value in macros.items() for arg in ("--define", f"{name} {value}")]
    tools.run(["rpmsign", "--addsign", *defines, str(rpm)], env=key.env(), home=key.home)


def stop_agent(key: SigningKey) -> None:
    """Stop the gpg-agent the signing started for this home (it would outlive krel otherwise)."""
    tools.run(["gpgconf", "--homedir", str(key.home), "--kill", "gpg-agent"])
