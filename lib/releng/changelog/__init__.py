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
    remote: str = "origin", master: str = "master",
    template_dir: Path | None = None)     # the profile's template directory: its files override the built-in ones
ChangelogResult(tag, branch, start_rev, end_sha, markdown, html, notes_json, path, commits, counts, pushed)

Everything is computed before the work tree is touched, so a failure leaves no commit and no partial file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from releng import git, templates
from releng.changelog import commit, revisions, toc
from releng.errors import UsageError
from releng.files import check_writable, write_atomic
from releng.github.base import Progress, PullRequests
from releng.notes import dependencies, document, gather, render
from releng.profile import Author
from releng.version import parse_tag

PUSH_MODES = ("none", "dry-run", "push")


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
    drop_downloads: bool = False  # a rerun may remove the Downloads / Container Images its entry listed
    template_dir: Path | None = None  # the profile's template directory, searched before the built-in templates
    signing_key_url: str = ""  # the release's public key URL when its files are signed: the Downloads name it


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


def _dependencies_md(repo: Path, start: str, end: str, template_dir: Path | None) -> str:
    before = git.show_file(repo, start, "go.mod") or ""
    after = git.show_file(repo, end, "go.mod") or ""
    return render.dependencies_markdown(dependencies.diff(before, after), profile_dir=template_dir)


def _counts(doc: document.Document) -> dict[str, int]:
    counts = {"Urgent Upgrade Notes": len(doc.action_required)} if doc.action_required else {}
    counts.update({section.title: len(section.entries) for section in doc.kinds})
    return counts


def render_section(
    doc: document.Document,
    tag: str,
    previous: str,
    notes_md: str,
    dependencies_md: str = "",
    *,
    profile_dir: Path | None = None,
) -> str:
    """The tag's CHANGELOG section (krel releaseNotesTemplate; an X.Y.0 head as krel's CreateDownloadsTable writes)."""
    needs_head = revisions.needs_draft(tag)
    head = render.minor_downloads_markdown(doc, tag, previous, profile_dir=profile_dir) if needs_head else ""
    return templates.render(
        "changelog/section.md.j2",
        profile_dir=profile_dir,
        tag=tag,
        previous=previous,
        head=head,
        # krel's template adds two blank lines before a Source Code table, none before the others
        source_code=bool(doc.downloads) and doc.downloads[0].title == "Source Code",
        downloads_md=render.downloads_markdown(doc, profile_dir=profile_dir),
        notes_md=notes_md,
        dependencies_md=dependencies_md,
    )


def write_changelog(options: ChangelogOptions, progress: Progress | None = None) -> ChangelogResult:
    """Generate the tag's notes, write CHANGELOG-X.Y.md (+README, HTML, JSON), commit on master and branch, push."""
    minor, branch = _validate(options)
    repo, tag = options.repo, options.tag
    if options.push != "none":
        # commits on a branch the remote has moved past could never be pushed
        commit.check_not_behind(repo, options.remote, list(dict.fromkeys((options.master, branch))))
    end_rev = options.end_rev or revisions.end_revision(repo, branch, options.remote)
    end_sha = gather.resolve(repo, end_rev)
    start_rev = options.start_rev or revisions.start_tag(repo, tag, end_sha)
    start_sha = gather.resolve(repo, start_rev)
    gather.check_range(repo, start_sha, end_sha, start_rev, end_rev)

    files = document.downloads(gather.tarballs(options.tars_dir), options.download_url, tag) if options.tars_dir else ()
    images = document.images([(n, list(a)) for n, a in options.images], tag, options.image_registry)
    excluded: tuple[int, ...]
    if options.draft is not None:
        # X.Y.0: the curated sig-release draft replaces regenerated notes (krel fetches it from sig-release)
        notes_md = _read_text(options.draft, "draft")
        draft_json = options.draft.with_suffix(".json")
        notes_json = _read_text(draft_json, "draft notes JSON") if draft_json.is_file() else "{}\n"
        doc = document.build([], files, images)
        walked, excluded = 0, ()
    else:
        gathered = gather.gather(repo, start_sha, end_sha, options.pull_requests, options.maps_from, progress)
        doc = document.build(list(gathered.notes), files, images)
        notes_md = render.notes_markdown(doc, changelog=True, profile_dir=options.template_dir)
        notes_json = render.notes_json(gathered.notes)
        walked, excluded = gathered.pull_requests, gathered.excluded
    doc = replace(doc, signing_key_url=options.signing_key_url)
    templates_from = options.template_dir
    deps_md = _dependencies_md(repo, start_sha, end_sha, templates_from) if options.dependencies else ""
    section = render_section(doc, tag, start_rev, notes_md, deps_md, profile_dir=templates_from)
    html = render.html(section, tag, profile_dir=templates_from)

    path = f"CHANGELOG/CHANGELOG-{minor}.md"
    readme = "CHANGELOG/README.md"
    master = options.master
    # Refuse links now, while nothing is committed: in either branch's tree, and where the HTML/JSON go.
    for ref in dict.fromkeys((master, branch)):
        commit.check_tree(repo, revisions.end_revision(repo, ref, options.remote), [path, readme])
    existing = commit.show(repo, master, path)
    if not options.drop_downloads:
        _check_nothing_dropped(toc.existing_section(existing, tag, f"{master}:{path}"), section, tag, path)
    merged = toc.merge(existing, section, tag, f"{master}:{path}", profile_dir=templates_from)
    readme_text = toc.readme_with(
        commit.show(repo, master, readme), f"CHANGELOG-{minor}.md", profile_dir=templates_from
    )
    outputs = [(out, text) for out, text in ((options.html_file, html), (options.json_file, notes_json)) if out]
    for out, _ in outputs:
        check_writable(out, base=out.parent)

    # Everything is known: from here on commits are made and files written.
    refs = list(dict.fromkeys((master, branch)))
    heads = commit.heads(repo, refs)
    commits = commit.commit_both(options, branch, path, readme, merged, readme_text)
    for out, text in outputs:
        write_atomic(out, text)
    pushed = ""
    if options.push != "none":
        pushed = commit.push_or_rewind(repo, options.remote, refs, heads, dry_run=options.push == "dry-run")
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


# What a rerun without --tars / --images would silently take out of an entry that had it.
_KEPT_PARTS = {"downloads": "\n## Downloads for {tag}", "container images": "\n### Container Images"}


def _check_nothing_dropped(old: str | None, new: str, tag: str, path: str) -> None:
    """Refuse a rerun that would remove the Downloads or Container Images its entry already lists."""
    if old is None:
        return
    lost = [name for name, heading in _KEPT_PARTS.items() if heading.format(tag=tag) in "\n" + old.replace("\r", "")
            and heading.format(tag=tag) not in "\n" + new]
    if lost:
        raise UsageError(
            f"{path}: the {tag} entry lists {' and '.join(lost)} this run would remove; pass --tars/--images "
            "again, or --drop-downloads to remove them"
        )


def _read_text(path: Path, what: str) -> str:
    """A UTF-8 input file named by an option; one UsageError naming it when unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
