"""The long-running local services the `local` profile uses (today: its loopback registry), started and stopped by pid.

The registry keeps its data, config, log and pid file under KREL_HOME/registry/ and outlives the command that
started it, so the address written into released notes and changelogs stays reachable for later commands.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from releng.errors import ReleaseError, UsageError
from releng.files import write_atomic
from releng.registry.localserver import port_free, start_local_registry

DEFAULT_REGISTRY = "127.0.0.1:5000"
# docker-registry binds 127.0.0.1 only; these names reach it.
_LOOPBACK = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `krel local status` shows it."""

    name: str
    state: str  # "running", "stopped" or "unhealthy" (process alive, /v2/ not answering)
    address: str
    pid: int | None
    data_dir: str
    log: str
    changed: bool = False  # this call started or stopped it


def registry_dir(home: Path) -> Path:
    return home / "registry"


def parse_address(address: str) -> tuple[str, int]:
    """host:port of KREL_LOCAL_REGISTRY; only loopback, since the local registry is served without auth or TLS."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"KREL_LOCAL_REGISTRY={address!r}: expected HOST:PORT, e.g. {DEFAULT_REGISTRY}")
    if host not in _LOOPBACK:
        loopback = ", ".join(_LOOPBACK)
        raise UsageError(f"KREL_LOCAL_REGISTRY={address!r}: krel local serves on loopback only ({loopback})")
    return host, int(port)


def _pid_file(home: Path) -> Path:
    return registry_dir(home) / "registry.pid"


def _recorded(home: Path) -> tuple[int, int] | None:
    """(pid, port) from the pid file when that process is still our docker-registry; None otherwise."""
    try:
        pid_text, port_text = _pid_file(home).read_text(encoding="utf-8").split()
        pid, port = int(pid_text), int(port_text)
    except (OSError, ValueError):
        return None
    config = str(registry_dir(home) / "config.yml")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    # A recycled pid belongs to some other program: never signal it.
    if not any(arg.endswith(b"docker-registry") for arg in cmdline) or config.encode() not in cmdline:
        return None
    return pid, port


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1.0).status_code in (200, 401)
    except httpx.TransportError:
        return False


def _status(home: Path, address: str, changed: bool = False) -> ServiceStatus:
    found = _recorded(home)
    data = registry_dir(home)
    log = str(data / "registry.log")
    if found is None:
        return ServiceStatus("registry", "stopped", address, None, str(data), log, changed)
    pid, port = found
    state = "running" if _answers(port) else "unhealthy"
    return ServiceStatus("registry", state, f"127.0.0.1:{port}", pid, str(data), log, changed)


def status(home: Path, address: str = DEFAULT_REGISTRY) -> list[ServiceStatus]:
    """Every local service and whether it runs."""
    parse_address(address)
    return [_status(home, address)]


def up(home: Path, address: str = DEFAULT_REGISTRY) -> list[ServiceStatus]:
    """Start what is not running (idempotent); a port held by another program is an error naming it."""
    _, port = parse_address(address)
    found = _recorded(home)
    if found is not None:
        if found[1] != port:
            raise ReleaseError(
                f"krel's registry already runs on 127.0.0.1:{found[1]} (pid {found[0]}), not {address}; "
                "run `krel local down` first or set KREL_LOCAL_REGISTRY to that address"
            )
        if _answers(port):
            return [_status(home, address)]
        _stop(found[0])
    if not port_free(port):
        raise ReleaseError(
            f"127.0.0.1:{port} is in use by another program; stop it or set KREL_LOCAL_REGISTRY=127.0.0.1:<free port>"
        )
    registry = start_local_registry(registry_dir(home), port, detach=True)
    write_atomic(_pid_file(home), f"{registry.process.pid} {port}\n")
    return [_status(home, address, changed=True)]


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it (tests, the demo)
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def down(home: Path, address: str = DEFAULT_REGISTRY) -> list[ServiceStatus]:
    """Stop krel's services (idempotent); data stays, so `up` serves the same images again."""
    parse_address(address)
    found = _recorded(home)
    if found is not None:
        _stop(found[0])
    with contextlib.suppress(FileNotFoundError):
        _pid_file(home).unlink()
    return [_status(home, address, changed=found is not None)]
