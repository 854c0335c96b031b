"""`krel ci-build`: build a revision in a fresh clone and publish ci/<version>/ with the ci/latest*.txt markers."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from krel import ui
from krel.options import DEFAULT_PROFILE, JsonOpt, ProfileOpt, krel_home, open_profile

RevisionOpt = Annotated[
    str,
    typer.Option("--revision", metavar="REV",
                 help="Branch, tag or commit of the upstream to build (default: the profile's default branch)."),
]


def ci_build(revision: RevisionOpt = "", profile: ProfileOpt = DEFAULT_PROFILE, json_out: JsonOpt = False) -> None:
    """Build REV with the profile's build command in a fresh clone under $KREL_HOME and publish it to the profile's
    CI bucket as ci/<version>/ (version from `git describe`, checksums beside every file), then move the
    ci/latest.txt, ci/latest-X.txt and ci/latest-X.Y.txt markers forward. CI objects are written once: a rebuild
    with other bytes is refused; markers never move back. `krel stage` without --build-version reads these markers.

    Examples:

      krel ci-build

      krel ci-build --revision release-1.0 --json
    """
    from releng.cibuild import ci_build as run

    reporter = ui.RichReporter(quiet=json_out)
    with reporter.live():
        result = run(open_profile(profile), krel_home(), revision, report=reporter.info,
                     output=lambda line: reporter.output("build", line))
    if json_out:
        ui.print_json(dataclasses.asdict(result))
        return
    ui.table(f"ci-build {result.version} ({result.commit[:14]})", ["object", "size", "sha256"],
             [[f.key, f.size, f.sha256] for f in result.files])
    ui.records("markers", ["marker", "state"], [list(m) for m in result.markers])
    ui.console.print(f"published {result.url}" + (" (already there, identical)" if result.already_published else ""),
                     highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("ci-build")(ci_build)
