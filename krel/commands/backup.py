"""`krel backup`: copy into a backup registry only the digests (with their tags) it lacks; dry run by default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from releng.promo.backup import BackupOptions, BackupResult, run_backup
from releng.registry.pool import Registries

from krel import registries as edge
from krel import ui
from krel.options import DEFAULT_PROFILE, JsonOpt, ProfileOpt
from krel.registries import CaFileOpt, NoCacheOpt, RateOpt, RegistryMapOpt, RunStates, ThreadsOpt, show_plan


def backup(
    source: Annotated[
        str, typer.Option(
            "--from", metavar="REGISTRY[/PREFIX]",
            help="Production: REGISTRY or REGISTRY/PREFIX, e.g. us.gcr.io/k8s-artifacts-prod.",
        )
    ],
    target: Annotated[
        str, typer.Option(
            "--to", metavar="REGISTRY[/PREFIX]",
            help="The backup: REGISTRY or REGISTRY/PREFIX, not at, inside or around --from.",
        )
    ],
    manifest: Annotated[
        Path | None, typer.Option(
            "--manifest", metavar="FILE",
            help="Back up what this promoter manifest promotes under --from.",
        )
    ] = None,
    thin_manifest_dir: Annotated[
        Path | None,
        typer.Option(
            "--thin-manifest-dir", metavar="DIR",
            help="Back up what this thin-manifest tree promotes under --from.",
        ),
    ] = None,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Copy for real (default: dry run, writes nothing).")
    ] = False,
    threads: ThreadsOpt = 20,
    rate: RateOpt = 50.0,
    ca_file: CaFileOpt = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
    registry_map: RegistryMapOpt = None,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Back up production incrementally: copy by digest only what the backup lacks (manifest lists with their
    children, tags after their digest). Nothing in the backup is ever deleted or moved: a backup tag on another
    digest is listed and left alone, and the run exits 1.

    Example: krel backup --from us.gcr.io/k8s-artifacts-prod --to us.gcr.io/k8s-artifacts-prod-bak
    Example: krel backup --from 127.0.0.1:5000/prod --to 127.0.0.1:5001/bak --thin-manifest-dir ./k8s.gcr.io --confirm
    Example: krel backup --from 127.0.0.1:5000/prod --to 127.0.0.1:5001/bak --confirm --json

    With --manifest or --thin-manifest-dir the backup follows the manifests (untagged promoted digests are
    invisible to tag listings): the backup is read first and production only where it lacks something, so a no-op
    rerun costs one tags/list per backup repository. Without them, production's listings drive it (one tags/list
    per repository on each side; tags are resolved once and remembered in the inventory cache).
    Credentials: as `krel promote images` (docker config, KREL_REGISTRY_USERNAME/PASSWORD, Google ADC).
    """
    options = BackupOptions(
        source=source,
        backup=target,
        manifest=manifest,
        thin_manifest_dir=thin_manifest_dir,
        registry_map=edge.registry_map(registry_map),
        confirm=confirm,
        threads=threads,
        cache_dir=edge.cache_dir(),
        reread=no_cache,
    )
    reporter = ui.RichReporter("backup", quiet=json_out)
    with Registries(edge.credentials(), rate=rate, max_connections=max(threads, 4),
                    ca_file=edge.ca_file(ca_file, profile)) as registries, \
            reporter.live():  # fmt: skip
        result = run_backup(options, registries, reporter)
    if json_out:
        ui.print_json(result.as_dict())
    else:
        _render(result)
    error = result.error()
    if error is not None:
        raise error


def _render(result: BackupResult) -> None:
    plan = result.plan
    states = RunStates((o.copy for o in result.failures), (o.copy for o in result.outcomes))
    rows = [(c.src_repo, c.digest, ",".join(c.tags) or "(none)", c.dst_repo, f"{c.action}: {states.of(c)}")
            for c in plan.copies]
    rows += [("", m.wanted, m.tag, m.dst_repo, f"TAG ELSEWHERE ({m.current}): left alone") for m in plan.conflicts]
    rows += [(x.src_repo, x.digest, "", "", "LOST: not in production") for x in plan.lost]
    title = "backup plan (dry run: nothing written)" if result.mode == "dry-run" else "backup"
    summary = (f"{plan.digests} digests: {plan.present} tags or untagged digests already backed up, "
               f"{len(plan.copies)} to copy or tag, "
               f"{len(plan.conflicts)} tag conflicts, {len(plan.lost)} lost; {result.requests} registry requests"
               + (f"; {len(result.failures)} failed" if result.outcomes else ""))
    hint = "dry run: rerun with --confirm to copy" if result.mode == "dry-run" and plan.copies else ""
    show_plan(title, ["from", "digest", "tags", "to", "action"], rows, summary, hint, records=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
