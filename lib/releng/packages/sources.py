"""Where a minor's package repositories are and the line a client adds for each (apt sources, yum/dnf baseurl):
pure, so the release planner can hand them to the announcement and the GitHub page before anything is published."""

from __future__ import annotations

from dataclasses import dataclass

from releng import layout
from releng.profile import Targets


@dataclass(frozen=True)
class RepositorySource:
    """One repository as users add it: kind (deb or rpm), its public URL and the client line for it."""

    kind: str
    url: str
    client_line: str


def repository_urls(public_url: str, project: str, tag: str) -> tuple[str, str]:
    """The deb and rpm repository URLs of the tag's minor (pkgs.k8s.io: <base>/core:/stable:/v1.29/{deb,rpm}/)."""
    base = f"{public_url.rstrip('/')}/{layout.packages_repo_prefix(project, tag)}"
    return f"{base}/deb/", f"{base}/rpm/"


def repository_sources(public_url: str, project: str, tag: str) -> tuple[RepositorySource, RepositorySource]:
    """The deb and rpm repositories of the tag's minor with the lines pkgs.k8s.io's install guide gives."""
    deb_url, rpm_url = repository_urls(public_url, project, tag)
    keyring = f"/etc/apt/keyrings/{project.replace(':', '-')}-apt-keyring.gpg"
    return (RepositorySource("deb", deb_url, f"deb [signed-by={keyring}] {deb_url} /"),
            RepositorySource("rpm", rpm_url, f"baseurl={rpm_url}"))


def public_url(targets: Targets) -> str:
    """Where users reach the targets' packages bucket: packages_url, else the bucket URL itself."""
    return targets.packages_url or targets.packages_bucket
