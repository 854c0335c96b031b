"""`krel changelog`: notes for a tag written into CHANGELOG/CHANGELOG-X.Y.md, HTML and JSON, committed like krel.

The single entry point (also called by the stage job, with push="none"):

    write_changelog(options: ChangelogOptions, progress: Progress | None = None) -> ChangelogResult

ChangelogOptions(repo: Path, tag: str, pull_requests: PullRequests, author: Author,
    branch: str | None = None,            # default release-X.Y from the tag
    start_rev: str | None = None,         # default: krel's rules (previous patch / previous minor / latest tag)
    end_rev: str | None = None,           # default: the branch head
    maps_from: tuple[Path, ...] = (), tars_dir: Path | None = None,
    images: tuple[tuple[str, tuple[str, ...]], ...] = (), image_registry: str = "registry.k8s.io",
    download_url: str = "https://dl.k8s.io", dependencies: bool = True, draft: Path | None = None,
    html_file: Path | None = None, json_file: Path | None = None,
    push: str = "none",                   # "none" | "dry-run" | "push"
    remote: str = "origin", master: str = "master")
ChangelogResult(tag, branch, start_rev, end_sha, markdown, html, notes_json, path, commits, counts, pushed)

Everything is computed before the work tree is touched, so a failure leaves no commit and no partial file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from releng import git, templates
from releng.changelog import revisions, toc
from releng.errors import ReleaseError, UsageError
from releng.files import write_atomic
from releng.github.base import Progress, PullRequests
from releng.notes import dependencies, document, gather, render
from releng.profile import Author
from releng.version import parse_tag

PUSH_MODES = ("none", "dry-run", "push")
MASTER_MESSAGE = "CHANGELOG: Update directory for {tag} release"
BRANCH_MESSAGE = "Update CHANGELOG/CHANGELOG-{major}.{minor}.md for {tag}"


@dataclass(frozen=True)
class ChangelogOptions:
    """Everything write_changelog needs; see the module docstring for defaults."""

    repo: Path
    tag: str
    pull_requests: PullRequests
    author: Author
    branch: str | None = None
    start_rev: str | None = None
    end_rev: str | None = None
    maps_from: tuple[Path, ...] = ()
    tars_dir: Path | None = None
    images: tuple[tuple[str, tuple[str, ...]], ...] = ()
    image_registry: str = document.IMAGE_REGISTRY
    download_url: str = "https://dl.k8s.io"
    dependencies: bool = True
    draft: Path | None = None
    html_file: Path | None = None
    json_file: Path | None = None
    push: str = "none"
    remote: str = "origin"
    master: str = "master"


@dataclass(frozen=True)
class ChangelogResult:
    """What write_changelog produced and committed."""

    tag: str
    branch: str
    start_rev: str
    end_sha: str
    markdown: str  # the tag's section as written into the file
    html: str
    notes_json: str
    path: str  # CHANGELOG/CHANGELOG-X.Y.md, relative to the repo
    commits: tuple[str, ...]  # shas created (empty on an idempotent rerun)
    counts: dict[str, int]  # entries per heading ("Urgent Upgrade Notes", kind titles)
    pushed: str  # git push report ("" when push is "none")
    pull_requests: int = 0  # PRs found by the walk
    excluded: tuple[int, ...] = ()  # walked PRs without a publishable note (NONE, empty, release-note-none)


def _validate(options: ChangelogOptions) -> tuple[str, str]:
    version = parse_tag(options.tag)
    if options.push not in PUSH_MODES:
        raise UsageError(f"push mode {options.push!r}: expected one of {', '.join(PUSH_MODES)}")
    if not (options.repo / ".git").exists():
        raise UsageError(f"{options.repo} is not a git work tree (krel changelog commits into a clone)")
    return f"{version.major}.{version.minor}", options.branch or revisions.release_branch(options.tag)


def _dependencies_md(repo: Path, start: str, end: str) -> str:
    before = git.show_file(repo, start, "go.mod") or ""
    after = git.show_file(repo, end, "go.mod") or ""
    return render.dependencies_markdown(dependencies.diff(before, after))


def _counts(doc: document.Document) -> dict[str, int]:
    counts = {"Urgent Upgrade Notes": len(doc.action_required)} if doc.action_required else {}
    counts.update({section.title: len(section.entries) for section in doc.kinds})
    return counts


def write_changelog(options: ChangelogOptions, progress: Progress | None = None) -> ChangelogResult:
    """Generate the tag's notes, write CHANGELOG-X.Y.md (+README, HTML, JSON), commit on master and branch, push."""
    minor, branch = _validate(options)
    repo, tag = options.repo, options.tag
    end_rev = options.end_rev or revisions.end_revision(repo, branch, options.remote)
    end_sha = gather.resolve(repo, end_rev)
    start_rev = options.start_rev or revisions.start_tag(repo, tag, end_sha)
    start_sha = gather.resolve(repo, start_rev)
    gather.check_range(repo, start_sha, end_sha, start_rev, end_rev)

    files = document.downloads(options.tars_dir, options.download_url, tag) if options.tars_dir else ()
    images = document.images([(n, list(a)) for n, a in options.images], tag, options.image_registry)
    excluded: tuple[int, ...]
    if options.draft is not None:
        # X.Y.0: the curated sig-release draft replaces regenerated notes (krel fetches it from sig-release)
        try:
            notes_md = options.draft.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"draft {options.draft}: cannot read: {exc.strerror}") from None
        draft_json = options.draft.with_suffix(".json")
        notes_json = draft_json.read_text(encoding="utf-8") if draft_json.is_file() else "{}\n"
        doc = document.build([], files, images)
        walked, excluded = 0, ()
    else:
        gathered = gather.gather(repo, start_sha, end_sha, options.pull_requests, options.maps_from, progress)
        doc = document.build(list(gathered.notes), files, images)
        notes_md = render.notes_markdown(doc)
        notes_json = render.notes_json(gathered.notes)
        walked, excluded = gathered.pull_requests, gathered.excluded
    section = templates.render(
        "changelog/section.md.j2",
        tag=tag,
        previous=start_rev,
        downloads_md=render.downloads_markdown(doc),
        notes_md=notes_md,
        dependencies_md=_dependencies_md(repo, start_sha, end_sha) if options.dependencies else "",
    )
    html = render.html(section, tag)

    path = f"CHANGELOG/CHANGELOG-{minor}.md"
    readme = "CHANGELOG/README.md"
    master = options.master
    merged = toc.merge(git.show_file(repo, master, path), section, tag, f"{master}:{path}")
    readme_text = toc.readme_with(git.show_file(repo, master, readme), f"CHANGELOG-{minor}.md")

    # Everything is known: from here on commits are made and files written.
    commits = _commit(options, branch, path, readme, merged, readme_text)
    if options.html_file:
        write_atomic(options.html_file, html)
    if options.json_file:
        write_atomic(options.json_file, notes_json)
    pushed = ""
    if options.push != "none":
        refs = [master] + ([branch] if branch != master else [])
        pushed = git.push(repo, options.remote, refs, dry_run=options.push == "dry-run")
    return ChangelogResult(
        tag=tag,
        branch=branch,
        start_rev=start_rev,
        end_sha=end_sha,
        markdown=section,
        html=html,
        notes_json=notes_json,
        path=path,
        commits=tuple(commits),
        counts=_counts(doc),
        pushed=pushed,
        pull_requests=walked,
        excluded=tuple(sorted(excluded)),
    )


def _commit(options: ChangelogOptions, branch: str, path: str, readme: str, merged: str, readme_text: str) -> list[str]:
    """krel's two commits: the file on master, then the same file on the release branch."""
    repo, tag, master = options.repo, options.tag, options.master
    version = parse_tag(tag)
    original = git.current_branch(repo) or git.rev_parse(repo, "HEAD")
    commits: list[str] = []
    try:
        git.checkout(repo, master)
        write_atomic(repo / path, merged)
        write_atomic(repo / readme, readme_text)
        sha = git.commit_paths(repo, [path, readme], MASTER_MESSAGE.format(tag=tag), options.author)
        if sha:
            commits.append(sha)
        if branch != master:
            git.checkout(repo, branch)
            changed = [path]
            if revisions.needs_draft(tag):
                # the first X.Y.0 prunes every other minor's changelog from the release branch
                for other in sorted((repo / "CHANGELOG").glob("CHANGELOG-*.md")):
                    if other.name != Path(path).name:
                        other.unlink()
                        changed.append(f"CHANGELOG/{other.name}")
            git.run(repo, "checkout", master, "--", path)
            message = BRANCH_MESSAGE.format(major=version.major, minor=version.minor, tag=tag)
            sha = git.commit_paths(repo, changed, message, options.author)
            if sha:
                commits.append(sha)
    except ReleaseError:
        _restore(repo, [path, readme])
        raise
    finally:
        git.checkout(repo, original)
    return commits


def _restore(repo: Path, paths: list[str]) -> None:
    """Undo uncommitted writes to our own paths after a failed commit (never touches other files)."""
    for p in paths:
        git.run(repo, "reset", "--quiet", "--", p, check=False)
        if git.show_file(repo, "HEAD", p) is None:
            (repo / p).unlink(missing_ok=True)
        else:
            git.run(repo, "checkout", "HEAD", "--", p, check=False)
