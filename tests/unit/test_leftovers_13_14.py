"""Issues 13/14 leftovers, pure parts: the signing and packages keys reach Cloud Build jobs as Secret Manager
secrets (named in the request, never their values), turned into key files inside the job (releng.gcb.keyfiles);
the job templates pass BUILD_ID and PROJECT_ID to krel; a signed release's announcement and GitHub page name its
public key."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from google.cloud.devtools import cloudbuild_v1
from releng.announce import compose, ghrelease
from releng.errors import UsageError
from releng.gcb import keyfiles
from releng.gcb.base import BuildRequest, substitute
from releng.gcb.cloudbuild import CloudBuildRunner, to_build
from releng.gcb.config import GcbFacts, GcbOptions, build_request
from releng.jobs import steps
from releng.jobs.options import JobOptions, facts_for
from releng.jobs.release import plan_release
from releng.jobs.stage import plan_stage
from releng.packages import keys as package_keys
from releng.plan import Plan
from releng.profile import Profile, Signing, SigningTargets, load_profile
from releng.signing import keys as signing_keys

from tests.fixtures.gcbchoice import chosen

BV = "v1.31.0-alpha.1.1+3ff09514d162b0"
FACTS = GcbFacts(build_version=BV, branch_is_new=False, gcp_user="rm", git_tag="v0.1.0")
LOCAL = load_profile("local", {"krel_home": "/home/rm/.krel", "local_registry": "127.0.0.1:5000"})
KEY_SECRETS = (
    "release-signing-key=KREL_SIGNING_KEY_DATA",
    "release-signing-password=KREL_SIGNING_KEY_PASSWORD",
    "packages-gpg-key=KREL_PACKAGES_GPG_KEY_DATA",
    "packages-gpg-passphrase=KREL_PACKAGES_GPG_PASSPHRASE",
)
PASSWORD = "correct horse battery staple 42"
GPG_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGZfakekeymaterial0123456789\n=abcd\n" \
          "-----END PGP PRIVATE KEY BLOCK-----\n"
GPG_PASSPHRASE = "gpg passphrase 0987"


def _production(profile: Profile = LOCAL, *, secrets: tuple[str, ...] = KEY_SECRETS, key: str = "",
                packages_key: str = "env") -> Profile:
    """A profile whose production targets sign with the key from the environment and publish packages signed
    with the environment's GPG key: what a real release on Cloud Build does."""
    signing = Signing(mock=profile.signing.mock,
                      nomock=SigningTargets(artifacts=True, images=True, provenance=True, key=key))
    return dataclasses.replace(
        profile, signing=signing, gcb=dataclasses.replace(profile.gcb, secrets=secrets),
        nomock=dataclasses.replace(profile.nomock, packages_key=packages_key),
    )


def _request(profile: Profile, job: str = "release", *, nomock: bool = True, runner: str = "gcb") -> BuildRequest:
    options = GcbOptions(job=job, build_version=BV if job == "release" else "", nomock=nomock)
    return build_request(chosen(options, profile), profile, FACTS, runner=runner,
                         krel_command=CloudBuildRunner.krel_command if runner == "gcb" else "krel")


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real password-protected ECDSA P-256 key, as it would sit in Secret Manager."""
    where = tmp_path_factory.mktemp("key")
    signing_keys.generate_key(where / "release.key", where / "release.pub", PASSWORD.encode())
    return (where / "release.key").read_text()


# ---- 1. the keys as Cloud Build secrets --------------------------------------------------------------------------


@pytest.mark.parametrize("job", ["stage", "release"])
def test_cloud_build_request_names_the_key_secrets_and_holds_no_key_material(
    job: str, pem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "submitter.key"
    key_file.write_text(pem)
    # Everything the submitter has in its environment: none of it may travel in the request.
    env = {"KREL_SIGNING_KEY_DATA": pem, signing_keys.KEY_ENV: str(key_file), signing_keys.PASSWORD_ENV: PASSWORD,
           "KREL_PACKAGES_GPG_KEY_DATA": GPG_KEY, package_keys.PASSPHRASE_ENV: GPG_PASSPHRASE}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    request = _request(_production(), job)
    build = to_build(request)
    names = {s.env: s.version_name for s in build.available_secrets.secret_manager}
    project = request.project
    assert names == {
        "KREL_SIGNING_KEY_DATA": f"projects/{project}/secrets/release-signing-key/versions/latest",
        "KREL_SIGNING_KEY_PASSWORD": f"projects/{project}/secrets/release-signing-password/versions/latest",
        "KREL_PACKAGES_GPG_KEY_DATA": f"projects/{project}/secrets/packages-gpg-key/versions/latest",
        "KREL_PACKAGES_GPG_PASSPHRASE": f"projects/{project}/secrets/packages-gpg-passphrase/versions/latest",
    }
    krel_step = build.steps[-1]
    assert list(krel_step.secret_env) == [entry.split("=")[1] for entry in KEY_SECRETS]
    # the job turns the key values into files before krel starts
    assert krel_step.args[-1].startswith(
        "env PYTHONPATH=/workspace/krel python3 -m releng.gcb.keyfiles python3 -m krel "
    )
    sent = cloudbuild_v1.Build.to_json(build) + json.dumps(request.as_dict())
    body = "".join(pem.splitlines()[1:-1])  # the base64 body of the PEM, whatever the line breaks
    for value in (body[:40], body[-40:], PASSWORD, GPG_PASSPHRASE, "lQVYBGZfakekeymaterial", str(key_file)):
        assert value not in sent and value.replace("/", "\\/") not in sent


# (profile, job, nomock, runner) -> the env variable the refusal names, or "" when the request is built
REFUSALS = {
    "signing-secret-missing": (_production(secrets=KEY_SECRETS[1:]), "release", True, "gcb", "KREL_SIGNING_KEY_DATA"),
    "signing-key-as-path-var": (
        _production(secrets=("release-signing-key=KREL_SIGNING_KEY", *KEY_SECRETS[2:])), "stage", True, "gcb",
        "KREL_SIGNING_KEY_DATA"),
    "packages-secret-missing": (
        _production(secrets=KEY_SECRETS[:2]), "release", True, "gcb", "KREL_PACKAGES_GPG_KEY_DATA"),
    "no-secrets-at-all": (_production(secrets=()), "stage", True, "gcb", "KREL_SIGNING_KEY_DATA"),
    "passwords-only": (
        _production(secrets=(KEY_SECRETS[1], KEY_SECRETS[3])), "release", True, "gcb", "KREL_SIGNING_KEY_DATA"),
    # not refused: the local runner inherits the environment; mock signs with its throwaway key and packages
    # with the throwaway GPG key; a profile naming its key file; the fast-forward job signs nothing
    "local-runner": (_production(secrets=()), "release", True, "local", ""),
    "mock": (_production(secrets=()), "release", False, "gcb", ""),
    "profile-names-key": (
        _production(secrets=(), key="/keys/release.key", packages_key="throwaway"), "release", True, "gcb", ""),
    "fast-forward": (_production(secrets=()), "fast-forward", True, "gcb", ""),
}


@pytest.mark.parametrize(("profile", "job", "nomock", "runner", "named"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_job_that_would_lack_its_key_is_refused_at_submit(
    profile: Profile, job: str, nomock: bool, runner: str, named: str
) -> None:
    if not named:
        assert _request(profile, job, nomock=nomock, runner=runner).kind == job
        return
    with pytest.raises(UsageError) as exc:
        _request(profile, job, nomock=nomock, runner=runner)
    message = str(exc.value)
    assert f"'<secret-name>={named}'" in message and message.startswith("profile ")
    assert "\n" not in message and exc.value.exit_code == 2


def test_key_variables_are_the_ones_krel_reads() -> None:
    assert keyfiles.SIGNING_KEY.path_env == signing_keys.KEY_ENV
    assert keyfiles.PACKAGES_KEY.path_env == package_keys.KEY_FILE_ENV


# Stands in for krel in the job: records what it was started with (standard library only: it starts fast).
_PROBE = """
import json, os, stat, sys
from pathlib import Path
out = {"argv": sys.argv[2:], "data": [n for n in os.environ if n.endswith("_KEY_DATA")]}
for name in ("KREL_SIGNING_KEY", "KREL_PACKAGES_GPG_KEY_FILE"):
    path = os.environ.get(name, "")
    out[name] = path
    if path and Path(path).exists():
        out[name + ":mode"] = stat.S_IMODE(Path(path).stat().st_mode)
        out[name + ":dir_mode"] = stat.S_IMODE(Path(path).parent.stat().st_mode)
        out[name + ":text"] = Path(path).read_text()
Path(sys.argv[1]).write_text(json.dumps(out))
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
"""


def _wrapped(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict[str, object]]:
    """Run the probe through keyfiles.run, as `python -m releng.gcb.keyfiles` runs krel in the job."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    base = {k: v for k, v in os.environ.items() if not k.startswith("KREL_")}
    report = tmp_path / "probe.json"
    code = keyfiles.run([sys.executable, "-c", _PROBE, str(report), "stage", "--yes"], {**base, **env})
    return code, json.loads(report.read_text())


# the secret's value as Secret Manager may hold it -> what the key file must contain
VALUES = {
    "pem-as-is": (lambda pem: pem, lambda pem: pem),
    "pem-without-last-newline": (lambda pem: pem.rstrip("\n"), lambda pem: pem),
}


@pytest.mark.parametrize(("stored", "expected"), VALUES.values(), ids=VALUES.keys())
def test_the_job_reads_the_keys_from_private_files_removed_afterwards(
    stored: Callable[[str], str], expected: Callable[[str], str], pem: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"KREL_SIGNING_KEY_DATA": stored(pem), "KREL_SIGNING_KEY_PASSWORD": PASSWORD,
           "KREL_PACKAGES_GPG_KEY_DATA": GPG_KEY, "PROBE_EXIT": "3"}
    code, out = _wrapped(env, tmp_path, monkeypatch)
    assert code == 3  # krel's exit status is the step's
    assert out["argv"] == ["stage", "--yes"] and out["data"] == []  # the values are not in krel's environment
    assert out["KREL_SIGNING_KEY:text"] == expected(pem) and out["KREL_PACKAGES_GPG_KEY_FILE:text"] == GPG_KEY
    for name in ("KREL_SIGNING_KEY", "KREL_PACKAGES_GPG_KEY_FILE"):
        assert out[f"{name}:mode"] == 0o600 and out[f"{name}:dir_mode"] == 0o700
        assert Path(str(out[name])).parent.parent == tmp_path / "tmp"
    assert list((tmp_path / "tmp").iterdir()) == []  # gone when krel ended
    # what krel then loads: the key itself, opened with the password secret
    check = tmp_path / "check.key"
    check.write_text(expected(pem))
    assert signing_keys.load_signing_key(check, PASSWORD.encode()).public_pem().startswith(b"-----BEGIN PUBLIC KEY")


# the environment without key values -> krel sees the submitter's own variables unchanged (the local runner's case)
WITHOUT = {
    "nothing": {},
    "empty-values": {"KREL_SIGNING_KEY_DATA": "", "KREL_PACKAGES_GPG_KEY_DATA": ""},
    "path-only": {"KREL_SIGNING_KEY": "/keys/release.key"},
}


@pytest.mark.parametrize("env", WITHOUT.values(), ids=WITHOUT.keys())
def test_without_key_values_nothing_is_written(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _wrapped(env, tmp_path, monkeypatch)
    assert code == 0 and out["data"] == []
    assert out["KREL_SIGNING_KEY"] == env.get("KREL_SIGNING_KEY", "") and out["KREL_PACKAGES_GPG_KEY_FILE"] == ""
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_job_step_runs_the_wrapper_as_a_module(pem: str, tmp_path: Path) -> None:
    """The command the krel step runs, for real: `python3 -m releng.gcb.keyfiles COMMAND…`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KREL_")}
    report = tmp_path / "probe.json"
    proc = subprocess.run(
        [sys.executable, "-m", "releng.gcb.keyfiles", sys.executable, "-c", _PROBE, str(report), "release"],
        env={**base, "TMPDIR": str(tmp_path), "KREL_SIGNING_KEY_DATA": pem}, capture_output=True, text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    out = json.loads(report.read_text())
    assert out["KREL_SIGNING_KEY:text"] == pem and out["data"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe.json"]


def test_the_wrapper_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert keyfiles.main(["keyfiles"]) == 2
    assert capsys.readouterr().err.startswith("usage: ")


# ---- 2. BUILD_ID and PROJECT_ID reach krel in the job ------------------------------------------------------------


@pytest.mark.parametrize("job", ["stage", "release", "fast-forward"])
@pytest.mark.parametrize("runner", ["gcb", "local"])
def test_the_krel_step_gets_its_build_id_and_project(job: str, runner: str) -> None:
    request = _request(LOCAL, job, nomock=False, runner=runner)
    krel_step = request.steps[-1]
    assert krel_step.id == f"krel-{job}"
    assert "BUILD_ID=$BUILD_ID" in krel_step.env and "PROJECT_ID=$PROJECT_ID" in krel_step.env
    # Cloud Build's built-in substitutions, as Cloud Build (and the local worker) expand them
    builtins = {**request.substitutions, "BUILD_ID": "4f1c-job", "PROJECT_ID": "release-proj"}
    env = dict(substitute(e, builtins).split("=", 1) for e in krel_step.env)
    assert env["BUILD_ID"] == "4f1c-job" and env["PROJECT_ID"] == "release-proj"
    if runner == "gcb":
        assert "BUILD_ID=$BUILD_ID" in list(to_build(request).steps[-1].env)


def test_the_job_link_looks_in_the_jobs_own_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """krel.cutflow links this run's job by BUILD_ID in PROJECT_ID (a nomock job is not in the mock project)."""
    from krel import cutflow

    asked: list[str] = []

    class Runner:
        def get(self, job_id: str) -> object:
            return type("J", (), {"log_url": f"https://console/{job_id}"})()

    def open_runner(profile: Profile, runner: str, project: str, targets: object) -> Runner:
        asked.append(project)
        return Runner()

    monkeypatch.setattr(cutflow, "open_job_runner", open_runner)
    monkeypatch.setenv("BUILD_ID", "b-77")
    monkeypatch.setenv("PROJECT_ID", "prod-releases")
    assert cutflow._job_link(LOCAL, "/log") == "https://console/b-77"
    assert asked == ["prod-releases"]


# ---- 4. the announcement and the GitHub release page name the release's public key -------------------------------

RC_BV = "v1.30.0-beta.0.5+0123456789abcd"
HOME = Path("/krel-home")


def _release_plan(nomock: bool, signing: SigningTargets | None) -> tuple[Plan, Profile]:
    profile = load_profile("local", {"krel_home": str(HOME), "local_registry": "127.0.0.1:5000"})
    options = JobOptions("release-1.30", "rc", RC_BV, profile, HOME, nomock=nomock,
                         signing=profile.signing_for(nomock) if signing is None else signing)
    facts = facts_for(options, RC_BV, True, notes_staged=True)
    return plan_release(options, profile.targets(nomock), facts), profile


@pytest.mark.parametrize("nomock", [False, True])
def test_a_signed_release_names_its_public_key_where_the_notes_do(nomock: bool) -> None:
    plan, profile = _release_plan(nomock, None)
    url = f"{profile.targets(nomock).release_download_url()}/v1.30.0-rc.0/release-key.pub"
    [announcement] = [st for st in plan.steps if isinstance(st, steps.CreateAnnouncement)]
    [page] = [st for st in plan.steps if isinstance(st, steps.UpdateGitHubPage)]
    assert announcement.signing_key_url == url and page.signing_key_url == url
    # the same URL the stage's notes name (one rule: releng.announce.links.signing_key_url)
    options = JobOptions("release-1.30", "rc", RC_BV, profile, HOME, nomock=nomock, notes=True, replay_dir="/rec",
                         signing=profile.signing_for(nomock))
    stage = plan_stage(options, profile.targets(nomock), facts_for(options, RC_BV, True))
    assert [st.signing_key_url for st in stage.steps if isinstance(st, steps.WriteNotes)] == [url]


def test_an_unsigned_release_names_no_key() -> None:
    plan, _ = _release_plan(True, SigningTargets(images=True))  # images only: no release-key.pub is published
    assert {st.signing_key_url for st in plan.steps if isinstance(st, steps.CreateAnnouncement | steps.UpdateGitHubPage)
            } == {""}


KEY_URL = "https://dl.example.org/release/v1.30.0/release-key.pub"


@pytest.mark.parametrize("url", [KEY_URL, ""], ids=["signed", "unsigned"])
def test_the_rendered_announcement_and_page_name_the_key(url: str) -> None:
    html = compose.build_announcement(LOCAL, "v1.30.0", go_version="1.22.4", signing_key_url=url).html
    page = ghrelease.render_release_page(LOCAL, "v1.30.0", notes="notes", signing_key_url=url)
    if url:
        assert f'<a href="{url}">{url}</a>: <code>krel verify release --tag v1.30.0</code>' in html
        assert f"[release-key.pub]({url})" in page and "### Signatures" in page
        assert page.index("### Signatures") < page.index("### Release Notes")
    else:
        assert "public key" not in html and "Signatures" not in page and "release-key.pub" not in page


# a signing key URL no page or mail may carry -> refused in one line, nothing rendered
HOSTILE_URLS = {
    "javascript": "javascript:alert(1)",
    "attribute-break": 'https://dl.example.org/k.pub" onmouseover="x',
    "markdown-link-break": "https://dl.example.org/k.pub) [click](https://evil.example",
    "newline": "https://dl.example.org/k.pub\n### Injected",
}


@pytest.mark.parametrize("url", HOSTILE_URLS.values(), ids=HOSTILE_URLS.keys())
def test_a_hostile_key_url_is_refused(url: str) -> None:
    for render in (lambda: compose.build_announcement(LOCAL, "v1.30.0", go_version="1", signing_key_url=url),
                   lambda: ghrelease.render_release_page(LOCAL, "v1.30.0", signing_key_url=url)):
        with pytest.raises(UsageError) as exc:
            render()
        assert str(exc.value).startswith("link not allowed in a page or mail") and "\n" not in str(exc.value)
