"""PURE: krel's gcbmgr rules as data: option validation, substitutions, build tags and the build request."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releng import layout, names, safeload, version
from releng.errors import ReleaseError, UsageError
from releng.gcb.base import BuildRequest, StepSpec, substitute
from releng.profile import BUILTIN_DIR, Profile, Targets
from releng.registry import reference
from releng.templates import template_path

DEFAULT_LIST_JOBS = 5
DISK_SIZE_GB = 500  # krel's release.DefaultDiskSize
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)  # what Cloud Build accepts as a build tag
DEFAULT_BUILDER_IMAGE = "gcr.io/k8s-staging-releng/k8s-cloud-builder"
# The template is data: placeholders live only inside these string fields, and secretEnv may be the one list one.
_PLACEHOLDER = re.compile(r"\{\{ ([a-z_]+) \}\}")
_FILLED = frozenset({"name", "entrypoint", "dir", "args", "env"})
_STEP_KEYS = _FILLED | {"id", "secretEnv", "runner"}
_SECRET_ENV = "{{ secret_env }}"
# The jobs a runner can be asked to run: one choice (gcbmgr's --stage/--release become one through job_choice).
JOBS = ("stage", "release", "fast-forward")


@dataclass(frozen=True)
class GcbOptions:
    """What `krel gcbmgr` (and `krel stage|release --submit`) was asked to do; defaults as krel's."""

    job: str = ""  # one of JOBS; "" lists jobs. fast-forward (krel ff --submit): no build version, no type rules
    branch: str = "master"
    release_type: str = "alpha"
    build_version: str = ""
    build_at_head: bool = False
    # The chosen targets (krel.jobs.submit_job sets them through targets_for); everything here reads them.
    targets: Targets | None = None
    nomock: bool = False  # chosen with the targets; only passed on as the job's own --nomock (_NOMOCK, _NOMOCK_TAG)
    log_level: str = "info"
    gcp_user: str = ""
    project: str = ""
    list_jobs: int = DEFAULT_LIST_JOBS
    replay_dir: str = ""  # stage only: recorded GitHub PR data the job's notes step reads (a path the job can read)
    force_build_krel: str = "false"  # krel GetForceBuildKrel: $FORCE_BUILD_KREL, read at the CLI edge

    @property
    def stage(self) -> bool:
        return self.job == "stage"

    @property
    def release(self) -> bool:
        return self.job == "release"

    @property
    def fast_forward(self) -> bool:
        return self.job == "fast-forward"

    def chosen_targets(self) -> Targets:
        """The targets the job writes to; a job is only planned once they are chosen at the CLI edge."""
        if self.targets is None:
            raise UsageError(f"--nomock: no targets chosen for the {self.job or 'gcbmgr'} job")
        return self.targets

    @property
    def last_jobs(self) -> int:
        """--list-jobs, with krel's rule: negative means the default 5."""
        return DEFAULT_LIST_JOBS if self.list_jobs < 0 else self.list_jobs


@dataclass(frozen=True)
class GcbFacts:
    """What the observe phase found: the build version to use and whether the branch is new."""

    build_version: str
    branch_is_new: bool
    gcp_user: str
    git_tag: str  # krel's _GIT_TAG: the version of the tool that submitted the job
    kube_cross_version: str = "latest"
    kube_cross_version_latest: str = "latest"


def job_choice(stage: bool, release: bool) -> str:
    """gcbmgr's two flags as one choice: "stage", "release" or "" (list jobs); both is a usage error (krel's)."""
    if stage and release:
        raise UsageError(
            "--stage/--release: cannot specify both the 'stage' and 'release' flag; "
            "resubmit with only one build type selected"
        )
    return "stage" if stage else "release" if release else ""


def validate(options: GcbOptions) -> None:
    """krel gcb Options.Validate plus the release build-version rule; UsageError naming the flag."""
    if options.job and options.job not in JOBS:
        raise UsageError(f"--stage/--release: unknown job {options.job!r}: expected one of {', '.join(JOBS)}")
    check_force_build_krel(options.force_build_krel)
    try:
        version.validate_release_type(options.release_type)
    except UsageError as exc:
        raise UsageError(f"--type: {exc}") from None
    try:
        version.validate_branch(options.branch)
    except UsageError as exc:
        raise UsageError(f"--branch: {exc}") from None
    if version.is_release_branch(options.branch):
        if options.release_type in ("alpha", "beta"):
            raise UsageError(f"--type: cannot cut an alpha or beta release from a release branch ({options.branch})")
    elif options.release_type in ("rc", "official"):
        raise UsageError(f"--type: cannot cut a release candidate or an official release from {options.branch}")
    if options.build_version and options.build_at_head:
        raise UsageError(
            "--build-at-head: cannot specify both the 'build-version' and 'build-at-head' flag; "
            "resubmit with only one build option selected"
        )
    if options.build_at_head and options.release:
        raise UsageError(
            "--build-at-head: cannot specify both the 'build-at-head' flag together with the 'release' flag; "
            "resubmit with a 'build-version' flag set"
        )
    if options.release and not options.build_version:
        raise UsageError("--build-version: build version must be specified when sending a release GCB run")
    if options.build_version:
        try:
            version.parse_build_version(options.build_version)
        except UsageError as exc:
            raise UsageError(f"--build-version: {exc}") from None
    if options.replay_dir and not options.stage:
        raise UsageError("--replay: only a stage job writes release notes; pass it with --stage")
    if options.log_level.lower() not in LOG_LEVELS:
        expected = ", ".join(LOG_LEVELS)
        raise UsageError(f"--log-level: unknown log level {options.log_level!r}; expected one of {expected}")


# Python's level names the job's `krel --log-level` does not take, and the one it takes instead.
_JOB_LOG_LEVELS = {"warning": "warn", "critical": "error"}
_FORCE_BUILD_KREL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_force_build_krel(value: str) -> None:
    """$FORCE_BUILD_KREL goes into every job's environment as is (krel's get-krel compares it with "false")."""
    if _FORCE_BUILD_KREL.fullmatch(value) is None:
        raise UsageError(
            f"FORCE_BUILD_KREL={value!r} (environment): expected a word such as true or false "
            "(letters, digits, '_', '.', '-'; at most 64)"
        )


def normalize_user(user: str) -> str:
    """A GCP account as a build tag: the part before @, lower case, other characters as '-' (krel NormalizeGCPUser)."""
    name = user.split("@", 1)[0].strip().lower()
    name = re.sub(r"[^a-z0-9_.-]", "-", name).strip("-.")
    return name or "unknown"


def substitutions(options: GcbOptions, profile: Profile, facts: GcbFacts) -> dict[str, str]:
    """krel SetGCBSubstitutions: every `_KEY` the stage/release configs and build tags use."""
    if not options.job:
        raise UsageError("--stage/--release: choose the job to submit")
    subs = {
        "TOOL_ORG": profile.gcb.tool_org,
        "TOOL_REPO": profile.gcb.tool_repo,
        "TOOL_REF": profile.gcb.tool_ref,
        "FORCE_BUILD_KREL": options.force_build_krel,
        "K8S_ORG": profile.upstream.org,
        "K8S_REPO": profile.upstream.repo,
        "K8S_REF": profile.upstream.default_branch,
        "GCP_USER_TAG": normalize_user(facts.gcp_user),
        "TYPE": options.release_type,
        "TYPE_TAG": options.release_type,
        "RELEASE_BRANCH": options.branch,
        "KUBE_CROSS_VERSION": facts.kube_cross_version,
        "KUBE_CROSS_VERSION_LATEST": facts.kube_cross_version_latest,
        "NOMOCK_TAG": "nomock" if options.nomock else "",
        "NOMOCK": "--nomock" if options.nomock else "",
        "LOG_LEVEL": _JOB_LOG_LEVELS.get(options.log_level.lower(), options.log_level.lower()),
        "GIT_TAG": facts.git_tag,
    }
    if options.fast_forward:
        # krel SetGCBSubstitutions stops here for a fast-forward: no build version, no version tags
        return {f"_{key}": value for key, value in subs.items()}
    versions = version.generate_versions(options.release_type, facts.build_version, options.branch, facts.branch_is_new)
    prime = version.parse_tag(versions.prime)
    subs.update(
        BUILDVERSION=facts.build_version,
        MAJOR_VERSION_TAG=str(prime.major),
        MINOR_VERSION_TAG=str(prime.minor),
        PATCH_VERSION_TAG=str(prime.patch),
        KUBERNETES_VERSION_TAG=str(prime),
    )
    if options.stage:
        # Appended to the job's shell command as is: empty, or one quoted word after a space.
        subs["REPLAY"] = f" {shlex.quote('--replay=' + options.replay_dir)}" if options.replay_dir else ""
    if options.release:
        targets = options.chosen_targets()
        bucket = targets.bucket.rstrip("/")
        subs["KUBERNETES_GCS_BUCKET"] = (
            f"{bucket}/{layout.gcs_stage_prefix(facts.build_version, versions.prime)}"
        )
        subs["FASTLY_SERVICE_NAME"] = targets.fastly_service
    return {f"_{key}": value for key, value in subs.items()}


def expand_tags(raw: list[str], subs: Mapping[str, str]) -> tuple[str, ...]:
    """Build tags with substitutions applied; empty ones (mock's _NOMOCK_TAG) are dropped, duplicates kept once."""
    tags: list[str] = []
    for item in raw:
        tag = substitute(str(item), subs)
        if not tag or tag in tags:
            continue
        if _TAG_RE.fullmatch(tag) is None:
            raise UsageError(f"build tag {tag!r} (from {item!r}) is not a valid Cloud Build tag ([A-Za-z0-9_.-])")
        tags.append(tag)
    return tuple(tags)


def profile_argument(profile: Profile) -> str:
    """How the job names the profile: a built-in by name, a file by its path."""
    source = Path(profile.source) if profile.source else None
    if source is None or source.parent.resolve() == BUILTIN_DIR.resolve():
        return profile.name
    return str(source)


def build_request(
    options: GcbOptions, profile: Profile, facts: GcbFacts, *, runner: str, krel_command: str, project: str = ""
) -> BuildRequest:
    """The whole job: steps from templates/cloudbuild/<job>.yaml, substitutions, tags, timeout, machine, secrets."""
    subs = substitutions(options, profile, facts)
    secrets = tuple(_secret(entry, profile.source) for entry in profile.gcb.secrets)
    if runner == "gcb":
        check_key_secrets(options, profile, [env for _, env in secrets])
    config = _template(options.job, profile.template_dir())
    values = {
        "builder_image": builder_image(profile),
        "krel": krel_command,
        "profile": shlex.quote(profile_argument(profile)),
    }
    steps = tuple(
        _step(step, values, [env for _, env in secrets])
        for step in config["steps"]
        if step.get("runner", runner) == runner
    )
    pool = profile.gcb.private_pool
    return BuildRequest(
        kind=options.job,
        project=project or options.project or options.chosen_targets().gcb_project,
        steps=steps,
        substitutions=subs,
        tags=expand_tags(config.get("tags") or [], subs),
        timeout_s=profile.gcb.timeout_s,
        machine_type="" if pool else profile.gcb.machine_type,
        private_pool=pool,
        # Private pools fix their own disk size; Cloud Build refuses diskSizeGb with a pool.
        disk_size_gb=0 if pool else DISK_SIZE_GB,
        secrets=secrets,
    )


def check_key_secrets(options: GcbOptions, profile: Profile, secret_env: Sequence[str]) -> None:
    """A Cloud Build stage/release job whose targets sign with a key from the environment gets that key from a
    secret (gcb.secrets mapping one to KREL_SIGNING_KEY_DATA or KREL_PACKAGES_GPG_KEY_DATA): refused at submit
    otherwise, not hours later inside the job. A local job inherits the submitter's environment instead."""
    if options.job not in ("stage", "release"):
        return
    # Imported here: the job runs `python -m releng.gcb.keyfiles`, which must not be imported by the package first.
    from releng.gcb import keyfiles

    targets = options.chosen_targets()
    signing = profile.signing_for(options.nomock)
    needed = []
    if options.nomock and signing.signs() and not signing.key:  # nomock's key then comes from $KREL_SIGNING_KEY
        needed.append((keyfiles.SIGNING_KEY, "signing.nomock signs with $KREL_SIGNING_KEY"))
    if profile.packages is not None and targets.packages_key == "env":
        needed.append((keyfiles.PACKAGES_KEY, "the packages are signed with the key from the environment"))
    for key, why in needed:
        if key.data_env not in secret_env:
            raise UsageError(
                f"profile {profile.source}: gcb.secrets: {why}, and a Cloud Build job has only its secrets: add "
                f"'<secret-name>={key.data_env}' (the key itself in Secret Manager; its password as another secret)"
            )


def builder_image(profile: Profile) -> str:
    """The profile's builder image name (the job adds :${_KUBE_CROSS_VERSION}); UsageError unless host/repository."""
    image = profile.gcb.builder_image or DEFAULT_BUILDER_IMAGE
    host, _, repository = image.partition("/")
    if reference.HOST.match(host) is None or reference.REPOSITORY.match(repository) is None:
        raise UsageError(
            f"profile {profile.source}: gcb.builder_image {image!r} is not an image name like "
            f"{DEFAULT_BUILDER_IMAGE} (no tag or digest: the job adds :${{_KUBE_CROSS_VERSION}})"
        )
    return image


def _template(job: str, profile_dir: Path | None) -> dict[str, Any]:
    path = template_path(f"cloudbuild/{job}.yaml", profile_dir)  # the profile's own config first
    config = safeload.load_yaml(safeload.read_text(path), str(path))
    if not isinstance(config, dict) or not isinstance(config.get("steps"), list):
        raise ReleaseError(f"{path}: expected a mapping with a list of steps")
    return config


def _step(raw: Any, values: Mapping[str, str], secret_env: list[str]) -> StepSpec:
    """One template step with its placeholders filled; only the string fields below may hold one."""
    if not isinstance(raw, dict) or set(raw) - _STEP_KEYS:
        raise ReleaseError(f"cloudbuild template: step {raw!r} has keys outside {sorted(_STEP_KEYS)}")
    step = {key: _fill(value, values) for key, value in raw.items() if key in _FILLED}
    step["secretEnv"] = secret_env if raw.get("secretEnv") == _SECRET_ENV else raw.get("secretEnv") or []
    return StepSpec.from_dict({**raw, **step})


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    """Placeholders replaced in one pass, each value carried as is: `$` doubled so Cloud Build keeps it literal."""
    if isinstance(value, list):
        return [_fill(item, values) for item in value]

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ReleaseError(f"cloudbuild template: unknown placeholder {match.group()!r} in {value!r}")
        return values[name].replace("$", "$$")

    return _PLACEHOLDER.sub(one, str(value))


def _secret(entry: str, source: str) -> tuple[str, str]:
    # Checked here too: a Profile built in code never went through load_profile, and the env name lands in secretEnv.
    try:
        names.check_secret_mapping(entry.strip())
    except names.InvalidValue:
        raise UsageError(f"profile {source}: gcb.secrets entry {entry!r} must be 'secret-name=ENV_VAR'") from None
    name, _, env = entry.strip().partition("=")
    return name, env
