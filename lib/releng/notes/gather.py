"""Gather notes (the notes' observe phase, all their I/O): first-parent walk end -> merge-base(start, end), PR data,
extraction, maps, dedupe; the tarballs' sha512 and the release images on disk for the document."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from releng import git
from releng.digests import hash_file
from releng.errors import UsageError
from releng.github.base import GitHubError, Progress, PullRequests
from releng.notes import extract, maps
from releng.notes.note import ReleaseNote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gathered:
    """The notes of a revision range, newest first, and what the walk saw."""

    start: str
    end: str
    commits: int
    pull_requests: int
    notes: tuple[ReleaseNote, ...]
    excluded: tuple[int, ...]  # PRs walked that yield no note (NONE, empty, release-note-none without a map)


def resolve(repo: Path, rev: str) -> str:
    """Full sha of rev; UsageError naming the repository when it is unknown."""
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        raise UsageError(f"{repo} is not a git repository")
    try:
        return git.rev_parse(repo, rev)
    except git.GitError:
        raise UsageError(f"unknown revision {rev!r} in {repo}") from None


def check_range(repo: Path, start: str, end: str, start_name: str, end_name: str) -> None:
    """The start revision must not be a descendant of the end revision."""
    if start != end and git.is_ancestor(repo, end, start):
        raise UsageError(f"start revision {start_name} ({start[:12]}) is after end revision {end_name} ({end[:12]})")


def gather(
    repo: Path,
    start_rev: str,
    end_rev: str,
    prs: PullRequests,
    maps_from: tuple[Path, ...] = (),
    progress: Progress | None = None,
) -> Gathered:
    """krel's notes gathering over [merge-base(start, end), end] with maps applied and identical notes deduped."""
    start, end = resolve(repo, start_rev), resolve(repo, end_rev)
    check_range(repo, start, end, start_rev, end_rev)
    note_maps = maps.load_maps(list(maps_from))  # a malformed map fails before any request
    commits = git.first_parent_commits(repo, end, start)
    walked: dict[int, str] = {}
    for commit in commits:
        if commit.pr is not None and commit.pr not in walked:
            walked[commit.pr] = commit.sha
    data = prs.get(list(walked), progress)
    origins = {n: o for n, pr in data.items() if (o := extract.origin_pr(pr)) is not None}
    origin_data = {}
    if origins:
        try:
            origin_data = prs.get(sorted(set(origins.values())))
        except GitHubError as exc:
            log.warning("cherry-pick origins unavailable, keeping the robot as author: %s", exc)
    notes: list[ReleaseNote] = []
    excluded: list[int] = []
    seen: set[str] = set()
    for number, sha in walked.items():
        pr = data[number]
        note = extract.note_from_pr(pr, sha, origin_data.get(origins.get(number, -1)))
        if number in note_maps:
            note = note or extract.base_note(pr, sha, "")
            for note_map in note_maps[number]:
                note = maps.apply(note, note_map)
            if not note.text:
                note = None
        if note is None:
            excluded.append(number)
            continue
        if note.markdown in seen:
            continue
        seen.add(note.markdown)
        notes.append(note)
    return Gathered(start, end, len(commits), len(walked), tuple(notes), tuple(excluded))


def tarballs(tars_dir: Path) -> dict[str, str]:
    """{name: sha512} of the `*.tar.gz` files in tars_dir, for document.downloads."""
    if not tars_dir.is_dir():
        raise UsageError(f"tarball directory {tars_dir} does not exist")
    names = sorted(p.name for p in tars_dir.iterdir() if p.is_file() and p.name.endswith(".tar.gz"))
    return {n: hash_file(tars_dir / n, ("sha512",))[0] for n in names}


def images_from_dir(release_images: Path) -> list[tuple[str, list[str]]]:
    """(name, arches) from `<dir>/<arch>/<name>[-<arch>].tar`, as krel reads _output/release-images."""
    if not release_images.is_dir():
        raise UsageError(f"release images directory {release_images} does not exist")
    found: dict[str, list[str]] = {}
    for arch_dir in sorted(p for p in release_images.iterdir() if p.is_dir()):
        arch = arch_dir.name
        for tar in sorted(arch_dir.glob("*.tar")):
            name = tar.stem.removesuffix(f"-{arch}")
            found.setdefault(name, []).append(arch)
    return sorted(found.items())
