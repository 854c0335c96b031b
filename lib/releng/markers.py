"""Version markers (stable|latest[-MAJ[.MIN]].txt) and the forward-only rule for moving them.

Follows kubernetes/release pkg/release/publish.go (PublishVersion, VerifyLatestUpdate, IsUpToDate). Pure: the caller
reads the published marker and writes the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

import semver

from releng.errors import ReleaseError, UsageError
from releng.version import ALPHA, BETA, RC, parse_semver

BUILD_TYPES = ("release", "ci")


class MarkerContentError(ReleaseError):
    """A published marker holds something that is not a version."""

    @classmethod
    def for_content(cls, content: str) -> MarkerContentError:
        return cls(f"published version marker holds {content!r}: expected a version like v1.20.0")


class MarkerBackwardsError(ReleaseError):
    """The minor line's marker already names a newer version: releasing an older one would move it backwards."""

    @classmethod
    def for_marker(cls, url: str, key: str, published: str, version: str) -> MarkerBackwardsError:
        return cls(f"{url}/{key} holds {published}, newer than {version}; markers never move backwards")


def marker_base(version: str, build_type: str = "release") -> str:
    """`stable` for a release build without alpha/beta/rc in its version, else `latest` (krel PublishVersion)."""
    if build_type not in BUILD_TYPES:
        raise UsageError(f"invalid build type {build_type!r}: expected one of {', '.join(BUILD_TYPES)}")
    # krel checks for the substrings, not the parsed pre-release; kept so the same versions get the same markers.
    if build_type == "release" and not any(label in version for label in (ALPHA, BETA, RC)):
        return "stable"
    return "latest"


def marker_names(
    version: str, build_type: str = "release", *, fast: bool = False, extra: Sequence[str] = ()
) -> list[str]:
    """Marker file names for a version: <base>.txt, <base>-MAJ.txt, <base>-MAJ.MIN.txt (fast: <base>-fast.txt)."""
    base = marker_base(version, build_type)
    parsed = parse_semver(version)
    names = [f"{base}-fast"] if fast else [base, f"{base}-{parsed.major}", f"{base}-{parsed.major}.{parsed.minor}"]
    return [f"{name}.txt" for name in [*names, *extra]]


def needs_update(published: str | None, new: str) -> bool:
    """True when a marker holding `published` (None: missing) should move to `new`: only ever forward."""
    new_version = parse_semver(new)
    if published is None:
        return True
    content = published.strip()
    try:
        old_version = parse_semver(content)
    except UsageError:
        raise MarkerContentError.for_content(content) from None
    return not _is_up_to_date(old_version, new_version)


def _is_up_to_date(old: semver.Version, new: semver.Version) -> bool:
    """krel IsUpToDate: new <= old by semver (build metadata ignored), with one exception for CI builds."""
    old_pre = str(old.prerelease).split(".") if old.prerelease else []
    new_pre = str(new.prerelease).split(".") if new.prerelease else []
    # After the final tag, CI builds look like 1.30.0-11+sha, which semver ranks below 1.30.0-rc.2.10+sha
    # (numeric identifiers sort before alphanumeric ones) although it is newer. The core-version guard keeps an
    # older branch's 1.28.1-2+sha from replacing 1.29.0-rc.0.20+sha.
    if (
        len(old_pre) == 3
        and old_pre[0] == RC
        and len(new_pre) == 1
        and new_pre[0].isdigit()
        and (new.major, new.minor, new.patch) >= (old.major, old.minor, old.patch)
    ):
        return False
    return bool(new.compare(old) <= 0)


def published(content: bytes | None) -> str | None:
    """The version a marker object holds (None when absent); undecodable bytes stay visible in the error they cause."""
    return content.decode("utf-8", "replace").strip() if content is not None else None


def moved_content(url: str, key: str, content: bytes | None, version: str, guarded: bool) -> bytes | None:
    """The marker's new content when it moves to version, None when it stays (check_move's rule, for update())."""
    return version.encode() if check_move(url, key, published(content), version, guarded) else None


def check_move(url: str, key: str, published: str | None, version: str, guarded: bool) -> bool:
    """True when the marker at key should move to version; a guarded (minor line) marker never moves back.

    krel PublishVersion: the wider markers (latest.txt, latest-1.txt) just stay when a newer line holds them; the
    version's own minor-line marker holding a newer version means this release is stale, which is an error.
    """
    if needs_update(published, version):
        return True
    if guarded and published is not None and published.strip() != version:
        raise MarkerBackwardsError.for_marker(url, key, published.strip(), version)
    return False
