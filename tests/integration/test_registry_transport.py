"""The registry client's HTTP/1.1 transport against a loopback TCP server that misbehaves on purpose: keep-alive
connections closed while idle or right after a request are replaced (and the request sent again once), chunked and
close-delimited bodies are read, and cut bodies, garbage and silence end in one line."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest
from releng.errors import ReleaseError
from releng.registry.client import RegistryClient
from releng.registry.transport import env_proxies

TAGS = json.dumps({"name": "t/app", "tags": ["v1", "v2"]}).encode()
Serve = Callable[[socket.socket, int], None]


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk or chunk.startswith(b"\x16"):  # a TLS ClientHello (the client asking what the port speaks)
            return b""
        data += chunk
    return data


def _answer(conn: socket.socket, body: bytes = TAGS, extra: str = "") -> None:
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
                 .encode() + body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def next_connection(self) -> int:
        with self.lock:
            self.connections += 1
            return self.connections


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client hung up: nothing to answer
            self.server.serve(self.request, self.server.next_connection())


@pytest.fixture
def serve() -> Iterator[Callable[[Serve], _Server]]:
    started: list[_Server] = []

    def start(behaviour: Serve) -> _Server:
        server = _Server(behaviour)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _client(server: _Server, **kwargs: float) -> RegistryClient:
    return RegistryClient(f"127.0.0.1:{server.server_address[1]}", backoff=0.05, **kwargs)


def _count(server: _Server, request: bytes) -> bool:
    if not request:
        return False
    with server.lock:
        server.requests += 1
    return True


# Servers that answer correctly in a way the transport must cope with; each is read three times in a row.
def _closes_when_idle(server: _Server) -> Serve:
    def serve(conn: socket.socket, n: int) -> None:
        if _count(server, _read_request(conn)):
            _answer(conn)  # says nothing of closing, then closes: the next request finds a dead idle connection

    return serve


def _closes_after_the_next_request(server: _Server) -> Serve:
    def serve(conn: socket.socket, n: int) -> None:
        if _count(server, _read_request(conn)):
            _answer(conn)
        _read_request(conn)  # the second request on this connection gets no answer at all

    return serve


def _connection_close(server: _Server) -> Serve:
    def serve(conn: socket.socket, n: int) -> None:
        if _count(server, _read_request(conn)):
            _answer(conn, extra="Connection: close\r\n")

    return serve


def _chunked(server: _Server) -> Serve:
    def serve(conn: socket.socket, n: int) -> None:
        while _count(server, _read_request(conn)):
            half = len(TAGS) // 2
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, TAGS[:half], len(TAGS) - half, TAGS[half:]))

    return serve


def _http10_until_close(server: _Server) -> Serve:
    def serve(conn: socket.socket, n: int) -> None:
        if _count(server, _read_request(conn)):
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + TAGS)

    return serve


COPING: dict[str, tuple[Callable[[_Server], Serve], int]] = {
    # behaviour, the requests the server sees for three reads
    "closes-idle-keepalive": (_closes_when_idle, 3),
    "closes-after-next-request": (_closes_after_the_next_request, 3),
    "connection-close": (_connection_close, 3),
    "chunked-body": (_chunked, 3),
    "http10-body-until-close": (_http10_until_close, 3),
}


@pytest.mark.parametrize(("behaviour", "requests"), COPING.values(), ids=COPING.keys())
def test_the_transport_copes(serve: Callable[[Serve], _Server], behaviour: Callable[[_Server], Serve],
                             requests: int) -> None:
    holder: list[_Server] = []
    server = serve(lambda conn, n: behaviour(holder[0])(conn, n))
    holder.append(server)
    with _client(server, retries=0) as client:  # no retry by the client: the transport alone copes
        for _ in range(3):
            assert client.list_tags("t/app") == ["v1", "v2"]
    assert server.requests == requests


def _cut_body(conn: socket.socket, n: int) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + TAGS[:10])


def _garbage(conn: socket.socket, n: int) -> None:
    _read_request(conn)
    conn.sendall(b"HELLO THERE\r\n\r\n")


def _no_answer(conn: socket.socket, n: int) -> None:
    _read_request(conn)


def _silence(conn: socket.socket, n: int) -> None:
    _read_request(conn)
    conn.recv(1)  # until the client gives up and closes


def _bad_header(conn: socket.socket, n: int) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")


def _two_lengths(conn: socket.socket, n: int) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 500\r\n\r\n" + TAGS)


FAILING: dict[str, tuple[Serve, str]] = {
    "cut-body": (_cut_body, r"unreachable: GET /v2/t/app/tags/list failed \(ReadError\)"),
    "garbage-status-line": (_garbage, r"unreachable: GET /v2/t/app/tags/list failed \(RemoteProtocolError\)"),
    "closes-without-answer": (_no_answer, r"unreachable: GET /v2/t/app/tags/list failed \(RemoteProtocolError\)"),
    "silence": (_silence, r"unreachable: GET /v2/t/app/tags/list failed \(ReadTimeout\)"),
    "bad-content-length": (_bad_header, r"unreachable: GET /v2/t/app/tags/list failed \(RemoteProtocolError\)"),
    "two-content-lengths": (_two_lengths, r"unreachable: GET /v2/t/app/tags/list failed \(RemoteProtocolError\)"),
}


@pytest.mark.parametrize(("behaviour", "message"), FAILING.values(), ids=FAILING.keys())
def test_a_broken_answer_is_one_line(serve: Callable[[Serve], _Server], behaviour: Serve, message: str) -> None:
    server = serve(behaviour)
    with _client(server, retries=1, timeout=0.5) as client, pytest.raises(ReleaseError, match=message) as err:
        client.list_tags("t/app")
    assert "\n" not in str(err.value) and "after 2 attempts" in str(err.value)


@pytest.mark.parametrize("behaviour", [_bad_header, _two_lengths], ids=["garbled", "two-values"])
def test_a_head_with_a_bad_content_length_is_one_line(serve: Callable[[Serve], _Server], behaviour: Serve) -> None:
    # A HEAD has no body to cut short, but its Content-Length is the manifest's size: a garbled one is refused.
    server = serve(behaviour)
    with _client(server, retries=0) as client, \
            pytest.raises(ReleaseError, match=r"HEAD t/app:v1 failed \(RemoteProtocolError\) after 1 attempt"):
        client.head_manifest("t/app", "v1")


def test_a_refused_connection_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with RegistryClient(f"127.0.0.1:{port}", retries=1, backoff=0.05) as client, \
                pytest.raises(ReleaseError, match=r"unreachable: GET /v2/ failed \(ConnectError\) after 2 attempts"):
            client.ping()


@pytest.mark.parametrize(("env", "proxied"), [
    ({}, False), ({"NO_PROXY": "*"}, False), ({"HTTPS_PROXY": "http://proxy:3128"}, True),
    ({"http_proxy": "http://proxy:3128"}, True), ({"ALL_PROXY": "socks5://proxy:1080"}, True),
], ids=["none", "no-proxy-only", "https-proxy", "http-proxy-lowercase", "all-proxy"])
def test_a_proxy_in_the_environment_is_noticed(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                               proxied: bool) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert env_proxies() is proxied
