"""The clients a job's handlers use, opened once for the targets and closed at the end (never a mock flag).

`open_clients` is the one place a job opens stores and registries: every URL and host a step names is one of the
targets' (the planner copies them from `Targets`), so nothing is opened halfway through a run.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releng.address import RegistryAddress
from releng.errors import ReleaseError
from releng.github.base import DEFAULT_API_URL
from releng.objectstore import ObjectStore, open_store
from releng.packages.sources import RepositorySource
from releng.profile import GitHubReleaseMode, Profile, Targets
from releng.registry.client import RegistryClient
from releng.registry.credentials import Credentials
from releng.registry.pool import Registries
from releng.report import NullReporter, Reporter
from releng.signing.keys import SigningKey

if TYPE_CHECKING:
    from releng.announce.compose import Announcement
    from releng.announce.ghrelease import GitHubReleaseResult


@dataclass(frozen=True)
class FaultHooks:
    """Test-only fault injection: SIGKILL this process before step N (1-based) or halfway through an upload."""

    kill_at_step: int | None = None
    kill_mid_upload: bool = False

    def kill(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Secrets:
    """Values read from the environment at the CLI edge, once; deeper code never reads os.environ."""

    credentials: frozenset[str] = frozenset()  # names of credentials present (for the prerequisites check)
    github_token: str = ""
    github_api_url: str = DEFAULT_API_URL
    # registry auth per host, as promotion's: docker config, the env pair for KREL_REGISTRY_HOST, Google ADC
    registry_credentials: Credentials = field(default_factory=Credentials)
    signing_key: SigningKey | None = None  # the targets' key when they sign (loaded, or made for mock, at the edge)
    # KREL_PACKAGES_GPG_* (the package repositories' release key; a passphrase among them: never in a repr)
    packages_key_env: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class GitHub:
    """Where the GitHub API is and the token for it (pushes over https, notes, the release page)."""

    token: str = ""
    api_url: str = DEFAULT_API_URL


@dataclass(frozen=True)
class ReleaseTexts:
    """The profile's templates and links, bound once: the announcement and the GitHub page a release writes."""

    profile: Profile

    def announcement(self, tag: str, go_version: str, changelog_html: str,
                     packages: Sequence[RepositorySource] = (), signing_key_url: str = "") -> Announcement:
        # Imported when used: the announce package pulls in jinja2 and mail modules a stage never needs.
        from releng.announce.compose import build_announcement

        return build_announcement(self.profile, tag, go_version=go_version, changelog_html=changelog_html,
                                  packages=packages, signing_key_url=signing_key_url)

    def github_page(self, tag: str, notes: str, packages: Sequence[RepositorySource] = (),
                    signing_key_url: str = "") -> str:
        from releng.announce.ghrelease import render_release_page

        return render_release_page(self.profile, tag, notes=notes, packages=packages, signing_key_url=signing_key_url)

    def send_github_page(self, mode: GitHubReleaseMode, tag: str, notes: str, store: ObjectStore,
                         github: GitHub, packages: Sequence[RepositorySource] = (),
                         signing_key_url: str = "") -> GitHubReleaseResult:
        """The page rendered and sent to mode's destination (render, publish, bucket)."""
        from releng.announce.ghrelease import send_release_page

        return send_release_page(self.profile, mode, tag, notes=notes, token=github.token, api_url=github.api_url,
                                 store=lambda: store, packages=packages, signing_key_url=signing_key_url)


@dataclass(frozen=True)
class Clients:
    """Everything a handler talks to, opened before the first step; handlers get values from their step."""

    texts: ReleaseTexts
    stores: Mapping[str, ObjectStore] = field(default_factory=dict)  # by URL, as the steps name them
    registries: Mapping[str, RegistryClient] = field(default_factory=dict)  # by host
    github: GitHub = GitHub()
    credentials: frozenset[str] = frozenset()
    report: Reporter = field(default_factory=NullReporter)
    hooks: FaultHooks = FaultHooks()
    # A store that could not be opened (no cloud credentials, say) fails where it is first used: the prerequisites
    # step names what is missing before any step needs the store.
    unopened: Mapping[str, ReleaseError] = field(default_factory=dict)
    # The targets' signing key (issue 13): signing steps carry where to sign, never the key.
    signing_key: SigningKey | None = None
    # KREL_PACKAGES_GPG_* read at the edge: where PublishPackages' release key comes from (never in a repr)
    packages_key_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def store(self, url: str) -> ObjectStore:
        """The store at url: one of the targets' buckets."""
        if url in self.unopened:
            raise self.unopened[url]
        try:
            return self.stores[url]
        except KeyError:
            raise ReleaseError(f"{url} is not one of this job's buckets ({', '.join(self.stores)})") from None

    def registry(self, host: str) -> RegistryClient:
        """The client for host: one of the targets' registries."""
        try:
            return self.registries[host]
        except KeyError:
            raise ReleaseError(f"{host} is not one of this job's registries ({', '.join(self.registries)})") from None


def registry_pool(secrets: Secrets, ca_file: Path | None = None) -> Registries:
    """The job's registry clients: the one pool, with promotion's per-host credentials, the targets' CA and no
    pacing (a job pushes a handful of images; promotion paces its thousands)."""
    return Registries(secrets.registry_credentials, rate=None, ca_file=ca_file)


def job_buckets(profile: Profile, targets: Targets) -> tuple[str, ...]:
    """Every store a stage or release touches: the targets' bucket, the CI bucket (the build version marker) and,
    when the profile builds packages, the targets' packages bucket."""
    packages = (targets.packages_bucket,) if profile.packages is not None and targets.packages_bucket else ()
    return tuple(dict.fromkeys((targets.bucket, profile.ci_bucket, *packages)))


def job_registries(targets: Targets) -> tuple[str, ...]:
    """Every registry host a stage (push) or release (validate) talks to."""
    return tuple(dict.fromkeys(RegistryAddress.parse(a).host for a in (targets.registry, targets.validate_registry)))


@contextmanager
def open_clients(
    profile: Profile,
    targets: Targets,
    secrets: Secrets = Secrets(),
    *,
    report: Reporter | None = None,
    hooks: FaultHooks = FaultHooks(),
    opener: Callable[[str], ObjectStore] = open_store,
) -> Iterator[Clients]:
    """Open the stores and registries of the targets once; close every one of them on the way out."""
    stores: dict[str, ObjectStore] = {}
    unopened: dict[str, ReleaseError] = {}
    for url in job_buckets(profile, targets):
        try:
            stores[url] = opener(url)
        except ReleaseError as exc:
            unopened[url] = exc
    with ExitStack() as stack:
        pool = stack.enter_context(registry_pool(secrets, profile.registry_ca_file(targets)))
        registries = {host: pool.client(host) for host in job_registries(targets)}
        yield Clients(
            texts=ReleaseTexts(profile),
            stores=stores,
            registries=registries,
            github=GitHub(secrets.github_token, secrets.github_api_url),
            credentials=secrets.credentials,
            report=report or NullReporter(),
            hooks=hooks,
            unopened=unopened,
            signing_key=secrets.signing_key,
            packages_key_env=secrets.packages_key_env,
        )
