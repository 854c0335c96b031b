"""The end of a cut at the CLI edge: the announcement mailed (announce send, and krel release when the profile says so)
and the cut's tracking issue kept up to date; secrets, the clock and the job runner are read here."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence

from releng.announce import sendgrid
from releng.announce.mail import MailAccess, Mailer, open_mailer
from releng.announce.record import SentRecord, record_sent, sent_record
from releng.announce.send import Outgoing, Sent, send_announcement
from releng.errors import ReleaseError, UsageError
from releng.jobs.options import JobOptions
from releng.jobs.run import JobResult
from releng.objectstore import open_store
from releng.profile import Profile
from releng.releaseissue import cut, tracker
from releng.releaseissue.checklist import Run

from krel import ui
from krel.jobs import JobEnd, open_job_runner
from krel.jobs import send_question as send_question  # krel announce send asks the same question
from krel.options import github_api_url, github_token, targets_for

log = logging.getLogger(__name__)


def mail_access() -> MailAccess:
    """The mail secrets and endpoint, from the environment."""
    return MailAccess(
        smtp_user=os.environ.get("KREL_SMTP_USER", ""),
        smtp_password=os.environ.get("KREL_SMTP_PASSWORD", ""),
        sendgrid_api_key=os.environ.get("SENDGRID_API_KEY", ""),
        sendgrid_host=os.environ.get("KREL_SENDGRID_HOST", sendgrid.DEFAULT_HOST),
    )


def mailer(prof: Profile) -> Mailer:
    """The profile's mail transport with the secrets from the environment."""
    return open_mailer(prof.mail, mail_access())


def announce(prof: Profile, nomock: bool, tag: str, transport: Mailer, confirm: Callable[[Outgoing], None],
             name: str = "", email: str = "", command: str = "") -> Sent:
    """Mail the published announcement after its checksum checks (releng.announce.send.send_announcement), then
    record the send in the targets' bucket (krel release never mails it again)."""
    targets = targets_for(prof, nomock)
    store = open_store(targets.bucket)
    sent = send_announcement(prof, targets, tag, store, transport, confirm, name, email)
    try:
        record_sent(store, sent, dt.datetime.now(dt.UTC), command or _announce_command(tag, nomock))
    except ReleaseError as exc:
        raise ReleaseError(f"announce: sent ({sent.receipt}), but the send was not recorded: {exc}; "
                           "do not send it again") from exc
    return sent


def _announce_command(tag: str, nomock: bool) -> str:
    return f"krel announce send --tag {tag}{' --nomock' if nomock else ''}"


def record(prof: Profile, tag: str, run: Run) -> tracker.Outcome | None:
    """Update the cut's issue with this run and the job history, when the profile enables it."""
    if not prof.release_issue.enabled:
        return None
    issue = cut.cut_issue(prof, tag)
    jobs = open_job_runner(prof, "", "", targets_for(prof, nomock=False)).list_jobs(tags=(issue.tag,))
    client = tracker.open_client(issue, github_token(), github_api_url())
    try:
        return tracker.update_issue(client, prof, issue, tracker.history_evidence(jobs, [run]))
    finally:
        client.close()


def job_run(prof: Profile, job: str, nomock: bool, started: dt.datetime, log_file: str, command: str) -> Run:
    """This stage or release run, just finished: its own job is not in the history until it ends."""
    return cut.job_run(job, nomock, started, dt.datetime.now(dt.UTC), _job_link(prof, log_file), command)


def _job_link(prof: Profile, log_file: str) -> str:
    """This run's log: its job's page when it runs as a job (the job's template passes BUILD_ID and PROJECT_ID),
    else its log file."""
    job_id = os.environ.get("BUILD_ID", "")
    if job_id:
        try:
            project = os.environ.get("PROJECT_ID", "")  # a nomock job's project is not the mock targets'
            return open_job_runner(prof, "", project, targets_for(prof, nomock=False)).get(job_id).log_url
        except ReleaseError as exc:
            log.warning("job %s: %s; linking the log file instead", job_id, exc)
    return log_file


def after_announce(prof: Profile, nomock: bool, tag: str, sent: Sent) -> tracker.Outcome | None:
    """After the production announcement: tick it in the cut's issue and close the issue (profile enabling it)."""
    if not nomock or not prof.release_issue.enabled:
        return None
    run = cut.announce_run(dt.datetime.now(dt.UTC), len(sent.outgoing.message.recipients),
                           _announce_command(tag, nomock))
    try:
        return _tick_and_close(prof, tag, run)
    except ReleaseError as exc:
        # the mail is out: say so, so nobody sends it again to get the issue closed (a rerun of krel release
        # ticks and closes it from the send's record)
        raise ReleaseError(
            f"announce: sent ({sent.receipt}), but the release issue was not closed: {exc}; "
            f"rerun krel release, or krel release-issue close --tag {tag} --force"
        ) from exc


def _tick_and_close(prof: Profile, tag: str, run: Run) -> tracker.Outcome:
    record(prof, tag, run)
    issue = cut.cut_issue(prof, tag)
    client = tracker.open_client(issue, github_token(), github_api_url())
    try:
        return tracker.close_issue(client, issue)
    finally:
        client.close()


def after_job(prof: Profile, job: str, nomock: bool, versions: Sequence[str], started: dt.datetime, log_file: str,
              command: str) -> tracker.Outcome | None:
    """At the end of a successful stage or release: this run into the cut's issue (the prime version's issue)."""
    if not versions:
        return None
    return record(prof, versions[0], job_run(prof, job, nomock, started, log_file, command))


def release_announce(prof: Profile, nomock: bool, tag: str, command: str = "") -> dict[str, object]:
    """krel release with [release] announce: mail the announcement unless the targets' bucket records it as sent
    (asked for before the release started: jobs.confirm_release_announce), then tick and close the cut's issue."""
    store = open_store(targets_for(prof, nomock).bucket)
    try:
        earlier = sent_record(store, tag)
        sent = None if earlier else announce(prof, nomock, tag, mailer(prof), lambda _outgoing: None, command=command)
    except ReleaseError as exc:
        raise AnnouncementNotSentError.after_release(tag, nomock, exc) from exc
    if sent is not None:
        issue = after_announce(prof, nomock, tag, sent)
        return {"sent": True, "receipt": sent.receipt, "to": list(sent.outgoing.message.recipients),
                **({"release_issue": issue.as_json()} if issue else {})}
    assert earlier is not None
    issue = _close_from_record(prof, nomock, earlier)
    return {"sent": False, "already_sent": earlier.as_json(), **({"release_issue": issue.as_json()} if issue else {})}


class AnnouncementNotSentError(ReleaseError):
    """krel release is done; its announcement is not out."""

    @classmethod
    def after_release(cls, tag: str, nomock: bool, cause: ReleaseError) -> AnnouncementNotSentError:
        return cls(f"release: {tag} is released, but its announcement was not sent: {cause}; send it with "
                   f"{_announce_command(tag, nomock)} (or rerun krel release)")


def _close_from_record(prof: Profile, nomock: bool, earlier: SentRecord) -> tracker.Outcome | None:
    """A rerun after the mail went out: tick and close the issue if that did not happen then (still open)."""
    if not nomock or not prof.release_issue.enabled:
        return None
    run = cut.announce_run(dt.datetime.fromisoformat(earlier.sent_at), len(earlier.recipients), earlier.command)
    try:
        return _tick_and_close(prof, earlier.tag, run)
    except tracker.NoOpenIssueError:
        return None  # closed when it was sent, or never opened
    except ReleaseError as exc:
        raise ReleaseError(f"release: {earlier.tag} is released and announced ({earlier.sent_at}), but the release "
                           f"issue was not closed: {exc}; rerun krel release, or krel release-issue close "
                           f"--tag {earlier.tag} --force") from exc


def job_command(name: str, options: JobOptions, build_version: str) -> str:
    """This run as `krel history` writes a job's command, so this run and its job (once finished) read the same."""
    command = (f"krel {name} --type {options.release_type} --branch {options.branch} "
               f"--build-version {build_version}")
    return command + (" --nomock" if options.nomock else "")


def job_end(name: str, options: JobOptions) -> JobEnd:
    """What a successful stage or release run does at its end (krel.jobs.run_job calls it before its summary):
    checked now, before the run writes anything (a token to update the issue with)."""
    prof = options.profile
    if prof.release_issue.enabled and not github_token():
        raise UsageError(
            f"{name}: profile {prof.name} keeps the release-cut issue up to date ([release_issue] enabled): "
            "export GITHUB_TOKEN (a token that may write issues there) before running"
        )

    def finish(result: JobResult, started: dt.datetime) -> dict[str, object]:
        return finish_job(name, options, result, started)

    return finish


def finish_job(name: str, options: JobOptions, result: JobResult, started: dt.datetime) -> dict[str, object]:
    """After a successful stage or release: this run into the prime version's issue, then (release, [release]
    announce) the announcement; extra fields for the job's summary. A failure here says the job itself is done."""
    prof, nomock = options.profile, options.nomock
    tag = result.versions[0] if result.versions else ""
    command = job_command(name, options, result.build_version)
    done: dict[str, object] = {}
    issue_failure: ReleaseError | None = None
    try:
        outcome = after_job(prof, name, nomock, result.versions, started, result.log_file.as_uri(), command)
        if outcome is not None:
            done["release_issue"] = outcome.as_json()
    except tracker.NoOpenIssueError as exc:
        # the job is done: a cut without an open issue (closed once announced, or never opened) is worth a line only
        ui.err_console.print(ui.clean(f"warning: {name}: the release issue was not updated: {exc}"), markup=False,
                             highlight=False)
    except ReleaseError as exc:
        issue_failure = exc  # the announcement still goes out: it matters more than the tracking issue
    if name == "release" and prof.release.announce and tag:
        done["announcement"] = release_announce(prof, nomock, tag, command)
    if issue_failure is not None:
        raise ReleaseError(f"{name}: done ({result.build_version}), but the release issue was not updated: "
                           f"{issue_failure}; run krel release-issue update --tag {tag}") from issue_failure
    return done
