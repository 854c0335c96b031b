"""RegistryClient: the OCI distribution API over one pooled, thread-safe httpx.Client per registry.

Reads (catalog, tags, manifests, blobs) and writes (blob upload and mount, manifest put and delete), with auth
challenges answered, a shared token bucket, and retries on 429 / 5xx / timeouts / connection resets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import tenacity

from releng.errors import ReleaseError
from releng.registry import oci
from releng.registry.auth import Auth, anonymous
from releng.registry.oci import Descriptor
from releng.registry.ratelimit import TokenBucket

log = logging.getLogger(__name__)

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_CHUNK = 1 << 20
T = TypeVar("T")


class RegistryError(ReleaseError):
    """A registry request failed; the message names the registry and repository, never credentials."""


class ManifestNotFoundError(RegistryError):
    """A manifest, tag or repository does not exist."""


class _Retryable(Exception):
    """A response worth retrying (429 or 5xx)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response
        self.status = response.status_code


def _host_only(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(60.0, max(0.0, float(value)))
    except ValueError:
        return default


def _error_codes(response: httpx.Response) -> str:
    """The registry's error codes (`MANIFEST_BLOB_UNKNOWN`, ...) from its JSON error body, if any."""
    try:
        body = response.json()
        codes = [str(e.get("code")) for e in body.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return ""
    return " ".join(dict.fromkeys(c for c in codes if c))


class RegistryClient:
    """One registry host (`127.0.0.1:5000`, `gcr.io`, `us-docker.pkg.dev`); http for loopback, https otherwise."""

    def __init__(
        self,
        host: str,
        *,
        auth: Auth | None = None,
        insecure: bool | None = None,
        rate_limiter: TokenBucket | None = None,
        retries: int = 4,
        backoff: float = 0.2,
        timeout: float = 60.0,
        max_connections: int = 32,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.host = host
        plain_http = _host_only(host) in _LOOPBACK if insecure is None else insecure
        self.base_url = f"{'http' if plain_http else 'https'}://{host}"
        self.auth = auth or anonymous()
        self.rate_limiter = rate_limiter
        self.retries = retries
        self.backoff = backoff
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=limits,
            follow_redirects=True,
            transport=transport,
            headers={"User-Agent": "krel-registry/1"},
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.host!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # -- transport ------------------------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.base_url + path_or_url

    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        """Run fn, retrying 429/5xx/transport errors with exponential backoff; translate the final failure."""
        try:
            # Fast path: most calls succeed first time and need no retry bookkeeping.
            return fn()
        except (_Retryable, httpx.TransportError) as exc:
            if self.retries < 1:
                return self._retry_failed(what, exc)
            log.debug("registry %s: retrying %s after %s", self.host, what, exc.__class__.__name__)
            first_wait = self.backoff
            if isinstance(exc, _Retryable) and exc.status == 429:
                first_wait = max(first_wait, _retry_after(exc.response, 0.0))
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry {self.host}: {what} failed ({exc.__class__.__name__})") from None
        time.sleep(first_wait)
        backoff = tenacity.wait_exponential_jitter(multiplier=self.backoff, max=10.0, jitter=self.backoff)

        def wait(state: tenacity.RetryCallState) -> float:
            # Honour Retry-After on 429 even without a shared limiter (with one, the pause overlaps this sleep).
            exc = state.outcome.exception() if state.outcome else None
            floor = _retry_after(exc.response, 0.0) if isinstance(exc, _Retryable) and exc.status == 429 else 0.0
            return max(float(backoff(state)), floor)

        retryer = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries),
            wait=wait,
            retry=tenacity.retry_if_exception_type((_Retryable, httpx.TransportError)),
            reraise=True,
        )
        try:
            return retryer(fn)
        except (_Retryable, httpx.TransportError) as exc:
            return self._retry_failed(what, exc)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry {self.host}: {what} failed ({exc.__class__.__name__})") from None

    def _retry_failed(self, what: str, exc: Exception) -> NoReturn:
        if isinstance(exc, _Retryable):
            status = exc.response.status_code
            codes = _error_codes(exc.response)
            raise RegistryError(
                f"registry {self.host}: {what} failed with HTTP {status}{' ' + codes if codes else ''} "
                f"after {self.retries + 1} attempts"
            ) from None
        raise RegistryError(
            f"registry {self.host} unreachable: {what} failed ({exc.__class__.__name__}) "
            f"after {self.retries + 1} attempts; is the address right and the registry running?"
        ) from None

    def _send(
        self,
        method: str,
        path_or_url: str,
        scopes: tuple[str, ...],
        *,
        headers: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One attempt: rate limit, authorise, send; answer one auth challenge; raise _Retryable on 429/5xx."""
        url = self._url(path_or_url)
        for answered in (False, True):
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            credentials = self.auth.headers(scopes)
            request = self._http.build_request(method, url, headers={**(headers or {}), **credentials}, content=content)
            response = self._http.send(request, stream=stream)
            challenge = response.headers.get("www-authenticate")
            if response.status_code == 401 and challenge and not answered and not isinstance(content, Iterator):
                response.close()
                if self.auth.answer(self._http, challenge, scopes, self.host, credentials.get("Authorization")):
                    continue
            break
        if response.status_code == 429 or response.status_code >= 500:
            if not stream or response.status_code == 429:
                response.read()
            response.close()
            if response.status_code == 429 and self.rate_limiter is not None:
                self.rate_limiter.pause(_retry_after(response, 1.0))
            raise _Retryable(response)
        return response

    def _request(
        self,
        method: str,
        path: str,
        scopes: tuple[str, ...],
        what: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """_send with retries; content is bytes so every attempt can resend it."""
        return self._retrying(what, lambda: self._send(method, path, scopes, headers=headers, content=content))

    def _fail(self, response: httpx.Response, what: str, repo: str | None) -> RegistryError:
        """The one-line error for an unexpected status."""
        where = f"registry {self.host}" + (f", repository {repo}" if repo else "")
        codes = _error_codes(response)
        detail = f" ({codes})" if codes else ""
        status = response.status_code
        if status in (401, 403):
            return RegistryError(
                f"{where}: {what} denied (HTTP {status}{detail}) with {self.auth.name} credentials; "
                "check the account has access"
            )
        if status == 404:
            return ManifestNotFoundError(f"{where}: {what}: not found (HTTP 404{detail})")
        return RegistryError(f"{where}: {what} failed with HTTP {status}{detail}")

    @staticmethod
    def _pull(repo: str) -> tuple[str, ...]:
        return (f"repository:{repo}:pull",)

    @staticmethod
    def _push(repo: str) -> tuple[str, ...]:
        return (f"repository:{repo}:pull,push",)

    # -- reads ----------------------------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check the registry answers the v2 API (and that the credentials are accepted)."""
        resp = self._request("GET", "/v2/", (), "GET /v2/")
        if resp.status_code != 200:
            raise self._fail(resp, "GET /v2/", None)

    def _paginated(self, path: str, key: str, scopes: tuple[str, ...], repo: str | None) -> Iterator[Any]:
        url: str | None = path
        while url:
            what = f"GET {httpx.URL(self._url(url)).path}"
            resp = self._request("GET", url, scopes, what)
            if resp.status_code != 200:
                raise self._fail(resp, what, repo)
            try:
                items = resp.json().get(key) or []
            except (ValueError, AttributeError):
                raise RegistryError(f"registry {self.host}: {what} did not answer a JSON object with {key!r}") from None
            yield from items
            nxt = resp.links.get("next", {}).get("url")
            url = str(httpx.URL(self._url(url)).join(nxt)) if nxt else None

    def catalog(self, page_size: int = 1000) -> list[str]:
        """Every repository in the registry (follows `Link: rel="next"` pages)."""
        return [str(r) for r in self._paginated(f"/v2/_catalog?n={page_size}", "repositories",
                                                ("registry:catalog:*",), None)]

    def list_tags(self, repo: str, *, missing_ok: bool = False) -> list[str]:
        """The tags of repo; with missing_ok, a repository that does not exist yet has none."""
        try:
            return [str(t) for t in self._paginated(f"/v2/{repo}/tags/list?n=10000", "tags", self._pull(repo), repo)]
        except ManifestNotFoundError:
            if missing_ok:
                return []
            raise

    def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        """The descriptor of repo's manifest at ref (tag or digest), or None if there is none."""
        what = f"HEAD {repo}:{ref}" if not ref.startswith("sha256:") else f"HEAD {repo}@{ref}"
        resp = self._request("HEAD", f"/v2/{repo}/manifests/{ref}", self._pull(repo), what,
                             headers={"Accept": oci.ACCEPT})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, what, repo)
        digest = resp.headers.get("docker-content-digest")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        size = int(resp.headers.get("content-length", "0"))
        if not digest:
            raw, media_type, digest = self.get_manifest(repo, ref)
            size = len(raw)
        return Descriptor(digest, media_type, size)

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """The manifest bytes at ref, its media type, and its digest (verified when ref is a digest)."""
        what = f"GET manifest {repo}@{ref}" if ref.startswith("sha256:") else f"GET manifest {repo}:{ref}"
        resp = self._request("GET", f"/v2/{repo}/manifests/{ref}", self._pull(repo), what,
                             headers={"Accept": oci.ACCEPT})
        if resp.status_code != 200:
            raise self._fail(resp, what, repo)
        raw = resp.content
        digest = oci.sha256_digest(raw)
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(f"registry {self.host}, repository {repo}: manifest {ref} has content digest {digest}")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in oci.MANIFEST_TYPES:
            media_type = oci.media_type_of(oci.parse_manifest(raw, f"{self.host}/{repo}@{digest}"), media_type)
        return raw, media_type, digest

    def blob_exists(self, repo: str, digest: str) -> bool:
        """Whether repo holds the blob."""
        what = f"HEAD blob {repo}@{digest}"
        resp = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", self._pull(repo), what)
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise self._fail(resp, what, repo)
        return True

    def _blob_response(self, repo: str, digest: str) -> httpx.Response:
        """One streamed GET of a blob; the caller closes the response."""
        resp = self._send("GET", f"/v2/{repo}/blobs/{digest}", self._pull(repo), stream=True)
        if resp.status_code != 200:
            resp.read()
            resp.close()
            raise self._fail(resp, f"GET blob {repo}@{digest}", repo)
        return resp

    @contextmanager
    def _open_blob_once(self, repo: str, digest: str) -> Iterator[Iterator[bytes]]:
        """Stream a blob in one attempt, letting transport errors through so a caller can retry the transfer."""
        resp = self._blob_response(repo, digest)
        try:
            yield resp.iter_bytes(_CHUNK)
        finally:
            resp.close()

    @contextmanager
    def open_blob(self, repo: str, digest: str) -> Iterator[Iterator[bytes]]:
        """Stream a blob's bytes (the request is retried; a failure while reading is one RegistryError)."""
        what = f"GET blob {repo}@{digest}"
        resp = self._retrying(what, lambda: self._blob_response(repo, digest))

        def chunks() -> Iterator[bytes]:
            try:
                yield from resp.iter_bytes(_CHUNK)
            except httpx.HTTPError as exc:
                raise RegistryError(f"registry {self.host}: {what} broke off ({exc.__class__.__name__})") from None

        try:
            yield chunks()
        finally:
            resp.close()

    def get_blob(self, repo: str, digest: str) -> bytes:
        """A whole (small) blob, e.g. an image config, verified against its digest."""
        what = f"GET blob {repo}@{digest}"
        resp = self._request("GET", f"/v2/{repo}/blobs/{digest}", self._pull(repo), what)
        if resp.status_code != 200:
            raise self._fail(resp, what, repo)
        if oci.sha256_digest(resp.content) != digest:
            raise RegistryError(f"registry {self.host}, repository {repo}: blob {digest} content does not match")
        return resp.content

    # -- writes ---------------------------------------------------------------------------------------------------

    def _start_upload(self, repo: str, query: str = "", scopes: tuple[str, ...] | None = None) -> httpx.Response:
        what = f"POST upload {repo}"
        resp = self._send("POST", f"/v2/{repo}/blobs/uploads/{query}", scopes or self._push(repo),
                          headers={"Content-Length": "0"})
        if resp.status_code not in (201, 202):
            raise self._fail(resp, what, repo)
        if resp.status_code == 202 and "location" not in resp.headers:
            raise RegistryError(f"registry {self.host}, repository {repo}: {what} answered 202 without a Location")
        return resp

    def _finish_upload(self, repo: str, location: str, digest: str, size: int, body: bytes | Iterable[bytes]) -> None:
        # httpx params= would replace the `_state` query string of Location: append by hand.
        url = self._url(location) if location.startswith("http") else str(httpx.URL(self.base_url).join(location))
        url += ("&" if "?" in url else "?") + f"digest={digest}"
        resp = self._send("PUT", url, self._push(repo), content=body,
                          headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        if resp.status_code not in (201, 204):
            raise self._fail(resp, f"PUT blob {repo}@{digest}", repo)

    def push_blob(self, repo: str, data: bytes | Path, digest: str | None = None, *, check: bool = True) -> bool:
        """Upload a blob (bytes or a file) unless repo has it; True if uploaded. POST, then PUT `<Location>&digest=`.

        With check, the POST asks to mount the blob from repo itself: 201 means it is already there (nothing sent),
        202 opens the upload as usual (the spec's fallback), so the presence check costs no extra request.
        """
        if digest is None:
            digest = oci.sha256_digest(data) if isinstance(data, bytes) else _file_digest(Path(data))
        oci.check_digest(digest)
        size = len(data) if isinstance(data, bytes) else Path(data).stat().st_size

        def attempt() -> bool:
            resp = self._start_upload(repo, f"?mount={digest}&from={repo}" if check else "")
            if resp.status_code == 201:
                return False
            body: bytes | Iterable[bytes] = data if isinstance(data, bytes) else _read_chunks(Path(data))
            self._finish_upload(repo, resp.headers["location"], digest, size, body)
            return True

        return self._retrying(f"upload blob {repo}@{digest}", attempt)

    def push_blob_from(
        self, src: RegistryClient, src_repo: str, repo: str, desc: Descriptor, *, mount_from: str | None = None
    ) -> str:
        """Put src's blob into repo: "present" / "mounted" if a mount POST links it, else streamed ("copied").

        The upload starts with `POST ?mount=<digest>&from=<mount_from or repo>`: one request both finds a blob the
        registry already has (201) and, when it has not (202), opens the upload session the bytes then go to.
        """
        oci.check_digest(desc.digest)
        source = mount_from or repo
        scopes = self._push(repo) if source == repo else (*self._push(repo), *self._pull(source))

        def attempt() -> str:
            resp = self._start_upload(repo, f"?mount={desc.digest}&from={source}", scopes)
            if resp.status_code == 201:
                return "present" if source == repo else "mounted"
            with src._open_blob_once(src_repo, desc.digest) as chunks:
                self._finish_upload(repo, resp.headers["location"], desc.digest, desc.size, chunks)
            return "copied"

        return self._retrying(f"copy blob {src.host}/{src_repo}@{desc.digest} to {repo}", attempt)

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount within this registry; True if mounted, False if the registry declined."""
        oci.check_digest(digest)
        scopes = (*self._push(repo), *self._pull(from_repo))
        resp = self._retrying(f"mount blob {digest} from {from_repo} into {repo}",
                              lambda: self._start_upload(repo, f"?mount={digest}&from={from_repo}", scopes))
        if resp.status_code == 201:
            return True
        # 202: the registry opened a normal upload instead; cancel it so it does not linger.
        location = resp.headers.get("location")
        if location:
            try:
                self._send("DELETE", str(httpx.URL(self.base_url).join(location)), self._push(repo)).close()
            except (httpx.HTTPError, _Retryable):
                log.debug("registry %s: could not cancel declined mount upload in %s", self.host, repo)
        return False

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """PUT a manifest under ref (tag or its digest); returns the digest, checked against the bytes sent."""
        digest = oci.sha256_digest(raw)
        what = f"PUT manifest {repo}:{ref}" if not ref.startswith("sha256:") else f"PUT manifest {repo}@{ref}"
        if ref.startswith("sha256:") and ref != digest:
            raise RegistryError(f"registry {self.host}, repository {repo}: {what}: bytes have digest {digest}")
        resp = self._request("PUT", f"/v2/{repo}/manifests/{ref}", self._push(repo), what,
                             headers={"Content-Type": media_type}, content=raw)
        if resp.status_code not in (200, 201):
            raise self._fail(resp, what, repo)
        returned = resp.headers.get("docker-content-digest", digest)
        if returned != digest:
            raise RegistryError(f"registry {self.host}, repository {repo}: {what}: registry stored {returned}, "
                                f"expected {digest}")
        return digest

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Delete a manifest by digest (removes every tag on it); False if it was not there."""
        oci.check_digest(digest)
        what = f"DELETE manifest {repo}@{digest}"
        resp = self._request("DELETE", f"/v2/{repo}/manifests/{digest}", (f"repository:{repo}:*",), what)
        if resp.status_code == 404:
            return False
        if resp.status_code not in (200, 202):
            raise self._fail(resp, what, repo)
        return True


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _file_digest(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for chunk in _read_chunks(path):
        h.update(chunk)
    return "sha256:" + h.hexdigest()
