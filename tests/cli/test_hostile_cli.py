"""Bad input over every command: the right exit code, exactly one error line, no traceback, no secret, no escape.

Each row is (command words, arguments, expected exit code). `{home}`, `{file}`, `{notutf8}`, `{dir}` and `{job}` are
filled in per test: KREL_HOME, a plain file, a file that is not UTF-8, an empty directory, a local job id.
Cases other helpers fix (profiles, symlinks, archives, YAML bombs) live in their own tests.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

import krel.commands.version as version_cmd
from krel.app import app
from tests.fixtures.github import GitHubStub, v1253_prs

SECRETS = {
    "GITHUB_TOKEN": "ghp_hostileTestToken0123456789abcdefABCD",
    "SENDGRID_API_KEY": "SG.hostileSendgridKey.0123456789abcdef",
    "KREL_SMTP_PASSWORD": "hostile-smtp-password-4711",
    "KREL_REGISTRY_PASSWORD": "hostile-registry-password-0815",
}
JOB = "abcdef12"
MARKUP = "[/x]"  # a closing rich tag: crashed the error printer
OSC = "\x1b]0;pwned\x07"  # sets the terminal title
CSI = "\x1b[2J"  # clears the screen
AUDIT_REPO = ["--repo", "{dir}", "--branch", "master", "--thin-manifest-dir", "m"]

CASES = [
    # stage
    pytest.param(["stage", "--build-version", f"v1.0.0{MARKUP}", "--plan"], 2, None, id="stage-build-version-markup"),
    pytest.param(["stage", "--build-version", f"v1.0.0{OSC}", "--plan"], 2, None, id="stage-build-version-osc"),
    pytest.param(
        ["stage", "--replay", "{home}/missing", "--build-version", "v1.0.0-alpha.0.1+0123456789abcd"],
        2,
        None,
        id="stage-replay-missing-before-build",
    ),
    pytest.param(["stage", "--type", f"rc{MARKUP}", "--plan"], 2, None, id="stage-type-markup"),
    # release
    pytest.param(["release", "--build-version", MARKUP], 2, None, id="release-build-version-markup"),
    pytest.param(["release", "--build-version", f"v1.0.0{CSI}"], 2, None, id="release-build-version-csi"),
    pytest.param(
        ["release", "--build-version", "v1.0.0-rc.0.1+0123456789abcd", "--type", f"[bold]{MARKUP}"],
        2,
        None,
        id="release-type-markup",
    ),
    # gcbmgr
    pytest.param(["gcbmgr", "--job", JOB], 1, '{"status": [1]}', id="gcbmgr-job-corrupt-record"),
    pytest.param(
        ["gcbmgr", "--retry", JOB],
        1,
        '{"id": "abcdef12", "status": "SUCCESS"}',
        id="gcbmgr-retry-record-missing-fields",
    ),
    pytest.param(["gcbmgr", "--job", JOB], 1, b"\xff\xfe{", id="gcbmgr-job-record-not-utf8"),
    pytest.param(["gcbmgr", "--job", JOB], 1, "[1, 2]", id="gcbmgr-job-record-a-list"),
    pytest.param(
        ["gcbmgr", "--job", JOB],
        1,
        '{"id": "abcdef12", "status": "SUCCESS", "create_time": "soon"}',
        id="gcbmgr-job-record-bad-date",
    ),
    pytest.param(["gcbmgr", "--stage", "--replay", "{home}/missing"], 2, None, id="gcbmgr-stage-replay-missing"),
    # history
    pytest.param(
        ["history", "--branch", "master", "--date-from", f"2026-01-01{MARKUP}"], 2, None, id="history-date-markup"
    ),
    pytest.param(["history", "--branch", "master", "--date-from", "yesterday"], 2, None, id="history-date-word"),
    pytest.param(
        ["history", "--branch", "master", "--date-from", "2026-01-01", "--date-to", f"{OSC}"],
        2,
        None,
        id="history-date-to-osc",
    ),
    # release-notes (the GitHub answers are in test_github_answers_of_another_shape)
    pytest.param(
        [
            "release-notes",
            "--repo",
            "{dir}",
            "--start-rev",
            "a",
            "--end-rev",
            "b",
            "--output",
            "{home}/missing/notes.md",
        ],
        2,
        None,
        id="release-notes-output-missing-dir",
    ),
    pytest.param(
        ["release-notes", "--repo", "{dir}", "--start-rev", "a", "--end-rev", "b", "--format", MARKUP],
        2,
        None,
        id="release-notes-format-markup",
    ),
    pytest.param(
        ["release-notes", "--repo", "{dir}", "--start-rev", "a", "--end-rev", "b", "--source", f"x{OSC}"],
        2,
        None,
        id="release-notes-source-osc",
    ),
    pytest.param(["release-notes", "validate", "{file}"], 2, None, id="release-notes-validate-a-file"),
    pytest.param(["release-notes", "validate", "{home}/missing"], 2, None, id="release-notes-validate-missing"),
    pytest.param(["release-notes", "validate", "{home}/" + MARKUP], 2, None, id="release-notes-validate-markup-path"),
    # changelog
    pytest.param(["changelog", "--tag", f"v1.0.0{MARKUP}"], 2, None, id="changelog-tag-markup"),
    pytest.param(["changelog", "--tag", f"v1.0.0{CSI}"], 2, None, id="changelog-tag-csi"),
    pytest.param(
        ["changelog", "--tag", "v1.0.0", "--replay", "{dir}", "--record", "{dir}" + OSC],
        2,
        None,
        id="changelog-replay-with-record-osc",
    ),
    # announce build
    pytest.param(
        ["announce", "build", "--tag", "v1.0.0", "--go-version", "1.22", "--changelog-html", "{notutf8}"],
        2,
        None,
        id="announce-build-changelog-not-utf8",
    ),
    pytest.param(
        ["announce", "build", "--tag", "v1.0.0", "--go-version", "1.22", "--changelog-html", "{home}/missing.html"],
        2,
        None,
        id="announce-build-changelog-missing",
    ),
    pytest.param(
        ["announce", "build", "--tag", f"v1.0.0{MARKUP}", "--go-version", "1.22"],
        2,
        None,
        id="announce-build-tag-markup",
    ),
    pytest.param(
        ["announce", "build", "--tag", "v1.0.0", "--branch", f"release-1.0{CSI}"],
        2,
        None,
        id="announce-build-branch-csi",
    ),
    # announce send
    pytest.param(
        ["announce", "send", "--tag", "v1.0.0", "--email", "not-an-address"], 2, None, id="send-email-not-address"
    ),
    pytest.param(
        ["announce", "send", "--tag", "v1.0.0", "--email", "a@example.org\r\nBcc: evil@example.org"],
        2,
        None,
        id="send-email-crlf",
    ),
    pytest.param(
        ["announce", "send", "--tag", "v1.0.0", "--name", "Release\r\nBcc: evil@example.org"],
        2,
        None,
        id="send-name-crlf",
    ),
    pytest.param(
        ["announce", "send", "--tag", "v1.0.0", "--name", 'Eve" <evil@example.org>'],
        2,
        None,
        id="send-name-forged-address",
    ),
    pytest.param(["announce", "send", "--tag", f"v1.0.0{MARKUP}"], 2, None, id="send-tag-markup"),
    # announce github-page
    pytest.param(
        ["announce", "github-page", "--tag", "v1.0.0", "--notes-file", "{notutf8}"],
        2,
        None,
        id="github-page-notes-not-utf8",
    ),
    pytest.param(
        ["announce", "github-page", "--tag", "v1.0.0", "--notes-file", "{home}/missing.md"],
        2,
        None,
        id="github-page-notes-missing",
    ),
    pytest.param(["announce", "github-page", "--tag", f"v1.0.0{OSC}"], 2, None, id="github-page-tag-osc"),
    # ff
    pytest.param(["ff", "--repo", "{file}"], 2, None, id="ff-repo-is-a-file"),
    pytest.param(
        ["ff", "--repo", "{file}", "--branch", f"release-1.0{MARKUP}"], 2, None, id="ff-repo-file-branch-markup"
    ),
    pytest.param(["ff", "--repo", "{notutf8}", "--ref", f"origin/master{OSC}"], 2, None, id="ff-repo-file-ref-osc"),
    # release-issue (the stateful GitHub cases: tests/integration/test_release_issue.py)
    pytest.param(["release-issue", "open", "--tag", f"v1.0.0{OSC}"], 2, None, id="release-issue-open-tag-osc"),
    pytest.param(["release-issue", "update", "--tag", "v1.0.0\n@everyone"], 2, None, id="release-issue-tag-mention"),
    pytest.param(["release-issue", "close", "--tag", f"v1.0.0{MARKUP}"], 2, None, id="release-issue-close-tag-markup"),
    pytest.param(["release-issue", "close", "--tag", "v1.0.0"], 2, None, id="release-issue-no-repository"),
    # packages (profile values and publishing: tests/unit/test_packages_spec.py, tests/integration/test_packages_*)
    pytest.param(["packages", "build", "--tag", f"v1.0.0{OSC}"], 2, None, id="packages-build-tag-osc"),
    pytest.param(["packages", "build", "--tag", "v1.0.0", "--arch", f"amd64{MARKUP}"], 2, None,
                 id="packages-build-arch-markup"),
    pytest.param(["packages", "build", "--tag", "v1.0.0", "--repo", "{file}"], 1, None,
                 id="packages-build-repo-a-file"),
    pytest.param(["packages", "publish", "--tag", "v1.0.0\n@everyone"], 2, None, id="packages-publish-tag-newline"),
    # promote
    pytest.param(
        ["promote", "images", "--manifest", "{home}/missing.yaml"], 1, None, id="promote-images-manifest-missing"
    ),
    pytest.param(
        ["promote", "images", "--threads", "0", "--manifest", "{file}"], 2, None, id="promote-images-threads-zero"
    ),
    pytest.param(["promote", "images"], 2, None, id="promote-images-no-manifest"),
    pytest.param(
        ["promote", "snapshot", "127.0.0.1:1/x", "--output", "xml"], 2, None, id="promote-snapshot-output-xml"
    ),
    pytest.param(["promote", "snapshot", f"127.0.0.1:1/{MARKUP}"], 2, None, id="promote-snapshot-path-markup"),
    pytest.param(["backup", "--from", f"127.0.0.1:1/{MARKUP}", "--to", "127.0.0.1:2/b"], 2, None,
                 id="backup-from-markup"),
    pytest.param(["backup", "--from", "127.0.0.1:1/p", "--to", "localhost:1/p/bak"], 2, None,
                 id="backup-to-inside-from"),
    pytest.param(
        ["backup", "--from", "127.0.0.1:1/p", "--to", "127.0.0.1:2/b", "--manifest", "{home}/missing.yaml"], 1, None,
        id="backup-manifest-missing",
    ),
    pytest.param(["promote", "snapshot", f"{CSI}127.0.0.1:1/x"], 2, None, id="promote-snapshot-path-csi"),
    # sign (more: tests/cli/test_sign_cli.py)
    pytest.param(["sign", "blobs", "--key", "{file}", "{file}"], 1, None, id="sign-blobs-key-not-pem"),
    pytest.param(["sign", "blobs", "--key", "{home}/missing.key", "{file}"], 1, None, id="sign-blobs-key-missing"),
    pytest.param(["sign", "images", f"127.0.0.1:1/{MARKUP}"], 2, None, id="sign-images-ref-markup"),
    pytest.param(["sign", "generate-key", "--output-dir", "{dir}", "--name", "../evil"], 1, None,
                 id="sign-generate-key-name-escapes"),
    pytest.param(["verify", "blobs", "--key", "{file}", "{file}"], 1, None, id="verify-blobs-key-not-pem"),
    pytest.param(["verify", "blobs", "{file}"], 2, None, id="verify-blobs-no-key"),
    pytest.param(["verify", "images", "--key", "{file}", f"127.0.0.1:1/{MARKUP}"], 2, None,
                 id="verify-images-ref-markup"),
    # audit (verdicts and the event files themselves: tests/cli/test_audit_cli.py)
    pytest.param(["audit", "check", "{home}/missing.json", *AUDIT_REPO], 2, None, id="audit-check-event-missing"),
    pytest.param(["audit", "check", "{notutf8}", *AUDIT_REPO], 2, None, id="audit-check-event-not-utf8"),
    pytest.param(["audit", "check", "{file}", *AUDIT_REPO], 2, None, id="audit-check-event-not-json"),
    pytest.param(["audit", "check", "{dir}", *AUDIT_REPO], 2, None, id="audit-check-event-a-directory"),
    pytest.param(["audit", "serve", *AUDIT_REPO, "--listen", MARKUP], 2, None, id="audit-serve-listen-markup"),
    pytest.param(["audit", "serve", *AUDIT_REPO, "--listen", f"127.0.0.1:8080{OSC}"], 2, None,
                 id="audit-serve-listen-osc"),
    pytest.param(["audit", "serve", "--repo", "{dir}", "--branch", "master", "--thin-manifest-dir", "../../etc"], 2,
                 None, id="audit-serve-manifest-dir-escapes"),
    pytest.param(["audit", "pull", "--subscription", "projects/p/subscriptions/s", "--repo", "{dir}", "--branch",
                  f"master{CSI}", "--thin-manifest-dir", "m"], 2, None, id="audit-pull-branch-csi"),
    pytest.param(["audit", "pull", "--subscription", "projects/p/subscriptions/s", "--repo", "{dir}", "--branch",
                  "--upload-pack=touch /tmp/pwned", "--thin-manifest-dir", "m"], 2, None,
                 id="audit-pull-branch-option"),
    # ci-build
    pytest.param(["ci-build", "--revision", f"master{MARKUP}"], 2, None, id="ci-build-revision-markup"),
    pytest.param(["ci-build", "--revision", f"v1.0.0{OSC}"], 2, None, id="ci-build-revision-osc"),
    pytest.param(["ci-build", "--revision", "--upload-pack=touch /tmp/pwned"], 2, None, id="ci-build-revision-option"),
    pytest.param(["ci-build", "--profile", "{notutf8}"], 2, None, id="ci-build-profile-not-utf8"),
    pytest.param(["ci-build", "--profile", "{file}"], 2, None, id="ci-build-profile-not-toml"),
    # profile
    pytest.param(["profile", "check", "{home}/missing.toml"], 1, None, id="profile-check-missing"),
    pytest.param(["profile", "show", "--profile", "{notutf8}"], 2, None, id="profile-show-not-utf8"),
    pytest.param(["profile", "init", "{file}", "--upstream", "https://example.org/a/b.git"], 2, None,
                 id="profile-init-over-existing-file"),
    pytest.param(["profile", "init", "{home}/new.toml", "--upstream", f"https://example.org/a/b{OSC}"], 2, None,
                 id="profile-init-upstream-osc"),
    pytest.param(["profile", "init", "{home}/new.toml", "--upstream", "https://example.org/a/b.git",
                  "--build", f"make{CSI}"], 2, None, id="profile-init-build-csi"),
    pytest.param(["profile", "init", "{home}/new.toml", "--upstream", "https://example.org/a/b.git", "--name",
                  MARKUP], 2, None, id="profile-init-name-markup"),
    # version
    pytest.param(["version", "--bogus"], 2, None, id="version-unknown-option"),
    pytest.param(["--log-level", MARKUP, "version"], 2, None, id="version-log-level-markup"),
    pytest.param(["version", "extra"], 2, None, id="version-extra-argument"),
]


@pytest.fixture
def hostile_env(krel_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KREL_PROFILE", raising=False)
    plain = tmp_path / "plain.txt"
    plain.write_text("just a file\n")
    notutf8 = tmp_path / "latin1.html"
    notutf8.write_bytes("<p>caf\xe9</p>\n".encode("latin-1"))
    empty = tmp_path / "empty"
    empty.mkdir()
    return {"home": str(krel_home), "file": str(plain), "notutf8": str(notutf8), "dir": str(empty)}


def _fill(args: list[str], values: dict[str, str]) -> list[str]:
    return [a.format(**values) if "{" in a else a for a in args]


def assert_one_clean_error(result: object, code: int) -> str:
    """The exit code, one line on stderr, no traceback, no secret, no escape sequence; returns the line."""
    output = result.output  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == code, (result.exit_code, output)  # type: ignore[attr-defined]
    assert "Traceback" not in output, output
    for value in SECRETS.values():
        assert value not in output, output
    assert "\x1b" not in output and "\r" not in output, repr(output)
    # Step headers (`[step 1/3] ...`) are progress, not errors.
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("[step ")]
    if code == 2 and lines and lines[0].startswith("Usage:"):
        return lines[-1]  # typer's own usage errors: a usage block ending in one error box
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(("argv", "code", "record"), CASES)
def test_bad_input_is_one_clean_line(
    cli: CliRunner, hostile_env: dict[str, str], argv: list[str], code: int, record: str | bytes | None
) -> None:
    if record is not None:
        # A local job record as a crash, a hand edit or another version could leave it.
        job_dir = Path(hostile_env["home"]) / "jobs" / JOB
        job_dir.mkdir(parents=True)
        (job_dir / "job.json").write_bytes(record if isinstance(record, bytes) else record.encode())
    result = cli.invoke(app, _fill(argv, hostile_env))
    assert_one_clean_error(result, code)


def test_every_command_has_cases() -> None:
    """The table covers every registered command (and each subcommand group) with at least three bad inputs."""
    from typer.main import get_command

    group = get_command(app)
    names = set(group.commands) - {"fast-forward", "local"}  # a hidden alias of ff; `local` is another helper's
    counts = {name: 0 for name in names}
    for case in CASES:
        command = next(a for a in case.values[0] if a in names)
        counts[command] += 1
    assert all(n >= 3 for n in counts.values()), counts


# Bugs and OS errors inside any command: one line naming the command and the exception type, secrets masked.
UNEXPECTED = [
    pytest.param(
        KeyError("x"), "krel version: internal error (KeyError: 'x'); rerun with --log-level debug", id="key-error"
    ),
    pytest.param(
        FileNotFoundError(2, "No such file or directory", "/nope/x"),
        "krel version: No such file or directory: /nope/x",
        id="os-error",
    ),
    pytest.param(
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        "krel version: input is not UTF-8 text (invalid start byte at byte 0)",
        id="unicode-error",
    ),
    pytest.param(
        RuntimeError(f"GitHub said: Authorization: bearer {SECRETS['GITHUB_TOKEN']}"),
        "krel version: internal error (RuntimeError: GitHub said: Authorization: ***)",
        id="secret-in-error",
    ),
    pytest.param(
        ValueError(f"bad [/x] value\n{CSI}second line"),
        "krel version: internal error (ValueError: bad [/x] value second line)",
        id="markup-and-newline",
    ),
]


@pytest.mark.parametrize(("exc", "line"), UNEXPECTED)
def test_unexpected_exceptions_are_one_line(
    cli: CliRunner, hostile_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, exc: Exception, line: str
) -> None:
    def broken() -> str:
        raise exc

    monkeypatch.setattr(version_cmd, "_commit", broken)
    result = cli.invoke(app, ["version"])
    assert line in assert_one_clean_error(result, 1)


def test_debug_level_shows_the_traceback_masked(
    cli: CliRunner, hostile_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError(f"token {SECRETS['GITHUB_TOKEN']}")

    monkeypatch.setattr(version_cmd, "_commit", broken)
    # basicConfig binds its handler to the stderr of the first run; this run's stderr gets a fresh one.
    monkeypatch.setattr(logging.root, "handlers", [])
    result = cli.invoke(app, ["--log-level", "debug", "version"])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "broken" in result.output
    assert SECRETS["GITHUB_TOKEN"] not in result.output


# GitHub answers of an unexpected shape (HTTP 200): one GitHubError line, the token never shown.
GITHUB_ANSWERS = [
    pytest.param("[1, 2, 3]", "expected a JSON object, got a list", id="answer-a-list"),
    pytest.param('"just a string"', "expected a JSON object, got a string", id="answer-a-string"),
    pytest.param('{"errors": ["boom", "bang"]}', "GitHub GraphQL: boom", id="errors-as-strings"),
    pytest.param('{"errors": {"message": "lone object"}}', "GitHub GraphQL: lone object", id="errors-an-object"),
    pytest.param('{"data": {"repository": []}}', "data.repository: expected a JSON object", id="repository-a-list"),
    pytest.param('{"data": []}', "data: expected a JSON object, got a list", id="data-a-list"),
    pytest.param(
        '{"data": {"repository": {"pr112447": "x"}}}', "expected a JSON object, got a string", id="node-a-string"
    ),
    pytest.param(
        '{"data": {"repository": {"pr112447": {"title": "no number"}}}}',
        "not a pull request node",
        id="node-without-number",
    ),
    pytest.param(
        json.dumps({"errors": [{"message": f"bad credentials for Authorization: token {SECRETS['GITHUB_TOKEN']}"}]}),
        "Authorization: ***",
        id="error-quotes-the-token",
    ),
    pytest.param(
        json.dumps({"errors": [{"message": "Bearer ghp_SomeoneElsesToken0123456789abcdef"}]}),
        "Bearer ***",
        id="error-quotes-another-token",
    ),
]


@pytest.mark.parametrize(("body", "expected"), GITHUB_ANSWERS)
def test_github_answers_of_another_shape(
    cli: CliRunner,
    hostile_env: dict[str, str],
    github_v1253_repo: Path,
    github_stub: GitHubStub,
    body: str,
    expected: str,
) -> None:
    github_stub.prs = v1253_prs()
    github_stub.failures = [(200, {}, body)]
    result = cli.invoke(
        app,
        [
            "release-notes",
            "--repo",
            str(github_v1253_repo),
            "--start-rev",
            "v1.25.2",
            "--end-rev",
            "v1.25.3",
            "--profile",
            "kubernetes",
            "--no-cache",
            "--github-api-url",
            github_stub.url,
        ],
    )
    line = assert_one_clean_error(result, 1)
    assert expected in line, line
    assert "ghp_SomeoneElsesToken" not in result.output


@pytest.mark.parametrize(
    ("argv", "left_out"),
    [
        pytest.param(["profile", "init", "{home}/new.toml", "--upstream", f"https://example.org/a/b{OSC}"],
                     "new.toml", id="profile-init"),
        pytest.param(["ci-build", "--revision", f"master{MARKUP}"], "ci-builds", id="ci-build"),
        pytest.param(["audit", "pull", "--subscription", "projects/p/subscriptions/s", "--repo", "{dir}", "--branch",
                      f"master{CSI}", "--thin-manifest-dir", "m"], "audit/*/*", id="audit-pull"),
    ],
)
def test_refused_before_anything_is_written(
    cli: CliRunner, hostile_env: dict[str, str], argv: list[str], left_out: str
) -> None:
    """A bad value is refused where it enters: no file written, nothing cloned, no work directory left."""
    result = cli.invoke(app, _fill(argv, hostile_env))
    assert_one_clean_error(result, 2)
    assert not list(Path(hostile_env["home"]).glob(left_out))
