"""Registry credentials per host: Docker's config.json (`auths` with a password or an identity token,
`credHelpers`, `credsStore` through the `docker-credential-*` helpers), Google application-default credentials
(impersonating a manifest's service account), and the KREL_REGISTRY_USERNAME / KREL_REGISTRY_PASSWORD pair for the
host KREL_REGISTRY_HOST names.

Values come in from the CLI edge (paths, the pair); nothing here reads the environment.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releng.address import RegistryAddress
from releng.errors import ReleaseError
from releng.registry import auth
from releng.registry.auth import Auth

_HELPER_TIMEOUT = 30.0
# Docker's convention (cli/config/credentials): a login whose user is this holds an identity token as its secret.
IDENTITY_TOKEN_USER = "<token>"
# What docker-credential-* helpers print when they simply hold nothing for the host.
_NOT_FOUND = ("credentials not found", "not found in native keychain", "no credentials")


class CredentialsError(ReleaseError):
    """Credentials for a registry could not be read; the message names the host and the source, never a secret."""


@dataclass(frozen=True)
class EnvPair:
    """The KREL_REGISTRY_USERNAME / KREL_REGISTRY_PASSWORD pair and the host it is for (None: any non-Google host)."""

    username: str
    password: str = field(repr=False)
    host: str | None = None

    def serves(self, host: str) -> bool:
        """Whether this pair is meant for host: the named one, else (no name, as before) any non-Google host."""
        return _normal_host(self.host) == host if self.host else not auth.is_google_host(host)


def _normal_host(key: str | None) -> str:
    """`https://gcr.io/v1/` -> `gcr.io`: config.json keys may carry a scheme and a path."""
    text = (key or "").strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    return RegistryAddress.host_of(text).lower()


@dataclass(frozen=True)
class DockerConfig:
    """The parts of ~/.docker/config.json krel reads, keyed by normalised host."""

    path: Path
    auths: Mapping[str, Mapping[str, Any]]
    helpers: Mapping[str, str]
    store: str | None

    @classmethod
    def load(cls, path: Path) -> DockerConfig | None:
        """The config at path, None if there is none; CredentialsError naming the file if it is malformed."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CredentialsError(f"docker config {path}: cannot be read ({exc.strerror})") from None
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CredentialsError(f"docker config {path}: not valid JSON") from None
        if not isinstance(doc, dict):
            raise CredentialsError(f"docker config {path}: expected a JSON object")
        auths, helpers, store = doc.get("auths") or {}, doc.get("credHelpers") or {}, doc.get("credsStore")
        if not isinstance(auths, dict) or not all(isinstance(v, dict) for v in auths.values()):
            raise CredentialsError(f"docker config {path}: `auths` must map registry hosts to objects")
        if not isinstance(helpers, dict) or not all(isinstance(v, str) and v for v in helpers.values()):
            raise CredentialsError(f"docker config {path}: `credHelpers` must map registry hosts to helper names")
        if store is not None and (not isinstance(store, str) or not store):
            raise CredentialsError(f"docker config {path}: `credsStore` must be a helper name")
        return cls(
            path,
            {_normal_host(k): v for k, v in auths.items()},
            {_normal_host(k): v for k, v in helpers.items()},
            store or None,
        )

    def login(self, host: str) -> tuple[str, str] | None:
        """(username, secret) for host: its credHelper, else its `auths` entry, else the credsStore; or None."""
        helper = self.helpers.get(host)
        if helper:
            return run_helper(helper, host, self.path)
        entry = self.auths.get(host)
        if entry is not None:
            found = self._entry(host, entry)
            if found is not None:
                return found
        if self.store:
            return run_helper(self.store, host, self.path)
        return None

    def _entry(self, host: str, entry: Mapping[str, Any]) -> tuple[str, str] | None:
        # Checked first: `docker login` writes `auth` as base64("user:") beside it, and Docker uses the token.
        token = entry.get("identitytoken")
        if token is not None and token != "":
            if not isinstance(token, str) or not token.isascii() or not token.isprintable():
                raise CredentialsError(f"docker config {self.path}: auths.{host}.identitytoken must be a string of "
                                       "printable ASCII")
            return IDENTITY_TOKEN_USER, token
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, secret = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, secret = "", "", ""
            if not sep or not user:
                raise CredentialsError(f"docker config {self.path}: auths.{host}.auth is not base64 of USER:PASSWORD")
            return user, secret
        name, password = entry.get("username"), entry.get("password")
        if isinstance(name, str) and name and isinstance(password, str):
            return name, password
        return None  # an empty entry: `docker login` was never finished for this host


def run_helper(name: str, host: str, config: Path) -> tuple[str, str] | None:
    """Ask `docker-credential-<name> get` for host (the credential-helper protocol); None when it holds nothing."""
    program = f"docker-credential-{name}"
    where = f"credential helper {program} (from {config}) for {host}"
    binary = shutil.which(program)
    if binary is None:
        raise CredentialsError(f"{where}: {program} is not on PATH")
    try:
        done = subprocess.run([binary, "get"], input=host, capture_output=True, text=True, timeout=_HELPER_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"{where}: no answer within {_HELPER_TIMEOUT:.0f}s") from None
    except OSError as exc:
        raise CredentialsError(f"{where}: cannot run ({exc.strerror})") from None
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip()
        if any(phrase in said.lower() for phrase in _NOT_FOUND):
            return None
        first = said.splitlines()[0][:200] if said else "no output"
        raise CredentialsError(f"{where}: exited with {done.returncode}: {first}")
    try:
        doc = json.loads(done.stdout)
        user, secret = doc["Username"], doc["Secret"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise CredentialsError(f"{where}: answer is not JSON with Username and Secret") from None
    if not isinstance(user, str) or not isinstance(secret, str) or not user:
        raise CredentialsError(f"{where}: answer is not JSON with Username and Secret")
    if user == IDENTITY_TOKEN_USER and not (secret and secret.isascii() and secret.isprintable()):
        raise CredentialsError(f"{where}: returned an identity token that is not printable ASCII")
    return user, secret


class Credentials:
    """Picks the Auth for each registry host, in order: Docker's config (helper, auths, store), the env pair for
    that host, Google ADC for gcr.io / *-docker.pkg.dev (impersonating the host's service account when a manifest
    names one), else anonymous. One Auth per host, so its bearer tokens are cached for the whole run."""

    def __init__(
        self,
        docker_config: Path | None = None,
        env_pair: EnvPair | None = None,
        service_accounts: Mapping[str, str] | None = None,
        iam_endpoint: str | None = None,
    ) -> None:
        self._config_path = docker_config
        self.iam_endpoint = iam_endpoint  # the IAM credentials API for impersonation (None: Google's)
        self._config: DockerConfig | None = None
        self._loaded = False
        self.env_pair = env_pair
        self.service_accounts = {_normal_host(h): sa for h, sa in (service_accounts or {}).items()}
        self._lock = threading.Lock()
        self._auths: dict[str, Auth] = {}

    def use_service_accounts(self, accounts: Mapping[str, str]) -> None:
        """Impersonate these service accounts (host -> account) on Google hosts not yet talked to."""
        with self._lock:
            self.service_accounts.update({_normal_host(h): sa for h, sa in accounts.items()})

    def _docker(self) -> DockerConfig | None:
        if not self._loaded and self._config_path is not None:
            self._config = DockerConfig.load(self._config_path)
        self._loaded = True
        return self._config

    def __call__(self, host: str) -> Auth:
        """The Auth for host (made once per host)."""
        key = _normal_host(host)
        with self._lock:
            found = self._auths.get(key)
            if found is None:
                found = self._auths[key] = self._resolve(key)
            return found

    def _resolve(self, host: str) -> Auth:
        config = self._docker()
        login = config.login(host) if config is not None else None
        if login is not None and login[0] == IDENTITY_TOKEN_USER:
            return Auth(identity_token=login[1], name="docker-config identity token")
        if login is not None:
            return Auth(login[0], login[1], name="docker-config")
        if self.env_pair is not None and self.env_pair.serves(host):
            return Auth(self.env_pair.username, self.env_pair.password, name="KREL_REGISTRY_USERNAME")
        if auth.is_google_host(host):
            return auth.google(impersonate=self.service_accounts.get(host), iam_endpoint=self.iam_endpoint)
        return auth.anonymous()


def service_accounts(registries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """host -> service account from the manifests' (registry name, service-account) pairs; tokens are per host,
    so one host named with two accounts is refused rather than written to as either."""
    out: dict[str, str] = {}
    for name, account in registries:
        if not account:
            continue
        host = _normal_host(name)
        if out.setdefault(host, account) != account:
            raise CredentialsError(f"registry host {host} is given two service accounts, {out[host]} and {account}; "
                                   "krel authenticates per host: use one account for every registry on it")
    return out


def docker_config_path(docker_config_dir: str | None, home: Path) -> Path:
    """Where Docker keeps config.json: $DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    return (Path(docker_config_dir) if docker_config_dir else home / ".docker") / "config.json"


def env_pair(username: str | None, password: str | None, host: str | None) -> EnvPair | None:
    """The env pair, when a username is set (values read by the CLI; a host without a username is ignored)."""
    return EnvPair(username, password or "", host or None) if username else None
