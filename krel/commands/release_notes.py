"""`krel release-notes`: notes for a revision range as markdown or JSON; `krel release-notes validate DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from releng.errors import ReleaseError, UsageError
from releng.files import write_atomic
from releng.notes import document, gather, maps, render

from krel import ui
from krel.options import (
    DEFAULT_PROFILE,
    NO_PULL_REQUEST_FLAGS,
    JsonOpt,
    MapsOpt,
    ProfileOpt,
    PullRequestOptions,
    choice,
    open_profile,
    pull_request_options,
)

FORMATS = ("markdown", "json")
notes_app = typer.Typer(no_args_is_help=False, add_completion=False)


@notes_app.callback(invoke_without_command=True)
@pull_request_options
def release_notes(
    ctx: typer.Context,
    repo: Annotated[Path | None, typer.Option("--repo", metavar="DIR", help="Local clone to walk.")] = None,
    start_rev: Annotated[str | None, typer.Option(
        "--start-rev", metavar="REV",
        help="Start revision (tag or sha).",
    )] = None,
    end_rev: Annotated[str | None, typer.Option(
        "--end-rev", metavar="REV",
        help="End revision (tag, branch or sha).",
    )] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help="Notes as markdown or JSON.", **choice("--format", "unknown format", FORMATS)),
    ] = "markdown",
    output: Annotated[Path | None, typer.Option(
        "--output", metavar="FILE",
        help="Write to this file instead of stdout.",
    )] = None,
    pull_requests: PullRequestOptions = NO_PULL_REQUEST_FLAGS,  # the flags: see pull_request_options
    maps_from: MapsOpt = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
) -> None:
    """Generate release notes between two revisions (first-parent walk, krel's extraction rules).

    Example: krel release-notes --repo ./kubernetes --start-rev v1.25.2 --end-rev v1.25.3 --replay ./recording
    Example: krel release-notes validate ./maps
    """
    if ctx.invoked_subcommand is not None:
        return
    if repo is None or start_rev is None or end_rev is None:
        raise UsageError("release-notes needs --repo, --start-rev and --end-rev (or the `validate DIR` subcommand)")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"--output {output}: directory {output.parent} does not exist")
    prof = open_profile(profile)
    prs = pull_requests.open(prof.upstream)
    reporter = ui.RichReporter("release-notes")
    with reporter.live():
        gathered = gather.gather(
            repo,
            start_rev,
            end_rev,
            prs,
            tuple(maps_from or ()),
            lambda done, total: reporter.progress("pull requests", done, total),
        )
    if fmt == "json":
        text = render.notes_json(gathered.notes)
    else:
        text = render.markdown(document.build(list(gathered.notes)), end_rev, profile_dir=prof.template_dir())
    if output is None:
        ui.console.out(text, end="", highlight=False)
    else:
        try:
            write_atomic(output, text)
        except OSError as exc:
            raise ReleaseError(f"release-notes: cannot write {output}: {exc.strerror or exc}") from None
        reporter.info(
            f"{len(gathered.notes)} notes from {gathered.pull_requests} PRs ({gathered.commits} commits) -> {output}"
        )


@notes_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(metavar="DIR", help="Directory of map YAML files.")],
    json_out: JsonOpt = False,
) -> None:
    """Check note map files the way krel does (YAML, `pr`, text ending in punctuation).

    Example: krel release-notes validate releases/release-1.30/release-notes/maps
    """
    checked, problems = maps.validate(path)
    if json_out:
        ui.print_json({"checked": checked, "problems": problems})
    else:
        for problem in problems:
            ui.err_console.print(problem, markup=False)
        if not problems:
            ui.console.print(f"{checked} map files valid", markup=False)
    if problems:
        raise maps.MapError(f"{len(problems)} of {checked} map files in {path} are invalid")


def register(app: typer.Typer) -> None:
    app.add_typer(notes_app, name="release-notes")
