"""The root command as data: its help, its options and the command table. krel/app.py builds the typer app from
these; the fast path in krel/__main__.py renders `krel --help` from the same values without importing typer."""

from __future__ import annotations

from dataclasses import dataclass

APP_HELP = "krel: release-engineering toolbox. Mock is the default everywhere; --nomock targets production."

# Every command in the order `krel --help` lists it (a release's flow, then promotion, then setup):
# name -> (module under krel.commands, one-line help; "" hides it). A module is imported only when its command runs
# or completes, so `krel --help` and `krel version` load no release library.
COMMANDS: dict[str, tuple[str, str]] = {
    "ci-build": ("ci_build", "Build a revision and publish ci/<version> with the ci/latest markers stage reads."),
    "stage": ("stage", "Stage a build: tag, build, notes, upload, push images (or --submit a job)."),
    "release": ("release", "Release a staged build: verify, copy to release/, markers, push tags."),
    "gcbmgr": ("gcbmgr", "Submit, follow, list, cancel or retry stage/release jobs."),
    "history": ("history", "The krel commands run for a branch, for the release issue."),
    "release-notes": ("release_notes", "Release notes for a revision range; validate note maps."),
    "changelog": ("changelog", "Write the CHANGELOG entry for a tag, commit and push it."),
    "announce": ("announce", "Build or send the release announcement; the GitHub release page."),
    "packages": ("packages", "Build deb/rpm packages of a release; publish their signed repositories."),
    "release-issue": ("release_issue", "Open, update and close the release-cut tracking issue."),
    "ff": ("ff", "Fast-forward the latest release branch from master."),
    "fast-forward": ("ff", ""),
    "promote": ("promote", "Promote images (or files) by manifest; snapshot a registry."),
    "backup": ("backup", "Copy what a backup registry lacks, never moving a tag."),
    "audit": ("audit", "Audit registry changes against the promoter manifests."),
    "sign": ("sign", "Sign files and images with a key, in cosign's formats; generate a key."),
    "verify": ("verify", "Verify file and image signatures with a public key."),
    "profile": ("profile", "Show, check (every problem with file:line) or start a release profile."),
    "local": ("local", "Start, stop or inspect the local profile's services."),
    "version": ("version", "Print krel's version, git commit and Python."),
}

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")


@dataclass(frozen=True)
class RootOption:
    """One row of the root's Options panel: flags, value placeholder ("" for a flag), help, shown default."""

    flags: tuple[str, ...]
    help: str
    metavar: str = ""
    default: str | None = None


LOG_LEVEL = RootOption(("--log-level", "-l"), "How much to log (trace = debug with tracebacks).",
                       metavar=f"[{'|'.join(LOG_LEVELS)}]", default="info")
VERSION = RootOption(("--version",), "Print krel's version and exit.")
NOMOCK = RootOption(("--nomock",), "Target production in the command that follows (as its own --nomock).")

# What typer and click add to every root on their own (typer.completion's two options, click's --help and usage
# pieces): spelled here because reading them means importing typer, the very cost the fast path avoids.
# tests/unit/test_startup_fastpath.py renders typer's own help beside the fast path's, so a typer that words them
# differently fails there instead of drifting.
TYPER_OPTIONS = (
    RootOption(("--install-completion",), "Install completion for the current shell."),
    RootOption(("--show-completion",),
               "Show completion for the current shell, to copy it or customize the installation."),
    RootOption(("--help",), "Show this message and exit."),
)
OPTIONS = (LOG_LEVEL, VERSION, NOMOCK, *TYPER_OPTIONS)  # in the order typer lists them
USAGE = "Usage: krel [OPTIONS] COMMAND [ARGS]..."


def unlisted_commands() -> dict[str, str]:
    """Command modules COMMANDS does not name yet (each module's command takes the module's name), so none is lost."""
    import pkgutil

    import krel.commands as commands

    listed = {module for module, _ in COMMANDS.values()}
    return {
        info.name.replace("_", "-"): info.name
        for info in pkgutil.iter_modules(commands.__path__)
        if info.name not in listed and not info.name.startswith("_")
    }
