"""krel gcbmgr rules: validation, substitutions, build tags and the build request (pure)."""

from __future__ import annotations

import dataclasses
import shlex

import pytest
from releng.errors import UsageError
from releng.gcb.base import BuildRequest, substitute
from releng.gcb.config import (
    GcbFacts,
    GcbOptions,
    build_request,
    expand_tags,
    job_choice,
    normalize_user,
    substitutions,
    validate,
)
from releng.layout import ci_marker_key
from releng.profile import load_profile

from tests.fixtures.gcbchoice import chosen

K8S = load_profile("kubernetes")
LOCAL = load_profile("local", {"krel_home": "/home/rm/.krel", "local_registry": "127.0.0.1:5000"})
BV_BRANCH = "v1.30.1-rc.0.5+3ff09514d162b0"
BV_MASTER = "v1.31.0-alpha.2.1273+4e9bdd481e2400"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (GcbOptions(job="stage", release_type="rc"), "--type: cannot cut a release candidate or an official release"),
        (GcbOptions(job="stage", release_type="official"), "--type: cannot cut a release candidate or an official"),
        (GcbOptions(job="stage", branch="release-1.30"), "--type: cannot cut an alpha or beta release from a release"),
        (
            GcbOptions(job="stage", branch="release-1.30", release_type="beta"),
            "--type: cannot cut an alpha or beta release",
        ),
        (
            GcbOptions(job="stage", build_version=BV_MASTER, build_at_head=True),
            "--build-at-head: cannot specify both the 'build-version' and 'build-at-head' flag",
        ),
        (
            GcbOptions(job="release", build_at_head=True),
            "--build-at-head: cannot specify both the 'build-at-head' flag together with the 'release' flag",
        ),
        (GcbOptions(job="release"), "--build-version: build version must be specified when sending a release GCB run"),
        (GcbOptions(job="stage", release_type="gamma"), "--type: invalid release type 'gamma'"),
        (GcbOptions(job="stage", branch="feature-x"), "--branch: invalid branch 'feature-x'"),
        (GcbOptions(job="stage", build_version="1.30"), "--build-version: invalid build version '1.30'"),
        (GcbOptions(job="stage", log_level="loud"), "--log-level: unknown log level 'loud'"),
        (
            GcbOptions(job="release", build_version=BV_MASTER, replay_dir="/rec"),
            "--replay: only a stage job writes release notes",
        ),
    ],
)
def test_validation_errors_name_the_flag(options: GcbOptions, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        validate(options)
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)
    assert exc.value.exit_code == 2


def test_stage_and_release_together_name_the_flags() -> None:
    """gcbmgr's --stage and --release become one choice; both at once is krel's usage error."""
    with pytest.raises(UsageError) as exc:
        job_choice(stage=True, release=True)
    assert str(exc.value).startswith("--stage/--release: cannot specify both the 'stage' and 'release' flag")
    assert exc.value.exit_code == 2
    assert [job_choice(False, False), job_choice(True, False), job_choice(False, True)] == ["", "stage", "release"]


@pytest.mark.parametrize(
    "options",
    [
        GcbOptions(),
        GcbOptions(job="stage"),
        GcbOptions(job="stage", build_at_head=True),
        GcbOptions(job="stage", branch="main", release_type="beta"),
        GcbOptions(job="stage", branch="release-1.30", release_type="rc"),
        GcbOptions(job="release", branch="release-1.30", release_type="official", build_version=BV_BRANCH),
        GcbOptions(list_jobs=-3),
        GcbOptions(job="stage", replay_dir="/srv/recording"),
    ],
)
def test_valid_options(options: GcbOptions) -> None:
    validate(options)


@pytest.mark.parametrize(("given", "used"), [(5, 5), (0, 0), (12, 12), (-1, 5), (-100, 5)])
def test_list_jobs_negative_means_five(given: int, used: int) -> None:
    assert GcbOptions(list_jobs=given).last_jobs == used


def _facts(bv: str, new: bool = False) -> GcbFacts:
    return GcbFacts(build_version=bv, branch_is_new=new, gcp_user="Jane.Doe@example.com", git_tag="v0.1.0")


COMMON = {
    "_TOOL_ORG": "kubernetes",
    "_TOOL_REPO": "release",
    "_TOOL_REF": "master",
    "_FORCE_BUILD_KREL": "false",
    "_K8S_ORG": "kubernetes",
    "_K8S_REPO": "kubernetes",
    "_K8S_REF": "master",
    "_GCP_USER_TAG": "jane.doe",
    "_KUBE_CROSS_VERSION": "latest",
    "_KUBE_CROSS_VERSION_LATEST": "latest",
    "_LOG_LEVEL": "info",
    "_GIT_TAG": "v0.1.0",
}


@pytest.mark.parametrize(
    ("options", "facts", "expected"),
    [
        (  # mock stage of an alpha on master, build version from the CI marker
            GcbOptions(job="stage"),
            _facts(BV_MASTER),
            {
                "_TYPE": "alpha",
                "_TYPE_TAG": "alpha",
                "_RELEASE_BRANCH": "master",
                "_BUILDVERSION": BV_MASTER,
                "_MAJOR_VERSION_TAG": "1",
                "_MINOR_VERSION_TAG": "31",
                "_PATCH_VERSION_TAG": "0",
                "_KUBERNETES_VERSION_TAG": "1.31.0-alpha.3",
                "_NOMOCK_TAG": "",
                "_NOMOCK": "",
                "_REPLAY": "",
            },
        ),
        (  # nomock stage of an rc on an existing release branch
            GcbOptions(job="stage", branch="release-1.30", release_type="rc", nomock=True, log_level="DEBUG"),
            _facts(BV_BRANCH),
            {
                "_TYPE": "rc",
                "_TYPE_TAG": "rc",
                "_RELEASE_BRANCH": "release-1.30",
                "_BUILDVERSION": BV_BRANCH,
                "_MAJOR_VERSION_TAG": "1",
                "_MINOR_VERSION_TAG": "30",
                "_PATCH_VERSION_TAG": "1",
                "_KUBERNETES_VERSION_TAG": "1.30.1-rc.1",
                "_NOMOCK_TAG": "nomock",
                "_NOMOCK": "--nomock",
                "_LOG_LEVEL": "debug",
                "_REPLAY": "",
            },
        ),
        (  # new release branch: the prime version is rc.0
            GcbOptions(job="stage", branch="release-1.31", release_type="rc"),
            _facts("v1.31.0-beta.3.2+3ff09514d162b0", new=True),
            {
                "_TYPE": "rc",
                "_TYPE_TAG": "rc",
                "_RELEASE_BRANCH": "release-1.31",
                "_BUILDVERSION": "v1.31.0-beta.3.2+3ff09514d162b0",
                "_MAJOR_VERSION_TAG": "1",
                "_MINOR_VERSION_TAG": "31",
                "_PATCH_VERSION_TAG": "0",
                "_KUBERNETES_VERSION_TAG": "1.31.0-rc.0",
                "_NOMOCK_TAG": "",
                "_NOMOCK": "",
                "_REPLAY": "",
            },
        ),
        (  # mock release of an official: stage bucket path and the mock Fastly service
            GcbOptions(job="release", branch="release-1.30", release_type="official", build_version=BV_BRANCH),
            _facts(BV_BRANCH),
            {
                "_TYPE": "official",
                "_TYPE_TAG": "official",
                "_RELEASE_BRANCH": "release-1.30",
                "_BUILDVERSION": BV_BRANCH,
                "_MAJOR_VERSION_TAG": "1",
                "_MINOR_VERSION_TAG": "30",
                "_PATCH_VERSION_TAG": "1",
                "_KUBERNETES_VERSION_TAG": "1.30.1",
                "_NOMOCK_TAG": "",
                "_NOMOCK": "",
                "_KUBERNETES_GCS_BUCKET": f"gs://5d7373bbdcb8270361b96548387bf2a9ad0d48758c35/stage/{BV_BRANCH}/v1.30.1/gcs-stage/v1.30.1",
                "_FASTLY_SERVICE_NAME": "dl.k8s.dev",
            },
        ),
        (  # nomock release: production bucket and Fastly service
            GcbOptions(
                job="release", branch="release-1.30", release_type="rc", build_version=BV_BRANCH, nomock=True
            ),
            _facts(BV_BRANCH),
            {
                "_TYPE": "rc",
                "_TYPE_TAG": "rc",
                "_RELEASE_BRANCH": "release-1.30",
                "_BUILDVERSION": BV_BRANCH,
                "_MAJOR_VERSION_TAG": "1",
                "_MINOR_VERSION_TAG": "30",
                "_PATCH_VERSION_TAG": "1",
                "_KUBERNETES_VERSION_TAG": "1.30.1-rc.1",
                "_NOMOCK_TAG": "nomock",
                "_NOMOCK": "--nomock",
                "_KUBERNETES_GCS_BUCKET": (
                    f"gs://767373bbdcb8270361b96548387bf2a9ad0d48758c35/stage/{BV_BRANCH}/v1.30.1-rc.1/gcs-stage/v1.30.1-rc.1"
                ),
                "_FASTLY_SERVICE_NAME": "dl.k8s.io",
            },
        ),
    ],
)
def test_substitutions_exact(options: GcbOptions, facts: GcbFacts, expected: dict[str, str]) -> None:
    assert substitutions(chosen(options, K8S), K8S, facts) == {**COMMON, **expected}


def test_substitutions_come_from_the_profile() -> None:
    subs = substitutions(chosen(GcbOptions(job="release", build_version=BV_MASTER), LOCAL), LOCAL, _facts(BV_MASTER))
    assert subs["_K8S_ORG"] == "demo" and subs["_K8S_REPO"] == "demo"
    assert subs["_KUBERNETES_GCS_BUCKET"] == (
        f"file:///home/rm/.krel/buckets/mock/stage/{BV_MASTER}/v1.31.0-alpha.3/gcs-stage/v1.31.0-alpha.3"
    )
    assert subs["_FASTLY_SERVICE_NAME"] == ""


@pytest.mark.parametrize(
    ("options", "bv", "tags"),
    [
        (
            GcbOptions(job="stage"),
            BV_MASTER,
            ("jane.doe", "master", "STAGE", "v0.1.0", "alpha", "1", "31", "0", "1.31.0-alpha.3"),
        ),
        (
            GcbOptions(job="stage", branch="release-1.30", release_type="rc", nomock=True),
            BV_BRANCH,
            ("jane.doe", "release-1.30", "nomock", "STAGE", "v0.1.0", "rc", "1", "30", "1.30.1-rc.1"),
        ),
        (
            GcbOptions(job="release", branch="release-1.30", release_type="official", build_version=BV_BRANCH),
            BV_BRANCH,
            ("jane.doe", "release-1.30", "RELEASE", "v0.1.0", "official", "1", "30", "1.30.1"),
        ),
    ],
)
def test_build_tags(options: GcbOptions, bv: str, tags: tuple[str, ...]) -> None:
    request = build_request(chosen(options, K8S), K8S, _facts(bv), runner="gcb", krel_command="krel")
    assert request.tags == tags


def test_cloud_request_shape() -> None:
    options = GcbOptions(job="release", branch="release-1.30", release_type="rc", build_version=BV_BRANCH)
    request = build_request(chosen(options, K8S), K8S, _facts(BV_BRANCH), runner="gcb", krel_command="krel")
    assert request.kind == "release"
    assert request.project == "k8s-release"
    assert request.timeout_s == 14400
    assert request.private_pool == "projects/k8s-release/locations/us-central1/workerPools/c3-highcpu-44"
    assert request.machine_type == "" and request.disk_size_gb == 0
    assert request.secrets == (("github-token", "GITHUB_TOKEN"), ("dockerhub-token", "DOCKERHUB_TOKEN"))
    assert [s.id for s in request.steps] == ["clone-tool", "get-krel", "krel-release"]
    last = request.steps[-1]
    assert last.name == "gcr.io/k8s-staging-releng/k8s-cloud-builder:${_KUBE_CROSS_VERSION}"
    assert last.secret_env == ("GITHUB_TOKEN", "DOCKERHUB_TOKEN")
    assert "KUBERNETES_GCS_BUCKET=${_KUBERNETES_GCS_BUCKET}" in last.env
    command = substitute(last.args[-1], request.substitutions)
    assert command == (
        f"krel --log-level=info release  --profile=kubernetes --type=rc --branch=release-1.30"
        f" --yes --build-version={BV_BRANCH}"  # --yes: the job runs unattended (63f3432)
    )


def test_local_request_runs_krel_with_the_same_substitutions() -> None:
    options = GcbOptions(job="stage", nomock=True, project="override")
    local = build_request(
        chosen(options, LOCAL), LOCAL, _facts(BV_MASTER), runner="local", krel_command="/venv/bin/python -m krel"
    )
    cloud = build_request(chosen(options, LOCAL), LOCAL, _facts(BV_MASTER), runner="gcb", krel_command="krel")
    assert local.substitutions == cloud.substitutions and local.tags == cloud.tags
    assert local.project == "override"
    assert [s.id for s in local.steps] == ["krel-stage"]
    assert local.timeout_s == 3600 and local.disk_size_gb == 500 and local.secrets == ()
    argv = [substitute(a, local.substitutions) for a in (local.steps[0].entrypoint, *local.steps[0].args)]
    assert argv == [
        "sh",
        "-c",
        f"/venv/bin/python -m krel --log-level=info stage --nomock --profile=local --type=alpha"
        f" --branch=master --yes --build-version={BV_MASTER}",
    ]


@pytest.mark.parametrize(
    ("replay_dir", "substitution", "command_end"),
    [
        ("", "", f"--build-version={BV_MASTER}"),
        ("/srv/recording", " --replay=/srv/recording", f"--build-version={BV_MASTER} --replay=/srv/recording"),
        (
            "/srv/my recording",
            " '--replay=/srv/my recording'",
            f"--build-version={BV_MASTER} '--replay=/srv/my recording'",
        ),
        ("/srv/it's", """ '--replay=/srv/it'"'"'s'""", f"""--build-version={BV_MASTER} '--replay=/srv/it'"'"'s'"""),
    ],
)
def test_stage_job_passes_the_replay_dir(replay_dir: str, substitution: str, command_end: str) -> None:
    options = GcbOptions(job="stage", replay_dir=replay_dir)
    for runner, krel in (("local", "/venv/bin/python -m krel"), ("gcb", "krel")):
        request = build_request(chosen(options, LOCAL), LOCAL, _facts(BV_MASTER), runner=runner, krel_command=krel)
        assert request.substitutions["_REPLAY"] == substitution
        command = substitute(request.steps[-1].args[-1], request.substitutions)
        assert command.endswith(command_end)
        words = shlex.split(command)
        assert [w for w in words if w.startswith("--replay")] == ([f"--replay={replay_dir}"] if replay_dir else [])


def test_release_job_has_no_replay() -> None:
    options = GcbOptions(job="release", build_version=BV_MASTER)
    request = build_request(chosen(options, LOCAL), LOCAL, _facts(BV_MASTER), runner="local", krel_command="k")
    assert "_REPLAY" not in request.substitutions and "--replay" not in request.steps[-1].args[-1]


def test_profile_file_is_passed_by_path() -> None:
    custom = dataclasses.replace(LOCAL, source="/etc/krel/my profile.toml", name="my profile")
    request = build_request(
        chosen(GcbOptions(job="stage"), custom), custom, _facts(BV_MASTER), runner="local", krel_command="k"
    )
    assert "--profile='/etc/krel/my profile.toml'" in request.steps[0].args[-1]


@pytest.mark.parametrize(
    ("branch", "key"),
    [("master", "ci/latest.txt"), ("main", "ci/latest.txt"), ("release-1.19", "ci/latest-1.19.txt")],
)
def test_ci_marker_key(branch: str, key: str) -> None:
    assert ci_marker_key(branch) == key


@pytest.mark.parametrize(
    ("user", "tag"),
    [("jane.doe@example.com", "jane.doe"), ("Root", "root"), ("a b+c@x", "a-b-c"), ("", "unknown")],
)
def test_normalize_user(user: str, tag: str) -> None:
    assert normalize_user(user) == tag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${_A}", "x"),
        ("$_A/$_B", "x/y"),
        ("pre-${_A}-post", "pre-x-post"),
        ("$$_A", "$_A"),
        ("${_MISSING}", ""),
        ("no subst", "no subst"),
        ("$PROJECT_ID", "p"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, {"_A": "x", "_B": "y", "PROJECT_ID": "p"}) == expected


def test_expand_tags_drops_empty_and_duplicates_and_refuses_invalid() -> None:
    assert expand_tags(["${_A}", "${_E}", "STAGE", "${_A}"], {"_A": "x", "_E": ""}) == ("x", "STAGE")
    with pytest.raises(UsageError, match="not a valid Cloud Build tag"):
        expand_tags(["${_A}"], {"_A": "v1.0+abc"})


def test_substitutions_need_a_job() -> None:
    with pytest.raises(UsageError, match="--stage/--release"):
        substitutions(chosen(GcbOptions(), K8S), K8S, _facts(BV_MASTER))


def test_request_round_trips_through_its_record() -> None:
    options = GcbOptions(job="release", branch="release-1.30", release_type="rc", build_version=BV_BRANCH)
    request = build_request(chosen(options, K8S), K8S, _facts(BV_BRANCH), runner="gcb", krel_command="krel")
    assert BuildRequest.from_dict(request.as_dict()) == request
