"""The announcement: data for the release and branch-cut templates, the subject line, and writing both files."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from markupsafe import Markup

from releng.errors import ReleaseError, UsageError
from releng.files import check_writable, write_atomic
from releng.packages.sources import RepositorySource
from releng.profile import Profile
from releng.templates import render
from releng.version import parse_tag, release_branch_for

ANNOUNCEMENT_FILE = "announcement.html"
SUBJECT_FILE = "announcement-subject.txt"

# krel keeps the first dotted number of `go version` (`go version go1.22.4 linux/amd64` -> 1.22.4).
_GO_VERSION = re.compile(r"([0-9]+)(\.[0-9]+)?(\.[0-9]+)")


@dataclass(frozen=True)
class Announcement:
    """A rendered announcement: which variant, its subject line and its HTML."""

    kind: str  # "release" or "branch"
    tag: str
    subject: str
    html: str


def link(template: str, tag: str, branch: str = "") -> str:
    """Fill a profile link's runtime placeholders ({major}, {minor}, {patch}, {tag}, {version}, {branch}).

    A link the profile leaves empty stays '' (and the tag is not looked at).
    """
    if not template:
        return ""
    version = parse_tag(tag)
    values = {
        "major": str(version.major),
        "minor": str(version.minor),
        "patch": str(version.patch),
        "tag": tag,
        "version": tag.removeprefix("v"),
        "branch": branch or release_branch_for(version),
    }
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"profile link {template!r}: cannot fill placeholders ({exc})") from exc


def subject_for(profile: Profile, tag: str) -> str:
    """krel's subject for a release mail: '<Product> <tag> is live!'."""
    return render("announce/release-subject.txt.j2", profile_dir=profile.template_dir(), product=profile.product,
                  tag=tag).strip()


def toolchain_line(profile: Profile, go_version: str = "") -> str:
    """What the release was built with, from the profile's `announce.toolchain`: "" (absent) gives no line; "go" is
    krel's "Golang version X" (X from go_version, else `go version`, "unknown" when go is not installed, as the
    release job writes it); any other text is quoted as is."""
    toolchain = profile.announce.toolchain
    if toolchain != "go":
        return toolchain
    if not go_version:
        try:
            go_version = detect_go_version()
        except ReleaseError:
            go_version = "unknown"
    return f"Golang version {go_version}"


def parse_go_version(output: str) -> str:
    """The version number from `go version` output, as krel extracts it."""
    match = _GO_VERSION.search(output)
    if match is None:
        raise ReleaseError(f"announce: cannot find a Go version in {output.strip()!r}")
    return match.group(0)


def detect_go_version(run: Callable[[list[str]], str] | None = None) -> str:
    """Run `go version` and return its version; a clear error when go is not installed."""
    runner = run or _run
    return parse_go_version(runner(["go", "version"]))


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    except FileNotFoundError as exc:
        raise UsageError(f"announce: {argv[0]} is not installed; pass the toolchain version with --go-version") from exc
    except (subprocess.SubprocessError, OSError) as exc:
        raise ReleaseError(f"announce: {' '.join(argv)} failed: {exc}") from exc
    return out.stdout


def build_announcement(
    profile: Profile,
    tag: str,
    *,
    go_version: str = "",
    changelog_html: str = "",
    packages: Sequence[RepositorySource] = (),
    signing_key_url: str = "",
) -> Announcement:
    """The release announcement for `tag` (krel's CreateForRelease text for the kubernetes profile); `packages`:
    the repositories the release published its packages to (named with the lines users add); `signing_key_url`: the
    public key the release's signatures check against ("" when the targets sign nothing)."""
    parse_tag(tag)
    changelog_url = link(profile.links.changelog, tag)
    html = render(
        "announce/release.html.j2",
        profile_dir=profile.template_dir(),
        product=profile.product,
        tag=tag,
        toolchain=toolchain_line(profile, go_version),
        changelog_url=changelog_url,
        changelog_name=PurePosixPath(changelog_url).name if changelog_url else "CHANGELOG",
        github_release_url=link(profile.links.github_release, tag),
        # HTML by contract: the notes page stage rendered from sanitised markdown (or the --changelog-html file).
        changelog_html=Markup(changelog_html.strip("\n")),
        managers_url=profile.links.release_managers,
        packages=packages,
        signing_key_url=signing_key_url,
    )
    return Announcement(kind="release", tag=tag, subject=subject_for(profile, tag), html=html)


def build_branch_announcement(profile: Profile, tag: str, branch: str) -> Announcement:
    """The branch-cut announcement ('<Product>'s release-X.Y branch has been created.')."""
    if not re.fullmatch(r"release-\d+\.\d+", branch):
        raise UsageError(f"announce: branch {branch!r} is not a release branch: expected release-X.Y")
    parse_tag(tag)
    html = render(
        "announce/branch.html.j2",
        profile_dir=profile.template_dir(),
        product=profile.product,
        branch=branch,
        cherry_picks_url=profile.links.cherry_picks,
        managers_url=profile.links.release_managers,
    )
    subject = render("announce/branch-subject.txt.j2", profile_dir=profile.template_dir(), product=profile.product,
                     branch=branch).strip()
    return Announcement(kind="branch", tag=tag, subject=subject, html=html)


def write_announcement(announcement: Announcement, work_dir: Path) -> tuple[Path, Path]:
    """Write announcement.html and announcement-subject.txt into work_dir; returns both paths.

    Neither file is written through a symlink left in work_dir (UnsafePathError before anything is written).
    """
    html_path = work_dir / ANNOUNCEMENT_FILE
    subject_path = work_dir / SUBJECT_FILE
    try:
        for path in (html_path, subject_path):
            check_writable(path, base=work_dir)
        write_atomic(html_path, announcement.html, base=work_dir)
        write_atomic(subject_path, announcement.subject, base=work_dir)
    except OSError as exc:
        raise ReleaseError(f"announce: cannot write the announcement into {work_dir}: {exc.strerror}") from exc
    return html_path, subject_path


def read_input(path: Path, what: str) -> str:
    """A text file named on the command line (changelog HTML, release notes); UsageError naming it when unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"announce: cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"announce: {what} {path} is not UTF-8 text (byte {exc.start})") from exc
