"""`krel release`: the pure plan that publishes an already staged build (krel's anago release steps)."""

from __future__ import annotations

from pathlib import Path

from releng import layout, markers, version
from releng.announce import links
from releng.jobs.options import JobFacts, JobOptions, opening
from releng.jobs.stage import opening_checks
from releng.jobs.steps import (
    ArchiveLog,
    CopyToRelease,
    CreateAnnouncement,
    PreflightRelease,
    PublishMarkers,
    PublishNotes,
    PublishPackages,
    PushGitObjects,
    RestoreWorkspace,
    UpdateGitHubPage,
    ValidateImages,
    VerifySignatures,
    VerifyStaged,
    WriteArtifacts,
)
from releng.packages import sources
from releng.plan import Plan, Step
from releng.profile import Targets

RELEASE_TOOLS = ("git", "tar")


def marker_keys(v: str) -> tuple[str, ...]:
    """release/<stable|latest>[-MAJ[.MIN]].txt for one released version (krel PublishVersion)."""
    return tuple(layout.marker_key(name) for name in markers.marker_names(v, "release"))


def _signature_checks(options: JobOptions, targets: Targets, facts: JobFacts, verified: str,
                      envelope: str) -> list[Step]:
    """The staged signatures, checked before anything is published (none when the targets sign nothing)."""
    signing, build = options.signing, options.profile.build
    if not signing.signs():
        return []
    repos = layout.image_repos(build.images, build.arches) if signing.images else ()
    return [VerifySignatures(targets.bucket, layout.stage_prefix(facts.build_version), facts.versions, verified,
                             signing.artifacts, envelope, targets.registry, repos, mock=not options.nomock)]


def _publish_packages(options: JobOptions, targets: Targets, facts: JobFacts, verified: str, job: Path
                      ) -> list[Step]:
    """The staged packages of the prime version into the targets' packages bucket; none without [packages]."""
    packages, prime = options.profile.packages, facts.versions[0]
    if packages is None:
        return []
    return [PublishPackages(
        bucket=targets.bucket, stage_prefix=layout.stage_prefix(facts.build_version),
        src_prefix=layout.packages_prefix(facts.build_version, prime), verified_file=verified,
        work_dir=str(job / "packages.partial"), tag=prime, project=packages.project,
        packages_bucket=targets.packages_bucket, public_url=sources.public_url(targets), key_mode=targets.packages_key,
        keys_dir=str(options.home / "keys"),
    )]


def plan_release(options: JobOptions, targets: Targets, facts: JobFacts) -> Plan:
    """Every step of `krel release`: verify, check every refusal, validate images, then publish (git last but one)."""
    profile, bv, versions, prime, job, repo, stage = opening(options, targets, facts, "release")
    branches = [options.branch] if version.is_release_branch(options.branch) else []
    branches.append(profile.upstream.default_branch)
    verified = str(job / "provenance.verified.json")
    scratch = str(job / "publish.partial")
    notes_html = f"{layout.release_prefix(prime)}/{layout.NOTES_FILES[1]}" if facts.notes_staged else ""
    signing = options.signing
    envelope = str(job / "provenance.verified.intoto.jsonl") if signing.provenance else ""
    publishing: list[Step] = [
        CopyToRelease(targets.bucket, stage, layout.gcs_stage_prefix(bv, v), layout.release_prefix(v), verified,
                      scratch, envelope)
        for v in versions
    ]
    # What CI reads beside each release (issue 12 item 5): its files and image digests, once the copy published them.
    publishing += [
        WriteArtifacts(targets.bucket, layout.artifacts_key(v), v, stage, layout.gcs_stage_prefix(bv, v),
                       layout.release_prefix(v), verified, targets.validate_registry, profile.build.images)
        for v in versions
    ]
    if facts.notes_staged:
        publishing.append(
            PublishNotes(
                bucket=targets.bucket,
                version=prime,
                src_keys=tuple(f"{layout.staged_notes(bv)}/{name}" for name in layout.NOTES_FILES),
                dst_prefix=layout.release_prefix(prime),
                index_key=layout.INDEX_KEY,
                download_url=targets.download_url,
                stage_prefix=stage,
                verified_file=verified,
                work_dir=scratch,
            )
        )
    # Packages before the announcement and the page, which name their repositories (issue 14).
    publishing += _publish_packages(options, targets, facts, verified, job)
    # what the announcement and the page name besides the files: the rule announce build and github-page use too
    repositories = links.package_repositories(options.profile, targets, prime)
    key_url = links.signing_key_url(options.signing, targets, prime)
    publishing.append(CreateAnnouncement(prime, targets.bucket, layout.release_prefix(prime), notes_html,
                                         repositories, key_url))
    publishing += [PublishMarkers(targets.bucket, v, marker_keys(v)) for v in versions]
    publishing.append(
        PushGitObjects(
            repo=str(repo),
            remote=profile.upstream.remote,
            tags=versions,
            branches=tuple(branches),
            dry_run=targets.git_push != "push",
            upstream=profile.upstream.url,
            author=profile.git_author,
        )
    )
    publishing.append(
        UpdateGitHubPage(
            tag=prime,
            mode=targets.github_release,
            org=profile.upstream.org,
            repo_name=profile.upstream.repo,
            bucket=targets.bucket,
            notes_key=notes_html,
            staged_notes_key=f"{layout.staged_notes(bv)}/{layout.NOTES_FILES[1]}" if facts.notes_staged else "",
            packages=repositories,
            signing_key_url=key_url,
        )
    )
    steps: list[Step] = [
        *opening_checks(options, targets, facts, RELEASE_TOOLS, job, targets.validate_registry),
        # The whole stage area is checked before anything from it is used, the source archive included.
        VerifyStaged(targets.bucket, stage, versions, layout.staged_provenance(bv), verified),
        *_signature_checks(options, targets, facts, verified, envelope),
        RestoreWorkspace(targets.bucket, layout.staged_source(bv), str(repo), verified, stage,
                         profile.upstream.url, profile.upstream.remote, versions),
        # Every refusal known in advance, before the first write (the announcement has none: it is never rewritten).
        # After the restore only because the tag check needs the restored tags; the restore writes only locally.
        PreflightRelease(tuple(s for s in publishing if not isinstance(s, CreateAnnouncement))),
        ValidateImages(targets.validate_registry, versions, profile.build.images, profile.build.arches),
        *publishing,
        ArchiveLog(
            str(job / "release.log"), targets.bucket, layout.archive_prefix(prime), extra_prefix=layout.staged_logs(bv)
        ),
    ]
    return Plan("release", tuple(steps))
