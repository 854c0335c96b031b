"""`krel audit serve|check|pull`: flag any change to production that the promoter manifests do not explain."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from releng.errors import UsageError
from releng.promo.audit import app as audit_app
from releng.promo.audit import pull as audit_pull
from releng.promo.audit.auth import GOOGLE_JWKS, HeaderCheck, OidcCheck, jwks_keys
from releng.promo.audit.children import ChildCache, read_while_held, registry_children
from releng.promo.audit.events import parse_event_file
from releng.promo.audit.report import (
    ERROR_REPORTING_API,
    ErrorReportingReporter,
    JsonlReporter,
    Reporter,
    google_token,
    record,
)
from releng.promo.audit.service import open_auditor
from releng.promo.audit.verdict import HELD, REJECTED, expire
from releng.registry.pool import Registries

from krel import ui
from krel.options import JsonOpt, krel_home

audit = typer.Typer(
    name="audit",
    help=(
        "The auditor: judge every registry change against the promoter manifests at the branch head.\n\n"
        "Examples:\n\n"
        "  krel audit serve --repo https://github.com/kubernetes/k8s.io --branch main "
        "--thin-manifest-dir registry.k8s.io --listen 0.0.0.0:8080\n\n"
        "  krel audit check event.json --repo ../k8s.io --branch main --thin-manifest-dir registry.k8s.io\n\n"
        "  krel audit pull --subscription projects/P/subscriptions/gcr-audit --repo ... --branch main "
        "--thin-manifest-dir registry.k8s.io"
    ),
    no_args_is_help=True,
)

RepoOpt = Annotated[str, typer.Option("--repo", metavar="URL|DIR", help="Manifests repository: URL or local path.")]
BranchOpt = Annotated[str, typer.Option("--branch", metavar="BRANCH", help="Branch whose head is the truth.")]
DirOpt = Annotated[str, typer.Option(
    "--thin-manifest-dir", metavar="DIR",
    help="Thin manifests directory inside the repository.",
)]
RegistryHostOpt = Annotated[str, typer.Option(
    "--registry-host", metavar="HOST",
    help="The registry that sends distribution notifications (they carry no host name).")]
IntervalOpt = Annotated[float, typer.Option(
    "--interval", metavar="SECONDS",
    help="Ask `git ls-remote` for the head at most every N s.",
)]
HoldOpt = Annotated[float, typer.Option(
    "--hold", metavar="SECONDS",
    help="Seconds an unknown child waits for its index.",
)]
JsonlOpt = Annotated[Path | None, typer.Option(
    "--report-jsonl", metavar="FILE",
    help="Append every rejection to this JSONL file.",
)]
ProjectOpt = Annotated[str, typer.Option(
    "--error-reporting-project", metavar="PROJECT",
    help="Also send rejections to Google Error Reporting in this project (ADC).")]

_REGISTRY_SECRET = "KREL_AUDIT_REGISTRY_SECRET"


def _reporters(jsonl: Path | None, project: str) -> list[Reporter]:
    reporters: list[Reporter] = []
    if jsonl is not None:
        reporters.append(JsonlReporter(jsonl))
    if project:
        endpoint = os.environ.get("KREL_ERROR_REPORTING_ENDPOINT") or ERROR_REPORTING_API
        reporters.append(ErrorReportingReporter(project, google_token(), endpoint=endpoint))
    return reporters


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    """A fresh directory for the manifests clone under $KREL_HOME/audit, removed when the command ends (each run
    clones anew: a clone left behind would only pile up)."""
    base = krel_home() / "audit"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="manifests-", dir=base) as work:
        yield Path(work)


@audit.command("serve")
def serve(
    repo: RepoOpt,
    branch: BranchOpt,
    thin_manifest_dir: DirOpt,
    registry_host: RegistryHostOpt = "",
    listen: Annotated[str, typer.Option(
        "--listen", metavar="HOST:PORT",
        help="HOST:PORT to serve on.",
    )] = "127.0.0.1:8080",
    interval: IntervalOpt = 30.0,
    hold: HoldOpt = 60.0,
    report_jsonl: JsonlOpt = None,
    error_reporting_project: ProjectOpt = "",
    push_audience: Annotated[str, typer.Option(
        "--push-audience", metavar="AUDIENCE",
        help="Check Pub/Sub OIDC tokens for this audience (401 without one).")] = "",
    push_jwks: Annotated[str, typer.Option(
        "--push-jwks", metavar="URL",
        help="JWKS URL for the push tokens.",
    )] = GOOGLE_JWKS,
    push_service_account: Annotated[str, typer.Option(
        "--push-service-account", metavar="EMAIL", help="The push subscription's service account (token email).")] = "",
    registry_header: Annotated[str, typer.Option(
        "--registry-header", metavar="HEADER",
        help=f"Header carrying ${_REGISTRY_SECRET} on registry notifications.")] = "Authorization",
    max_body: Annotated[int, typer.Option(
        "--max-body", metavar="BYTES",
        help="Largest accepted body, bytes.",
    )] = audit_app.MAX_BODY,
) -> None:
    """Serve Pub/Sub pushes on / and registry notifications on /registry until interrupted.

    Example: krel audit serve --repo ../k8s.io --branch main --thin-manifest-dir registry.k8s.io --listen :8080
    """
    audit_app.parse_listen(listen)
    secret = os.environ.get(_REGISTRY_SECRET, "")
    options = audit_app.ServeOptions(
        registry_host=registry_host, max_body=max_body,
        oidc=OidcCheck(push_audience, jwks_keys(push_jwks), email=push_service_account) if push_audience else None,
        registry_header=HeaderCheck(registry_header, secret) if secret else None,
    )
    with Registries() as registries, _workdir() as work:
        auditor = open_auditor(repo, branch, thin_manifest_dir, work, reader=registry_children(registries),
                               reporters=_reporters(report_jsonl, error_reporting_project), interval=interval,
                               hold_seconds=hold)
        ui.err_console.print(f"krel audit: judging against {repo}@{auditor.source.head[:12]}, listening on {listen}")
        audit_app.serve(auditor, options, listen)


@audit.command("check")
def check(
    event_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A Pub/Sub push body, a GCR payload or a registry envelope.")
    ],
    repo: RepoOpt,
    branch: BranchOpt,
    thin_manifest_dir: DirOpt,
    registry_host: RegistryHostOpt = "",
    report_jsonl: JsonlOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Judge the events of one file offline; exit 1 if any is REJECTED.

    Example: krel audit check event.json --repo ../k8s.io --branch main --thin-manifest-dir registry.k8s.io
    """
    try:
        text = event_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"event file {event_file}: cannot be read: {exc}") from None
    events = parse_event_file(text, registry_host or None, str(event_file))
    with Registries() as registries, _workdir() as work:
        auditor = open_auditor(repo, branch, thin_manifest_dir, work, reader=registry_children(registries),
                               reporters=_reporters(report_jsonl, ""), hold_seconds=0)
        auditor.children = ChildCache(read_while_held(registry_children(registries), auditor.held))
        # Offline, no index will come later: a held child is judged at once.
        verdicts = [expire(v) if v.result == HELD else v for v in auditor.handle(events)]
    rows = [record(v) for v in verdicts]
    if json_out:
        ui.print_json(rows)
    else:
        ui.table("audit", ["verdict", "action", "repo", "digest", "tag", "reason"],
                 [[r["verdict"], r["action"], r["repo"], r["digest"] or "-", r["tag"] or "-", r["reason"]]
                  for r in rows])
    if any(v.result == REJECTED for v in verdicts):
        raise typer.Exit(1)


@audit.command("pull")
def pull(
    subscription: Annotated[str, typer.Option(
        "--subscription", metavar="SUBSCRIPTION",
        help="projects/P/subscriptions/S to pull from.",
    )],
    repo: RepoOpt,
    branch: BranchOpt,
    thin_manifest_dir: DirOpt,
    interval: IntervalOpt = 30.0,
    hold: HoldOpt = 60.0,
    report_jsonl: JsonlOpt = None,
    error_reporting_project: ProjectOpt = "",
    max_messages: Annotated[int, typer.Option(
        "--max-messages", metavar="N",
        help="Stop after N messages (0: never).",
    )] = 0,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS",
        help="Stop after N seconds (0: never).",
    )] = 0.0,
) -> None:
    """Pull GCR events from a Pub/Sub subscription instead of receiving pushes.

    Example: krel audit pull --subscription projects/p/subscriptions/gcr-audit --repo ../k8s.io --branch main
    --thin-manifest-dir registry.k8s.io
    """
    with Registries() as registries, _workdir() as work:
        auditor = open_auditor(repo, branch, thin_manifest_dir, work, reader=registry_children(registries),
                               reporters=_reporters(report_jsonl, error_reporting_project), interval=interval,
                               hold_seconds=hold)
        handled = audit_pull.pull(auditor, subscription, max_messages=max_messages, timeout=timeout or None)
    ui.err_console.print(f"krel audit pull: {handled} messages, {auditor.counts.rejected} rejected")


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
