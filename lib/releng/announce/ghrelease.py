"""The GitHub release page: render the body from a template, then publish it with PyGithub or into the bucket.

`krel release` sends the page as its last step; the mode (`targets.github_release`) picks a PAGE_DESTINATIONS entry.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import requests

from releng import layout
from releng.announce.compose import link
from releng.digests import hash_stream
from releng.errors import ReleaseError, UsageError
from releng.github.base import DEFAULT_API_URL
from releng.objectstore.base import ObjectExistsError, ObjectStore
from releng.packages.sources import RepositorySource
from releng.profile import GitHubReleaseMode, Profile, Targets
from releng.templates import render
from releng.version import parse_tag

if TYPE_CHECKING:
    from github.GithubException import GithubException

log = logging.getLogger(__name__)

PAGE_FILE = "github-release.md"


@dataclass(frozen=True)
class ReleaseAsset:
    """A file attached to the release, with the digests listed in the body."""

    name: str
    path: Path
    sha256: str
    sha512: str


@dataclass(frozen=True)
class GitHubReleaseResult:
    """What happened: the mode, the rendered body and where it went."""

    mode: str  # render | publish | bucket
    tag: str
    name: str
    body: str
    prerelease: bool
    make_latest: bool
    location: str = ""  # release page URL (publish) or object URL (bucket); "" for render
    created: bool | None = None  # publish: True when a new release was created, False when updated
    assets: tuple[ReleaseAsset, ...] = field(default_factory=tuple)


def hash_asset(path: Path) -> ReleaseAsset:
    """sha256 and sha512 of one asset in a single read; an unreadable asset is a usage error (a bad --asset)."""
    try:
        with path.open("rb") as f:
            digests = hash_stream(f)
    except OSError as exc:
        raise UsageError(f"github release: asset {path} cannot be read: {exc.strerror}") from exc
    return ReleaseAsset(name=path.name, path=path, sha256=digests["sha256"], sha512=digests["sha512"])


def is_prerelease(tag: str) -> bool:
    """krel: a release is a prerelease iff its tag has a pre-release part (v1.30.0-rc.1)."""
    return bool(parse_tag(tag).prerelease)


def render_release_page(profile: Profile, tag: str, assets: Sequence[ReleaseAsset] = (), notes: str = "",
                        packages: Sequence[RepositorySource] = (), signing_key_url: str = "") -> str:
    """The release body: intro (announce list + CHANGELOG link), 'See the CHANGELOG', the package repositories the
    release published to, the public key its signatures check against (when signed), notes, asset digests."""
    changelog_url = link(profile.links.changelog, tag)
    return render(
        "announce/github-release.md.j2",
        profile_dir=profile.template_dir(),
        logo="",
        product=profile.product,
        tag=tag,
        announce_list_url=profile.links.announce_list,
        announce_list_name=profile.links.announce_list.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1],
        changelog_url=changelog_url,
        notes=notes.strip(),
        assets=list(assets),
        packages=list(packages),
        signing_key_url=signing_key_url,
    )


def update_github_release(
    profile: Profile,
    targets: Targets,
    tag: str,
    *,
    assets: Sequence[Path] = (),
    notes: str = "",
    token: str = "",
    api_url: str = DEFAULT_API_URL,
    store: ObjectStore | None = None,
    open_store: Callable[[str], ObjectStore] | None = None,
    packages: Sequence[RepositorySource] = (),
    signing_key_url: str = "",
) -> GitHubReleaseResult:
    """Render the release page for `tag` and send it where `targets.github_release` says (see PAGE_DESTINATIONS);
    `packages` and `signing_key_url` as the release names them (releng.announce.links).

    "bucket" writes into `store` (default: open `targets.bucket`, only when it is written).
    """

    def bucket_store() -> ObjectStore:
        if store is not None:
            return store
        if open_store is None:
            from releng.objectstore import open_store as default_open

            return default_open(targets.bucket)
        return open_store(targets.bucket)

    return send_release_page(profile, targets.github_release, tag, assets=assets, notes=notes, token=token,
                             api_url=api_url, store=bucket_store, packages=packages, signing_key_url=signing_key_url)


@dataclass(frozen=True)
class PageSink:
    """What a destination may need: the repository and token for the API, the bucket (opened when written)."""

    org: str
    repo: str
    token: str
    api_url: str
    store: Callable[[], ObjectStore]


class PageDestination(Protocol):
    """Where a rendered release page goes; returns the result with its location."""

    def __call__(self, result: GitHubReleaseResult, sink: PageSink) -> GitHubReleaseResult: ...


def _render_only(result: GitHubReleaseResult, sink: PageSink) -> GitHubReleaseResult:
    return result


def _to_bucket(result: GitHubReleaseResult, sink: PageSink) -> GitHubReleaseResult:
    return _write_to_bucket(result, sink.store())


def _to_github(result: GitHubReleaseResult, sink: PageSink) -> GitHubReleaseResult:
    return _publish(result, sink.org, sink.repo, sink.token, sink.api_url)


# The profile's `github_release` values are this dict's keys (GitHubReleaseMode lists them for the type checker):
# "render" returns the body and publishes nothing (mock); "publish" creates or updates the release of
# upstream org/repo through the GitHub API (name = tag, prerelease iff the tag has a pre-release part, latest only
# for non-prereleases, existing assets replaced); "bucket" writes release/<tag>/github-release.md once (the same
# body again is a no-op, another body is refused like any released object).
PAGE_DESTINATIONS: dict[GitHubReleaseMode, PageDestination] = {
    "render": _render_only,
    "publish": _to_github,
    "bucket": _to_bucket,
}


def send_release_page(
    profile: Profile,
    mode: GitHubReleaseMode,
    tag: str,
    *,
    assets: Sequence[Path] = (),
    notes: str = "",
    token: str = "",
    api_url: str = DEFAULT_API_URL,
    store: Callable[[], ObjectStore],
    packages: Sequence[RepositorySource] = (),
    signing_key_url: str = "",
) -> GitHubReleaseResult:
    """Render the release page for `tag` (naming the package repositories the release published to and the public
    key its signatures check against, if any) and send it to mode's destination."""
    prerelease = is_prerelease(tag)
    hashed = tuple(hash_asset(Path(p)) for p in assets)
    body = render_release_page(profile, tag, hashed, notes, packages, signing_key_url)
    result = GitHubReleaseResult(
        mode=mode,
        tag=tag,
        name=tag,
        body=body,
        prerelease=prerelease,
        make_latest=not prerelease,
        assets=hashed,
    )
    destination = PAGE_DESTINATIONS.get(mode)  # a Profile built in code is not validated: check here too
    if destination is None:
        raise UsageError(f"github release: unknown mode {mode!r}: expected render, publish or bucket")
    return destination(result, PageSink(profile.upstream.org, profile.upstream.repo, token, api_url, store))


def page_key(tag: str) -> str:
    """Where bucket mode keeps the page: next to the release (release/<tag>/github-release.md)."""
    return layout.release_key(tag, PAGE_FILE)


def check_bucket_page(store: ObjectStore, tag: str, body: str) -> bool:
    """True when the published page already holds body; a page with other content is refused (write-once)."""
    key = page_key(tag)
    current = store.read_generation(key)
    if current is None:
        return False
    if current[0] != body.encode("utf-8"):
        raise ObjectExistsError.for_key(store.url, key)
    return True


def _write_to_bucket(result: GitHubReleaseResult, store: ObjectStore) -> GitHubReleaseResult:
    key = page_key(result.tag)
    # A published page is a released object: the same content is a no-op, other content is refused.
    if not check_bucket_page(store, result.tag, result.body):
        store.put_new(key, result.body.encode("utf-8"), content_type="text/markdown")
    return dataclasses.replace(result, location=f"{store.url.rstrip('/')}/{key}")


def _publish(result: GitHubReleaseResult, org: str, repo_name: str, token: str, api_url: str) -> GitHubReleaseResult:
    if not token:
        raise UsageError("github release: publishing needs GITHUB_TOKEN in the environment")
    slug = f"{org}/{repo_name}"
    where = f"github release {result.tag} in {slug}"
    # PyGithub takes half a second to import; only publishing needs it.
    import github
    from github import Auth, Github
    from github.GithubException import GithubException

    # No client-side throttle: a release is a handful of calls (PyGithub's default sleeps 1 s per write).
    gh = Github(
        base_url=api_url, auth=Auth.Token(token), retry=None, seconds_between_requests=0, seconds_between_writes=0
    )
    try:
        repo = gh.get_repo(slug)
        try:
            repo.get_git_ref(f"tags/{result.tag}")
        except github.UnknownObjectException:
            raise ReleaseError(f"{where}: tag {result.tag} is not on GitHub; push it before the release page") from None
        existing = next((r for r in repo.get_releases() if r.tag_name == result.tag), None)
        make_latest = "true" if result.make_latest else "false"
        if existing is None:
            log.info("creating the %s release on GitHub", result.tag)
            release = repo.create_git_release(
                result.tag, name=result.name, message=result.body, draft=False,
                prerelease=result.prerelease, make_latest=make_latest,
            )
        else:
            log.info("updating the existing %s release (id %s) on GitHub", result.tag, existing.id)
            release = existing.update_release(
                name=result.name, message=result.body, draft=False,
                prerelease=result.prerelease, make_latest=make_latest,
            )
        for old in release.get_assets():
            log.info("deleting release asset %s", old.name)
            old.delete_asset()
        for asset in result.assets:
            content_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
            release.upload_asset(str(asset.path), name=asset.name, content_type=content_type)
        return dataclasses.replace(result, location=release.html_url, created=existing is None)
    except GithubException as exc:
        raise ReleaseError(f"{where}: GitHub answered {exc.status}: {_message(exc)}") from None
    except requests.RequestException as exc:
        raise ReleaseError(f"{where}: cannot reach the GitHub API at {api_url}: {type(exc).__name__}") from None


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return str(data)[:200] if data else "no message"
