"""Benchmark: bearer tokens for many repositories fetched by many threads, against a loopback token service
that takes `--delay` seconds per token (100 repositories, 20 threads, 50 ms: one at a time is 5 s).

Run: .venv/bin/python hack/bench/registry_tokens.py [--repos 100] [--threads 20] [--delay 0.05]
To measure another version of the library: PYTHONPATH=<its lib/> .venv/bin/python hack/bench/registry_tokens.py
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from releng.registry import auth
from releng.registry.client import RegistryClient

_REPO = re.compile(r"^/v2/(.+)/tags/list")


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens = 0
        self.in_flight = 0
        self.max_in_flight = 0


def _server(delay: float, counters: _Counters) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, code: int, body: dict[str, object], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            host = f"127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/token"):
                with counters.lock:
                    counters.tokens += 1
                    counters.in_flight += 1
                    counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
                    n = counters.tokens
                time.sleep(delay)
                with counters.lock:
                    counters.in_flight -= 1
                self._send(200, {"token": f"tok-{n}", "expires_in": 300})
                return
            match = _REPO.match(self.path)
            if match and self.headers.get("Authorization", "").startswith("Bearer tok-"):
                self._send(200, {"name": match.group(1), "tags": ["v1"]})
                return
            scope = f"repository:{match.group(1) if match else ''}:pull"
            challenge = f'Bearer realm="http://{host}/token",service="bench",scope="{scope}"'
            self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()

    counters = _Counters()
    server = _server(args.delay, counters)
    host = f"127.0.0.1:{server.server_address[1]}"
    creds = auth.basic("bench", "bench-password")
    try:
        with RegistryClient(host, auth=creds, max_connections=args.threads) as client, \
                ThreadPoolExecutor(args.threads) as pool:
            start = time.perf_counter()
            tags = list(pool.map(lambda i: client.list_tags(f"bench/repo{i:03d}"), range(args.repos)))
            elapsed = time.perf_counter() - start
    finally:
        server.shutdown()
    assert tags == [["v1"]] * args.repos, "a repository answered wrong tags"
    serial = args.repos * args.delay
    print(f"{args.repos} repositories, {args.threads} threads, token service {args.delay * 1000:.0f} ms: "
          f"{elapsed:.2f}s, {counters.tokens} token requests, at most {counters.max_in_flight} at once "
          f"(one at a time: {serial:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
