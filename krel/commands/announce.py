"""`krel announce build|send`: write the announcement files, and mail the published announcement."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from releng.announce import compose, ghrelease, links, record, send
from releng.objectstore import open_store

from krel import cutflow, ui
from krel.options import (
    DEFAULT_PROFILE,
    JsonOpt,
    NomockOpt,
    ProfileOpt,
    YesOpt,
    confirm_production,
    github_api_url,
    github_token,
    open_profile,
    targets_for,
)

announce_app = typer.Typer(
    name="announce",
    help=(
        "Build and send release announcements, and the GitHub release page.\n\n"
        "Example: krel announce send --tag v1.30.0 --print-only"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

TagOpt = Annotated[str, typer.Option("--tag", "-t", metavar="TAG", help="Release tag, e.g. v1.30.0-rc.1.")]


@announce_app.command("build")
def build(
    tag: TagOpt,
    branch: Annotated[
        str, typer.Option(
            "--branch", "-b", metavar="BRANCH",
            help="Write the branch-cut announcement for this release-X.Y branch.",
        )
    ] = "",
    changelog_html: Annotated[
        Path | None, typer.Option(
            "--changelog-html", metavar="FILE",
            help="HTML file of the changelog section to embed.",
        )
    ] = None,
    work_dir: Annotated[Path, typer.Option(
        "--work-dir", metavar="DIR",
        help="Directory to write the two files into.",
    )] = Path("."),
    go_version: Annotated[
        str, typer.Option(
            "--go-version", metavar="VERSION",
            help="Toolchain version to quote (default: from `go version`).",
        )
    ] = "",
    nomock: NomockOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = False,
) -> None:
    """Write announcement.html and announcement-subject.txt for a release (or a branch cut with --branch).

    The package repositories and the signing key it names are the targets' (mock, or production with --nomock), as
    `krel release` names them.

    Example: krel announce build --tag v1.30.0 --changelog-html CHANGELOG-1.30.html --go-version 1.22.4
    Example: krel announce build --tag v1.30.0-rc.0 --branch release-1.30 --work-dir /tmp/announce
    """
    prof = open_profile(profile)
    if branch:
        announcement = compose.build_branch_announcement(prof, tag, branch)
    else:
        html = compose.read_input(changelog_html, "changelog HTML") if changelog_html else ""
        targets = targets_for(prof, nomock)
        announcement = compose.build_announcement(
            prof, tag, go_version=go_version, changelog_html=html,
            packages=links.package_repositories(prof, targets, tag),
            signing_key_url=links.signing_key_url(prof.signing_for(nomock), targets, tag),
        )
    html_path, subject_path = compose.write_announcement(announcement, work_dir)
    if json_out:
        ui.print_json(
            {"kind": announcement.kind, "tag": tag, "subject": announcement.subject,
             "announcement": str(html_path), "subject_file": str(subject_path)}
        )
        return
    ui.table(
        f"{announcement.kind} announcement for {tag}",
        ["field", "value"],
        [("subject", announcement.subject), ("html", html_path), ("subject file", subject_path)],
    )


@announce_app.command("send")
def send_cmd(
    tag: TagOpt,
    print_only: Annotated[bool, typer.Option("--print-only", "-p", help="Show the message; send nothing.")] = False,
    name: Annotated[str, typer.Option(
        "--name", "-n", metavar="NAME",
        help="Sender name (default: the profile's).",
    )] = "",
    email: Annotated[str, typer.Option(
        "--email", "-e", metavar="EMAIL",
        help="Sender address (default: the profile's).",
    )] = "",
    resend: Annotated[bool, typer.Option(
        "--resend",
        help="Mail it again although the bucket records it as sent (by announce send or krel release).",
    )] = False,
    nomock: NomockOpt = False,
    yes: YesOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = False,
) -> None:
    """Mail the announcement published in the release bucket, after checking the checksums it quotes.

    Mock mails the profile's test list; --nomock mails the announce lists after a yes/no confirmation.
    An announcement the targets' bucket records as sent is not mailed again without --resend.
    Secrets come from the environment: KREL_SMTP_PASSWORD (KREL_SMTP_USER), SENDGRID_API_KEY.

    Example: krel announce send --tag v1.30.0 --print-only
    Example: krel announce send --tag v1.30.0 --nomock --yes
    """
    prof = open_profile(profile)
    mailer = cutflow.mailer(prof)
    if print_only:
        targets = targets_for(prof, nomock)
        outgoing = send.prepare_send(prof, targets, tag, open_store(targets.bucket), sender_name=name,
                                     sender_email=email)
        summary = _summary(tag, outgoing, mailer.describe())
        if json_out:
            ui.print_json({**summary, "sent": False, "html": outgoing.message.html})
            return
        ui.table(f"announcement for {tag} (print only, nothing sent)", ["field", "value"], _rows(summary))
        ui.console.print(outgoing.message.html, markup=False, highlight=False)
        return

    def confirm(outgoing: send.Outgoing) -> None:
        # after the checksum checks, before the question: a second send of the same release needs --resend
        if not resend:
            record.refuse_second_send(open_store(targets_for(prof, nomock).bucket), tag)
        # the same checks and question as krel release's announcement at its end (krel.cutflow)
        if not json_out:
            ui.table(f"announcement for {tag}", ["field", "value"], _rows(_summary(tag, outgoing, mailer.describe())))
        confirm_production(prof, nomock, cutflow.send_question(outgoing.message.recipients), yes)

    sent = cutflow.announce(prof, nomock, tag, mailer, confirm, name, email)
    summary = _summary(tag, sent.outgoing, mailer.describe())
    issue = cutflow.after_announce(prof, nomock, tag, sent)
    if json_out:
        ui.print_json({**summary, "sent": True, "receipt": sent.receipt,
                       **({"release_issue": issue.as_json()} if issue else {})})
        return
    ui.console.print(f"sent: {sent.receipt}", markup=False, highlight=False)
    if issue:
        ui.console.print(f"release issue closed: {issue.url}", markup=False, highlight=False)


def _summary(tag: str, outgoing: send.Outgoing, transport: str) -> dict[str, object]:
    msg = outgoing.message
    return {
        "tag": tag,
        "source": outgoing.source,
        "from": f"{msg.sender_name} <{msg.sender_email}>",
        "to": list(msg.recipients),
        "subject": msg.subject,
        "transport": transport,
        "checksums_verified": len(outgoing.checksums),
    }


@announce_app.command("github-page")
def github_page(
    tag: TagOpt,
    asset: Annotated[
        list[Path] | None, typer.Option(
            "--asset", metavar="FILE",
            help="File to attach (repeatable); its digests go in the body.",
        )
    ] = None,
    notes_file: Annotated[
        Path | None, typer.Option("--notes-file", metavar="FILE", help="Markdown release notes for the body.")
    ] = None,
    nomock: NomockOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = False,
) -> None:
    """Render the GitHub release page, or publish it (--nomock on a 'publish' profile; GITHUB_TOKEN from the env).

    The profile's targets decide: render (print only), publish (GitHub API) or bucket (release/<tag>/github-release.md).
    `krel release` does this as its last step; this command redoes it on its own.

    Example: krel announce github-page --tag v1.30.0 --asset _output/release-tars/kubernetes.tar.gz
    """
    prof = open_profile(profile)
    notes = compose.read_input(notes_file, "release notes") if notes_file else ""
    targets = targets_for(prof, nomock)
    result = ghrelease.update_github_release(
        prof,
        targets,
        tag,
        assets=asset or [],
        notes=notes,
        token=github_token(),
        api_url=github_api_url(),
        packages=links.package_repositories(prof, targets, tag),
        signing_key_url=links.signing_key_url(prof.signing_for(nomock), targets, tag),
    )
    info = {
        "tag": tag, "mode": result.mode, "name": result.name, "prerelease": result.prerelease,
        "make_latest": result.make_latest, "location": result.location, "created": result.created,
        "assets": [{"name": a.name, "sha256": a.sha256, "sha512": a.sha512} for a in result.assets],
    }
    if json_out:
        ui.print_json({**info, "body": result.body})
        return
    rows = [(k, v) for k, v in info.items() if k != "assets"] + [("assets", len(result.assets))]
    ui.table(f"GitHub release page for {tag}", ["field", "value"], rows)
    if result.mode == "render":
        ui.console.print(result.body, markup=False, highlight=False)


def _rows(summary: dict[str, object]) -> list[tuple[str, object]]:
    return [(k, ", ".join(v) if isinstance(v, list) else v) for k, v in summary.items()]


def register(app: typer.Typer) -> None:
    app.add_typer(announce_app, name="announce")
