"""`krel promote images|snapshot|files`: the container image promoter (dry run by default), registry snapshots,
and the file promoter."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from releng.promo.files.promote import FilePromoteOptions, FilePromotionResult, promote_files
from releng.promo.promote import PromoteOptions, PromotionResult, promote_images
from releng.promo.snapshot import FORMATS, check_format, render, snapshot
from releng.registry.invcache import InventoryCache
from releng.registry.pool import Registries

from krel import registries as edge
from krel import ui
from krel.options import DEFAULT_PROFILE, JsonOpt, ProfileOpt, choice
from krel.registries import (
    MAX_ROWS,
    CaFileOpt,
    NoCacheOpt,
    RateOpt,
    RegistryMapOpt,
    RunStates,
    ThreadsOpt,
    show_plan,
)
from krel.signatures import signing_key

promote_app = typer.Typer(
    name="promote",
    help="Promote container images from staging to production registries, by manifest.\n\n"
    "Example: krel promote images --thin-manifest-dir registry.k8s.io --confirm",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

@promote_app.command("images")
def images(
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", metavar="FILE",
        help="A plain promoter manifest file.",
    )] = None,
    thin_manifest_dir: Annotated[
        Path | None,
        typer.Option(
            "--thin-manifest-dir", metavar="DIR",
            help="A tree of manifests/<p>/promoter-manifest.yaml + images/<p>/images.yaml."
        ),
    ] = None,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Copy for real (default: dry run, writes nothing).")
    ] = False,
    parse_only: Annotated[bool, typer.Option("--parse-only", help="Only parse and validate the manifests.")] = False,
    threads: ThreadsOpt = 20,
    rate: RateOpt = 50.0,
    ca_file: CaFileOpt = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
    registry_map: RegistryMapOpt = None,
    no_cache: NoCacheOpt = False,
    sign_key: Annotated[Path | None, typer.Option(
        "--sign-key", metavar="FILE",
        help="Also sign each promoted image in each destination (cosign's format) with this PEM private key; "
        "its password from KREL_SIGNING_KEY_PASSWORD.",
    )] = None,
    json_out: JsonOpt = False,
) -> None:
    """Promote the images a manifest lists: plan (dry run) by default, copy with --confirm.

    Example: krel promote images --thin-manifest-dir k8s.io/registry.k8s.io
    Example: krel promote images --manifest promoter-manifest.yaml --confirm --threads 20
    Example: krel promote images --thin-manifest-dir ./tree --registry-map gcr.io/k8s-staging-foo=127.0.0.1:5000/stg

    Registry credentials, per host: ~/.docker/config.json ($DOCKER_CONFIG; auths, credHelpers, credsStore), then
    KREL_REGISTRY_USERNAME / KREL_REGISTRY_PASSWORD for the host KREL_REGISTRY_HOST names (any non-Google host
    when unset), then Google application-default credentials for gcr.io and *-docker.pkg.dev.

    A no-op rerun costs one tags/list per repository: Google registries list every digest and tag in it, and
    elsewhere the inventory cache remembers where tags point (production tags never move).

    Signatures travel along: each promoted digest's cosign signature tag (sha256-<hex>.sig) is copied from the
    source when the destination has none; a destination signature tag on another manifest is never moved (listed
    as a conflict, exit 1). With --sign-key each promoted image is also signed in each destination.
    Example: krel promote images --manifest promoter-manifest.yaml --sign-key promoter.key --confirm
    """
    options = PromoteOptions(
        manifest=manifest,
        thin_manifest_dir=thin_manifest_dir,
        registry_map=edge.registry_map(registry_map),
        threads=threads,
        confirm=confirm,
        parse_only=parse_only,
        cache_dir=edge.cache_dir(),
        reread=no_cache,
        sign_key=signing_key(sign_key) if sign_key is not None else None,
    )
    reporter = ui.RichReporter("promote", quiet=json_out)
    with Registries(edge.credentials(), rate=rate, max_connections=max(threads, 4),
                    ca_file=edge.ca_file(ca_file, profile)) as registries, \
            reporter.live():
        result = promote_images(options, registries, reporter)
    if json_out:
        ui.print_json(result.as_dict())
    else:
        _render(result)
    error = result.error()
    if error is not None:
        raise error


def _render(result: PromotionResult) -> None:
    if result.delta is None:
        ui.console.print(f"parsed {result.manifests} manifest(s): {result.edges} edges, all valid", markup=False)
        return
    delta = result.delta
    states = RunStates((o.copy for o in result.failures), (o.copy for o in result.outcomes))
    rows = []
    for c in delta.copies:
        state = states.of(c)
        action = c.action if state == "planned" else f"{c.action}: {state}"
        for tag in c.tags or ("",):
            rows.append((c.image, c.digest, tag or "(none)", c.dst_repo, action))
    rows += [(x.image, x.digest, "", x.src_repo, "LOST: not in source") for x in delta.lost]
    rows += _signature_rows(result)
    title = "promotion plan (dry run: nothing written)" if result.mode == "dry-run" else "promotion"
    summary = (f"{result.edges} edges: {delta.already_promoted} already promoted, {len(delta.copies)} to copy or tag, "
               f"{len(delta.lost)} lost" + (f", {len(result.failures)} failed" if result.outcomes else ""))
    hint = "dry run: rerun with --confirm to promote" if result.mode == "dry-run" and delta.copies else ""
    show_plan(title, ["image", "digest", "tag", "destination", "action"], rows, summary, hint, records=False)


def _signature_rows(result: PromotionResult) -> list[tuple[str, str, str, str, str]]:
    """The signature phase: one row per .sig copy or signing, and per conflict left alone."""
    if result.signatures is None:
        return []
    failed = {id(o.step) for o in result.signature_outcomes if o.error}
    done = {id(o.step) for o in result.signature_outcomes}
    rows = [(s.image, s.digest, s.tag, s.dst_repo,
             f"{s.action}: FAILED" if id(s) in failed else f"{s.action}: done" if id(s) in done else s.action)
            for s in result.signatures.steps]
    rows += [("", "", c.tag, c.dst_repo, f"SIGNATURE CONFLICT ({c.current}): left alone")
             for c in result.signatures.conflicts]
    return rows


@promote_app.command("snapshot")
def snapshot_cmd(
    path: Annotated[
        str, typer.Argument(metavar="REGISTRY/REPO", help="A repository or a prefix holding repositories.")
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="yaml (images.yaml form), csv (name@digest,name:tag) or json.",
            **choice("--output", "unknown snapshot format", FORMATS),
        ),
    ] = "yaml",
    threads: ThreadsOpt = 20,
    rate: RateOpt = 50.0,
    ca_file: CaFileOpt = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Print what a registry path holds in images.yaml form (or CSV, or JSON): for backfills and audits.

    Example: krel promote snapshot 127.0.0.1:5000/prod --output csv
    Example: krel promote snapshot us-central1-docker.pkg.dev/k8s-artifacts-prod/images/kubernetes --json
    """
    fmt = check_format("json" if json_out else output)
    cache = InventoryCache(edge.cache_dir())
    with Registries(edge.credentials(), rate=rate, ca_file=edge.ca_file(ca_file, profile)) as registries:
        images = snapshot(registries, path, threads=threads, cache=cache, trust_cache=not no_cache)
    ui.console.out(render(images, fmt), end="", highlight=False)


@promote_app.command("files")
def files_cmd(
    filestores: Annotated[
        Path | None,
        typer.Option(
            "--filestores", metavar="FILE",
            help="A filestores manifest (filepromoter-manifest.yaml); needs --files.",
        ),
    ] = None,
    files: Annotated[
        Path | None, typer.Option(
            "--files", metavar="FILE|DIR",
            help="A files manifest, or a directory of them (read recursively).",
        )
    ] = None,
    manifests: Annotated[
        Path | None,
        typer.Option(
            "--manifests", metavar="DIR",
            help="A tree of filestores/<p>/filepromoter-manifest.yaml + manifests/<p>/*.yaml.",
        ),
    ] = None,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Copy for real (default: dry run, writes nothing).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Promote the files a manifest lists from the source filestore to every destination (gs:// or file://).

    Example: krel promote files --filestores filestores/kops/filepromoter-manifest.yaml --files manifests/kops/
    Example: krel promote files --manifests k8s.io/artifacts --confirm
    Example: krel promote files --manifests ./artifacts --json

    Dry run by default: prints per file and destination copy, identical (already there) or a refusal. With
    --confirm each missing file is read from the source, its sha256 checked against the manifest, and exactly
    the bytes read are written (never over an existing object). A destination holding other content is refused,
    naming both hashes; a file missing from the source is listed as lost. Failures are collected, the other files
    still run, and the command exits 1. gs:// uses Google application-default credentials (or
    STORAGE_EMULATOR_HOST); a filestore's service-account is read but not impersonated.
    """
    options = FilePromoteOptions(filestores=filestores, files=files, manifests_dir=manifests, confirm=confirm)
    reporter = ui.RichReporter("promote files", quiet=json_out)
    with reporter.live():
        result = promote_files(options, reporter)
    if json_out:
        ui.print_json(result.as_dict())
    else:
        _render_files(result)
    error = result.error()
    if error is not None:
        raise error


def _render_files(result: FilePromotionResult) -> None:
    columns = ["file", "sha256", "destination", "action", "detail"]
    rows = [(op.name, op.sha256[:12], op.dest, op.action, op.detail) for op in result.ops]
    title = "file promotion plan (dry run: nothing written)" if result.mode == "dry-run" else "file promotion"
    if ui.console.is_terminal:
        ui.table(title, columns, rows[:MAX_ROWS])
        if len(rows) > MAX_ROWS:
            ui.console.print(f"... and {len(rows) - MAX_ROWS} more rows (use --json for all)", markup=False)
    else:
        # A pipe gets one tab-separated record per file and destination, every row, for grep and cut (rich would
        # expand the tabs).
        for op in result.ops:
            fields = (op.name, op.sha256, op.dest_url, op.action, op.detail)
            sys.stdout.write("\t".join(ui.clean(f).replace("\t", " ") for f in fields) + "\n")
        sys.stdout.flush()
    counts = ", ".join(f"{n} {action}" for action, n in sorted(result.counts().items())) or "nothing to do"
    ui.console.print(f"{result.manifests} manifest(s), {len(result.ops)} file copies: {counts}", markup=False)
    if result.mode == "dry-run" and any(op.action == "copy" for op in result.ops):
        ui.console.print("dry run: rerun with --confirm to promote", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(promote_app, name="promote")
