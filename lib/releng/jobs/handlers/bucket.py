"""Handlers that write to the bucket: uploads, provenance, stage -> release copy, notes, markers, logs, pages."""

from __future__ import annotations

import json
import mimetypes
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from releng import checksums, files, layout, markermove, markers, provenance
from releng.errors import ReleaseError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import checks, handles
from releng.jobs.steps import (
    ArchiveLog,
    CopyToRelease,
    CreateAnnouncement,
    PublishMarkers,
    PublishNotes,
    UpdateGitHubPage,
    UploadArtifacts,
    VerifyStaged,
    WriteProvenance,
)
from releng.objectstore import ObjectExistsError, ObjectStore
from releng.objectstore.sync import upload_tree
from releng.objectstore.update import update
from releng.provenance import Subject

# Objects published at once: each is a download and an upload, so a few in flight hide the latency.
_WORKERS = 4


@handles(UploadArtifacts)
def upload_artifacts(step: UploadArtifacts, clients: Clients) -> None:
    """Upload the tree; identical objects are skipped, so a rerun after a kill only sends what is missing."""
    local = Path(step.local_dir)
    if not local.is_dir():
        raise ReleaseError(f"{local} does not exist; nothing to upload to {step.prefix}")
    store = clients.store(step.bucket)
    killed = False

    def progress(done: int, total: int) -> None:
        nonlocal killed
        clients.report.progress(step.prefix, done, total)
        if clients.hooks.kill_mid_upload and not killed and 0 < done < total:
            killed = True
            clients.hooks.kill()

    # With the test kill armed, one worker makes "killed mid-upload" deterministic: nothing runs on past the kill.
    workers = 1 if clients.hooks.kill_mid_upload else 4
    uploaded = upload_tree(local, store, step.prefix, workers=workers, progress=progress)
    clients.report.info(f"{len(uploaded)} files under {store.url}/{step.prefix}")


@handles(WriteProvenance)
def write_provenance(step: WriteProvenance, clients: Clients) -> None:
    """krel: the SLSA provenance statement for everything staged, at stage/<bv>/provenance.json.

    Subjects come from the local trees this job uploaded, not from a listing: an object that appeared in the
    bucket meanwhile is not recorded, so release refuses it.
    """
    store = clients.store(step.bucket)
    subjects = []
    for build_dir, version in zip(step.build_dirs, step.versions, strict=True):
        subjects += provenance.subjects_of(Path(build_dir), version)
    if step.notes_dir:
        subjects += provenance.tree_subjects(Path(step.notes_dir), "notes")
    if step.source_key:
        name = step.source_key.removeprefix(step.stage_prefix + "/")
        subjects.append(provenance.object_subject(store, step.source_key, name))
    doc = provenance.statement(subjects, step.upstream, step.commit, step.build_version, step.versions, step.builder)
    store.put_new(step.object_key, provenance.encode(doc), content_type="application/json")
    clients.report.info(f"{len(subjects)} subjects in {step.object_key}")


@handles(VerifyStaged)
def verify_staged(step: VerifyStaged, clients: Clients) -> None:
    """krel CheckProvenance, made strict: the staged objects are exactly the provenance subjects, checksums agree.

    The statement's bytes are kept in the job dir: the publishing steps work from this verified copy, so a
    statement or an object changed in the bucket after this step cannot steer what is released.
    """
    store = clients.store(step.bucket)
    found = (layout.staged_version(step.stage_prefix, info.key) for info in store.list(step.stage_prefix + "/"))
    staged = sorted({version for version in found if version is not None})
    if sorted(step.versions) != staged:
        raise ReleaseError(
            f"{store.url}/{step.stage_prefix} holds {', '.join(staged) or 'no staged versions'}, but this release "
            f"computes {', '.join(step.versions)}; check --type and --branch against the krel stage run"
        )
    data = provenance.read(store, step.provenance_key)
    subjects = provenance.verify_statement(store, step.stage_prefix, data)
    count = 0
    for version in step.versions:
        prefix = f"{step.stage_prefix}/{layout.staged_tree(version)}"
        count += len(checksums.verify_checksums(store, prefix).files)
    files.write_atomic(Path(step.verified_file), data)
    clients.report.info(f"{len(subjects)} staged objects match the provenance; {count} match their checksums")


def verified_statement(verified_file: str) -> tuple[bytes, dict[str, Subject]]:
    """The statement the verify step checked (its bytes and subjects), from the job dir."""
    path = Path(verified_file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReleaseError(f"{path} is missing: the verify step writes it; rerun krel release") from None
    return data, provenance.parse(data, str(path))


def copy_pairs(stage_prefix: str, subjects: dict[str, Subject], src_prefix: str, dst_prefix: str,
               ) -> list[tuple[Subject, str]]:
    """(subject, release key) for every subject below src_prefix: what the copy publishes, and nothing else."""
    rel = src_prefix.removeprefix(stage_prefix + "/") + "/"
    pairs = [(s, f"{dst_prefix}/{name[len(rel):]}") for name, s in sorted(subjects.items()) if name.startswith(rel)]
    if not pairs:
        raise ReleaseError(f"the provenance records nothing below {src_prefix}/; nothing staged to release")
    return pairs


def is_released(store: ObjectStore, key: str, subject: Subject) -> bool:
    """True when key already holds exactly the subject; another content there is refused (never overwritten)."""
    if not store.exists(key):
        return False
    got = provenance.object_subject(store, key, subject.name)
    if (got.size, got.sha256) != (subject.size, subject.sha256):
        raise ObjectExistsError.for_key(store.url, key)
    return True


def check_bytes(store: ObjectStore, key: str, data: bytes) -> bool:
    """True when key already holds data; another content there is refused."""
    if not store.exists(key):
        return False
    if store.get(key) != data:
        raise ObjectExistsError.for_key(store.url, key)
    return True


def _publish_verified(clients: Clients, store: ObjectStore, stage_prefix: str, pairs: list[tuple[Subject, str]],
                      work_dir: str) -> int:
    """Publish each subject from a verified local copy; released identical objects are skipped. Returns copied.

    Every conflict is observed and every copy downloaded and checked before the first write, so a refused or
    swapped object leaves the release area as it was.
    """
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="release-check") as pool:
        done = list(pool.map(lambda pair: is_released(store, pair[1], pair[0]), pairs))
    todo = [pair for pair, skip in zip(pairs, done, strict=True) if not skip]
    scratch = Path(work_dir)
    local = {dst: scratch / uuid.uuid4().hex for _, dst in todo}

    def fetch(pair: tuple[Subject, str]) -> None:
        subject, dst = pair
        provenance.fetch_verified(store, f"{stage_prefix}/{subject.name}", subject, local[dst])

    progress = iter(range(1, len(todo) + 1))

    def put(pair: tuple[Subject, str]) -> None:
        dst = pair[1]
        store.put_new(dst, local[dst], content_type=mimetypes.guess_type(dst)[0])
        clients.report.progress(dst.rsplit("/", 1)[0], next(progress), len(todo))

    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with ThreadPoolExecutor(_WORKERS, thread_name_prefix="release-copy") as pool:
            list(pool.map(fetch, todo))
            list(pool.map(put, todo))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the job's own scratch dir
    total = sum(s.size for s, _ in todo)
    clients.report.info(f"{len(todo)} objects ({total} bytes) published, {len(pairs) - len(todo)} already there")
    return len(todo)


@checks(CopyToRelease)
def check_copy_to_release(step: CopyToRelease, clients: Clients) -> None:
    """Refused in advance: a release object (or provenance.json) that exists with other content."""
    store = clients.store(step.bucket)
    data, subjects = verified_statement(step.verified_file)
    for subject, dst in copy_pairs(step.stage_prefix, subjects, step.src_prefix, step.dst_prefix):
        is_released(store, dst, subject)
    check_bytes(store, f"{step.dst_prefix}/{provenance.PROVENANCE_FILE}", data)
    if step.verified_envelope:
        check_bytes(store, f"{step.dst_prefix}/{layout.PROVENANCE_ENVELOPE}", _verified_envelope(step))


def _verified_envelope(step: CopyToRelease) -> bytes:
    """The provenance envelope VerifySignatures checked and kept in the job dir."""
    try:
        return Path(step.verified_envelope).read_bytes()
    except FileNotFoundError:
        raise ReleaseError(f"{step.verified_envelope} is missing: the signature check writes it; rerun krel release"
                           ) from None


@handles(CopyToRelease)
def copy_to_release(step: CopyToRelease, clients: Clients) -> None:
    """krel CopyStagedFromGCS, but only the provenance subjects, each checked against its digest as it is copied."""
    store = clients.store(step.bucket)
    data, subjects = verified_statement(step.verified_file)
    pairs = copy_pairs(step.stage_prefix, subjects, step.src_prefix, step.dst_prefix)
    key = f"{step.dst_prefix}/{provenance.PROVENANCE_FILE}"
    check_bytes(store, key, data)
    _publish_verified(clients, store, step.stage_prefix, pairs, step.work_dir)
    # krel copies the provenance next to each release; the verified bytes, not whatever the bucket holds now
    store.put_new(key, data, content_type="application/json")
    if step.verified_envelope:  # signed: the envelope VerifySignatures checked, beside it
        store.put_new(f"{step.dst_prefix}/{layout.PROVENANCE_ENVELOPE}", _verified_envelope(step),
                      content_type="application/json")


def _update_json_object(clients: Clients, bucket: str, key: str, name: str, value: str) -> None:
    """Set one entry of a JSON object in the bucket with a generation precondition (retry on a lost race)."""
    store = clients.store(bucket)

    def with_entry(content: bytes | None) -> bytes | None:
        try:
            data: dict[str, str] = json.loads(content) if content is not None else {}
        except ValueError as exc:
            raise ReleaseError(f"{store.url}/{key} is not JSON ({exc})") from exc
        if data.get(name) == value:
            return None
        return (json.dumps({**data, name: value}, indent=2, sort_keys=True) + "\n").encode()

    update(store, key, with_entry, "application/json", contender="another release is writing it; try again")


def public_url(download_url: str, key: str) -> str:
    """krel FixPublicReleaseNotesURL: index entries point at the public download URL, not the bucket."""
    return f"{download_url.rstrip('/')}/{key}"


def _notes_pairs(step: PublishNotes) -> list[tuple[Subject, str]]:
    _, subjects = verified_statement(step.verified_file)
    pairs = []
    for src in step.src_keys:
        name = src.removeprefix(step.stage_prefix + "/")
        if name not in subjects:
            raise ReleaseError(f"{step.bucket}/{src} is not recorded in the provenance; the stage job writes the notes")
        pairs.append((subjects[name], f"{step.dst_prefix}/{src.rsplit('/', 1)[-1]}"))
    return pairs


@checks(PublishNotes)
def check_publish_notes(step: PublishNotes, clients: Clients) -> None:
    """Refused in advance: published notes with other content."""
    store = clients.store(step.bucket)
    for subject, dst in _notes_pairs(step):
        is_released(store, dst, subject)


@handles(PublishNotes)
def publish_notes(step: PublishNotes, clients: Clients) -> None:
    """release/<v>/release-notes.{json,html} from the verified stage notes, and the index entry for the version."""
    store = clients.store(step.bucket)
    _publish_verified(clients, store, step.stage_prefix, _notes_pairs(step), step.work_dir)
    json_key = f"{step.dst_prefix}/{layout.NOTES_FILES[0]}"
    _update_json_object(clients, step.bucket, step.index_key, step.version, public_url(step.download_url, json_key))


@handles(CreateAnnouncement)
def create_announcement(step: CreateAnnouncement, clients: Clients) -> None:
    """krel CreateAnnouncement: announcement.html (+ subject) for the prime version, next to its release."""
    from releng.announce.compose import detect_go_version

    store = clients.store(step.bucket)
    changelog_html = store.get(step.notes_html_key).decode() if step.notes_html_key else ""
    try:
        go_version = detect_go_version()
    except ReleaseError:
        go_version = "unknown"
    announcement = clients.texts.announcement(step.tag, go_version, changelog_html, step.packages,
                                                 step.signing_key_url)
    html_key = f"{step.prefix}/announcement.html"
    if store.exists(html_key):
        clients.report.info(f"{html_key} already written")
        return
    store.put_new(f"{step.prefix}/announcement-subject.txt", announcement.subject.encode(), content_type="text/plain")
    store.put_new(html_key, announcement.html.encode(), content_type="text/html")


@checks(PublishMarkers)
def check_markers(step: PublishMarkers, clients: Clients) -> None:
    """Refused in advance: the version's own minor-line marker already holds a newer version."""
    store = clients.store(step.bucket)
    for key in step.markers:
        current = store.read_generation(key)
        markers.check_move(store.url, key, markers.published(current[0] if current else None), step.version,
                           guarded=key == step.markers[-1])


@handles(PublishMarkers)
def publish_markers(step: PublishMarkers, clients: Clients) -> None:
    """krel PublishVersion: each marker only moves forward, under a generation precondition, then is read back."""
    store = clients.store(step.bucket)
    # krel PublishVersion: `gsutil ls` of the release path first; a marker never names a version with no files.
    release_dir = layout.release_prefix(step.version)
    if next(iter(store.list(f"{release_dir}/")), None) is None:
        raise ReleaseError(f"release files don't exist at {store.url}/{release_dir}; markers name released versions")
    minor_marker = step.markers[-1]
    for key in step.markers:
        done = markermove.move(store, key, step.version, guarded=key == minor_marker,
                               contender="another release is writing markers")
        clients.report.info(markermove.describe(key, step.version, done))


@checks(UpdateGitHubPage)
def check_github_page(step: UpdateGitHubPage, clients: Clients) -> None:
    """Refused in advance: a page already in the bucket with other content (bucket mode only; GitHub pages update)."""
    from releng.announce.ghrelease import check_bucket_page

    if step.mode != "bucket":
        return
    store = clients.store(step.bucket)
    # At preflight the notes are not published yet: the page is rendered from their verified staged source.
    notes = store.get(step.staged_notes_key).decode() if step.staged_notes_key else ""
    check_bucket_page(store, step.tag, clients.texts.github_page(step.tag, notes, step.packages, step.signing_key_url))


@handles(UpdateGitHubPage)
def update_github_page(step: UpdateGitHubPage, clients: Clients) -> None:
    """The GitHub release page through the announce library, in the targets' mode (render, publish, bucket)."""
    store = clients.store(step.bucket)
    notes = store.get(step.notes_key).decode() if step.notes_key and store.exists(step.notes_key) else ""
    result = clients.texts.send_github_page(step.mode, step.tag, notes, store, clients.github, step.packages,
                                          step.signing_key_url)
    clients.report.info(f"GitHub release page {step.tag}: {result.location or 'rendered only'}")


@handles(ArchiveLog)
def archive_log(step: ArchiveLog, clients: Clients) -> None:
    """A copy of this run's log (new key per run) plus the stage logs, under archive/ or stage/<bv>/logs."""
    store = clients.store(step.bucket)
    log_file = Path(step.log_file)
    if log_file.exists():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        key = f"{step.prefix}/{log_file.stem}-{stamp}-{uuid.uuid4().hex[:8]}.log"
        store.put_new(key, log_file.read_bytes(), content_type="text/plain")
    if step.extra_prefix:
        for info in store.list(step.extra_prefix + "/"):
            store.copy_to(info.key, store, f"{step.prefix}/{info.key.rsplit('/', 1)[-1]}")
