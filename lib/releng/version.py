"""krel's version rules: build versions, release tags, branches, and the versions a release cuts.

Follows kubernetes/release pkg/release/release_version.go (GenerateReleaseVersion), branch_checker.go (NeedsCreation),
pkg/gcp/gcb Options.Validate, IsValidReleaseBuild, and k/k hack/lib/version.sh for `git describe` output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import semver

from releng.errors import UsageError

ALPHA = "alpha"
BETA = "beta"
RC = "rc"
OFFICIAL = "official"
RELEASE_TYPES = (ALPHA, BETA, RC, OFFICIAL)
DEFAULT_BRANCHES = ("master", "main")

# Character classes are spelled out and every pattern is used with fullmatch: Python's \d matches non-ASCII digits
# and $ matches before a trailing newline, either of which would let a string parse and fail to round-trip.
_NUM = r"(?:0|[1-9][0-9]*)"
# A pre-release label must hold a letter so that `-rc.1` (label) and `-3` (distance to a final tag) never overlap.
_LABEL = r"[0-9A-Za-z]*[A-Za-z][0-9A-Za-z]*"
_SHA = r"[0-9a-f]{5,40}"

_BUILD_RE = re.compile(
    rf"v(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<label>{_LABEL})\.(?P<label_id>{_NUM})(?:\.(?P<commits>{_NUM})\+(?P<sha>{_SHA}))?"
    rf"|-(?P<distance>{_NUM})\+(?P<dsha>{_SHA}))?"
    r"(?P<dirty>-dirty)?",
    re.ASCII,
)
_TAG_RE = re.compile(
    rf"v(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})(?:-(?P<label>alpha|beta|rc)\.(?P<label_id>{_NUM}))?",
    re.ASCII,
)
_PRE_ID = rf"(?:{_NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER_RE = re.compile(
    rf"v?{_NUM}\.{_NUM}\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?",
    re.ASCII,
)
_BRANCH_RE = re.compile(rf"release-(?P<major>{_NUM})\.(?P<minor>{_NUM})", re.ASCII)
# hack/lib/version.sh runs `git describe --tags --match='v*' --abbrev=14`; the tree state adds `-dirty`.
_DESCRIBE_RE = re.compile(
    rf"(?P<tag>v{_NUM}\.{_NUM}\.{_NUM}(?P<pre>-{_LABEL}\.{_NUM})?)"
    rf"(?:-(?P<distance>[0-9]+)-g(?P<sha>{_SHA}))?(?P<dirty>-dirty)?",
    re.ASCII,
)


class InvalidVersionError(UsageError):
    """A version, tag, branch or release type does not have the form krel expects."""

    @classmethod
    def build_version(cls, text: str) -> InvalidVersionError:
        return cls(f"invalid build version {text!r}: expected vX.Y.Z[-label.N.M]+<sha>")

    @classmethod
    def tag(cls, text: str) -> InvalidVersionError:
        return cls(f"invalid release tag {text!r}: expected vX.Y.Z or vX.Y.Z-(alpha|beta|rc).N")

    @classmethod
    def semver(cls, text: str) -> InvalidVersionError:
        return cls(f"invalid version {text!r}: expected [v]X.Y.Z[-pre][+build] (semver 2)")

    @classmethod
    def describe(cls, text: str) -> InvalidVersionError:
        return cls(f"invalid git describe output {text!r}: expected vX.Y.Z[-label.N][-<commits>-g<sha>][-dirty]")


@dataclass(frozen=True)
class BuildVersion:
    """A CI build version such as v1.20.0-alpha.2.1273+4e9bdd481e2400; str() gives the original text back."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    sha: str | None = None
    dirty: bool = False

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        if self.sha:
            text += "+" + self.sha
        return text + ("-dirty" if self.dirty else "")

    @property
    def label(self) -> str:
        """krel's `v.Pre[0]`: alpha, beta, rc, or the commit count of v1.18.4-3+sha; empty when there is none."""
        return self.pre[0] if self.pre else ""

    @property
    def label_id(self) -> int | None:
        """The number after the label (`2` in alpha.2), or None: krel's labelIDAvailable."""
        return int(self.pre[1]) if len(self.pre) > 1 and self.pre[1].isdigit() else None

    @property
    def commit(self) -> str:
        """What to tag: the sha after `+`, or the tag itself for a build made exactly on a tag."""
        return self.sha or str(BuildVersion(self.major, self.minor, self.patch, self.pre))

    def to_semver(self) -> semver.Version:
        """The same version as a semver.Version (no leading v)."""
        return semver.Version.parse(str(self)[1:])


@dataclass(frozen=True)
class Versions:
    """The versions one release job cuts; prime is the one the job is named after (krel's release.Versions)."""

    prime: str
    official: str | None = None
    rc: str | None = None
    beta: str | None = None
    alpha: str | None = None

    def ordered(self) -> list[str]:
        """official, rc, beta, alpha, leaving out the empty ones: the order tags are created and pushed."""
        return [v for v in (self.official, self.rc, self.beta, self.alpha) if v]


def parse_build_version(text: str) -> BuildVersion:
    """Parse and validate a build version (krel IsValidReleaseBuild, anchored; a `+` requires a 5-40 hex sha)."""
    m = _BUILD_RE.fullmatch(text)
    if m is None:
        raise InvalidVersionError.build_version(text)
    pre: tuple[str, ...] = ()
    if m["label"] is not None:
        pre = (m["label"], m["label_id"]) + ((m["commits"],) if m["commits"] is not None else ())
    elif m["distance"] is not None:
        pre = (m["distance"],)
    return BuildVersion(
        major=int(m["major"]),
        minor=int(m["minor"]),
        patch=int(m["patch"]),
        pre=pre,
        sha=m["sha"] or m["dsha"],
        dirty=m["dirty"] is not None,
    )


def parse_tag(tag: str) -> semver.Version:
    """Parse a release tag (v1.2.3, v1.2.3-rc.1); anything else raises InvalidVersionError."""
    m = _TAG_RE.fullmatch(tag)
    if m is None:
        raise InvalidVersionError.tag(tag)
    pre = f"{m['label']}.{m['label_id']}" if m["label"] else None
    return semver.Version(int(m["major"]), int(m["minor"]), int(m["patch"]), pre)


def parse_semver(text: str) -> semver.Version:
    """Parse any semver 2 version with an optional leading v (krel util.TagStringToSemver)."""
    if _SEMVER_RE.fullmatch(text) is None:
        raise InvalidVersionError.semver(text)
    return semver.Version.parse(text.removeprefix("v"))


def release_type_of(tag: str) -> str:
    """alpha, beta, rc or official, from a release tag's pre-release label."""
    version = parse_tag(tag)
    return str(version.prerelease).split(".")[0] if version.prerelease else OFFICIAL


def validate_release_type(release_type: str) -> str:
    """Return the release type if krel knows it (alpha, beta, rc, official), else raise UsageError."""
    if release_type not in RELEASE_TYPES:
        raise UsageError(f"invalid release type {release_type!r}: expected one of {', '.join(RELEASE_TYPES)}")
    return release_type


def is_release_branch(branch: str) -> bool:
    """True for release-X.Y branch names."""
    return release_branch_minor(branch) is not None


def release_branch_minor(branch: str) -> tuple[int, int] | None:
    """(X, Y) of a release-X.Y branch name, None for any other name (the one definition of the pattern)."""
    found = _BRANCH_RE.fullmatch(branch)
    return (int(found["major"]), int(found["minor"])) if found else None


def validate_branch(branch: str) -> str:
    """Return the branch if it is master, main or release-X.Y, else raise UsageError."""
    if branch not in DEFAULT_BRANCHES and not is_release_branch(branch):
        raise UsageError(f"invalid branch {branch!r}: expected master, main or release-X.Y")
    return branch


def release_branch_for(version: str | BuildVersion | semver.Version) -> str:
    """The release-X.Y branch a build version or tag belongs to."""
    if isinstance(version, str):
        version = parse_build_version(version)
    return f"release-{version.major}.{version.minor}"


def check_release(release_type: str, build_version: BuildVersion, branch: str, branch_is_new: bool) -> None:
    """Refuse a type/branch/build combination krel refuses (gcb Options.Validate and BranchChecker.NeedsCreation)."""
    validate_release_type(release_type)
    validate_branch(branch)
    if branch in DEFAULT_BRANCHES:
        if branch_is_new:
            raise UsageError(f"branch {branch} cannot be new: only release-X.Y branches are created by a release")
        if release_type in (RC, OFFICIAL):
            raise UsageError(f"cannot cut a release candidate or an official release from {branch}")
        return
    if release_type in (ALPHA, BETA):
        raise UsageError(f"cannot cut an alpha or beta release from a release branch ({branch})")
    if branch_is_new and release_type == OFFICIAL:
        raise UsageError(f"can't do official releases when creating a new branch ({branch}): cut an rc first")
    required = release_branch_for(build_version)
    if branch != required:
        raise UsageError(f"branch and build version does not match, got: {branch}, required: {required}")


def generate_versions(
    release_type: str, build_version: str | BuildVersion, branch: str, branch_is_new: bool
) -> Versions:
    """The versions a release of this type cuts from this build on this branch (krel GenerateReleaseVersion)."""
    validate_release_type(release_type)
    validate_branch(branch)
    bv = parse_build_version(build_version) if isinstance(build_version, str) else build_version
    check_release(release_type, bv, branch, branch_is_new)
    label_id = bv.label_id
    next_id = 1 if label_id is None else label_id + 1

    if branch_is_new:
        # A new release-X.Y branch: rc.0 on the branch, and master moves on to the next minor's alpha.0.
        rc = f"v{bv.major}.{bv.minor}.0-rc.0"
        return Versions(prime=rc, rc=rc, alpha=f"v{bv.major}.{bv.minor + 1}.0-alpha.0")
    if is_release_branch(branch):
        # A build with a label id (v1.18.4-rc.0.3+sha) already names the coming patch; one without
        # (v1.18.3-5+sha, built after the v1.18.3 tag) is past it, so the patch goes up.
        base = f"v{bv.major}.{bv.minor}.{bv.patch if label_id is not None else bv.patch + 1}"
        if release_type == OFFICIAL:
            return Versions(prime=base, official=base)
        rc = f"{base}-rc.{next_id}"
        return Versions(prime=rc, rc=rc)
    core = f"v{bv.major}.{bv.minor}.{bv.patch}"
    if release_type == BETA:
        if bv.label == ALPHA:
            beta = f"{core}-beta.0"
        elif bv.label == BETA:
            beta = f"{core}-beta.{next_id}"
        else:
            # krel would emit `<label>.<N+1>` here (an rc, or an invalid tag with no label); refuse instead.
            raise UsageError(
                f"cannot cut a beta tag after a non-alpha/beta build {bv}: expected an alpha or beta build version"
            )
        return Versions(prime=beta, beta=beta)
    if bv.label != ALPHA:
        raise UsageError(
            f"cannot cut an alpha tag after a non-alpha release {bv}. please specify an allowed release type ('beta')"
        )
    alpha = f"{core}-alpha.{next_id}"
    return Versions(prime=alpha, alpha=alpha)


def release_versions(
    release_type: str, build_version: str | BuildVersion, branch: str, branch_is_new: bool
) -> list[str]:
    """The versions to tag, prime first (krel Versions.Ordered)."""
    return generate_versions(release_type, build_version, branch, branch_is_new).ordered()


def build_version_from_describe(output: str) -> str:
    """Turn `git describe --tags --abbrev=14` output into a build version, as k/k hack/lib/version.sh does."""
    text = output.strip()
    m = _DESCRIBE_RE.fullmatch(text)
    if m is None:
        raise InvalidVersionError.describe(text)
    version = m["tag"]
    if m["distance"] is not None:
        # Three dashes (v1.18.0-rc.1-5-g<sha>) => distance to a pre-release tag joins its pre-release with a dot;
        # two dashes (v1.18.4-3-g<sha>) => distance to a final tag becomes the pre-release itself.
        sep = "." if m["pre"] else "-"
        version += f"{sep}{int(m['distance'])}+{m['sha']}"
    version += m["dirty"] or ""
    parse_build_version(version)
    return version
