"""The steps of `krel stage` and `krel release`: each holds every value its handler needs, targets included."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from releng import layout
from releng.packages.sources import RepositorySource
from releng.plan import Step
from releng.profile import Author, GitHubReleaseMode, Packages


@dataclass(frozen=True)
class CheckPrerequisites(Step):
    """Tools on PATH, free disk in the work dir, credentials present for cloud targets."""

    tools: tuple[str, ...]
    workdir: str
    min_free_gib: int
    credentials: tuple[str, ...]  # names of credentials (env values read at the CLI edge) the targets need
    buckets: tuple[str, ...] = ()  # must answer a listing
    registries: tuple[str, ...] = ()  # hosts that must answer GET /v2/

    @property
    def title(self) -> str:
        return "Check prerequisites"

    def describe(self) -> str:
        reach = ", ".join((*self.buckets, *self.registries))
        return (
            f"tools {', '.join(self.tools)}; >= {self.min_free_gib} GiB free in {self.workdir}; "
            f"credentials: {', '.join(self.credentials) or 'none needed'}; reach {reach}"
        )


@dataclass(frozen=True)
class CheckBranchState(Step):
    """The release branch exists on the remote exactly when the plan assumed it does."""

    upstream: str
    branch: str
    branch_is_new: bool

    @property
    def title(self) -> str:
        return f"Check release branch state ({self.branch})"

    def describe(self) -> str:
        expect = "absent (new branch)" if self.branch_is_new else "present"
        return f"git ls-remote {self.upstream} refs/heads/{self.branch}: expect {expect}"


@dataclass(frozen=True)
class PrepareWorkspace(Step):
    """A clone of the upstream in the work dir, on the branch being released."""

    upstream: str
    repo: str
    branch: str

    @property
    def title(self) -> str:
        return "Prepare workspace"

    def describe(self) -> str:
        return f"git clone --branch {self.branch} {self.upstream} {self.repo}"


@dataclass(frozen=True)
class TagVersion(Step):
    """Tag one version: checkout the branch it belongs on, an empty release commit on release branches, the tag."""

    repo: str
    version: str
    commit: str  # commit the build version names (after `+`), or the build version itself
    branch: str  # branch the tag lands on
    create_branch: bool  # `git checkout -B <branch> <commit>` (prime version on a new release branch)
    release_commit: bool  # make krel's empty "Release commit for …" first
    tag_message: str
    commit_message: str
    author: Author  # of the release commit and the tag

    @property
    def title(self) -> str:
        return f"Tag {self.version} on {self.branch}"

    def describe(self) -> str:
        return (f"{'checkout -B' if self.create_branch else 'checkout'} {self.branch}"
                + (f"; empty commit '{self.commit_message}'" if self.release_commit else "")
                + f"; tag {self.version} on {'it' if self.release_commit else self.commit[:14]}")


@dataclass(frozen=True)
class BuildArtifacts(Step):
    """Run the profile's build command at the version's tag and keep its outputs in `dest`."""

    repo: str
    version: str
    build_version: str
    command: str
    output_dir: str
    dest: str

    @property
    def title(self) -> str:
        return f"Build {self.version}"

    def describe(self) -> str:
        return f"KREL_VERSION={self.version} {self.command} in {self.repo}; {self.output_dir}/ -> {self.dest}"


@dataclass(frozen=True)
class WriteNotes(Step):
    """Changelog section and release notes (HTML + JSON) for the prime version, committed locally, not pushed."""

    repo: str
    tag: str
    branch: str
    html_file: str
    json_file: str
    tars_dir: str
    download_url: str
    replay_dir: str
    org: str
    repo_name: str
    image_registry: str  # production registry named in the Container Images table (the profile's nomock one)
    author: Author  # of the changelog commit
    remote: str  # the upstream's remote name in the clone
    default_branch: str  # the changelog is also committed there
    template_dir: str = ""  # the profile's template directory ("": the built-in templates only)
    signing_key_url: str = ""  # where the release's public key will be, when the targets sign its files

    @property
    def title(self) -> str:
        return f"Generate changelog and release notes for {self.tag}"

    def describe(self) -> str:
        return f"CHANGELOG, {self.html_file}, {self.json_file} for {self.tag} on {self.branch} (committed, not pushed)"


@dataclass(frozen=True)
class VerifyArtifacts(Step):
    """Every expected build output is there: release tars, binaries and image tarballs per arch."""

    build_dir: str
    version: str
    arches: tuple[str, ...]
    images: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Verify artifacts of {self.version}"

    def describe(self) -> str:
        return (
            f"{self.build_dir}: release-tars, bin/linux/<arch>, release-images/<arch>/<image>.tar for "
            f"{', '.join(self.arches)} x {', '.join(self.images) or 'no images'}"
        )


@dataclass(frozen=True)
class AssembleStage(Step):
    """gcs-stage/<v>/: release tars, bin/<os>/<arch>/…, SPDX SBOM, per-file .sha256/.sha512 and SHA*SUMS."""

    build_dir: str
    version: str
    product: str
    upstream: str
    commit: str
    repo: str  # the tagged clone: the SBOM is dated by the version's release commit

    @property
    def title(self) -> str:
        return f"Assemble stage tree and SBOM for {self.version}"

    def describe(self) -> str:
        tree = layout.stage_tree_dir(Path(self.build_dir), self.version)
        return f"{tree}: tars, bin/, SPDX SBOM, .sha256/.sha512, SHA*SUMS"


@dataclass(frozen=True)
class StageSource(Step):
    """The workspace clone (with the new tags and commits) as src.tar.gz in the stage area."""

    repo: str
    bucket: str
    object_key: str

    @property
    def title(self) -> str:
        return "Stage source tree"

    def describe(self) -> str:
        return f"tar {self.repo} -> {self.bucket}/{self.object_key}"


@dataclass(frozen=True)
class UploadArtifacts(Step):
    """Upload a local tree below a bucket prefix; identical objects are skipped, different ones refused."""

    local_dir: str
    bucket: str
    prefix: str

    @property
    def title(self) -> str:
        parts = self.prefix.split("/", 2)
        return f"Upload {parts[2] if parts[0] == 'stage' and len(parts) == 3 else self.prefix}"

    def describe(self) -> str:
        return f"{self.local_dir}/ -> {self.bucket}/{self.prefix}/ (never overwriting)"


@dataclass(frozen=True)
class PushImages(Step):
    """Per-arch images from their tarballs and one manifest list per image, tagged with the version."""

    images_dir: str
    registry: str
    version: str
    images: tuple[str, ...]
    arches: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Push images {self.version} to {self.registry}"

    def describe(self) -> str:
        images, arches = ", ".join(self.images), ", ".join(self.arches)
        return f"{images} for {arches} -> {self.registry}/<image>[-<arch>]:{self.version}"


@dataclass(frozen=True)
class WriteProvenance(Step):
    """An in-toto statement (SLSA v1 predicate) whose subjects are every staged object, written after all of them."""

    build_dirs: tuple[str, ...]  # local _output-<v> dirs whose gcs-stage/<v> trees were staged
    versions: tuple[str, ...]
    bucket: str
    object_key: str
    stage_prefix: str
    upstream: str
    commit: str
    build_version: str
    builder: str
    notes_dir: str = ""  # local notes/ dir staged as <stage_prefix>/notes ("" without notes)
    source_key: str = ""  # the staged src.tar.gz (its local tarball is gone: hashed from the bucket)

    @property
    def title(self) -> str:
        return "Write provenance"

    def describe(self) -> str:
        return f"in-toto statement (SLSA v1) over {', '.join(self.versions)} -> {self.bucket}/{self.object_key}"


@dataclass(frozen=True)
class ArchiveLog(Step):
    """A copy of the job log in the bucket (a new object per run: logs are never overwritten)."""

    log_file: str
    bucket: str
    prefix: str
    extra_prefix: str = ""  # copy objects below this bucket prefix too (the stage logs at release)

    @property
    def title(self) -> str:
        return f"Archive logs to {self.prefix}"

    def describe(self) -> str:
        extra = f" (+ {self.extra_prefix}/)" if self.extra_prefix else ""
        return f"{self.log_file} -> {self.bucket}/{self.prefix}/{extra}"


@dataclass(frozen=True)
class RestoreWorkspace(Step):
    """Download the staged src.tar.gz and unpack it: the tagged clone with the changelog commits.

    The archive is untrusted until checked: its sha256 must be the verified provenance's, it unpacks only regular
    files and directories below dest, its git config and hooks run nothing, and its tags name the build commit.
    """

    bucket: str
    object_key: str
    dest: str
    verified_file: str = ""  # the provenance statement VerifyStaged checked (job dir): digest and build commit
    stage_prefix: str = ""  # subject names are relative to it
    upstream: str = ""  # the profile's upstream URL: the only remote the restored clone may name
    remote: str = "origin"
    tags: tuple[str, ...] = ()  # must point at the build commit (or its empty release commit)

    @property
    def title(self) -> str:
        return "Restore workspace from staged source"

    def describe(self) -> str:
        return (f"{self.bucket}/{self.object_key} (sha256 as in the verified provenance) -> {self.dest}; "
                f"tags {', '.join(self.tags)} on the build commit")


@dataclass(frozen=True)
class VerifyStaged(Step):
    """The staged objects are exactly the provenance subjects (names, sizes, sha256) and match their checksums."""

    bucket: str
    stage_prefix: str
    versions: tuple[str, ...]
    provenance_key: str
    verified_file: str  # local copy of the verified statement: what the publishing steps work from

    @property
    def title(self) -> str:
        return "Verify staged checksums and provenance"

    def describe(self) -> str:
        return (f"{self.bucket}/{self.stage_prefix}/ holds exactly the subjects of {self.provenance_key}; SHA*SUMS of "
                f"{', '.join(self.versions)}; keep the statement in {self.verified_file}")


@dataclass(frozen=True)
class PreflightRelease(Step):
    """Every refusal the publishing steps could meet, checked before the first of them writes anything."""

    checks: tuple[Step, ...]  # the publishing steps themselves: each one's refusals are checked without writing

    @property
    def title(self) -> str:
        return "Check everything before publishing anything"

    def describe(self) -> str:
        return "refusals of: " + "; ".join(step.title for step in self.checks)


@dataclass(frozen=True)
class ValidateImages(Step):
    """Every image's manifest list exists for the version and names every arch (before any git push)."""

    registry: str
    versions: tuple[str, ...]
    images: tuple[str, ...]
    arches: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Validate images in {self.registry}"

    def describe(self) -> str:
        images, versions = ", ".join(self.images), ", ".join(self.versions)
        return f"{self.registry}/<image>:<v> lists {', '.join(self.arches)} for {images} x {versions}"


@dataclass(frozen=True)
class CopyToRelease(Step):
    """The provenance subjects below stage/<bv>/<v>/gcs-stage/<v>/ -> release/<v>/, each checked as it is copied."""

    bucket: str
    stage_prefix: str
    src_prefix: str
    dst_prefix: str
    verified_file: str  # the statement VerifyStaged checked; also published as <dst_prefix>/provenance.json (krel)
    work_dir: str  # local scratch: objects are published from a downloaded, verified copy
    verified_envelope: str = ""  # the provenance envelope VerifySignatures checked ("" unsigned): published beside it

    @property
    def title(self) -> str:
        return f"Copy staged tree to {self.dst_prefix}"

    def describe(self) -> str:
        return (f"{self.bucket}/{self.src_prefix}/ -> {self.dst_prefix}/: the provenance subjects, sha256-checked, "
                f"never overwriting")


@dataclass(frozen=True)
class PublishNotes(Step):
    """release/<v>/release-notes.json (+ html) and the release-notes-index.json entry for it."""

    bucket: str
    version: str
    src_keys: tuple[str, ...]
    dst_prefix: str
    index_key: str
    download_url: str
    stage_prefix: str
    verified_file: str  # the statement VerifyStaged checked: the notes are published with its digests
    work_dir: str

    @property
    def title(self) -> str:
        return f"Publish release notes for {self.version}"

    def describe(self) -> str:
        return f"{', '.join(self.src_keys)} -> {self.bucket}/{self.dst_prefix}/; index {self.index_key}"


@dataclass(frozen=True)
class PublishMarkers(Step):
    """Version markers moved forward only, written with a generation precondition and read back."""

    bucket: str
    version: str
    markers: tuple[str, ...]  # keys, e.g. release/latest-1.30.txt

    @property
    def title(self) -> str:
        return f"Publish version markers for {self.version}"

    def describe(self) -> str:
        return f"{', '.join(self.markers)} in {self.bucket} -> {self.version} where that moves them forward"


@dataclass(frozen=True)
class PushGitObjects(Step):
    """Push tags, the release branch and master to the profile's upstream URL; `dry_run` is the targets' push mode.

    The URL comes from the profile, never from the restored clone's config (the staged archive is not trusted
    to say where a token goes); `remote` only names the remote-tracking refs.
    """

    repo: str
    remote: str
    tags: tuple[str, ...]
    branches: tuple[str, ...]
    dry_run: bool
    upstream: str
    author: Author  # of the merge commit when the remote branch moved meanwhile

    @property
    def title(self) -> str:
        return f"Push git objects ({'dry run' if self.dry_run else 'push'})"

    def describe(self) -> str:
        refs = " ".join((*self.tags, *self.branches))
        return f"git push{' --dry-run' if self.dry_run else ''} {self.upstream} {refs}"


@dataclass(frozen=True)
class UpdateGitHubPage(Step):
    """Render (and, per the targets, publish) the GitHub release page of the prime tag."""

    tag: str
    mode: GitHubReleaseMode
    org: str
    repo_name: str
    bucket: str
    notes_key: str
    staged_notes_key: str = ""  # the verified stage source of notes_key (the preflight renders from it)
    packages: tuple[RepositorySource, ...] = ()  # the package repositories PublishPackages published to
    signing_key_url: str = ""  # the release's public key, when the targets sign its files

    @property
    def title(self) -> str:
        return f"GitHub release page for {self.tag} ({self.mode})"

    def describe(self) -> str:
        return f"{self.org}/{self.repo_name} release {self.tag}: {self.mode}"


@dataclass(frozen=True)
class CreateAnnouncement(Step):
    """announcement.html and its subject for the prime version, at release/<v>/ (read by `krel announce send`)."""

    tag: str
    bucket: str
    prefix: str
    notes_html_key: str
    packages: tuple[RepositorySource, ...] = ()  # the package repositories PublishPackages published to
    signing_key_url: str = ""  # the release's public key, when the targets sign its files

    @property
    def title(self) -> str:
        return f"Create announcement for {self.tag}"

    def describe(self) -> str:
        return f"{self.bucket}/{self.prefix}/announcement.html and announcement-subject.txt"


# ---- packages (issue 14): built at stage from the verified build output, published at release -------------------


@dataclass(frozen=True)
class BuildPackages(Step):
    """The release's .deb and .rpm files from one version's verified build output, dated at its tag's commit."""

    repo: str  # the tagged clone: the tag's commit time is every package's SOURCE_DATE_EPOCH
    version: str
    build_dir: str  # _output-<v>: the build output the profile's package files come from
    out_dir: str  # <build dir>/packages, staged as stage/<bv>/<v>/packages and named in the provenance
    packages: Packages  # the profile's [packages]
    arches: tuple[str, ...]  # [packages] arches, else build.arches
    template_dir: str = ""  # the profile's template directory ("": the built-in templates only)

    @property
    def title(self) -> str:
        return f"Build packages of {self.version}"

    def describe(self) -> str:
        names = ", ".join(p.name for p in self.packages.package)
        return f"{names} for {', '.join(self.arches)} (.deb with dpkg-deb, .rpm with rpmbuild) -> {self.out_dir}"


@dataclass(frozen=True)
class PublishPackages(Step):
    """The staged packages the verified provenance names, into the packages bucket's apt and rpm repositories of the
    tag's minor: packages write-once, the indexes rebuilt from everything published there and signed."""

    bucket: str  # where they are staged
    stage_prefix: str
    src_prefix: str  # stage/<bv>/<v>/packages
    verified_file: str  # the statement VerifyStaged checked: each staged package is fetched against it
    work_dir: str
    tag: str
    project: str  # [packages] project: <project>:/stable:/vX.Y
    packages_bucket: str
    public_url: str  # where users reach the packages bucket (the client lines name it)
    key_mode: str  # the targets' packages_key: throwaway (krel's key under keys_dir) or env (KREL_PACKAGES_GPG_*)
    keys_dir: str  # $KREL_HOME/keys

    @property
    def title(self) -> str:
        return f"Publish packages of {self.tag}"

    def describe(self) -> str:
        return (f"{self.bucket}/{self.src_prefix}/ -> {self.packages_bucket}/"
                f"{layout.packages_repo_prefix(self.project, self.tag)}/{{deb,rpm}}/ (signed: {self.key_mode} key)")


# ---- signing (issue 13): the steps carry where to sign, never the key (the run's clients hold it) ----------------


@dataclass(frozen=True)
class SignArtifacts(Step):
    """A `.sig` beside every file of one assembled tree, its SBOM in a DSSE envelope and the public key, before the
    upload: the signing files are staged, recorded in the provenance and released with the rest."""

    tree_dir: str  # <build_dir>/gcs-stage/<v>
    version: str
    product: str  # names the SBOM

    @property
    def title(self) -> str:
        return f"Sign artifacts of {self.version}"

    def describe(self) -> str:
        return f"{self.tree_dir}: <file>.sig for every file and SHA*SUMS, the SBOM's .intoto.jsonl, release-key.pub"


@dataclass(frozen=True)
class SignImages(Step):
    """A cosign signature of every pushed image (manifest list and per arch), tagged `sha256-<hex>.sig` beside it."""

    registry: str
    version: str
    repos: tuple[str, ...]  # image names below the registry: <image> and <image>-<arch>

    @property
    def title(self) -> str:
        return f"Sign images {self.version} in {self.registry}"

    def describe(self) -> str:
        return f"{self.registry}/{{{', '.join(self.repos)}}}:{self.version} -> sha256-<digest>.sig (cosign)"


@dataclass(frozen=True)
class SignProvenance(Step):
    """The provenance statement in a signed DSSE envelope, beside it (written from it, so never one of its subjects)."""

    bucket: str
    statement_key: str
    envelope_key: str

    @property
    def title(self) -> str:
        return "Sign provenance"

    def describe(self) -> str:
        return f"DSSE envelope over {self.bucket}/{self.statement_key} -> {self.envelope_key}"


@dataclass(frozen=True)
class VerifySignatures(Step):
    """Every staged signature the targets make, checked with their key before the release writes anything."""

    bucket: str
    stage_prefix: str
    versions: tuple[str, ...]
    verified_file: str  # the statement VerifyStaged checked: the envelope must sign exactly it
    artifacts: bool  # each staged tree: .sig of every file, the SBOM envelope, the public key
    verified_envelope: str  # where the checked provenance envelope is kept ("" when provenance is not signed)
    registry: str = ""  # where the staged images are
    repos: tuple[str, ...] = ()  # images whose signatures are checked (none when images are not signed)
    # Mock only: without mock's throwaway key on this machine (a job on another one), check with the key the stage
    # published beside its files. Production always checks with its own key.
    mock: bool = False

    @property
    def title(self) -> str:
        return "Verify staged signatures"

    def describe(self) -> str:
        checked = [what for what, on in (("files", self.artifacts), ("provenance envelope", self.verified_envelope),
                                         (f"images in {self.registry}", self.repos)) if on]
        return f"{self.bucket}/{self.stage_prefix}/: {', '.join(checked)} signed by the targets' key"


@dataclass(frozen=True)
class WriteArtifacts(Step):
    """release/<v>/artifacts.json: the files the release publishes for v (URL, size, sha256) and its images' digests;
    written once, and checked by the preflight when it exists."""

    bucket: str
    artifacts_key: str  # release/<v>/artifacts.json
    version: str
    stage_prefix: str
    src_prefix: str  # gcs-stage/<v> below the stage area: the files of v
    dst_prefix: str  # release/<v>: where the copy publishes them
    verified_file: str  # the provenance the verify step checked
    registry: str  # where the images are read (the validation registry)
    images: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"List the artifacts of {self.version}"

    def describe(self) -> str:
        return f"{self.bucket}/{self.artifacts_key}: files of {self.dst_prefix}/, digests of {len(self.images)} images"
