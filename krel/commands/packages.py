"""`krel packages build|publish`: a release's deb and rpm packages and their signed repositories (pkgs.k8s.io)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated

import typer
from releng import layout, version
from releng.errors import ReleaseError, UsageError
from releng.packages import run

from krel import ui
from krel.options import JsonOpt, NomockOpt, ProfileOpt, krel_home, open_profile, targets_for

packages_app = typer.Typer(
    name="packages",
    help=(
        "Build a release's .deb and .rpm packages from its build output (the profile's [packages]) and publish them "
        "to signed apt and rpm repositories, one per minor: <packages_bucket>/core:/stable:/vX.Y/{deb,rpm}/.\n\n"
        "Examples:\n\n"
        "  krel packages build --tag v1.0.0 --build-dir _output --repo .\n\n"
        "  krel packages publish --tag v1.0.0 --nomock"
    ),
    no_args_is_help=True,
)

TagOpt = Annotated[str, typer.Option("--tag", "-t", metavar="TAG", help="Release tag, e.g. v1.30.0-rc.1.")]
DirOpt = Annotated[Path | None, typer.Option(
    "--output-dir", metavar="DIR", help="Where the packages go (default: $KREL_HOME/packages/<profile>/<tag>).")]


def _packages_dir(profile: str, tag: str, given: Path | None) -> Path:
    # The tag names a directory under KREL_HOME: only a release tag gets that far.
    try:
        version.parse_tag(tag)
    except ReleaseError as exc:
        raise UsageError(f"packages: --tag: {exc}") from None
    return given if given is not None else layout.packages_dir(krel_home(), profile, tag)


@packages_app.command("build")
def build(
    tag: TagOpt,
    arch: Annotated[list[str] | None, typer.Option("--arch", metavar="ARCH", help="Build only this arch (repeat).")]
    = None,
    build_dir: Annotated[Path, typer.Option("--build-dir", metavar="DIR",
                                            help="The build output (bin/linux/<arch>/…).")] = Path("_output"),
    repo: Annotated[Path, typer.Option("--repo", metavar="PATH",
                                       help="The git checkout holding the tag (its commit dates the packages).")]
    = Path("."),
    output_dir: DirOpt = None,
    profile: ProfileOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Build the tag's .deb (dpkg-deb) and .rpm (rpmbuild) files, the same bytes for the same input.

    Example: krel packages build --tag v1.0.0 --build-dir _output --repo .
    """
    loaded = open_profile(profile)
    out = _packages_dir(loaded.name, tag, output_dir)
    built = run.build_release(loaded, tag, tuple(arch or ()), build_dir, repo, out)
    if json_out:
        ui.print_json([dataclasses.asdict(b) for b in built])
        return
    ui.table("packages", ["package", "arch", "format", "file", "sha256"],
             [[b.package, b.arch, b.format, b.path, b.sha256] for b in built])


@packages_app.command("publish")
def publish(
    tag: TagOpt,
    from_dir: DirOpt = None,
    nomock: NomockOpt = False,
    profile: ProfileOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Publish the tag's packages (write-once) and rebuild the signed apt and rpm indexes of its minor.

    Signing key: the targets' packages_key — krel's throwaway key under $KREL_HOME/keys, or the release key from
    KREL_PACKAGES_GPG_HOME (a GnuPG home) or KREL_PACKAGES_GPG_KEY_FILE (an armoured secret key, imported into a
    temporary GnuPG home removed afterwards); KREL_PACKAGES_GPG_KEY: its fingerprint when there are several;
    KREL_PACKAGES_GPG_PASSPHRASE: its passphrase.

    Example: krel packages publish --tag v1.0.0 --nomock
    """
    loaded = open_profile(profile)
    targets = targets_for(loaded, nomock)
    source = run.key_source(targets, krel_home() / "keys", os.environ)
    repos = run.publish_release(loaded, targets, tag, _packages_dir(loaded.name, tag, from_dir), source)
    if json_out:
        ui.print_json([dataclasses.asdict(r) for r in repos])
        return
    ui.table("repositories", ["kind", "url", "client line", "written", "unchanged"],
             [[r.kind, r.url, r.client_line, len(r.written), len(r.unchanged)] for r in repos])


def register(app: typer.Typer) -> None:
    app.add_typer(packages_app, name="packages")
