"""The one pool of registry clients: one RegistryClient per host, opened on first use and closed together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from threading import Lock

from releng.address import RegistryAddress
from releng.registry.auth import Auth
from releng.registry.client import RegistryClient
from releng.registry.credentials import Credentials
from releng.registry.ratelimit import HostLimits

AuthFor = Callable[[str], Auth]


class Registries:
    """One RegistryClient per host. With a rate, each host has its own token bucket (a 429 pauses that host's
    threads only); without one (a job's few pushes), requests are not paced."""

    def __init__(
        self,
        auth_for: AuthFor | None = None,
        *,
        rate: float | None = 50.0,
        retries: int | None = None,
        retry_budget: float = 600.0,
        timeout: float = 60.0,
        max_connections: int = 32,
        ca_file: Path | None = None,
    ) -> None:
        self.limiter = HostLimits(rate if rate is not None else 1.0)
        self._paced = rate is not None
        self._retry_budget = retry_budget
        self._ca_file = ca_file
        self._auth_for = auth_for
        self._retries = retries
        self._timeout = timeout
        self._max_connections = max_connections
        self._clients: dict[str, RegistryClient] = {}
        self._lock = Lock()

    def use_service_accounts(self, accounts: Mapping[str, str]) -> None:
        """Write to Google hosts as the manifests' service accounts (host -> account), when the credentials
        can impersonate (the CLI's Credentials); other auth strategies ignore them."""
        if isinstance(self._auth_for, Credentials):
            self._auth_for.use_service_accounts(accounts)

    def client(self, host: str) -> RegistryClient:
        """The shared client for host (created on first use)."""
        with self._lock:
            found = self._clients.get(host)
            if found is None:
                found = RegistryClient(
                    host,
                    auth=self._auth_for(host) if self._auth_for else None,
                    rate_limiter=self.limiter.for_host(host) if self._paced else None,
                    retries=self._retries,
                    retry_budget=self._retry_budget,
                    ca_file=self._ca_file,
                    timeout=self._timeout,
                    max_connections=self._max_connections,
                )
                self._clients[host] = found
            return found

    def for_path(self, path: str) -> tuple[RegistryClient, str]:
        """The client and the repository for a `host/repo` path."""
        address = RegistryAddress.repository(path)
        return self.client(address.host), address.prefix

    def close(self) -> None:
        """Close every client's connections."""
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()

    def __enter__(self) -> Registries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
