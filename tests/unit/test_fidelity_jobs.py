"""Job requests as krel builds them: $FORCE_BUILD_KREL in every job, and the fast-forward job (krel ff --submit).

krel: pkg/release/release.go GetForceBuildKrel, pkg/gcp/gcb/gcb.go SetGCBSubstitutions (a fast-forward stops
after the common substitutions), gcb/fast-forward/cloudbuild.yaml (steps' command and tags).
"""

from __future__ import annotations

import pytest
from releng.errors import UsageError
from releng.gcb.cloudbuild import CloudBuildRunner
from releng.gcb.config import GcbFacts, GcbOptions, build_request, substitutions, validate
from releng.profile import load_profile

from tests.fixtures.gcbchoice import chosen

K8S = load_profile("kubernetes")
BV = "v1.30.1-rc.0.5+3ff09514d162b0"
FACTS = GcbFacts(build_version=BV, branch_is_new=False, gcp_user="Jane.Doe@example.com", git_tag="v0.9.0",
                 kube_cross_version="v1.30.0-go1.22.4-bullseye.0")
FF_FACTS = GcbFacts(build_version="", branch_is_new=False, gcp_user="jane@example.com", git_tag="v0.9.0")
STAGE = GcbOptions(job="stage", branch="release-1.30", release_type="rc")
RELEASE = GcbOptions(job="release", branch="release-1.30", release_type="rc", build_version=BV)


@pytest.mark.parametrize("options", [STAGE, RELEASE], ids=["stage", "release"])
@pytest.mark.parametrize(("value", "expected"), [("false", "false"), ("true", "true"), ("1", "1")])
def test_force_build_krel_reaches_the_job(options: GcbOptions, value: str, expected: str) -> None:
    options = GcbOptions(**{**options.__dict__, "force_build_krel": value})
    request = build_request(chosen(options, K8S), K8S, FACTS, runner="gcb", krel_command=CloudBuildRunner.krel_command)
    assert request.substitutions["_FORCE_BUILD_KREL"] == expected
    get_krel = next(step for step in request.steps if step.id == "get-krel")
    assert "FORCE_BUILD_KREL=${_FORCE_BUILD_KREL}" in get_krel.env  # where krel's job reads it (hack/get-krel)


def test_default_is_krels_false() -> None:
    assert substitutions(chosen(STAGE, K8S), K8S, FACTS)["_FORCE_BUILD_KREL"] == "false"


# Hostile $FORCE_BUILD_KREL values: refused before anything is submitted, the variable named.
HOSTILE_FORCE = {
    "empty": "",
    "space": "true false",
    "newline": "true\nFOO=bar",
    "substitution": "${_NOMOCK}",
    "shell": "$(reboot)",
    "quote": "true'",
    "nul": "true\x00",
    "too-long": "t" * 65,
    "unicode-lookalike": "tru\u0435",
}


@pytest.mark.parametrize("value", list(HOSTILE_FORCE.values()), ids=list(HOSTILE_FORCE))
def test_hostile_force_build_krel_is_refused(value: str) -> None:
    with pytest.raises(UsageError, match=r"^FORCE_BUILD_KREL=.*\(environment\): expected a word") as caught:
        validate(GcbOptions(**{**STAGE.__dict__, "force_build_krel": value}))
    assert "\n" not in str(caught.value)


def test_fast_forward_substitutions_are_krels_common_set() -> None:
    subs = substitutions(
        chosen(GcbOptions(job="fast-forward", nomock=True, force_build_krel="true"), K8S), K8S, FF_FACTS
    )
    assert subs == {
        "_TOOL_ORG": "kubernetes",
        "_TOOL_REPO": "release",
        "_TOOL_REF": "master",
        "_FORCE_BUILD_KREL": "true",
        "_K8S_ORG": "kubernetes",
        "_K8S_REPO": "kubernetes",
        "_K8S_REF": "master",
        "_GCP_USER_TAG": "jane",
        "_TYPE": "alpha",
        "_TYPE_TAG": "alpha",
        "_RELEASE_BRANCH": "master",
        "_KUBE_CROSS_VERSION": "latest",
        "_KUBE_CROSS_VERSION_LATEST": "latest",
        "_NOMOCK_TAG": "nomock",
        "_NOMOCK": "--nomock",
        "_LOG_LEVEL": "info",
        "_GIT_TAG": "v0.9.0",
    }


def test_fast_forward_request_runs_krel_ff_like_krels_job() -> None:
    options = GcbOptions(job="fast-forward")
    request = build_request(
        chosen(options, K8S), K8S, FF_FACTS, runner="gcb", krel_command=CloudBuildRunner.krel_command
    )
    assert request.kind == "fast-forward" and request.project == "k8s-release"
    assert [s.id for s in request.steps] == ["clone-tool", "get-krel", "krel-fast-forward"]
    command = request.steps[-1].args[-1]
    assert command.endswith("--log-level=${_LOG_LEVEL} ff ${_NOMOCK} --profile=kubernetes --non-interactive")
    assert request.steps[-1].secret_env == ("GITHUB_TOKEN", "DOCKERHUB_TOKEN")
    # krel's tags, in krel's order; mock's empty _NOMOCK_TAG dropped
    assert request.tags == ("jane", "FAST_FORWARD", "v0.9.0", "master", "alpha", "kubernetes")
    assert request.private_pool == "projects/k8s-release/locations/us-central1/workerPools/c3-highcpu-44"


def test_fast_forward_local_request_skips_the_cloud_only_steps() -> None:
    request = build_request(
        chosen(GcbOptions(job="fast-forward"), K8S), K8S, FF_FACTS, runner="local", krel_command="krel"
    )
    assert [s.id for s in request.steps] == ["krel-fast-forward"]


@pytest.mark.parametrize("job", ["fast-forward+stage", "stage,release", "Stage"])
def test_fast_forward_is_its_own_job(job: str) -> None:
    """One choice of job: a fast-forward is never also a stage or release, and no other name is taken."""
    options = GcbOptions(job="fast-forward")
    assert options.fast_forward and not options.stage and not options.release
    with pytest.raises(UsageError, match=r"^--stage/--release: unknown job .*: expected one of stage, release, "):
        validate(GcbOptions(job=job))
