"""What stage and release share: the options the release manager gave, the facts observed once, the job's paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from releng import layout, version
from releng.profile import BUILTIN_DIR, Profile, SigningTargets, Targets


@dataclass(frozen=True)
class JobOptions:
    """What the release manager asked for; the same record drives stage and release."""

    branch: str
    release_type: str
    build_version: str | None
    profile: Profile
    home: Path  # KREL_HOME: work dirs live below it
    nomock: bool = False  # only used to print the follow-up command; targets carry the difference
    notes: bool = False  # write the changelog and release notes (needs replay_dir or a GitHub token)
    replay_dir: str = ""  # recorded GitHub data for the notes step (krel's replay format)
    # what the chosen targets sign ([signing.mock] or [signing.nomock], picked at the CLI edge); off by default
    signing: SigningTargets = field(default_factory=SigningTargets)


@dataclass(frozen=True)
class JobFacts:
    """What the world looked like when the job was planned; the build version parsed and its versions computed once."""

    build_version: str
    branch_is_new: bool
    notes_staged: bool  # release: stage/<bv>/notes/ exists in the bucket
    branch: str  # what the facts were observed for; a build version is staged for one branch and type
    release_type: str
    build: version.BuildVersion
    versions: tuple[str, ...]  # krel's Versions.Ordered(): prime first

    def observed(self) -> dict[str, Any]:
        """The observed values alone (facts.json): the derived ones are computed again on load."""
        return {"build_version": self.build_version, "branch_is_new": self.branch_is_new,
                "notes_staged": self.notes_staged, "branch": self.branch, "release_type": self.release_type}


def facts_for(options: JobOptions, build_version: str, branch_is_new: bool, notes_staged: bool = False) -> JobFacts:
    """The facts of one observation: parse the build version and compute its versions here, once."""
    build = version.parse_build_version(build_version)
    versions = version.release_versions(options.release_type, build, options.branch, branch_is_new)
    return JobFacts(build_version, branch_is_new, notes_staged, options.branch, options.release_type, build,
                    tuple(versions))


def validate_options(options: JobOptions, require_build_version: bool = False) -> None:
    """krel's ValidateOptions: type, branch form, build version form (UsageError, one line)."""
    version.validate_release_type(options.release_type)
    version.validate_branch(options.branch)
    if options.build_version is None or options.build_version == "":
        if require_build_version:
            raise version.InvalidVersionError("--build-version is required (the build version printed by krel stage)")
        return
    version.parse_build_version(options.build_version)


def job_dir(options: JobOptions, targets: Targets, build_version: str, job: str) -> Path:
    return layout.job_dir(options.home, options.profile.name, targets.bucket, build_version, job)


class Opening(NamedTuple):
    """The names both planners start from: the profile, the build version, its versions, where the job works."""

    profile: Profile
    bv: str  # the build version
    versions: tuple[str, ...]  # prime first
    prime: str
    job: Path  # the job's work dir
    repo: Path  # the clone in it
    stage: str  # stage/<bv> in the bucket


def opening(options: JobOptions, targets: Targets, facts: JobFacts, job_name: str) -> Opening:
    """What plan_stage and plan_release both start from, computed in one place."""
    job = job_dir(options, targets, facts.build_version, job_name)
    return Opening(options.profile, facts.build_version, facts.versions, facts.versions[0], job, job / "src",
                   layout.stage_prefix(facts.build_version))


def release_command(options: JobOptions, build_version: str) -> str:
    """The exact `krel release …` line stage prints at the end."""
    parts = ["krel release"]
    if options.nomock:
        parts.append("--nomock")
    parts += [f"--type={options.release_type}", f"--branch={options.branch}", f"--build-version={build_version}"]
    source = Path(options.profile.source) if options.profile.source else None
    builtin = source is None or source.parent == BUILTIN_DIR
    parts.append(f"--profile={options.profile.name if builtin else source}")
    return " ".join(parts)
