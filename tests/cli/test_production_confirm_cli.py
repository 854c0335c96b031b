"""--nomock asks before writing to production (TTY, else --yes) unless every production target is local."""

from __future__ import annotations

import pytest
from releng import git
from releng.profile import BUILTIN_DIR

from tests.fixtures.releaseflow import FlowEnv

# Not about signing or packages: the local profile without them (tests/fixtures/releaseflow.lean_profile).
FLOW_PROFILE = "lean"

BV_1_0 = "v1.0.0-alpha.0.10+a0185f015f072f"

# One production target that leaves the machine: the question is asked. None of these is reached by the commands
# below, which stop at the question.
REMOTE_EDITS = {
    "smtp-mail": ('transport = "outbox"', 'transport = "smtp"'),
    "cloud-build": ('runner = "local"', 'runner = "gcb"'),
    "github-publish": ('github_release = "bucket"', 'github_release = "publish"'),
}

COMMANDS = {
    "stage": ["stage", "--branch", "master", "--type", "alpha", "--nomock"],
    "release": ["release", "--branch", "master", "--type", "alpha", "--build-version", BV_1_0, "--nomock"],
    "root-nomock-stage": ["--nomock", "stage", "--branch", "master", "--type", "alpha"],
    "changelog": ["changelog", "--tag", "v1.0.0-alpha.0", "--nomock"],
    "ff-non-interactive": ["ff", "--non-interactive", "--nomock"],
}


def _profile(flow: FlowEnv, edit: tuple[str, str]) -> str:
    text = (BUILTIN_DIR / "local.toml").read_text()
    assert edit[0] in text
    path = flow.home / "remote.toml"
    path.write_text(text.replace(*edit, 1))
    return str(path)


def _nothing_written(flow: FlowEnv) -> None:
    assert not (flow.bucket("release") / "stage").exists()
    assert not (flow.bucket("release") / "release").exists()
    assert set(git.ls_remote_tags(str(flow.upstream))) == {"v1.0.0-alpha.0"}


@pytest.mark.parametrize("edit", list(REMOTE_EDITS), ids=list(REMOTE_EDITS))
@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_remote_production_needs_yes_without_a_tty(flow_env: FlowEnv, command: str, edit: str) -> None:
    result = flow_env.krel(*COMMANDS[command], "--profile", _profile(flow_env, REMOTE_EDITS[edit]))
    assert result.returncode == 2, result.stderr[-1500:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Really" in errors[0] and "pass --yes" in errors[0], result.stderr[-1500:]
    _nothing_written(flow_env)


def test_plan_asks_nothing(flow_env: FlowEnv) -> None:
    profile = _profile(flow_env, REMOTE_EDITS["smtp-mail"])
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--nomock", "--plan", "--profile", profile)
    assert result.returncode == 0, result.stderr[-1500:]
    _nothing_written(flow_env)


def test_all_local_production_is_not_asked(flow_env: FlowEnv) -> None:
    result = flow_env.krel("stage", "--branch", "master", "--type", "alpha", "--nomock")
    assert result.returncode == 0, result.stderr[-1500:]
    assert "needs an answer" not in result.stderr
    assert (flow_env.bucket("release") / "stage").exists()
