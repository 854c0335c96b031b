"""What a release's announcement and GitHub page link besides its files: the key its signatures check against and
the package repositories it published to. One rule for `krel release` and for re-rendering by hand."""

from __future__ import annotations

from releng import layout
from releng.packages import sources
from releng.packages.sources import RepositorySource
from releng.profile import Profile, SigningTargets, Targets


def signing_key_url(signing: SigningTargets, targets: Targets, tag: str) -> str:
    """Where the release's public key is published when the targets sign its files ("" otherwise)."""
    if not signing.artifacts:
        return ""
    return f"{targets.release_download_url()}/{tag}/{layout.PUBLIC_KEY_FILE}"


def package_repositories(profile: Profile, targets: Targets, tag: str) -> tuple[RepositorySource, ...]:
    """The deb and rpm repositories the release publishes its packages to (none without [packages])."""
    if profile.packages is None:
        return ()
    return sources.repository_sources(sources.public_url(targets), profile.packages.project, tag)
