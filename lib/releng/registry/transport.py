"""The registry client's HTTP/1.1 transport for httpx, on the standard library's http.client, with pooled keep-alive
connections.

A registry inventory is thousands of tiny requests (a HEAD per tag), and on a small machine the client's CPU per
request bounds their rate (the registry shares the cores). httpx's default transport (httpcore + h11) parses every
exchange in pure Python; here http.client does. With httpx's cookie jar skipped too (client.py), a HEAD costs the
client 1.05M instructions instead of 1.63M (callgrind; bare http.client: 0.39M). Errors are raised as httpx's
exceptions, so the client's retries and messages do not depend on the transport.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from threading import Lock

import httpx

_READ_SIZE = 1 << 18
# A reused connection the server closed while idle fails before any answer with one of these: send it again, once.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_Key = tuple[str, str, int]


def speaks_tls(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TLS handshake succeeds at host:port. The certificate is not checked: this asks only what the port
    speaks, to explain a plain-http request it refused."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                context.wrap_socket(sock, server_hostname=host):
            return True
    except OSError:  # ssl.SSLError included
        return False


def env_proxies() -> bool:
    """Whether the environment names an HTTP proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY): httpx's own transport
    then goes through it, as it always did; this one does not speak to proxies."""
    return any(scheme != "no" for scheme in urllib.request.getproxies_environment())


class HTTP11Transport(httpx.BaseTransport):
    """http and https over pooled http.client connections: one request at a time per connection, at most
    `max_idle` idle connections kept per host."""

    def __init__(self, ssl_context: ssl.SSLContext, max_idle: int = 32) -> None:
        self._ssl_context = ssl_context
        self._max_idle = max_idle
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.scheme, request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        conn, reused = self._checkout(key, timeouts)
        try:
            response = self._exchange(conn, request, timeouts)
        except _STALE:
            conn.close()
            if not (reused and isinstance(request.stream, httpx.ByteStream)):
                raise httpx.RemoteProtocolError("server closed the connection without an answer") from None
            conn = self._connect(key, timeouts)
            response = self._answered(conn, request, timeouts)
        except BaseException:
            conn.close()
            raise
        if not _valid_length(response):
            response.close()
            conn.close()
            raise httpx.RemoteProtocolError(f"invalid Content-Length {response.getheader('content-length')!r}")
        return httpx.Response(
            response.status,
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.getheaders()],
            stream=_Body(response, conn, key, self),
            extensions={"http_version": b"HTTP/1.1" if response.version == 11 else b"HTTP/1.0",
                        "reason_phrase": response.reason.encode("latin-1", "replace")},
        )

    def _answered(self, conn: http.client.HTTPConnection, request: httpx.Request,
                  timeouts: dict[str, float | None]) -> http.client.HTTPResponse:
        """_exchange on a fresh connection, with every failure as httpx's exception."""
        try:
            return self._exchange(conn, request, timeouts)
        except _STALE:
            conn.close()
            raise httpx.RemoteProtocolError("server closed the connection without an answer") from None
        except BaseException:
            conn.close()
            raise

    @staticmethod
    def _exchange(conn: http.client.HTTPConnection, request: httpx.Request,
                  timeouts: dict[str, float | None]) -> http.client.HTTPResponse:
        """Send the request and read the status line and headers (the body stays on the socket)."""
        try:
            conn.putrequest(request.method, request.url.raw_path.decode("ascii"), skip_host=True,
                            skip_accept_encoding=True)
            for name, value in request.headers.raw:
                conn.putheader(name.decode("latin-1"), value)
        except ValueError as exc:  # a control character in the target or a header: never sent
            raise httpx.LocalProtocolError(str(exc)) from None
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        stream = request.stream
        body = request.content if isinstance(stream, httpx.ByteStream) else iter(stream)  # type: ignore[arg-type]
        _set_timeout(conn, timeouts.get("write"))
        try:
            conn.endheaders(body or None, encode_chunked=chunked)
        except _STALE:
            raise
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc)) from exc
        _set_timeout(conn, timeouts.get("read"))
        try:
            return conn.getresponse()
        except _STALE:
            raise
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise httpx.RemoteProtocolError(f"{exc.__class__.__name__}: {exc}") from exc

    def _checkout(self, key: _Key, timeouts: dict[str, float | None]) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to key that the server has not closed, else a new one; and whether it was reused."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(key, timeouts), False
            if conn.sock is not None and not _readable(conn.sock):
                return conn, True
            conn.close()

    def _connect(self, key: _Key, timeouts: dict[str, float | None]) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeouts.get("connect"), context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeouts.get("connect"))
        try:
            conn.connect()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # refused, unknown host, TLS handshake and certificate failures
            raise httpx.ConnectError(str(exc)) from exc
        return conn

    def _checkin(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


class _Body(httpx.SyncByteStream):
    """A response body read from its connection; the connection goes back to the pool once the body is read whole."""

    def __init__(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection, key: _Key,
                 pool: HTTP11Transport) -> None:
        self._response = response
        self._conn = conn
        self._key = key
        self._pool = pool
        self._whole = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._response.read(_READ_SIZE):
                yield chunk
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:  # a reset, or a chunked body cut short
            raise httpx.ReadError(f"{exc.__class__.__name__}: {exc}") from exc
        # http.client ends a Content-Length body cut short by the server quietly (read(amt) returns b"").
        if self._response.length:
            raise httpx.ReadError(f"the body ended {self._response.length} bytes before its Content-Length")
        self._whole = True

    def close(self) -> None:
        if self._whole and not self._response.will_close:
            self._pool._checkin(self._key, self._conn)
        else:  # unread or broken body left on the socket, or the server said it closes: never reuse
            self._response.close()
            self._conn.close()


def _valid_length(response: http.client.HTTPResponse) -> bool:
    """Content-Length, where sent, is one decimal number (http.client would read a garbled one as absent, and a
    HEAD's as zero; h11, httpx's own parser, refuses it)."""
    values = set(response.msg.get_all("content-length") or [])
    return not values or (len(values) == 1 and values.pop().strip().isdigit())


def _set_timeout(conn: http.client.HTTPConnection, seconds: float | None) -> None:
    # settimeout costs system calls; read and write timeouts are usually the same.
    if conn.sock is not None and conn.sock.gettimeout() != seconds:
        conn.sock.settimeout(seconds)


def _readable(sock: socket.socket) -> bool:
    """Whether an idle keep-alive socket has something to read: the server closed it (or sent junk); do not reuse."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])
