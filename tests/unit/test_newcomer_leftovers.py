"""Issue 12 leftovers: every template a profile's release uses goes through the loader that searches the profile's
template directory first (item 7); stage/release list their artifacts without --json too (item 5); --branch
completion offers the real release branches (item 4)."""

from __future__ import annotations

import ast
import datetime as dt
import io
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from releng import branches
from releng.gcb.base import Job
from releng.gcb.history import history_rows, render_history
from releng.jobs.options import JobOptions, facts_for
from releng.jobs.stage import plan_stage
from releng.jobs.steps import BuildPackages
from releng.packages import deb, rpm
from releng.packages.spec import resolve
from releng.profile import BUILTIN_DIR, Profile, load_profile
from releng.templates import templates_dir
from typer.testing import CliRunner

from krel import ui
from krel.app import app
from krel.jobs import show_artifacts
from tests.fixtures.templates import profile_with_templates

MARK = "MARK-from-the-profile"
BV = "v1.1.0-alpha.0.3+0123456789abcd"
LIB = Path(__file__).resolve().parents[2] / "lib" / "releng"
VARIABLES = {"krel_home": "/nonexistent-krel-home", "local_registry": "127.0.0.1:5000"}


def _profile(where: Path, overrides: dict[str, str]) -> Profile:
    """The local profile with `[templates] dir = "mine"` holding the given templates."""
    return profile_with_templates(where, overrides, VARIABLES)


# ---- item 7: every template load honours the profile's template directory -------------------------------------

# The one template rendered before any profile exists: `krel profile init` writes the profile itself.
NO_PROFILE_YET = {"profile/starter.toml.j2"}


def _template_loads() -> list[tuple[str, str, bool]]:
    """(where, template name, passes profile_dir) for every render()/template_path() call in lib/releng."""
    found = []
    for path in sorted(LIB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called not in ("render", "template_path") or not node.args:
                continue
            first = node.args[0]
            name = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
            if not name and not isinstance(first, ast.JoinedStr):
                continue  # another render() (markdown-it's) takes text, not a template name
            passes = len(node.args) > 1 or any(k.arg == "profile_dir" for k in node.keywords)
            found.append((f"{path.relative_to(LIB)}:{node.lineno}", name or ast.unparse(first), passes))
    return found


def test_every_template_load_passes_the_profile_template_dir() -> None:
    loads = _template_loads()
    assert len(loads) >= 20  # the walk finds the loads (notes, changelog, announce, packages, history, ...)
    missing = [f"{where}: {name}" for where, name, passes in loads if not passes and name not in NO_PROFILE_YET]
    assert missing == []


def _history_job() -> Job:
    start = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    return Job("job-1", "SUCCESS", "local", start_time=start, finish_time=start + dt.timedelta(seconds=61),
               create_time=start, tags=("STAGE", "release-1.1"), log_url="file:///log",
               substitutions={"_TYPE": "rc", "_RELEASE_BRANCH": "release-1.1", "_BUILDVERSION": BV})


def _history(profile: Profile) -> str:
    return render_history(history_rows([_history_job()]), profile.template_dir())


def _built(profile: Profile, tmp_path: Path, builder: Callable[..., Path], query: Callable[[str], list[str]]) -> str:
    """A package of the local profile's [packages] built with the real tool, and one field read back from it."""
    assert profile.packages is not None
    binary = tmp_path / "out" / "bin" / "linux" / "amd64" / "demo-server"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\n")
    (package,) = resolve(profile.packages, "v1.1.0", "amd64", tmp_path / "out", 1_700_000_000)
    (tmp_path / "pkg").mkdir(exist_ok=True)
    built = builder(package, tmp_path / "pkg", tmp_path, "Release v1.1.0.", profile.template_dir())
    return subprocess.run(query(str(built)), capture_output=True, text=True, check=True).stdout


def _builtin(name: str) -> str:
    return (templates_dir() / name).read_text()


# template -> (its override text, what renders it for a profile)
KINDS: dict[str, tuple[str, Callable[[Profile, Path], str]]] = {
    "cloudbuild/history.md": (f"{MARK} {{{{ rows | length }}}}\n", lambda p, _: _history(p)),
    "packages/control.j2": (
        _builtin("packages/control.j2").replace("Section: admin", f"Section: {MARK}"),
        lambda p, tmp: _built(p, tmp, deb.build, lambda deb_file: ["dpkg-deb", "--field", deb_file, "Section"]),
    ),
    "packages/package.spec.j2": (
        _builtin("packages/package.spec.j2").replace("Summary: {{ summary }}", f"Summary: {MARK}"),
        lambda p, tmp: _built(p, tmp, rpm.build, lambda rpm_file: ["rpm", "-qp", "--queryformat", "%{SUMMARY}",
                                                                   rpm_file]),
    ),
}


@pytest.mark.parametrize("name", list(KINDS))
def test_an_override_changes_the_output_and_a_missing_one_falls_back(tmp_path: Path, name: str) -> None:
    text, produce = KINDS[name]
    builtin = produce(_profile(tmp_path / "plain", {}), tmp_path / "a")
    overridden = produce(_profile(tmp_path / "own", {name: text}), tmp_path / "b")
    assert MARK not in builtin and builtin.strip()
    assert MARK in overridden
    # another template overridden: this one still comes from the built-ins, byte for byte
    other = next(n for n in KINDS if n != name)
    assert produce(_profile(tmp_path / "other", {other: KINDS[other][0]}), tmp_path / "c") == builtin


def test_history_command_renders_the_profile_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CI", "true")
    profile = _profile(tmp_path, {"cloudbuild/history.md": f"{MARK} {{{{ header | join(',') }}}}\n"})
    args = ["history", "--date-from", "2026-01-02", "--runner", "local"]
    own = CliRunner().invoke(app, [*args, "--profile", profile.source])
    builtin = CliRunner().invoke(app, args)
    assert own.exit_code == 0 and own.stdout == f"{MARK} Step,Command,Link,Start,Duration,Succeeded?\n", own.output
    assert builtin.exit_code == 0 and builtin.stdout.startswith("| Step | Command |"), builtin.output


@pytest.mark.parametrize("own", [True, False], ids=["profile-dir", "builtins-only"])
def test_the_stage_job_builds_its_packages_with_the_profile_templates(tmp_path: Path, own: bool) -> None:
    profile = _profile(tmp_path, {"packages/control.j2": MARK}) if own else load_profile("local", VARIABLES)
    options = JobOptions("master", "alpha", BV, profile, tmp_path)
    plan = plan_stage(options, profile.mock, facts_for(options, BV, False))
    (build,) = [step for step in plan.steps if isinstance(step, BuildPackages)]
    assert build.template_dir == (str(profile.template_dir()) if own else "")


# ---- item 5: stage/release list their artifacts without --json: a table on a terminal, records in a pipe --------

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
DIGEST = "sha256:" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
URL = "file:///home/me/.krel/buckets/release/release/v1.0.0-rc.0"


def _listed(name: str = "demo-linux-amd64.tar.gz", ref: str = "127.0.0.1:5000/demo/demo-server:v1.0.0-rc.0") -> list[
        dict[str, Any]]:
    """A realistic `artifacts` list (what artifacts.json holds), as run_job reads it back."""
    return [{
        "version": "v1.0.0-rc.0",
        "files": [{"name": name, "url": f"{URL}/{name}", "size": 10485760, "sha256": SHA},
                  {"name": "SHA256SUMS", "url": f"{URL}/SHA256SUMS", "size": 412, "sha256": SHA}],
        "images": [{"ref": ref, "digest": DIGEST}],
    }]


def test_in_a_pipe_every_artifact_is_one_record(capsys: pytest.CaptureFixture[str]) -> None:
    show_artifacts(_listed())
    assert capsys.readouterr().out.splitlines() == [
        "version\tfile\tsize\tsha256\turl",
        f"v1.0.0-rc.0\tdemo-linux-amd64.tar.gz\t10485760\t{SHA}\t{URL}/demo-linux-amd64.tar.gz",
        f"v1.0.0-rc.0\tSHA256SUMS\t412\t{SHA}\t{URL}/SHA256SUMS",
        "version\timage\tdigest",
        f"v1.0.0-rc.0\t127.0.0.1:5000/demo/demo-server:v1.0.0-rc.0\t{DIGEST}",
    ]


def test_on_a_terminal_a_table_with_whole_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(ui, "console", ui._SafeConsole(file=out, force_terminal=True, width=400, markup=False,
                                                        highlight=False, color_system=None))
    show_artifacts(_listed())
    text = out.getvalue()
    assert "artifacts: files" in text and "artifacts: images" in text and "\t" not in text
    assert SHA in text and DIGEST in text and f"{URL}/demo-linux-amd64.tar.gz" in text and "10485760" in text


def test_nothing_listed_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    show_artifacts([{"version": "v1.0.0", "files": [], "images": []}])
    show_artifacts([])
    assert capsys.readouterr().out == ""


# Names come from the build output and the profile: a record stays one line, and nothing reaches the terminal raw.
HOSTILE_NAMES = {
    "tab": "a\tb.tar.gz",
    "newline": "a\nb.tar.gz",
    "carriage-return": "a\rb.tar.gz",
    "ansi-escape": "a\x1b[2Jb.tar.gz",
    "osc-title": "a\x1b]0;owned\x07b.tar.gz",
    "c1-csi": "a\x9b31mb.tar.gz",
    "rich-markup": "[bold red]a[/]b.tar.gz",
}


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_hostile_names_stay_one_clean_record(name: str, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    show_artifacts(_listed(name=name, ref=f"127.0.0.1:5000/demo/{name}:v1"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(len(line.split("\t")) == n for line, n in zip(lines, (5, 5, 5, 3, 3), strict=True))
    assert not any(ch in "".join(lines) for ch in "\x1b\x07\x9b\r")
    out = io.StringIO()
    monkeypatch.setattr(ui, "console", ui._SafeConsole(file=out, force_terminal=True, width=400, markup=False,
                                                        highlight=False, color_system=None))
    show_artifacts(_listed(name=name))
    assert not any(ch in out.getvalue() for ch in "\x1b\x07\x9b\r")
    if name.startswith("[bold"):
        assert name in out.getvalue()  # shown as text, not read as a style


# ---- item 4: --branch completion offers the real release branches ---------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo),
                        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@localhost", "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A bare upstream (release-3.1, release-3.0) and a clone of another project (own and remote-tracking release
    branches, and names that only look like release branches)."""
    root = tmp_path_factory.mktemp("branches")
    upstream, clone, other = root / "upstream.git", root / "clone", root / "other.git"
    for bare in (upstream, other):
        _git(root, "init", "-q", "--bare", "-b", "master", str(bare))
    _git(root, "init", "-q", "-b", "master", str(clone))
    _git(clone, "commit", "-q", "--allow-empty", "-m", "first")
    for name in ("release-3.0", "release-3.1"):
        _git(clone, "push", "-q", str(upstream), f"HEAD:refs/heads/{name}")
    _git(clone, "push", "-q", str(upstream), "HEAD:refs/heads/master")
    for name in ("release-1.9", "release-1.10", "feature", "release-1", "release-1.2.3", "release-01.2",
                 "release-1.x", "foo/release-1.5", "xrelease-1.5"):
        _git(clone, "branch", name)
    _git(clone, "tag", "release-2.0")  # a tag, not a branch
    _git(clone, "push", "-q", str(other), "HEAD:refs/heads/release-1.11", "HEAD:refs/heads/main")
    _git(clone, "remote", "add", "origin", str(other))
    _git(clone, "remote", "add", "release-9.9", str(other))  # a remote named like a branch
    _git(clone, "fetch", "-q", "origin")
    _git(clone, "fetch", "-q", "release-9.9")
    _git(clone, "remote", "set-head", "origin", "main")  # origin/HEAD, a symbolic ref
    (root / "plain").mkdir()
    return {"upstream": upstream, "clone": clone, "plain": root / "plain", "root": root}


CLONE_OFFERS = ["master", "main", "release-1.11", "release-1.10", "release-1.9"]
UPSTREAM_OFFERS = ["master", "release-3.1", "release-3.0"]


@pytest.mark.parametrize(("upstream", "cwd", "expected"), [
    pytest.param("file://{upstream}", "clone", UPSTREAM_OFFERS, id="profile-upstream-file-url"),
    pytest.param("{upstream}", "plain", UPSTREAM_OFFERS, id="profile-upstream-path"),
    pytest.param("https://github.com/o/r.git", "clone", CLONE_OFFERS, id="remote-upstream-uses-the-clone"),
    pytest.param(None, "clone", CLONE_OFFERS, id="no-profile-uses-the-clone"),
    pytest.param("file://{root}/missing.git", "clone", CLONE_OFFERS, id="missing-upstream-falls-to-the-clone"),
    pytest.param("https://github.com/o/r.git", "plain", ["master", "main", "release-"], id="no-repo-the-pattern"),
    pytest.param("file://{root}/missing.git", "{root}/missing", ["master", "main", "release-"],
                 id="nothing-exists-the-pattern"),
])
def test_offered_branches(repos: dict[str, Path], upstream: str | None, cwd: str, expected: list[str]) -> None:
    url = upstream.format(**repos) if upstream else None
    where = Path(cwd.format(**repos)) if "{" in cwd else repos[cwd]
    assert branches.offered(url, where) == expected


def test_a_repository_without_release_branches_offers_the_pattern_too(repos: dict[str, Path]) -> None:
    only_master = repos["root"] / "new.git"
    _git(repos["root"], "init", "-q", "--bare", "-b", "master", str(only_master))
    _git(repos["clone"], "push", "-q", str(only_master), "HEAD:refs/heads/master")
    assert branches.offered(str(only_master), repos["plain"]) == ["master", "release-"]


def _complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    """What `krel <words><TAB>` offers in bash, through the CLI's own completion."""
    result = CliRunner().invoke(app, [], prog_name="krel", env={
        "_KREL_COMPLETE": "complete_bash", "COMP_WORDS": f"krel {words}",
        "COMP_CWORD": str(len(words.split(" "))), **(env or {})})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize("command", ["stage", "release", "gcbmgr", "ff", "changelog", "history"])
def test_branch_completion_reads_the_cwd_clone(repos: dict[str, Path], command: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repos["clone"])
    monkeypatch.setenv("KREL_HOME", str(repos["root"] / "home"))  # the local profile's upstream does not exist
    assert _complete(f"{command} --branch ") == CLONE_OFFERS
    assert _complete(f"{command} --branch release-1.1") == ["release-1.11", "release-1.10"]


# A --profile the completion cannot load (the user is still typing it) only means: no upstream to read.
@pytest.mark.parametrize("profile", [
    pytest.param("{root}/absent.toml", id="missing-file"),
    pytest.param("{root}/broken.toml", id="broken-toml"),
    pytest.param("no-such-builtin", id="unknown-name"),
])
def test_a_profile_that_does_not_load_falls_back(repos: dict[str, Path], profile: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (repos["root"] / "broken.toml").write_text("[upstream\nurl = ")
    monkeypatch.chdir(repos["plain"])
    assert _complete(f"stage --profile {profile.format(**repos)} --branch ") == ["master", "main", "release-"]


def test_the_profile_named_on_the_line_is_read(repos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    mine = repos["root"] / "mine.toml"
    mine.write_text((BUILTIN_DIR / "local.toml").read_text().replace(
        'url = "file://{krel_home}/demo/upstream.git"', f'url = "file://{repos["upstream"]}"'))
    monkeypatch.chdir(repos["clone"])
    assert _complete(f"stage --profile {mine} --branch ") == UPSTREAM_OFFERS
