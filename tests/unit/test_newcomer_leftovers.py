"""Issue 12 leftovers: every template a profile's release uses goes through the loader that searches the profile's
template directory first (item 7); stage/release list their artifacts without --json too (item 5); --branch
completion offers the real release branches (item 4)."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
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

from krel.app import app

MARK = "MARK-from-the-profile"
BV = "v1.1.0-alpha.0.3+0123456789abcd"
LIB = Path(__file__).resolve().parents[2] / "lib" / "releng"
VARIABLES = {"krel_home": "/nonexistent-krel-home", "local_registry": "127.0.0.1:5000"}


def _profile(where: Path, overrides: dict[str, str]) -> Profile:
    """The local profile with `[templates] dir = "mine"` holding the given templates."""
    for name, text in overrides.items():
        (where / "mine" / name).parent.mkdir(parents=True, exist_ok=True)
        (where / "mine" / name).write_text(text)
    where.mkdir(parents=True, exist_ok=True)
    path = where / "p.toml"
    path.write_text((BUILTIN_DIR / "local.toml").read_text() + '\n[templates]\ndir = "mine"\n')
    return load_profile(path, VARIABLES)


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
