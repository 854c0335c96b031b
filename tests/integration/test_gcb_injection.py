"""The local runner runs exactly the template's steps: a hostile profile path or replay dir reaches krel as one
argument, and nothing it spells out (a step, a command substitution, a Cloud Build substitution) runs on the host."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest
from releng.errors import UsageError
from releng.gcb.config import GcbFacts, GcbOptions, build_request
from releng.gcb.local import LocalRunner
from releng.profile import load_profile

from tests.fixtures.gcbchoice import chosen

BV = "v1.31.0-alpha.1.1+3ff09514d162b0"
FACTS = GcbFacts(build_version=BV, branch_is_new=False, gcp_user="rm", git_tag="v0.1.0")


def _hostile(canary: Path) -> dict[str, str]:
    """Values that would each run `touch <canary>-<n>` if any layer re-parsed them as YAML, shell or a template."""
    return {
        "yaml-step": f"/srv/p.toml\n- name: x\n  id: evil\n  entrypoint: touch\n  args: [{canary}-1]",
        "command-substitution": f"/srv/$(touch {canary}-2).toml",
        "backticks": f"/srv/`touch {canary}-3`.toml",
        "quote-break": f"/srv/'; touch {canary}-4; '.toml",
        "double-quote-break": f'/srv/"; touch {canary}-5; ".toml',
        "cloudbuild-substitution": "/srv/${_NOMOCK}$_TYPE.toml",
        "jinja": "/srv/{{ krel }}.toml",
        "option": "--nomock",
    }


# Stands in for krel: records the argv it was given, NUL-separated, in the job's workspace.
FAKE_KREL = """#!/bin/sh
printf '%s\\0' "$@" > argv.bin
"""


@pytest.fixture
def fake_krel(tmp_path: Path) -> str:
    script = tmp_path / "bin" / "krel"
    script.parent.mkdir()
    script.write_text(FAKE_KREL)
    script.chmod(0o755)
    return shlex.quote(str(script))


@pytest.mark.parametrize(
    "case", ["yaml-step", "command-substitution", "backticks", "quote-break", "double-quote-break",
             "cloudbuild-substitution", "jinja", "option"],
)
@pytest.mark.parametrize("where", ["profile-path", "replay-dir"])
def test_local_runner_runs_only_the_template_step(
    krel_home: Path, tmp_path: Path, fake_krel: str, case: str, where: str
) -> None:
    canary = tmp_path / "pwned"
    value = _hostile(canary)[case]
    runner = LocalRunner(krel_home / "jobs")
    profile = load_profile("local", {"krel_home": str(krel_home), "local_registry": "127.0.0.1:5000"})
    if where == "profile-path":
        profile = dataclasses.replace(profile, source=value, product=value)
        options = GcbOptions(job="stage")
    else:
        options = GcbOptions(job="stage", replay_dir=value)
    request = build_request(chosen(options, profile), profile, FACTS, runner=runner.name, krel_command=fake_krel)
    job = runner.submit(request)
    out: list[str] = []
    final = runner.stream(job.id, out.append, poll_s=0.05)
    log = "".join(out)
    assert final.status == "SUCCESS", log
    assert log.count("Starting Step") == 1 and 'Starting Step #0 - "krel-stage"' in log
    argv = (runner.jobs_dir / job.id / "workspace" / "argv.bin").read_text().split("\0")[:-1]
    flag = "--profile" if where == "profile-path" else "--replay"
    assert [a for a in argv if a.startswith(flag)] == [f"{flag}={value}"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pwned")) == []


def test_bad_builder_image_submits_nothing(krel_home: Path, fake_krel: str, tmp_path: Path) -> None:
    runner = LocalRunner(krel_home / "jobs")
    profile = load_profile("local", {"krel_home": str(krel_home), "local_registry": "127.0.0.1:5000"})
    image = f"gcr.io/x/b\n- name: x\n  entrypoint: touch\n  args: [{tmp_path / 'pwned'}]"
    profile = dataclasses.replace(profile, gcb=dataclasses.replace(profile.gcb, builder_image=image))
    with pytest.raises(UsageError, match=r"gcb\.builder_image .* is not an image name"):
        build_request(
            chosen(GcbOptions(job="stage"), profile), profile, FACTS, runner=runner.name, krel_command=fake_krel
        )
    assert not (krel_home / "jobs").exists() or not any((krel_home / "jobs").iterdir())
    assert not (tmp_path / "pwned").exists()
