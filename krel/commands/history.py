"""`krel history`: the stage/release jobs of a branch in a date range as a markdown table for the release issue."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer
from releng.gcb import history as gcb_history

from krel import ui
from krel.jobs import open_job_runner
from krel.options import (
    DEFAULT_PROFILE,
    JsonOpt,
    ProfileOpt,
    ProjectOpt,
    RunnerOpt,
    complete_branch,
    open_profile,
    targets_for,
)


def history(
    branch: Annotated[
        str, typer.Option("--branch", metavar="BRANCH", help="Branch whose jobs to list (the job tag).",
                          autocompletion=complete_branch),
    ] = "master",
    date_from: Annotated[
        str, typer.Option("--date-from", metavar="DATE", help="First day, YYYY-MM-DD (default: today)."),
    ] = "",
    date_to: Annotated[
        str, typer.Option("--date-to", metavar="DATE", help="Last day, YYYY-MM-DD (default: --date-from)."),
    ] = "",
    runner: RunnerOpt = "",
    project: ProjectOpt = "",
    profile: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = False,
) -> None:
    """Print the krel commands run for a branch (oldest first) as a markdown table to paste into the release issue.

    Example: krel history --branch release-1.30 --date-from 2026-11-20 --date-to 2026-11-23
    """
    prof = open_profile(profile)
    jobs = open_job_runner(prof, runner, project, targets_for(prof, nomock=False))
    rows = gcb_history.history(jobs, branch, date_from or dt.date.today().isoformat(), date_to)
    if json_out:
        ui.print_json([r.as_json() for r in rows])
        return
    sys.stdout.write(gcb_history.render_history(rows, prof.template_dir()))
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("history")(history)
