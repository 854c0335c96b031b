"""Start Debian's `docker-registry` (CNCF distribution 2.8) on loopback, for tests, benchmarks and the demo."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from releng.errors import ReleaseError

_BINARY = "docker-registry"

# The packaged /etc/docker/registry/config.yml uses htpasswd auth on :5000; we always write our own.
_CONFIG = """\
version: 0.1
log: {{level: warn, accesslog: {{disabled: true}}}}
storage:
  filesystem: {{rootdirectory: {root}}}
  cache: {{blobdescriptor: inmemory}}
  delete: {{enabled: true}}
  maintenance: {{uploadpurging: {{enabled: false}}}}
http: {{addr: 127.0.0.1:{port}, secret: not-a-secret}}
"""

_NOTIFICATIONS = """\
notifications:
  endpoints:
    - name: local-listener
      url: {url}
      timeout: 1s
      threshold: 5
      backoff: 1s
      ignoredmediatypes: [application/octet-stream]
"""


@dataclass
class LocalRegistry:
    """A running loopback registry: `.host` is `127.0.0.1:PORT`, `.url` its http base URL."""

    host: str
    data_dir: Path
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    def running(self) -> bool:
        """Whether the registry process is still alive."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate the registry process (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_local_registry(
    data_dir: Path,
    port: int | None = None,
    *,
    notifications_url: str | None = None,
    ready_timeout: float = 10.0,
    gogc: int = 1000,
    detach: bool = False,
    tls: tuple[Path, Path] | None = None,
    extra_config: str = "",
) -> LocalRegistry:
    """Start `docker-registry serve` storing under data_dir on 127.0.0.1 and wait until /v2/ answers.

    tls is (certificate, key) PEM files to serve https; extra_config is top-level YAML appended to the config
    (`auth: {htpasswd: ...}`, `compatibility: {schema1: ...}`): tests use them for private CAs and credentials.
    """
    binary = shutil.which(_BINARY)
    if binary is None:
        raise ReleaseError(f"{_BINARY} not found on PATH; install the Debian package: apt-get install docker-registry")
    data_dir = Path(data_dir)
    (data_dir / "storage").mkdir(parents=True, exist_ok=True)
    if port is None:
        port = free_port()
    elif not port_free(port):
        raise ReleaseError(f"{_BINARY}: 127.0.0.1:{port} is already in use; pick another port or stop what holds it")
    config = _CONFIG.format(root=data_dir / "storage", port=port)
    if tls is not None:
        served = f"secret: not-a-secret, tls: {{certificate: {tls[0]}, key: {tls[1]}}}}}"
        config = config.replace("secret: not-a-secret}", served)
    config += extra_config
    if notifications_url:
        config += _NOTIFICATIONS.format(url=notifications_url)
    config_path = data_dir / "config.yml"
    config_path.write_text(config)
    log_path = data_dir / "registry.log"
    with log_path.open("ab") as log:
        # The registry allocates heavily per request; Go's default GC (GOGC=100) then costs about half of its CPU.
        # A laxer target keeps the heap small (live heap ~10 MB) and halves the CPU per request on this 2-core box.
        env = {**os.environ, "GOGC": str(gogc)}
        process = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            # detach: its own session, so it outlives the command that started it (krel local up) and its signals
            start_new_session=detach,
        )
    registry = LocalRegistry(f"127.0.0.1:{port}", data_dir, config_path, log_path, process,
                             "https" if tls is not None else "http")
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ReleaseError(f"{_BINARY} on 127.0.0.1:{port} exited with {process.returncode}: {tail[0]}")
        try:
            # 401: up, and asking for credentials. Readiness only: the certificate is checked by the real clients.
            answer = httpx.get(f"{registry.url}/v2/", timeout=0.5, verify=False).status_code
            if answer in (200, 401) and process.poll() is None:
                return registry
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            registry.stop()
            raise ReleaseError(f"{_BINARY} on 127.0.0.1:{port} did not answer /v2/ within {ready_timeout:.0f}s")
        time.sleep(0.02)
