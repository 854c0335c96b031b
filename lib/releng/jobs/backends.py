"""The backend set a job's handlers use, built from URLs and hosts the plan carries (never from a mock flag)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from releng.objectstore import ObjectStore, open_store
from releng.profile import Author, Profile, Targets
from releng.registry.auth import for_host
from releng.registry.client import RegistryClient
from releng.report import NullReporter, Reporter


@dataclass(frozen=True)
class FaultHooks:
    """Test-only fault injection: SIGKILL this process before step N (1-based) or halfway through an upload."""

    kill_at_step: int | None = None
    kill_mid_upload: bool = False

    def kill(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Backends:
    """Clients opened on demand and cached by URL/host, plus the values read at the CLI edge."""

    profile: Profile
    targets: Targets
    author: Author
    credentials: frozenset[str] = frozenset()  # names of credentials present (values stay at the edge)
    github_token: str = ""
    github_api_url: str = "https://api.github.com"
    registry_user: str = ""
    registry_password: str = ""
    report: Reporter = field(default_factory=NullReporter)
    hooks: FaultHooks = field(default_factory=FaultHooks)
    store_opener: Callable[[str], ObjectStore] = open_store
    _stores: dict[str, ObjectStore] = field(default_factory=dict)
    _registries: dict[str, RegistryClient] = field(default_factory=dict)

    def store(self, url: str) -> ObjectStore:
        """The object store at url (file:// or gs://), opened once."""
        if url not in self._stores:
            self._stores[url] = self.store_opener(url)
        return self._stores[url]

    def registry(self, host: str) -> RegistryClient:
        """A registry client for host with the auth its address calls for, opened once."""
        if host not in self._registries:
            auth = for_host(host, self.registry_user or None, self.registry_password or None)
            self._registries[host] = RegistryClient(host, auth=auth)
        return self._registries[host]

    def close(self) -> None:
        for client in self._registries.values():
            client.close()
        self._registries.clear()


def split_registry(address: str) -> tuple[str, str]:
    """`127.0.0.1:5000/mock` -> (`127.0.0.1:5000`, `mock`); `registry.k8s.io` -> (`registry.k8s.io`, ``)."""
    host, _, prefix = address.strip("/").partition("/")
    return host, prefix


def image_repo(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name

