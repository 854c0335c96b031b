"""Registry credentials: anonymous, basic, bearer-token flow (RFC 6750 challenge), Docker identity tokens (the
OAuth2 refresh-token grant) and Google access tokens.

Tokens live only in memory, are cached per scope (fetched concurrently, expired ones evicted), and never appear in
logs or error messages.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from releng.errors import ReleaseError
from releng.registry.ratelimit import RetryableResponse, is_retryable_status

_PARAM = re.compile(r'([A-Za-z0-9_]+)="([^"]*)"', re.ASCII)
_GOOGLE_HOST = re.compile(r"(?:[a-z0-9-]+\.)*(?:gcr\.io|pkg\.dev)", re.ASCII)
_GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Refresh a token this long before the server says it expires.
_EXPIRY_MARGIN = 30.0
# distribution's OAuth2 token spec: client_id is required, need not be registered, and names the client for audits.
_OAUTH_CLIENT_ID = "krel"


@dataclass(frozen=True)
class Challenge:
    """A parsed `WWW-Authenticate` header: scheme (basic/bearer) and its parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge:
    """Parse `Bearer realm="...",service="...",scope="..."` (or `Basic realm=...`)."""
    scheme, _, rest = header.strip().partition(" ")
    return Challenge(scheme.lower(), dict(_PARAM.findall(rest)))


class _TokenCache:
    """Bearer tokens by scope set: O(1) lookups, expired entries evicted, at most one fetch per scope set in flight.

    No lock is held over an HTTP call: threads needing other scopes fetch at the same time, and threads needing
    the same scopes wait for the first one's token instead of asking again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._inflight: dict[tuple[str, ...], threading.Event] = {}

    def get(self, scopes: tuple[str, ...]) -> str | None:
        """A live token serving scopes (a pull,push token also serves a pull), evicting expired ones on the way."""
        now = time.monotonic()
        with self._lock:
            for key in _serving_keys(scopes):
                entry = self._tokens.get(key)
                if entry is None:
                    continue
                if entry[1] > now:
                    return entry[0]
                del self._tokens[key]
        return None

    def claim(self, scopes: tuple[str, ...], rejected: str | None) -> threading.Event | None:
        """None if this thread should fetch the token for scopes; else the event to wait on for another's fetch.

        A cached token the registry just rejected (`rejected`) is dropped first so it is not handed out again.
        """
        with self._lock:
            entry = self._tokens.get(scopes)
            if entry is not None and entry[0] == rejected:
                del self._tokens[scopes]
            waiting = self._inflight.get(scopes)
            if waiting is None:
                self._inflight[scopes] = threading.Event()
            return waiting

    def release(self, scopes: tuple[str, ...], token: str | None, lifetime: float) -> None:
        """Store the fetched token (None when the fetch failed) and wake the threads waiting for it."""
        now = time.monotonic()
        with self._lock:
            if token is not None:
                self._tokens[scopes] = (token, now + lifetime)
                # A token for several scopes (a cross-repository mount) also serves each one alone.
                for alias in ((scope,) for scope in scopes if len(scopes) > 1):
                    if self._tokens.get(alias, ("", 0.0))[1] <= now:
                        self._tokens[alias] = (token, now + lifetime)
            if len(self._tokens) > 256:
                # Bound the cache for runs touching thousands of repositories: drop what has expired.
                for key in [k for k, (_, until) in self._tokens.items() if until <= now]:
                    del self._tokens[key]
            self._inflight.pop(scopes).set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


def _serving_keys(scopes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The cache keys whose token grants scopes: the scopes themselves, and for one scope its wider forms."""
    if len(scopes) != 1:
        return (scopes,)
    resource, _, actions = scopes[0].rpartition(":")
    wider = [f"{resource}:pull,push"] if actions == "pull" else []
    return (scopes, *((w,) for w in [*wider, f"{resource}:*"] if w != scopes[0]))


class Auth:
    """Credentials for one registry: username + password (or a password source), a Docker identity token, or
    none for anonymous."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        password_source: Callable[[], str] | None = None,
        identity_token: str | None = None,
        name: str = "basic",
    ) -> None:
        self.username = username
        self._password = password
        self._password_source = password_source
        # An OAuth2 refresh token (`docker login` against a token server that issues them): exchanged at the realm,
        # never sent to the registry itself. The server may rotate it; the new one is kept in memory only.
        self._identity_token = identity_token or None
        self.name = name if username or self._identity_token else "anonymous"
        self._lock = threading.Lock()
        self._tokens = _TokenCache()
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
        token = self._tokens.get(scopes)
        if token:
            return {"Authorization": f"Bearer {token}"}
        with self._lock:
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
                self._basic = True
            # Retry unless this request already carried the password (a wrong one stays wrong). Not "only the first
            # 401": threads that sent before basic was switched on got their 401 too.
            return self.username is not None and not (sent or "").startswith("Basic ")
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            raise ReleaseError(f"registry {registry}: unsupported authentication challenge {challenge.scheme!r}")
        rejected = sent[len("Bearer "):] if sent and sent.startswith("Bearer ") else None
        while True:
            token = self._tokens.get(scopes)
            if token is not None and token != rejected:
                return True  # another thread fetched a fresh token since this request was sent
            waiting = self._tokens.claim(scopes, rejected)
            if waiting is None:
                break
            # Another thread is fetching this scope's token: take its result (or fetch ourselves if it failed).
            waiting.wait()
        fetched: tuple[str, float] | None = None
        try:
            fetched = self._fetch_token(http, challenge, scopes, registry)
        finally:
            self._tokens.release(scopes, *(fetched or (None, 0.0)))
        return True

    def _fetch_token(
        self, http: httpx.Client, challenge: Challenge, scopes: tuple[str, ...], registry: str
    ) -> tuple[str, float]:
        realm = challenge.params["realm"]
        service = challenge.params.get("service")
        wanted = scopes or tuple(s for s in challenge.params.get("scope", "").split(" ") if s)
        # Transport errors propagate: the client retries them like any other request.
        if self._identity_token is not None:
            resp = self._refresh_grant(http, realm, service, wanted)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = [("service", service)] if service else []
            params.extend(("scope", s) for s in wanted)
            basic = self._basic_header()
            headers = {"Authorization": basic} if basic else {}
            # Merge rather than params=: httpx replaces a query string the realm may already carry.
            resp = http.get(httpx.URL(realm).copy_merge_params(params), headers=headers)
        with self._lock:
            self.token_requests += 1
        if is_retryable_status(resp.status_code):
            raise RetryableResponse(resp, source=_host_of(realm))
        refresh = self._identity_token is not None
        # An OAuth2 server refuses a bad grant with 400 invalid_grant (RFC 6749 5.2), the GET flow with 401/403.
        if resp.status_code in ((400, 401, 403) if refresh else (401, 403)):
            raise ReleaseError(
                f"registry {registry}: token service {_host_of(realm)} refused the {self.name} credentials "
                f"(HTTP {resp.status_code}{_oauth_error(resp)}) for {' '.join(wanted) or 'the registry'}"
                + ("; run `docker login` again" if refresh else "")
            )
        if resp.status_code != 200:
            raise ReleaseError(f"registry {registry}: token service {_host_of(realm)} answered HTTP {resp.status_code}"
                               + _refresh_grant_hint(resp, refresh))
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
            expires = float(body.get("expires_in", 60))
            rotated = body.get("refresh_token")
        except (ValueError, AttributeError, TypeError):
            token, expires, rotated = None, 0.0, None
        if not isinstance(token, str) or not token:
            raise ReleaseError(f"registry {registry}: token service {_host_of(realm)} returned no token")
        if self._identity_token is not None and isinstance(rotated, str) and rotated:
            with self._lock:
                self._identity_token = rotated
        return token, max(1.0, expires - _EXPIRY_MARGIN) if expires > 2 * _EXPIRY_MARGIN else expires

    def _refresh_grant(
        self, http: httpx.Client, realm: str, service: str | None, scopes: tuple[str, ...]
    ) -> httpx.Response:
        """POST the identity token to the realm as distribution's OAuth2 spec and Docker do: grant_type
        refresh_token, scopes space-separated in one field, a client_id. The token travels in the body only."""
        with self._lock:
            refresh = self._identity_token or ""
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": _OAUTH_CLIENT_ID,
                "service": service or "", "scope": " ".join(scopes)}
        return http.post(realm, data=form)


def _oauth_error(resp: httpx.Response) -> str:
    """`: invalid_grant` from an OAuth2 error body (RFC 6749 5.2); its description may echo input, so not shown."""
    try:
        code = resp.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {code}" if isinstance(code, str) and code.isascii() and code.replace("_", "").isalnum() else ""


def _refresh_grant_hint(resp: httpx.Response, refresh: bool) -> str:
    """distribution: a token server that answers POST with 404 or 405 speaks only the GET flow, which takes a
    username and password, not an identity token."""
    if refresh and resp.status_code in (404, 405):
        return " to the OAuth2 refresh-token grant: it takes no identity tokens; log in with a username and password"
    return ""


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
    return bool(_GOOGLE_HOST.fullmatch(host.split(":")[0].lower()))


def google(impersonate: str | None = None, iam_endpoint: str | None = None) -> Auth:
    """Google application-default credentials as `oauth2accesstoken` (gcr.io and *-docker.pkg.dev), optionally
    impersonating a service account (a manifest's `service-account`), as the original promoter writes.
    iam_endpoint: the IAM credentials API's base URL (default Google's; a local stand-in in tests)."""
    source = _GoogleTokenSource(impersonate, iam_endpoint)
    name = f"google ({impersonate})" if impersonate else "google"
    return Auth("oauth2accesstoken", password_source=source, name=name)


# The IAM credentials API call google-auth makes to impersonate, below the endpoint's base URL.
_GENERATE_ACCESS_TOKEN = "/v1/projects/-/serviceAccounts/{account}:generateAccessToken"
_IAM_STATUS = re.compile(r"[A-Z][A-Z_]{2,40}", re.ASCII)


class _GoogleTokenSource:
    """Lazily loads application-default credentials and refreshes the access token when it expires: the ADC's
    own token first, then (impersonating) the service account's, so a failure names the step that failed."""

    def __init__(self, impersonate: str | None = None, iam_endpoint: str | None = None) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None  # (ADC, the credentials whose token is sent)
        self._impersonate = impersonate
        self._iam_endpoint = iam_endpoint

    def _load(self) -> tuple[Any, Any]:
        import google.auth
        from google.auth import impersonated_credentials

        adc, _ = google.auth.default(scopes=[_GOOGLE_SCOPE])
        if not self._impersonate:
            return adc, adc
        override = None
        if self._iam_endpoint:
            override = self._iam_endpoint.rstrip("/") + _GENERATE_ACCESS_TOKEN.format(account=self._impersonate)
        sent = impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
            source_credentials=adc, target_principal=self._impersonate, target_scopes=[_GOOGLE_SCOPE],
            iam_endpoint_override=override,
        )
        return adc, sent

    def __call__(self) -> str:
        import google.auth  # imported here: only Google registries need it
        import google.auth.exceptions
        import google.auth.transport.requests

        who = f" to impersonate {self._impersonate}" if self._impersonate else ""
        with self._lock:
            try:
                if self._loaded is None:
                    self._loaded = self._load()
            except google.auth.exceptions.DefaultCredentialsError:
                raise ReleaseError(
                    f"no Google credentials{who} for gcr.io / pkg.dev: run `gcloud auth application-default login` "
                    "or set GOOGLE_APPLICATION_CREDENTIALS"
                ) from None
            adc, sent = self._loaded
            request = google.auth.transport.requests.Request()
            try:
                if not sent.valid:
                    sent.refresh(request)
            except google.auth.exceptions.GoogleAuthError as exc:
                raise self._failed(exc, adc, sent, request) from None
            token = sent.token
        if not isinstance(token, str) or not token:
            raise ReleaseError("Google credentials produced no access token")
        return token


    def _failed(self, exc: Exception, adc: Any, sent: Any, request: Any) -> ReleaseError:
        """Which step failed: ADC's own token (asked again only now, to tell), or the impersonation."""
        import google.auth.exceptions

        cause: Exception | None = exc
        if sent is not adc:
            try:
                adc.refresh(request)
                cause = None
            except google.auth.exceptions.GoogleAuthError as source:
                cause = source
        if cause is not None:
            return ReleaseError(f"Google application-default credentials could not be refreshed "
                                f"({cause.__class__.__name__}); log in again")
        return ReleaseError(
            f"Google credentials to impersonate {self._impersonate} could not be refreshed "
            f"({exc.__class__.__name__}{_iam_status(exc)}); check the caller has "
            "roles/iam.serviceAccountTokenCreator on it and the account exists"
        )


def _iam_status(exc: Exception) -> str:
    """`: PERMISSION_DENIED` from the IAM answer google-auth attaches to its RefreshError (Google's JSON error
    body); only the status word, as the message may quote the request."""
    for arg in exc.args[1:]:
        try:
            status = json.loads(arg)["error"]["status"]
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(status, str) and _IAM_STATUS.fullmatch(status):
            return f": {status}"
    return ""
