"""`krel stage`: the pure plan (krel's anago stage steps), and the opening checks stage and release share."""

from __future__ import annotations

from pathlib import Path

from releng import layout, version
from releng.address import RegistryAddress
from releng.announce import links
from releng.jobs.options import JobFacts, JobOptions, opening
from releng.jobs.steps import (
    ArchiveLog,
    AssembleStage,
    BuildArtifacts,
    BuildPackages,
    CheckBranchState,
    CheckPrerequisites,
    PrepareWorkspace,
    PushImages,
    SignArtifacts,
    SignImages,
    SignProvenance,
    StageSource,
    TagVersion,
    UploadArtifacts,
    VerifyArtifacts,
    WriteNotes,
    WriteProvenance,
)
from releng.plan import Plan, Step
from releng.profile import Targets

STAGE_TOOLS = ("git", "tar", "sh")
BUILDER_ID = "https://github.com/kubernetes/release/krel-python"


def required_credentials(targets: Targets, upstream_url: str) -> tuple[str, ...]:
    """Credential names the targets need (krel: GCP account, GITHUB_TOKEN); local targets need none."""
    needed: list[str] = []
    hosts = (RegistryAddress.parse(targets.registry).host, RegistryAddress.parse(targets.validate_registry).host)
    if targets.bucket.startswith("gs://") or any(h.endswith(("gcr.io", "pkg.dev")) for h in hosts):
        needed.append("google-cloud")
    if targets.git_push == "push" and upstream_url.startswith(("https://", "http://")):
        needed.append("GITHUB_TOKEN")
    if targets.github_release == "publish":
        needed.append("GITHUB_TOKEN")
    return tuple(dict.fromkeys(needed))


def opening_checks(
    options: JobOptions, targets: Targets, facts: JobFacts, tools: tuple[str, ...], job: Path, registry: str
) -> list[Step]:
    """The first steps of stage and release alike: tools, disk, credentials, bucket and registry; then the branch."""
    profile = options.profile
    return [
        CheckPrerequisites(
            tools,
            str(job),
            profile.build.min_free_gib,
            required_credentials(targets, profile.upstream.url),
            buckets=(targets.bucket,),
            registries=(RegistryAddress.parse(registry).host,),
        ),
        CheckBranchState(profile.upstream.url, options.branch, facts.branch_is_new),
    ]


def _tag_steps(options: JobOptions, facts: JobFacts, repo: Path) -> list[Step]:
    """krel TagRepository: on a new branch the prime goes on `checkout -B release-x.y`, the next alpha on master."""
    commit = facts.build.commit
    default = options.profile.upstream.default_branch
    product = options.profile.product
    steps: list[Step] = []
    for index, v in enumerate(facts.versions):
        if facts.branch_is_new:
            branch = options.branch if index == 0 else default
            create = index == 0
        else:
            branch, create = options.branch, False
        steps.append(
            TagVersion(
                repo=str(repo),
                version=v,
                commit=commit,
                branch=branch,
                create_branch=create,
                release_commit=version.is_release_branch(branch),
                tag_message=f"{product} {version.release_type_of(v)} release {v}",
                commit_message=f"Release commit for {product} {v}",
                author=options.profile.git_author,
            )
        )
    return steps


def _build_packages(options: JobOptions, facts: JobFacts, job: Path) -> list[Step]:
    """The prime version's packages (issue 14) from its verified build output; none without [packages]."""
    packages, prime = options.profile.packages, facts.versions[0]
    if packages is None:
        return []
    build_dir = layout.build_dir(job, prime)
    arches = packages.arches or options.profile.build.arches
    return [BuildPackages(str(job / "src"), prime, str(build_dir), str(layout.packages_build_dir(build_dir)),
                          packages, arches, str(options.profile.template_dir() or ""))]


def _stage_packages(options: JobOptions, targets: Targets, facts: JobFacts, job: Path) -> list[Step]:
    """The built packages to stage/<bv>/<prime>/packages (provenance subjects, like every staged object)."""
    if options.profile.packages is None:
        return []
    prime = facts.versions[0]
    return [UploadArtifacts(str(layout.packages_build_dir(layout.build_dir(job, prime))), targets.bucket,
                            layout.packages_prefix(facts.build_version, prime))]


def plan_stage(options: JobOptions, targets: Targets, facts: JobFacts) -> Plan:
    """Every step of `krel stage`, with its targets copied from `targets`; no I/O."""
    profile, bv, versions, prime, job, repo, stage = opening(options, targets, facts, "stage")
    commit = facts.build.commit
    steps: list[Step] = [
        *opening_checks(options, targets, facts, STAGE_TOOLS, job, targets.registry),
        PrepareWorkspace(
            profile.upstream.url, str(repo), profile.upstream.default_branch if facts.branch_is_new else options.branch
        ),
        *_tag_steps(options, facts, repo),
    ]
    for v in versions:
        steps.append(
            BuildArtifacts(
                str(repo), v, bv, profile.build.command, profile.build.output_dir, str(layout.build_dir(job, v))
            )
        )
    if options.notes:
        steps.append(
            WriteNotes(
                repo=str(repo),
                tag=prime,
                branch=options.branch,
                html_file=str(job / "notes" / layout.NOTES_FILES[1]),
                json_file=str(job / "notes" / layout.NOTES_FILES[0]),
                tars_dir=str(layout.build_dir(job, prime) / "release-tars"),
                download_url=targets.release_download_url(),
                replay_dir=options.replay_dir,
                org=profile.upstream.org,
                repo_name=profile.upstream.repo,
                # notes describe the release as published, in mock too: images are pulled from production
                image_registry=profile.notes_registry(),
                author=profile.git_author,
                remote=profile.upstream.remote,
                default_branch=profile.upstream.default_branch,
                template_dir=str(profile.template_dir() or ""),
                signing_key_url=links.signing_key_url(options.signing, targets, prime),
            )
        )
    for v in versions:
        steps.append(VerifyArtifacts(str(layout.build_dir(job, v)), v, profile.build.arches, profile.build.images))
        steps.append(AssembleStage(str(layout.build_dir(job, v)), v, profile.product, profile.upstream.url, commit,
                                   str(repo)))
        if options.signing.artifacts:
            steps.append(SignArtifacts(str(layout.gcs_stage_dir(job, v)), v, profile.product))
    steps += _build_packages(options, facts, job)
    steps.append(StageSource(str(repo), targets.bucket, layout.staged_source(bv)))
    for v in versions:
        steps.append(UploadArtifacts(str(layout.gcs_stage_dir(job, v)), targets.bucket, layout.gcs_stage_prefix(bv, v)))
        steps.append(
            UploadArtifacts(
                str(layout.images_dir(layout.build_dir(job, v))), targets.bucket, layout.images_prefix(bv, v)
            )
        )
    steps += _stage_packages(options, targets, facts, job)
    if options.notes:
        steps.append(UploadArtifacts(str(job / "notes"), targets.bucket, layout.staged_notes(bv)))
    for v in versions:
        steps.append(
            PushImages(
                str(layout.images_dir(layout.build_dir(job, v))),
                targets.registry,
                v,
                profile.build.images,
                profile.build.arches,
            )
        )
        if options.signing.images and profile.build.images:
            repos = layout.image_repos(profile.build.images, profile.build.arches)
            steps.append(SignImages(targets.registry, v, repos))
    steps.append(
        WriteProvenance(
            build_dirs=tuple(str(layout.build_dir(job, v)) for v in versions),
            versions=versions,
            bucket=targets.bucket,
            object_key=layout.staged_provenance(bv),
            stage_prefix=stage,
            upstream=profile.upstream.url,
            commit=commit,
            build_version=bv,
            builder=BUILDER_ID,
            notes_dir=str(job / "notes") if options.notes else "",
            source_key=layout.staged_source(bv),
        )
    )
    if options.signing.provenance:
        steps.append(SignProvenance(targets.bucket, layout.staged_provenance(bv), layout.staged_envelope(bv)))
    steps.append(ArchiveLog(str(job / "stage.log"), targets.bucket, layout.staged_logs(bv)))
    return Plan("stage", tuple(steps))
