"""Registry credentials: anonymous, basic, bearer-token flow (RFC 6750 challenge) and Google access tokens.

Tokens live only in memory, are cached per scope, and never appear in logs or error messages.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from releng.errors import ReleaseError

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_GOOGLE_HOST = re.compile(r"(^|\.)gcr\.io$|-docker\.pkg\.dev$|(^|\.)pkg\.dev$")
_GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Refresh a token this long before the server says it expires.
_EXPIRY_MARGIN = 30.0


@dataclass(frozen=True)
class Challenge:
    """A parsed `WWW-Authenticate` header: scheme (basic/bearer) and its parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge:
    """Parse `Bearer realm="...",service="...",scope="..."` (or `Basic realm=...`)."""
    scheme, _, rest = header.strip().partition(" ")
    return Challenge(scheme.lower(), dict(_PARAM.findall(rest)))


class Auth:
    """Credentials for one registry: username + password (or a password source), or none for anonymous."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        password_source: Callable[[], str] | None = None,
        name: str = "basic",
    ) -> None:
        self.username = username
        self._password = password
        self._password_source = password_source
        self.name = name if username else "anonymous"
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._basic = False
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"Auth({self.name}, user={self.username!r})"

    def _basic_header(self) -> str | None:
        if not self.username:
            return None
        password = self._password_source() if self._password_source else (self._password or "")
        raw = f"{self.username}:{password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def headers(self, scopes: tuple[str, ...]) -> dict[str, str]:
        """The Authorization header to send before any challenge: a cached bearer token, or basic once asked for."""
        with self._lock:
            now = time.monotonic()
            cached = self._tokens.get(scopes)
            if not (cached and cached[1] > now):
                # A token granted for more (pull,push) also serves a request needing less (pull).
                cached = next((t for have, t in self._tokens.items() if t[1] > now and _covers(have, scopes)), None)
            if cached:
                return {"Authorization": f"Bearer {cached[0]}"}
            basic = self._basic
        if basic:
            header = self._basic_header()
            if header:
                return {"Authorization": header}
        return {}

    def answer(
        self, http: httpx.Client, header: str, scopes: tuple[str, ...], registry: str, sent: str | None = None
    ) -> bool:
        """Handle a 401 challenge to a request that carried Authorization `sent`; True if worth retrying."""
        challenge = parse_challenge(header)
        if challenge.scheme == "basic":
            with self._lock:
                first = not self._basic
                self._basic = True
            return first and self.username is not None
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            raise ReleaseError(f"registry {registry}: unsupported authentication challenge {challenge.scheme!r}")
        # One fetch per scope at a time: threads that hit the same 401 together reuse the first thread's token.
        with self._fetch_lock:
            fresh = self.headers(scopes).get("Authorization")
            if fresh and fresh.startswith("Bearer ") and fresh != sent:
                return True
            token, expires = self._fetch_token(http, challenge, scopes, registry)
            with self._lock:
                self._tokens[scopes] = (token, time.monotonic() + expires)
        return True

    def _fetch_token(
        self, http: httpx.Client, challenge: Challenge, scopes: tuple[str, ...], registry: str
    ) -> tuple[str, float]:
        realm = challenge.params["realm"]
        params: list[tuple[str, str | int | float | bool | None]] = []
        if "service" in challenge.params:
            params.append(("service", challenge.params["service"]))
        wanted = scopes or tuple(s for s in challenge.params.get("scope", "").split(" ") if s)
        params.extend(("scope", s) for s in wanted)
        headers = {}
        basic = self._basic_header()
        if basic:
            headers["Authorization"] = basic
        try:
            # Merge rather than params=: httpx replaces a query string the realm may already carry.
            resp = http.get(httpx.URL(realm).copy_merge_params(params), headers=headers)
        except httpx.HTTPError as exc:
            raise ReleaseError(
                f"registry {registry}: token service {_host_of(realm)} unreachable ({exc.__class__.__name__})"
            ) from None
        self.token_requests += 1
        if resp.status_code in (401, 403):
            raise ReleaseError(
                f"registry {registry}: token service {_host_of(realm)} refused the {self.name} credentials "
                f"(HTTP {resp.status_code}) for {' '.join(wanted) or 'the registry'}"
            )
        if resp.status_code != 200:
            raise ReleaseError(f"registry {registry}: token service {_host_of(realm)} answered HTTP {resp.status_code}")
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
            expires = float(body.get("expires_in", 60))
        except (ValueError, AttributeError):
            token = None
            expires = 0.0
        if not isinstance(token, str) or not token:
            raise ReleaseError(f"registry {registry}: token service {_host_of(realm)} returned no token")
        return token, max(1.0, expires - _EXPIRY_MARGIN) if expires > 2 * _EXPIRY_MARGIN else expires


def _actions(scopes: tuple[str, ...]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        out.setdefault(f"{kind}:{name}", set()).update(actions.split(","))
    return out


def _covers(have: tuple[str, ...], want: tuple[str, ...]) -> bool:
    """Whether a token for scopes `have` grants every action of `want`."""
    granted = _actions(have)
    return bool(want) and all(
        actions <= granted.get(res, set()) or "*" in granted.get(res, set()) for res, actions in _actions(want).items()
    )


def _host_of(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return "?"


def anonymous() -> Auth:
    """No credentials (public reads, or a registry without auth)."""
    return Auth()


def basic(username: str, password: str) -> Auth:
    """Username + password, used for Basic auth or to obtain bearer tokens; values are passed in, never read here."""
    return Auth(username, password)


def is_google_host(host: str) -> bool:
    """Whether host is Container Registry (gcr.io) or Artifact Registry (*-docker.pkg.dev)."""
    return bool(_GOOGLE_HOST.search(host.split(":")[0]))


def google() -> Auth:
    """Google application-default credentials as `oauth2accesstoken` (gcr.io and *-docker.pkg.dev)."""
    source = _GoogleTokenSource()
    return Auth("oauth2accesstoken", password_source=source, name="google")


class _GoogleTokenSource:
    """Lazily loads application-default credentials and refreshes the access token when it expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: object | None = None

    def __call__(self) -> str:
        import google.auth  # imported here: only Google registries need it
        import google.auth.exceptions
        import google.auth.transport.requests

        with self._lock:
            try:
                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=[_GOOGLE_SCOPE])
                creds = self._credentials
                if not getattr(creds, "valid", False):
                    creds.refresh(google.auth.transport.requests.Request())  # type: ignore[attr-defined]
                token = getattr(creds, "token", None)
            except google.auth.exceptions.DefaultCredentialsError:
                raise ReleaseError(
                    "no Google credentials for gcr.io / pkg.dev: run `gcloud auth application-default login` "
                    "or set GOOGLE_APPLICATION_CREDENTIALS"
                ) from None
            except google.auth.exceptions.GoogleAuthError as exc:
                raise ReleaseError(f"Google credentials could not be refreshed ({exc.__class__.__name__})") from None
        if not isinstance(token, str) or not token:
            raise ReleaseError("Google credentials produced no access token")
        return token


def for_host(host: str, username: str | None = None, password: str | None = None) -> Auth:
    """The auth strategy for host: explicit basic credentials, else Google for Google registries, else anonymous."""
    if username:
        return basic(username, password or "")
    if is_google_host(host):
        return google()
    return anonymous()
