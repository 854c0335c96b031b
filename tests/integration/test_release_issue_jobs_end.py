"""The end of a successful stage or release run (krel.cutflow.finish_job, what krel.jobs.run_job calls before its
summary), against a real file:// release bucket, the outbox transport and the stateful GitHub stub: a failed
announcement says the release is done and how to send it, writes no record, and a rerun sends it exactly once; a
failed issue update says the job is done; an issue that is not open is one warning line."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from releng import layout
from releng.errors import ReleaseError, UsageError
from releng.jobs.options import JobOptions
from releng.jobs.run import JobResult
from releng.plan import Plan
from releng.profile import Profile, load_profile

from krel import cutflow
from krel.options import profile_variables
from tests.integration.test_release_issue import REPO, TOKEN, IssuesHub, hub  # noqa: F401

TAG = "v1.0.0-rc.0"
BV = "v1.0.0-rc.0.3+0123456789abcd"
TITLE = f"Cut {TAG} release"
STARTED = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
ANNOUNCEMENT = "<html><body><p>Demo {tag} is out.</p>{table}</body></html>\n"


@pytest.fixture
def home(tmp_path: Path, hub: IssuesHub, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    home = tmp_path / "home"
    home.mkdir()
    for env, value in (("KREL_HOME", str(home)), ("GITHUB_TOKEN", TOKEN), ("KREL_GITHUB_API_URL", hub.url),
                       ("CI", "true")):
        monkeypatch.setenv(env, value)
    return home


def _profile(home: Path, issue: bool = True, repo: str = REPO) -> Profile:
    text = (Path(__file__).resolve().parents[2] / "lib/releng/profiles/local.toml").read_text()
    path = home / "end-profile.toml"
    path.write_text(f'{text}\n[release_issue]\nenabled = {str(issue).lower()}\nrepo = "{repo}"\n'
                    "\n[release]\nannounce = true\n")
    return load_profile(path, profile_variables())


def _release_dir(home: Path) -> Path:
    return home / "buckets" / "release" / "release" / TAG


def _publish(home: Path, sha512: str = "") -> None:
    """What krel release published: the announcement, quoting the sha512 of one released file."""
    folder = _release_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    data = b"demo\n"
    (folder / "demo.tar.gz").write_bytes(data)
    (folder / "demo.tar.gz.sha512").write_text(f"{hashlib.sha512(data).hexdigest()}  demo.tar.gz\n")
    quoted = sha512 or hashlib.sha512(data).hexdigest()
    link = f'<a href="https://dl.example/{TAG}/demo.tar.gz">demo.tar.gz</a> {quoted}'
    (folder / "announcement.html").write_text(ANNOUNCEMENT.format(tag=TAG, table=link))


def _finish(prof: Profile, home: Path, job: str = "release", nomock: bool = True) -> dict[str, object]:
    options = JobOptions(branch="release-1.0", release_type="rc", build_version=BV, profile=prof, home=home,
                         nomock=nomock)
    result = JobResult(job, Plan(job, ()), BV, (TAG,), home / "job", home / "job" / f"{job}.log")
    return cutflow.finish_job(job, options, result, STARTED)


def _mails(home: Path) -> int:
    return len(list((home / "outbox").glob("*.eml"))) if (home / "outbox").is_dir() else 0


def _record(home: Path) -> Path:
    return home / "buckets" / "release" / layout.announcement_record_key(TAG)


def _no_announcement(home: Path) -> Callable[[], None]:
    return lambda: _publish(home)


def _outbox_is_a_file(home: Path) -> Callable[[], None]:
    _publish(home)
    (home / "outbox").write_text("not a directory")
    return lambda: (home / "outbox").unlink()


def _checksum_mismatch(home: Path) -> Callable[[], None]:
    _publish(home, sha512="0" * 128)
    return lambda: _publish(home)


def _damaged_record(home: Path) -> Callable[[], None]:
    _publish(home)
    _record(home).parent.mkdir(parents=True)
    _record(home).write_text("{sent")
    return lambda: _record(home).unlink()


FAILURES = {
    "no-announcement-published": (_no_announcement, "does not exist (run `krel release` first)"),
    "outbox-is-a-file": (_outbox_is_a_file, "cannot write to outbox"),
    "checksum-mismatch": (_checksum_mismatch, "checksum mismatch for demo.tar.gz"),
    "damaged-sent-record": (_damaged_record, "not krel's record of a sent announcement"),
}


@pytest.mark.parametrize(("arrange", "cause"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failed_announcement_says_the_release_is_done_and_a_rerun_sends_it_once(
    home: Path, arrange: Callable[[Path], Callable[[], None]], cause: str
) -> None:
    prof = _profile(home, issue=False)
    repair = arrange(home)
    with pytest.raises(cutflow.AnnouncementNotSentError) as failed:
        _finish(prof, home)
    message = str(failed.value)
    assert message.startswith(f"release: {TAG} is released, but its announcement was not sent: ")
    assert cause in message and message.endswith(f"send it with krel announce send --tag {TAG} --nomock "
                                                 "(or rerun krel release)")
    assert "\n" not in message and _mails(home) == 0
    assert not _record(home).exists() or _record(home).read_text() == "{sent"  # nothing recorded as sent
    repair()
    sent = _finish(prof, home)["announcement"]
    assert isinstance(sent, dict) and sent["sent"] is True and _mails(home) == 1 and _record(home).is_file()
    again = _finish(prof, home)["announcement"]
    assert isinstance(again, dict) and again["sent"] is False and _mails(home) == 1


def test_mock_release_mails_the_test_list_once_and_leaves_nomock_alone(home: Path) -> None:
    prof = _profile(home, issue=False)
    folder = home / "buckets" / "mock" / "release" / TAG
    folder.mkdir(parents=True)
    (folder / "announcement.html").write_text(ANNOUNCEMENT.format(tag=TAG, table=""))
    first, second = _finish(prof, home, nomock=False), _finish(prof, home, nomock=False)
    assert first["announcement"] == {**first["announcement"], "sent": True, "to": ["release-test@localhost"]}  # type: ignore[dict-item]
    assert second["announcement"]["sent"] is False and _mails(home) == 1  # type: ignore[index]
    assert (home / "buckets" / "mock" / layout.announcement_record_key(TAG)).is_file() and not _record(home).exists()


def test_a_rerun_after_the_mail_ticks_and_closes_the_issue_left_open(home: Path, hub: IssuesHub) -> None:  # noqa: F811
    prof = _profile(home)
    _publish(home)
    assert cutflow.announce(prof, True, TAG, cutflow.mailer(prof), lambda _o: None) is not None  # mailed, recorded
    number = hub.add(TITLE, "opened by hand, before krel kept it")
    done = _finish(prof, home)
    assert done["announcement"]["sent"] is False and _mails(home) == 1  # type: ignore[index]
    assert hub.issues[number]["state"] == "closed" and "sent to 2 recipient(s)" in hub.issues[number]["body"]
    assert [w[0] for w in hub.writes] == ["PATCH", "PATCH", "PATCH"]  # this release, the announcement, the close


def test_a_stage_whose_issue_is_not_open_warns_and_succeeds(home: Path, hub: IssuesHub,  # noqa: F811
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    hub.add(TITLE, state="closed")
    assert _finish(_profile(home), home, job="stage") == {}
    err = capsys.readouterr().err
    assert "warning: stage: the release issue was not updated" in err and "closed, or never opened" in err
    assert hub.writes == []


ISSUE_FAILURES = {
    "bad-token": ("GITHUB_TOKEN", "wrong-token", "401"),
    "repository-not-found": ("repo", "sig/elsewhere", "repository sig/elsewhere not found"),
}


@pytest.mark.parametrize(("what", "value", "cause"), ISSUE_FAILURES.values(), ids=ISSUE_FAILURES.keys())
def test_a_failed_issue_update_says_the_job_is_done(
    home: Path, hub: IssuesHub, monkeypatch: pytest.MonkeyPatch, what: str, value: str, cause: str  # noqa: F811
) -> None:
    hub.add(TITLE)
    if what == "GITHUB_TOKEN":
        monkeypatch.setenv("GITHUB_TOKEN", value)
    prof = _profile(home, repo=value if what == "repo" else REPO)
    with pytest.raises(ReleaseError) as failed:
        _finish(prof, home, job="stage")
    message = str(failed.value)
    assert message.startswith(f"stage: done ({BV}), but the release issue was not updated: ") and cause in message
    assert message.endswith(f"run krel release-issue update --tag {TAG}") and "\n" not in message
    assert hub.writes == [] and TOKEN not in message and "wrong-token" not in message


def test_no_token_is_refused_before_the_job_runs(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    prof = _profile(home)
    options = JobOptions(branch="release-1.0", release_type="rc", build_version=BV, profile=prof, home=home)
    with pytest.raises(UsageError, match=r"^release: profile .* export GITHUB_TOKEN"):
        cutflow.job_end("release", options)
    assert cutflow.job_end("release", JobOptions("release-1.0", "rc", BV, _profile(home, issue=False), home))
