"""`krel changelog`: write a tag's notes into CHANGELOG/CHANGELOG-X.Y.md, commit like krel, push (dry-run in mock)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from releng.changelog import ChangelogOptions, write_changelog
from releng.notes import gather

from krel import ui
from krel.options import (
    DEFAULT_PROFILE,
    NO_PULL_REQUEST_FLAGS,
    JsonOpt,
    MapsOpt,
    NomockOpt,
    ProfileOpt,
    PullRequestOptions,
    YesOpt,
    complete_branch,
    confirm_production,
    open_profile,
    pull_request_options,
    targets_for,
)


@pull_request_options
def changelog(
    tag: Annotated[str, typer.Option("--tag", metavar="TAG", help="The release tag, vX.Y.Z[-pre].")],
    branch: Annotated[str | None, typer.Option(
        "--branch", metavar="BRANCH",
        help="Release branch (default release-X.Y).", autocompletion=complete_branch,
    )] = None,
    repo: Annotated[Path, typer.Option(
        "--repo", metavar="DIR",
        help="Local clone to read and commit into.",
    )] = Path("."),
    start_rev: Annotated[str | None, typer.Option(
        "--start-rev", metavar="REV",
        help="Override krel's start revision.",
    )] = None,
    end_rev: Annotated[str | None, typer.Option(
        "--end-rev", metavar="REV",
        help="Override the end (default: branch head).",
    )] = None,
    tars: Annotated[Path | None, typer.Option(
        "--tars", metavar="DIR",
        help="Directory of release tarballs to list (sha512).",
    )] = None,
    images: Annotated[
        Path | None, typer.Option(
            "--images", metavar="DIR",
            help="release-images directory (<arch>/<name>.tar) to list.",
        )
    ] = None,
    html_file: Annotated[Path | None, typer.Option(
        "--html-file", metavar="FILE",
        help="Write the HTML notes here.",
    )] = None,
    json_file: Annotated[Path | None, typer.Option(
        "--json-file", metavar="FILE",
        help="Write the notes JSON here.",
    )] = None,
    draft: Annotated[
        Path | None, typer.Option(
            "--draft", metavar="FILE",
            help="Curated notes markdown for an X.Y.0 (replaces generated notes).",
        )
    ] = None,
    no_dependencies: Annotated[
        bool, typer.Option("--no-dependencies", help="Leave out the go.mod Dependencies section.")
    ] = False,
    drop_downloads: Annotated[
        bool,
        typer.Option(
            "--drop-downloads",
            help="Let a rerun without --tars/--images remove the Downloads / Container Images the entry lists.",
        ),
    ] = False,
    pull_requests: PullRequestOptions = NO_PULL_REQUEST_FLAGS,  # the flags: see pull_request_options
    maps_from: MapsOpt = None,
    nomock: NomockOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Generate the CHANGELOG section for a tag and commit it on master and the release branch.

    Example: krel changelog --tag v1.25.3 --repo ./kubernetes --replay ./recording --no-dependencies
    """
    prof = open_profile(profile)
    targets = targets_for(prof, nomock)
    confirm_production(prof, nomock, f"Really push the {tag} changelog to {prof.upstream.url} (--nomock)?", yes)
    prs = pull_requests.open(prof.upstream)
    options = ChangelogOptions(
        repo=repo,
        tag=tag,
        pull_requests=prs,
        author=prof.git_author,
        branch=branch,
        start_rev=start_rev,
        end_rev=end_rev,
        maps_from=tuple(maps_from or ()),
        tars_dir=tars,
        images=tuple((n, tuple(a)) for n, a in gather.images_from_dir(images)) if images else (),
        download_url=targets.release_download_url(),
        image_registry=prof.notes_registry(),
        dependencies=not no_dependencies,
        draft=draft,
        html_file=html_file,
        json_file=json_file,
        push=targets.git_push,
        remote=prof.upstream.remote,
        master=prof.upstream.default_branch,
        drop_downloads=drop_downloads,
        template_dir=prof.template_dir(),
    )
    reporter = ui.RichReporter("changelog", quiet=json_out)
    with reporter.live():
        result = write_changelog(options, lambda done, total: reporter.progress("pull requests", done, total))
    summary = {k: v for k, v in asdict(result).items() if k not in ("markdown", "html", "notes_json")}
    summary["push_mode"] = targets.git_push
    if json_out:
        ui.print_json(summary)
        return
    ui.table(
        f"changelog {tag}",
        ["field", "value"],
        [
            ("range", f"{result.start_rev}..{result.branch} ({result.end_sha[:12]})"),
            ("file", result.path),
            ("pull requests", f"{result.pull_requests} walked, {len(result.excluded)} without a publishable note"),
            ("commits", ", ".join(c[:12] for c in result.commits) or "none (already up to date)"),
            ("push", f"{targets.git_push}"),
        ],
    )
    ui.table("notes per heading", ["heading", "entries"], sorted(result.counts.items()))


def register(app: typer.Typer) -> None:
    app.command("changelog")(changelog)
