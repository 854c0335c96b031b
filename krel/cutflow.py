"""The end of a cut at the CLI edge: the announcement mailed (announce send, and krel release when the profile says so)
and the cut's tracking issue kept up to date; secrets, the clock and the job runner are read here."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence

from releng.announce import sendgrid
from releng.announce.mail import MailAccess, Mailer, open_mailer
from releng.announce.send import Outgoing, Sent, send_announcement
from releng.errors import ReleaseError
from releng.objectstore import open_store
from releng.profile import Profile
from releng.releaseissue import cut, tracker
from releng.releaseissue.checklist import Run

from krel.jobs import open_job_runner
from krel.options import confirm_production, github_api_url, github_token, targets_for

log = logging.getLogger(__name__)


def mail_access() -> MailAccess:
    """The mail secrets and endpoint, from the environment."""
    return MailAccess(
        smtp_user=os.environ.get("KREL_SMTP_USER", ""),
        smtp_password=os.environ.get("KREL_SMTP_PASSWORD", ""),
        sendgrid_api_key=os.environ.get("SENDGRID_API_KEY", ""),
        sendgrid_host=os.environ.get("KREL_SENDGRID_HOST", sendgrid.DEFAULT_HOST),
    )


def send_question(recipients: Sequence[str]) -> str:
    """The one question before an announcement goes out (krel announce send asks it too)."""
    return f"Send email to {', '.join(recipients)}?"


def mailer(prof: Profile) -> Mailer:
    """The profile's mail transport with the secrets from the environment."""
    return open_mailer(prof.mail, mail_access())


def announce(prof: Profile, nomock: bool, tag: str, transport: Mailer, confirm: Callable[[Outgoing], None],
             name: str = "", email: str = "") -> Sent:
    """Mail the published announcement after its checksum checks (releng.announce.send.send_announcement)."""
    targets = targets_for(prof, nomock)
    return send_announcement(prof, targets, tag, open_store(targets.bucket), transport, confirm, name, email)


def confirm_release_announce(prof: Profile, nomock: bool, yes: bool) -> None:
    """krel release with [release] announce: the announce send question, asked before the release writes anything."""
    if prof.release.announce:
        confirm_production(prof, nomock, send_question(targets_for(prof, nomock).mail_to), yes, local_too=True)


def record(prof: Profile, tag: str, run: Run) -> tracker.Outcome | None:
    """Update the cut's issue with this run and the job history, when the profile enables it."""
    if not prof.release_issue.enabled:
        return None
    issue = cut.cut_issue(prof, tag)
    jobs = open_job_runner(prof, "", "", nomock=False).list_jobs(tags=(issue.tag,))
    client = tracker.open_client(issue, github_token(), github_api_url())
    try:
        return tracker.update_issue(client, prof, issue, tracker.history_evidence(jobs, [run]))
    finally:
        client.close()


def job_run(prof: Profile, job: str, nomock: bool, started: dt.datetime, log_file: str, command: str) -> Run:
    """This stage or release run, just finished: its own job is not in the history until it ends."""
    return cut.job_run(job, nomock, started, dt.datetime.now(dt.UTC), _job_link(prof, log_file), command)


def _job_link(prof: Profile, log_file: str) -> str:
    """This run's log: its job's page when it runs as a job (the runner sets BUILD_ID), else its log file."""
    job_id = os.environ.get("BUILD_ID", "")
    if job_id:
        try:
            return open_job_runner(prof, "", "", nomock=False).get(job_id).log_url
        except ReleaseError as exc:
            log.warning("job %s: %s; linking the log file instead", job_id, exc)
    return log_file


def after_announce(prof: Profile, nomock: bool, tag: str, sent: Sent) -> tracker.Outcome | None:
    """After the production announcement: tick it in the cut's issue and close the issue (profile enabling it)."""
    if not nomock or not prof.release_issue.enabled:
        return None
    command = f"krel announce send --tag {tag} --nomock"
    run = cut.announce_run(dt.datetime.now(dt.UTC), len(sent.outgoing.message.recipients), command)
    try:
        record(prof, tag, run)
        issue = cut.cut_issue(prof, tag)
        client = tracker.open_client(issue, github_token(), github_api_url())
        try:
            return tracker.close_issue(client, issue)
        finally:
            client.close()
    except ReleaseError as exc:
        # the mail is out: say so, so nobody sends it again to get the issue closed
        raise ReleaseError(
            f"announce: sent ({sent.receipt}), but the release issue was not closed: {exc}; "
            f"run krel release-issue update --tag {tag}, then krel release-issue close --tag {tag}"
        ) from exc


def after_job(prof: Profile, job: str, nomock: bool, versions: Sequence[str], started: dt.datetime, log_file: str,
              command: str) -> tracker.Outcome | None:
    """At the end of a successful stage or release: this run into the cut's issue (the prime version's issue)."""
    if not versions:
        return None
    return record(prof, versions[0], job_run(prof, job, nomock, started, log_file, command))


def release_announce(prof: Profile, nomock: bool, tag: str) -> tuple[Sent, tracker.Outcome | None] | None:
    """krel release with [release] announce: mail the announcement (asked for before the release started, by
    confirm_release_announce), then tick it in the cut's issue and close the issue."""
    if not prof.release.announce:
        return None
    sent = announce(prof, nomock, tag, mailer(prof), lambda _outgoing: None)
    return sent, after_announce(prof, nomock, tag, sent)
