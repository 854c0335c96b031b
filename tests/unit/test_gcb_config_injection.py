"""The Cloud Build request is data: a profile value lands in one string of one field, never in the request's shape."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import pytest
import yaml
from releng.errors import UsageError
from releng.gcb.base import BuildRequest, StepSpec, substitute
from releng.gcb.config import DEFAULT_BUILDER_IMAGE, GcbFacts, GcbOptions, build_request
from releng.profile import Profile, load_profile
from releng.templates import templates_dir

from tests.fixtures.gcbchoice import chosen

BV = "v1.31.0-alpha.2.1273+4e9bdd481e2400"
FACTS = GcbFacts(build_version=BV, branch_is_new=False, gcp_user="rm@example.com", git_tag="v0.1.0")
LOCAL = load_profile("local", {"krel_home": "/home/rm/.krel", "local_registry": "127.0.0.1:5000"})
K8S = load_profile("kubernetes")
JOBS = [
    pytest.param(GcbOptions(job="stage"), id="stage"),
    pytest.param(GcbOptions(job="release", build_version=BV), id="release"),
]
RUNNERS = [("local", "/venv/bin/python -m krel"), ("gcb", "krel")]

# Each is a value an attacker (or a typo) could put in a profile path, product or replay dir.
HOSTILE = {
    "newline-step": "/srv/p.toml\n- name: evil\n  entrypoint: touch\n  args: [/tmp/pwned]",
    "newline-key": "/srv/p.toml\n  entrypoint: /bin/rm",
    "double-quote": '/srv/"p".toml',
    "single-quote": "/srv/it's.toml",
    "quotes-and-newline": "/srv/a\"\n'b.toml",
    "jinja": "/srv/{{ krel }}/{{ builder_image }}.toml",
    "jinja-block": "/srv/{% if true %}x{% endif %}.toml",
    "yaml-flow": "/srv/[a, {b: c}].toml",
    "yaml-indicators": "/srv/- &a *a !!python/object:os.system | > # x: y.toml",
    "command-substitution": "/srv/$(touch /tmp/pwned).toml",
    "backticks": "/srv/`touch /tmp/pwned`.toml",
    "cloudbuild-substitution": "/srv/${_NOMOCK}$_TYPE$$.toml",
    "option": "--nomock",
    "option-equals": "--profile=/etc/passwd",
    "semicolon": "/srv/p.toml; touch /tmp/pwned",
    "tab-and-cr": "/srv/a\tb\rc.toml",
}


def _template_steps(job: str, runner: str) -> list[dict[str, Any]]:
    """The template's steps for this runner, read straight from the file with the stock YAML loader."""
    steps = yaml.safe_load((templates_dir() / "cloudbuild" / f"{job}.yaml").read_text())["steps"]
    return [s for s in steps if s.get("runner", runner) == runner]


def _command(request: BuildRequest) -> list[str]:
    """The shell words the job's krel step runs, after Cloud Build's substitution (as `sh -c` would split them)."""
    step = request.steps[-1]
    assert step.entrypoint == "sh" and step.args[0] == "-c"
    return shlex.split(substitute(step.args[1], request.substitutions))


def _with_source(profile: Profile, source: str) -> Profile:
    return dataclasses.replace(profile, source=source)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("options", JOBS)
def test_profile_path_is_one_argument_and_the_steps_are_the_templates(options: GcbOptions, value: str) -> None:
    profile = _with_source(LOCAL, value)
    for runner, krel in RUNNERS:
        request = build_request(chosen(options, profile), profile, FACTS, runner=runner, krel_command=krel)
        template = _template_steps(options.job, runner)
        assert [s.id for s in request.steps] == [t["id"] for t in template]
        for step, raw in zip(request.steps, template, strict=True):
            assert step.name == raw["name"].replace("{{ builder_image }}", DEFAULT_BUILDER_IMAGE)
            assert (step.entrypoint, step.dir, step.env) == (raw.get("entrypoint", ""), raw.get("dir", ""),
                                                             tuple(raw.get("env", ())))
        words = _command(request)
        assert [w for w in words if w.startswith("--profile")] == [f"--profile={value}"]
        assert words[: len(shlex.split(krel))] == shlex.split(krel)
        assert [w for w in words if w.startswith("--")][-1].startswith("--build-version=")


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("options", JOBS)
def test_product_never_reaches_the_request(options: GcbOptions, value: str) -> None:
    plain = build_request(chosen(options, LOCAL), LOCAL, FACTS, runner="gcb", krel_command="krel")
    profile = dataclasses.replace(LOCAL, product=value)
    hostile = build_request(chosen(options, profile), profile, FACTS, runner="gcb", krel_command="krel")
    assert hostile == plain


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_replay_dir_is_one_argument(value: str) -> None:
    request = build_request(
        chosen(GcbOptions(job="stage", replay_dir=value), LOCAL), LOCAL, FACTS, runner="local", krel_command="k"
    )
    assert len(request.steps) == 1
    words = _command(request)
    assert [w for w in words if w.startswith("--replay")] == [f"--replay={value}"]
    assert words[-1] == f"--replay={value}"


@pytest.mark.parametrize(
    "image",
    [
        "gcr.io/x/builder\n- name: evil\n  entrypoint: touch\n  args: [/tmp/pwned]",
        "gcr.io/x/builder\n",
        "gcr.io/x/builder:v1",  # the job adds its own tag
        "gcr.io/x/builder@sha256:" + "a" * 64,
        "--entrypoint=/bin/sh",
        "gcr.io/--flag",
        'gcr.io/x/"builder"',
        "gcr.io/x/builder'",
        "gcr.io/{{ krel }}",
        "gcr.io/x/$(touch /tmp/pwned)",
        "gcr.io/x/${_NOMOCK}",
        "gcr.io/x/Builder",
        "gcr.io/x/a b",
        "gcr.io/x/[a]",
        "gcr.io/x/&a",
        "gcr.io/x/#c",
        "gcr.io",
        "/x/builder",
        "gcr.io//builder",
        "gcr.io/x/builder/",
        "gcr.io/x/büilder",
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_builder_image_is_one_line_naming_the_field(image: str) -> None:
    profile = dataclasses.replace(K8S, gcb=dataclasses.replace(K8S.gcb, builder_image=image))
    with pytest.raises(UsageError) as info:
        build_request(chosen(GcbOptions(job="stage"), profile), profile, FACTS, runner="gcb", krel_command="krel")
    message = str(info.value)
    assert message.startswith(f"profile {K8S.source}: gcb.builder_image ") and info.value.exit_code == 2
    assert "\n" not in message.replace(repr(image), "")


@pytest.mark.parametrize("image", ["registry.k8s.io/build-image/kube-cross", "localhost:5000/builder", "127.0.0.1/b"])
def test_builder_image_is_the_step_image(image: str) -> None:
    profile = dataclasses.replace(K8S, gcb=dataclasses.replace(K8S.gcb, builder_image=image))
    request = build_request(chosen(GcbOptions(job="stage"), profile), profile, FACTS, runner="gcb", krel_command="krel")
    assert [s.name for s in request.steps] == [
        "gcr.io/cloud-builders/git",
        f"{image}:${{_KUBE_CROSS_VERSION}}",
        f"{image}:${{_KUBE_CROSS_VERSION}}",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "github-token=GITHUB_TOKEN\n- name: x",
        "a=B C",
        "a=$(x)",
        "=TOKEN",
        "name=",
        "a=B=C",
        "--flag=X",
        "a=B\nsecretEnv",
    ],
    ids=lambda v: repr(v)[:30],
)
def test_bad_secret_entry_is_one_line(entry: str) -> None:
    profile = dataclasses.replace(K8S, gcb=dataclasses.replace(K8S.gcb, secrets=(entry,)))
    with pytest.raises(UsageError, match=r"gcb\.secrets entry .* must be 'secret-name=ENV_VAR'"):
        build_request(chosen(GcbOptions(job="stage"), profile), profile, FACTS, runner="gcb", krel_command="krel")


def test_secret_env_names_are_data() -> None:
    request = build_request(chosen(GcbOptions(job="stage"), K8S), K8S, FACTS, runner="gcb", krel_command="krel")
    assert [s.secret_env for s in request.steps] == [(), (), ("GITHUB_TOKEN", "DOCKERHUB_TOKEN")]


def test_krel_command_with_a_dollar_stays_literal() -> None:
    krel = shlex.join(["/opt/$HOME/venv/bin/python", "-m", "krel"])
    request = build_request(chosen(GcbOptions(job="stage"), LOCAL), LOCAL, FACTS, runner="local", krel_command=krel)
    assert _command(request)[:3] == ["/opt/$HOME/venv/bin/python", "-m", "krel"]


def test_request_is_the_template_plus_values_exactly() -> None:
    """The whole local stage step, field by field: nothing but the three placeholders changed."""
    request = build_request(
        chosen(GcbOptions(job="stage"), LOCAL), LOCAL, FACTS, runner="local", krel_command="/py -m krel"
    )
    assert request.steps == (
        StepSpec(
            name=f"{DEFAULT_BUILDER_IMAGE}:${{_KUBE_CROSS_VERSION}}",
            id="krel-stage",
            entrypoint="sh",
            env=(
                "TOOL_ORG=${_TOOL_ORG}",
                "TOOL_REPO=${_TOOL_REPO}",
                "TOOL_REF=${_TOOL_REF}",
                "K8S_ORG=${_K8S_ORG}",
                "K8S_REPO=${_K8S_REPO}",
                "K8S_REF=${_K8S_REF}",
                "FORCE_BUILD_KREL=${_FORCE_BUILD_KREL}",
                "BUILD_ID=$BUILD_ID",
                "PROJECT_ID=$PROJECT_ID",
            ),
            args=(
                "-c",
                "/py -m krel --log-level=${_LOG_LEVEL} stage ${_NOMOCK} --profile=local --type=${_TYPE}"
                " --branch=${_RELEASE_BRANCH} --yes --build-version=${_BUILDVERSION}${_REPLAY}",
            ),
        ),
    )
