"""Options shared by several commands, and the edge where the environment is read."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from releng.errors import UsageError
from typer import _click as click
from typer.core import TyperArgument, TyperOption

from krel import ui

if TYPE_CHECKING:  # imported where used: `krel --help` and `krel version` load no release library
    from releng import github
    from releng.profile import Profile, Targets, Upstream

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", metavar="NAME|FILE", envvar="KREL_PROFILE",
        help="Release profile: a built-in name (kubernetes, local) or a TOML path.",
    ),
]
# `krel --nomock <command>` (krel's persistent root flag): the root callback records it here, NomockOpt reads it.
ROOT_NOMOCK = "krel.nomock"


def _nomock(ctx: typer.Context, value: bool) -> bool:
    """--nomock given after the command, or before it on the root: the same choice of targets."""
    return value or bool(ctx.meta.get(ROOT_NOMOCK))


NomockOpt = Annotated[
    bool, typer.Option("--nomock", help="Target production (default: mock targets).", callback=_nomock)
]


def _json_mode(ctx: typer.Context, value: bool) -> bool:
    """Remember --json for the root's error handler: a failure then prints a JSON error object on stdout too."""
    if value:
        ctx.meta[ui.JSON_MODE] = True
    return value


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout.", callback=_json_mode)
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Answer yes to confirmations (needed without a TTY).")]

# Spelled here so `krel --help` loads no release library; tests/cli/test_choices_cli.py pins them to
# releng.version.RELEASE_TYPES and the keys of releng.gcb.RUNNERS (the dict that opens the runner).
RELEASE_TYPES = ("alpha", "beta", "rc", "official")
RUNNER_NAMES = ("local", "gcb")


def _no_type(ctx: click.Context) -> None:
    return None


def plain_flags(command: click.Command, *, recurse: bool = True) -> click.Command:
    """Help rows without Python types: a flag takes no value, so it shows no placeholder (typer would print
    `<bool>`), and an argument shows its metavar alone.

    Applied once to every command as it is loaded (krel.app), so no command spells it per flag.
    """
    help_option = command.get_help_option(click.Context(command))  # built once per command, then cached by click
    for param in [*command.params, help_option]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
        elif isinstance(param, TyperArgument) and param.metavar:
            # typer prints an argument's Python type (`<path>`) beside its metavar, which already says what it is
            param.display_type_rich = _no_type  # type: ignore[method-assign]
    nested: dict[str, click.Command] = getattr(command, "commands", {}) if recurse else {}
    for sub in nested.values():
        plain_flags(sub)
    return command


def choice(flag: str, what: str, names: tuple[str, ...], *, empty_ok: bool = False) -> dict[str, Any]:
    """typer.Option settings for a closed set of values: shown in help, offered by completion, checked on parse
    with the library's own one-line error (`--runner: unknown job runner 'x': expected one of local, gcb`)."""

    def check(value: str) -> str:
        if (value or not empty_ok) and value not in names:
            raise UsageError(f"{flag}: {what} {value!r}: expected one of {', '.join(names)}")
        return value

    return {"metavar": "[" + "|".join(names) + "]", "callback": check, "autocompletion": lambda: list(names)}


def complete_branch(ctx: click.Context, incomplete: str) -> list[str]:
    """--branch completion: the release-X.Y branches of the profile's repository (when on this machine) or of the
    local clone (--repo when the command has it, else the cwd), else the pattern (releng.branches); a profile that
    does not load just means no upstream."""
    from releng import branches
    from releng.errors import ReleaseError

    try:
        upstream: str | None = open_profile(ctx.params.get("profile") or DEFAULT_PROFILE).upstream.url
    except ReleaseError:
        upstream = None
    clone = Path(str(ctx.params.get("repo") or "."))
    return [name for name in branches.offered(upstream, clone) if name.startswith(incomplete)]


# The options stage, release and the job commands share.
BranchOpt = Annotated[
    str,
    typer.Option("--branch", metavar="BRANCH", help="master, main or release-X.Y.", autocompletion=complete_branch),
]
TypeOpt = Annotated[
    str, typer.Option("--type", help="The release type.", **choice("--type", "invalid release type", RELEASE_TYPES))
]
PlanOpt = Annotated[bool, typer.Option("--plan", help="Print the plan (every step and its targets) and stop.")]
SubmitOpt = Annotated[
    bool, typer.Option("--submit", help="Submit the job to the profile's job runner (Cloud Build or local) instead.")
]
StreamOpt = Annotated[bool, typer.Option("--stream", help="With --submit: follow the job's log until it ends.")]
RunnerOpt = Annotated[
    str,
    typer.Option(
        "--runner",
        **choice("--runner", "unknown job runner", RUNNER_NAMES, empty_ok=True),
        help="Job runner: local (this machine) or gcb (Cloud Build); default from profile.",
    ),
]
ProjectOpt = Annotated[
    str, typer.Option("--project", metavar="PROJECT", help="Cloud Build project (default: the profile's gcb_project).")
]

# The pull-request source options of every command that reads GitHub (release-notes, changelog).
# Spelled here for the same reason as RELEASE_TYPES; tests/cli/test_choices_cli.py pins them to releng.github's.
PR_SOURCES = ("graphql", "rest")
ReplayOpt = Annotated[
    Path | None,
    typer.Option(
        "--replay", metavar="DIR", help="Serve GitHub data from a krel recording (GetPullRequest-<seq>.json)."
    ),
]
RecordOpt = Annotated[
    Path | None, typer.Option("--record", metavar="DIR", help="Record every GitHub answer into DIR (krel format).")
]
MapsOpt = Annotated[
    list[Path] | None,
    typer.Option("--maps-from", metavar="DIR", help="Directory of note map YAML files (repeatable)."),
]
OrgOpt = Annotated[
    str | None, typer.Option("--org", metavar="ORG", help="GitHub organisation (default: the profile's upstream).")
]
RepoNameOpt = Annotated[
    str | None, typer.Option("--repo-name", metavar="REPO", help="GitHub repository (default: the profile's).")
]
SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="Live GitHub source: graphql (batched) or rest (PyGithub).",
        **choice("--source", "unknown GitHub source", PR_SOURCES),
    ),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", metavar="DIR", help="PR cache directory (default: $KREL_HOME/cache/github)."),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Always ask GitHub, never the on-disk cache.")]
ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--github-api-url", metavar="URL", help="GitHub API base URL (default $KREL_GITHUB_API_URL or GitHub)."
    ),
]

DEFAULT_PROFILE = os.environ.get("KREL_PROFILE", "local")


def krel_home() -> Path:
    """KREL_HOME, default ~/.krel: where the local profile keeps buckets, jobs, caches and the outbox."""
    return Path(os.environ.get("KREL_HOME") or Path.home() / ".krel").expanduser().resolve()


def profile_variables() -> dict[str, str]:
    return {
        "krel_home": str(krel_home()),
        "local_registry": os.environ.get("KREL_LOCAL_REGISTRY", "127.0.0.1:5000"),
    }


def open_profile(name: str) -> Profile:
    """Load the profile named on the command line with this machine's placeholders."""
    from releng.profile import load_profile

    return load_profile(name, profile_variables())


def targets_for(profile: Profile, nomock: bool) -> Targets:
    """The one place --nomock becomes a choice of targets: the profile's nomock targets, else its mock ones."""
    return profile.targets(nomock)


def confirm_production(profile: Profile, nomock: bool, question: str, yes: bool) -> None:
    """Ask before writing to production (on a TTY; --yes otherwise); a refusal is one error line, exit 1.

    The one rule for every production write (stage, release, changelog, ff, job submission, announcement mail):
    nothing is asked in mock, nor when every production target of the profile is on this machine (issue 12 item 6).
    """
    if not nomock or profile.production_is_local():
        return
    if not ui.confirm(question, yes):
        from releng.errors import ReleaseError

        raise ReleaseError(f"{question.rstrip('?')}: not confirmed, nothing written")


def force_build_krel() -> str:
    """$FORCE_BUILD_KREL for submitted jobs' _FORCE_BUILD_KREL (krel GetForceBuildKrel: unset or empty is "false")."""
    return os.environ.get("FORCE_BUILD_KREL") or "false"


def github_token() -> str:
    """GITHUB_TOKEN: read here, at the edge, and handed to the library as a value."""
    return os.environ.get("GITHUB_TOKEN", "")


def github_api_url(flag: str | None = None) -> str:
    """--github-api-url, else $KREL_GITHUB_API_URL, else GitHub's own API."""
    from releng import github

    return flag or os.environ.get("KREL_GITHUB_API_URL") or github.DEFAULT_API_URL


def local_replay_dir(value: str) -> str:
    """--replay for a run on this machine: the absolute path of an existing directory, checked before any work."""
    replay = Path(value).expanduser().resolve()
    if not replay.is_dir():
        raise UsageError(f"--replay: {value} is not a directory (expected recorded GitHub PR data)")
    return str(replay)


@dataclass(frozen=True)
class PullRequestOptions:
    """Where a command that reads GitHub (release-notes, changelog) gets pull requests: the shared flags, as given."""

    replay: Path | None = None
    record: Path | None = None
    org: str | None = None
    repo_name: str | None = None
    source: str = "graphql"
    cache_dir: Path | None = None
    no_cache: bool = False
    api_url: str | None = None

    def open(self, upstream: Upstream) -> github.PullRequests:
        """The PR source these options ask for, on the profile's upstream unless --org/--repo-name name another."""
        from releng import github

        return github.open_pull_requests(
            self.org or upstream.org,
            self.repo_name or upstream.repo,
            token=github_token(),
            replay_dir=self.replay,
            record_dir=self.record,
            cache_dir=None if self.no_cache else (self.cache_dir or krel_home() / "cache" / "github"),
            api_url=github_api_url(self.api_url),
            source=self.source,
        )


NO_PULL_REQUEST_FLAGS = PullRequestOptions()  # what a command's `pull_requests` holds when no flag is given


# PullRequestOptions' fields as typer options, in help order: name -> (annotation, default).
_PULL_REQUEST_FLAGS: dict[str, tuple[Any, Any]] = {
    "replay": (ReplayOpt, None),
    "record": (RecordOpt, None),
    "org": (OrgOpt, None),
    "repo_name": (RepoNameOpt, None),
    "source": (SourceOpt, "graphql"),
    "cache_dir": (CacheOpt, None),
    "no_cache": (NoCacheOpt, False),
    "api_url": (ApiUrlOpt, None),
}


def pull_request_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the pull-request flags: typer sees each flag where the command's `pull_requests` parameter
    stands, and the command receives them built once, as one PullRequestOptions."""
    hints = get_type_hints(command, include_extras=True)
    flags = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)
        for name, (annotation, default) in _PULL_REQUEST_FLAGS.items()
    ]
    parameters: list[inspect.Parameter] = []
    for param in inspect.signature(command).parameters.values():
        if param.name == "pull_requests":
            parameters.extend(flags)
        else:
            parameters.append(param.replace(annotation=hints.get(param.name, param.annotation)))

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        group = PullRequestOptions(**{name: kwargs.pop(name) for name in _PULL_REQUEST_FLAGS})
        command(*args, pull_requests=group, **kwargs)

    # typer reads the signature and the annotations: both name the flags, never the group
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run
