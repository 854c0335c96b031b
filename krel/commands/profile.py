"""`krel profile show|check|init`: the resolved profile, every problem of one with file and line, a starter profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from krel import ui
from krel.options import DEFAULT_PROFILE, JsonOpt, ProfileOpt, open_profile, profile_variables

profile_app = typer.Typer(
    name="profile",
    help=(
        "Show, check or start a release profile (a built-in name or a TOML file).\n\n"
        "Examples:\n\n"
        "  krel profile show --profile local\n\n"
        "  krel profile check myproject.toml\n\n"
        "  krel profile init myproject.toml --upstream https://github.com/me/myproject.git"
    ),
    no_args_is_help=True,
)

ProfileArg = Annotated[
    str, typer.Argument(metavar="PROFILE", help="A built-in name (kubernetes, local) or a TOML file.")
]


@profile_app.command("show")
def show(profile: ProfileOpt = DEFAULT_PROFILE, json_out: JsonOpt = False) -> None:
    """Print the resolved profile: every field, defaults filled in, placeholders expanded.

    Example: krel profile show --profile local --json
    """
    from releng import profilecheck

    data = profilecheck.resolved(open_profile(profile))
    if json_out:
        ui.print_json(data)
        return
    ui.console.out(profilecheck.to_toml(data), highlight=False, end="")


@profile_app.command("check")
def check(profile: ProfileArg, json_out: JsonOpt = False) -> None:
    """List every problem of a profile, one `file:line: problem` per line; exit 1 when there is any.

    Example: krel profile check myproject.toml
    """
    from releng import profilecheck

    problems = profilecheck.check(profile, profile_variables())
    if json_out:
        ui.print_json({"profile": profile, "problems": problems})
    elif not problems:
        ui.console.out(f"{profile}: ok", highlight=False)
    for line in problems:
        ui.error_line(line)
    if problems:
        raise typer.Exit(1)


@profile_app.command("init")
def init(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the profile (must not exist).")],
    upstream: Annotated[str, typer.Option("--upstream", metavar="URL", help="Clone URL of the project.")],
    org: Annotated[str, typer.Option("--org", metavar="ORG", help="GitHub owner (default: from --upstream).")] = "",
    repo: Annotated[str, typer.Option(
        "--repo", metavar="REPO",
        help="GitHub repository (default: from --upstream).",
    )] = "",
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Profile name (default: the file name).")] = "",
    product: Annotated[str, typer.Option("--product", metavar="NAME", help="Product name in notes and mail.")] = "",
    build: Annotated[str, typer.Option("--build", metavar="COMMAND", help="The build command.")] = "make release",
) -> None:
    """Write a starter profile for a new project: every target on this machine, checked before it is written.
    An existing file is never overwritten.

    Example: krel profile init myproject.toml --upstream https://github.com/me/myproject.git --build ./build.sh
    """
    from releng import profilecheck

    stem = name or path.stem
    guess_org, guess_repo = _owner_repo(upstream)
    starter = profilecheck.Starter(path=path, name=stem, product=product or stem, upstream=upstream,
                                   org=org or guess_org, repo=repo or guess_repo, build_command=build)
    written = profilecheck.init(starter, profile_variables())
    ui.console.out(f"wrote {written}; next: krel profile check {written}", highlight=False)


def _owner_repo(url: str) -> tuple[str, str]:
    """owner and name from the last two parts of a clone URL (…/owner/name.git)."""
    parts = url.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")
