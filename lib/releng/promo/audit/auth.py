"""Sender checks: the OIDC token of a Pub/Sub push (audience, issuer, signature against a JWKS; PyJWT) and the
shared header a distribution registry sends with its notifications."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from releng.errors import ReleaseError

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_JWKS = "https://www.googleapis.com/oauth2/v3/certs"
_MAX_TOKEN = 8192


class SenderError(ReleaseError):
    """The sender could not be authenticated: answered with 401."""


# kid -> key (PyJWK); the JWKS client fetches and caches https://www.googleapis.com/oauth2/v3/certs.
KeyFor = Callable[[str], Any]


def jwks_keys(url: str) -> KeyFor:
    """Signing keys from a JWKS URL, cached and refetched for an unknown kid (PyJWKClient)."""
    client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=10)

    def key_for(token: str) -> Any:
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise SenderError(f"push token: no signing key: {exc}") from None

    return key_for


@dataclass(frozen=True)
class OidcCheck:
    """Pub/Sub push: `Authorization: Bearer <JWT>` signed by a key of the JWKS, for audience, by issuer, and
    (when given) for the push subscription's service account."""

    audience: str
    key_for: KeyFor
    issuers: tuple[str, ...] = GOOGLE_ISSUERS
    email: str = ""

    def verify(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The token's claims, or SenderError naming what is wrong."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN:
            raise SenderError("push token: missing or malformed Authorization: Bearer header")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.key_for(token), algorithms=["RS256"], audience=self.audience,
                issuer=list(self.issuers), options={"require": ["exp", "iat", "iss", "aud"]}, leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise SenderError(f"push token: {exc}") from None
        if self.email and (claims.get("email") != self.email or claims.get("email_verified") is not True):
            raise SenderError(f"push token: sent by {claims.get('email')!r}, expected {self.email}")
        return claims


@dataclass(frozen=True)
class HeaderCheck:
    """A registry notification endpoint's configured header (`headers:` in its config) with a shared secret."""

    name: str
    value: str

    def verify(self, headers: Mapping[str, str]) -> None:
        """SenderError unless the header carries the secret (constant-time compare)."""
        got = headers.get(self.name.lower(), "")
        if not hmac.compare_digest(got.encode(), self.value.encode()):
            raise SenderError(f"registry notification: header {self.name} missing or wrong")
