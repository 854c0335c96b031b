"""Which revisions a changelog covers: krel's start-revision rules and the branch head as end."""

from __future__ import annotations

from pathlib import Path

from releng import git
from releng.errors import UsageError
from releng.version import parse_tag, release_branch_for


def release_branch(tag: str) -> str:
    """release-X.Y for vX.Y.Z[-pre]."""
    return release_branch_for(parse_tag(tag))


def needs_draft(tag: str) -> bool:
    """X.Y.0 finals take the curated sig-release draft instead of regenerated notes."""
    version = parse_tag(tag)
    return version.patch == 0 and not version.prerelease


def start_tag(repo: Path, tag: str, end: str) -> str:
    """krel: previous patch for vX.Y.Z (Z>0); vX.(Y-1).0 for X.Y.0 and alpha.1; else the latest tag on the branch."""
    version = parse_tag(tag)
    if version.patch > 0 and not version.prerelease:
        return f"v{version.major}.{version.minor}.{version.patch - 1}"
    if version.patch == 0 and (not version.prerelease or version.prerelease == "alpha.1"):
        if version.minor == 0:
            raise UsageError(f"{tag}: no previous minor release to start from; pass --start-rev")
        return f"v{version.major}.{version.minor - 1}.0"
    reachable = git.merged_tags(repo, end)
    older = []
    for name in reachable:
        try:
            candidate = parse_tag(name)
        except UsageError:
            continue
        if candidate.compare(version) < 0:
            older.append((candidate, name))
    if not older:
        raise UsageError(f"{tag}: no earlier release tag is reachable from {end}; pass --start-rev")
    return max(older, key=lambda pair: pair[0])[1]


def end_revision(repo: Path, branch: str, remote: str = "origin") -> str:
    """The branch head (local branch first, else the remote-tracking one), as krel takes the end revision."""
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"):
        if git.ref_exists(repo, ref):
            return ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    raise UsageError(f"branch {branch!r} not found in {repo} (neither local nor {remote}/{branch})")

