"""RegistryClient: the OCI distribution API over one pooled, thread-safe httpx.Client per registry.

Reads (catalog, tags, manifests, blobs) and writes (blob upload and mount, manifest put and delete), with auth
challenges answered, the host's token bucket, and retries on 429 / 5xx / timeouts / connection resets inside a
time budget per request.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx

from releng.errors import ReleaseError
from releng.registry import oci
from releng.registry.auth import Auth, anonymous
from releng.registry.oci import Descriptor
from releng.registry.ratelimit import RetryableResponse, RetryPolicy, TokenBucket, is_retryable_status, retry_after
from releng.registry.transport import HTTP11Transport, env_proxies, speaks_tls

log = logging.getLogger(__name__)

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_CHUNK = 1 << 20
T = TypeVar("T")


class RegistryError(ReleaseError):
    """A registry request failed; the message names the registry and repository, never credentials."""

    @classmethod
    def plain_http_to_tls(cls, where: str, what: str) -> RegistryError:
        """A plain-http request to a port that speaks TLS (the server answers a bare HTTP 400)."""
        return cls(f"{where}: {what} was sent over plain http, but the registry speaks TLS at this address: use https "
                   "(krel uses plain http only for a loopback registry without a CA: give its CA with --ca-file or "
                   "the profile's registry_ca)")


class ManifestNotFoundError(RegistryError):
    """A manifest, tag or repository does not exist."""


def _host_only(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _pause_for(response: httpx.Response) -> float:
    """How long a 429 pauses the host: its Retry-After, else one second (the original pauses 10 s on any 429)."""
    hint = retry_after(response.headers)
    return 1.0 if hint is None else hint


def _describe(exc: Exception) -> str:
    return f"HTTP {exc.status}" if isinstance(exc, RetryableResponse) else exc.__class__.__name__


def _untrusted_certificate(exc: Exception) -> bool:
    """A TLS verification failure: no retry will fix it (unlike a reset or a timeout)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _tls_context(host: str, ca_file: Path | None) -> ssl.SSLContext:
    """Verify TLS as httpx does by default; with a private CA, against the system store plus that CA (a registry
    behind a corporate CA)."""
    if ca_file is None:
        return httpx.create_ssl_context()
    try:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise RegistryError(f"registry {host}: CA file {ca_file} is not a readable PEM certificate bundle "
                            f"({exc.__class__.__name__})") from None
    return context


def _error_codes(response: httpx.Response) -> str:
    """The registry's error codes (`MANIFEST_BLOB_UNKNOWN`, ...) from its JSON error body, if any."""
    try:
        body = response.json()
        codes = [str(e.get("code")) for e in body.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return ""
    return " ".join(dict.fromkeys(c for c in codes if c))


class _NoCookies(httpx.Cookies):
    """Registries keep no state in cookies: none is stored or sent (httpx's cookie jar, consulted on every
    response, cost a fifth of a HEAD's client CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class _Http(httpx.Client):
    """httpx.Client without cookies."""

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


class RegistryClient:
    """One registry host (`127.0.0.1:5000`, `gcr.io`, `us-docker.pkg.dev`); http for loopback, https otherwise."""

    def __init__(
        self,
        host: str,
        *,
        auth: Auth | None = None,
        insecure: bool | None = None,
        rate_limiter: TokenBucket | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
        retry_budget: float = 600.0,
        timeout: float = 60.0,
        max_connections: int = 32,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.host = host
        # Loopback registries speak plain http, unless given a CA: then the caller expects TLS.
        plain_http = (_host_only(host) in _LOOPBACK and ca_file is None) if insecure is None else insecure
        self.base_url = f"{'http' if plain_http else 'https'}://{host}"
        self.auth = auth or anonymous()
        self._tls_port: bool | None = None  # whether a plain-http address speaks TLS, once asked
        self.rate_limiter = rate_limiter
        attempts = None if retries is None else retries + 1
        self.retry = RetryPolicy(budget=retry_budget, initial=backoff, attempts=attempts)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        verify = _tls_context(host, ca_file)
        if transport is None and not env_proxies():
            transport = HTTP11Transport(verify, max_idle=max_connections)
        self._http = _Http(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=limits,
            follow_redirects=True,
            transport=transport,
            verify=verify,
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
        """Run fn, retrying 429/5xx/transport errors (token requests included) inside the policy's time budget.

        Waits honour Retry-After, else back off exponentially with jitter; the last failure becomes one line.
        """
        policy = self.retry
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except (RetryableResponse, httpx.TransportError) as exc:
                if _untrusted_certificate(exc):
                    raise RegistryError(
                        f"registry {self.host}: {what}: TLS certificate not trusted ({exc}); "
                        "if the registry uses a private CA, pass its PEM with --ca-file"
                    ) from None
                # A TLS server drops a plain-http request it does not take for HTTP (DELETE): no retry fixes that.
                if isinstance(exc, httpx.RemoteProtocolError) and self._plain_http_to_tls():
                    raise RegistryError.plain_http_to_tls(f"registry {self.host}", what) from None
                hint = retry_after(exc.response.headers) if isinstance(exc, RetryableResponse) else None
                wait = policy.wait(attempt, hint)
                budget = min(policy.budget, policy.connect_budget) if isinstance(exc, httpx.ConnectError) \
                    else policy.budget
                spent = time.monotonic() - started
                if (policy.attempts is not None and attempt >= policy.attempts) or spent + wait > budget:
                    self._retry_failed(what, exc, attempt, spent)
                log.debug("registry %s: %s: %s, retry %d in %.1fs", self.host, what, _describe(exc), attempt, wait)
                time.sleep(wait)
            except httpx.HTTPError as exc:
                raise RegistryError(f"registry {self.host}: {what} failed ({exc.__class__.__name__})") from None

    def _retry_failed(self, what: str, exc: Exception, attempts: int, seconds: float) -> NoReturn:
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''} in {seconds:.1f}s"
        if isinstance(exc, RetryableResponse):
            codes = _error_codes(exc.response)
            status = f"HTTP {exc.status}{' ' + codes if codes else ''}"
            if exc.source:
                raise RegistryError(f"registry {self.host}: {what} failed: token service {exc.source} "
                                    f"answered {status} {tries}") from None
            raise RegistryError(f"registry {self.host}: {what} failed with {status} {tries}") from None
        raise RegistryError(
            f"registry {self.host} unreachable: {what} failed ({_describe(exc)}) {tries}; "
            "is the address right and the registry running?"
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
        """One attempt: rate limit, authorise, send; answer one auth challenge; raise RetryableResponse on 429/5xx."""
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
        if is_retryable_status(response.status_code):
            if not stream or response.status_code == 429:
                response.read()
            response.close()
            if response.status_code == 429 and self.rate_limiter is not None:
                # Everyone talking to this host waits, not just this thread: the quota is the host's.
                self.rate_limiter.pause(_pause_for(response))
            raise RetryableResponse(response)
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
        if status == 400 and not codes and self._plain_http_to_tls():
            return RegistryError.plain_http_to_tls(where, what)
        return RegistryError(f"{where}: {what} failed with HTTP {status}{detail}")

    def _plain_http_to_tls(self) -> bool:
        """Whether this client speaks plain http to a TLS port: TLS servers answer such a request with a bare 400
        (Go: "Client sent an HTTP request to an HTTPS server"; a HEAD gets no body), so ask the port itself, once."""
        if self._tls_port is None:
            url = httpx.URL(self.base_url)
            self._tls_port = url.scheme == "http" and speaks_tls(url.host, url.port or 80)
        return self._tls_port

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

    def _pages(self, path: str, key: str, scopes: tuple[str, ...], repo: str | None) -> Iterator[dict[str, Any]]:
        """Each JSON page of a paginated listing (follows `Link: rel="next"`); key names the list every page has."""
        url: str | None = path
        while url:
            what = f"GET {httpx.URL(self._url(url)).path}"
            resp = self._request("GET", url, scopes, what)
            if resp.status_code != 200:
                raise self._fail(resp, what, repo)
            try:
                page = resp.json()
            except ValueError:
                page = None
            if not isinstance(page, dict) or not isinstance(page.get(key) or [], list):
                raise RegistryError(f"registry {self.host}: {what} did not answer a JSON object with {key!r}")
            yield page
            nxt = resp.links.get("next", {}).get("url")
            url = str(httpx.URL(self._url(url)).join(nxt)) if nxt else None

    def _paginated(self, path: str, key: str, scopes: tuple[str, ...], repo: str | None) -> Iterator[Any]:
        for page in self._pages(path, key, scopes, repo):
            yield from page.get(key) or []

    def iter_catalog(self, last: str | None = None, page_size: int = 1000) -> Iterator[str]:
        """Repositories in lexical order, after `last` when given (the spec's `last=`: a caller can stop early)."""
        start = f"&last={last}" if last else ""
        for repo in self._paginated(f"/v2/_catalog?n={page_size}{start}", "repositories",
                                    ("registry:catalog:*",), None):
            yield str(repo)

    def catalog(self, page_size: int = 1000) -> list[str]:
        """Every repository in the registry (follows `Link: rel="next"` pages)."""
        return list(self.iter_catalog(page_size=page_size))

    def tags_list_pages(self, repo: str) -> Iterator[dict[str, Any]]:
        """repo's tags/list pages as sent: `tags`, plus Google's `manifest` map and `child` list where served."""
        return self._pages(f"/v2/{repo}/tags/list?n=10000", "tags", self._pull(repo), repo)

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
        where = f"{self.host}/{repo}@{ref}" if ref.startswith("sha256:") else f"{self.host}/{repo}:{ref}"
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in oci.MANIFEST_TYPES:
            media_type = oci.media_type_of(oci.parse_manifest(raw, where), media_type)
        digest = oci.manifest_digest(raw, media_type, where)
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(f"registry {self.host}, repository {repo}: manifest {ref} has content digest {digest}")
        return raw, media_type, digest

    def blob_exists(self, repo: str, digest: str) -> bool:
        """Whether repo holds the blob."""
        return self._head_blob(repo, digest) is not None

    def blob_size(self, repo: str, digest: str) -> int | None:
        """The size of repo's blob in bytes, None if repo does not hold it (schema-1 manifests do not say)."""
        resp = self._head_blob(repo, digest)
        if resp is None:
            return None
        try:
            return int(resp.headers.get("content-length", ""))
        except ValueError:
            raise RegistryError(f"registry {self.host}, repository {repo}: HEAD blob {digest} answered without a "
                                "size") from None

    def _head_blob(self, repo: str, digest: str) -> httpx.Response | None:
        what = f"HEAD blob {repo}@{digest}"
        resp = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", self._pull(repo), what)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, what, repo)
        return resp

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
            with self._upload_session(repo, resp.headers["location"]):
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
            with self._upload_session(repo, resp.headers["location"]), \
                    src._open_blob_once(src_repo, desc.digest) as chunks:
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
        self._cancel_upload(repo, resp.headers["location"])
        return False

    @contextmanager
    def _upload_session(self, repo: str, location: str) -> Iterator[None]:
        """An open upload: if anything fails before it completes, cancel it (`DELETE` on its URL)."""
        try:
            yield
        except BaseException:
            self._cancel_upload(repo, location)
            raise

    def _cancel_upload(self, repo: str, location: str) -> None:
        """Best effort: a session left open holds space on the registry until its purge, and counts against quotas."""
        try:
            self._send("DELETE", str(httpx.URL(self.base_url).join(location)), self._push(repo)).close()
        except (httpx.HTTPError, RetryableResponse, ReleaseError):
            log.debug("registry %s: could not cancel an upload session in %s", self.host, repo)

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """PUT a manifest under ref (tag or its digest); returns the digest, checked against the bytes sent."""
        digest = oci.manifest_digest(raw, media_type, f"{self.host}/{repo}:{ref}")
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
