"""Handlers that write to the bucket: uploads, provenance, stage -> release copy, notes, markers, logs, pages."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from pathlib import Path

from releng import checksums, layout, markers, provenance
from releng.backends import Backends
from releng.errors import ReleaseError
from releng.objectstore import PreconditionFailedError
from releng.objectstore.sync import sync, upload_tree
from releng.steps import (
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


class MarkerBackwardsError(ReleaseError):
    """The minor line's marker already names a newer version: releasing an older one would move it backwards."""

    @classmethod
    def for_marker(cls, url: str, key: str, published: str, version: str) -> MarkerBackwardsError:
        return cls(f"{url}/{key} holds {published}, newer than {version}; markers never move backwards")


def upload_artifacts(b: Backends, step: UploadArtifacts) -> None:
    """Upload the tree; identical objects are skipped, so a rerun after a kill only sends what is missing."""
    local = Path(step.local_dir)
    if not local.is_dir():
        raise ReleaseError(f"{local} does not exist; nothing to upload to {step.prefix}")
    store = b.store(step.bucket)
    killed = False

    def progress(done: int, total: int) -> None:
        nonlocal killed
        b.report.progress(step.prefix, done, total)
        if b.hooks.kill_mid_upload and not killed and 0 < done < total:
            killed = True
            b.hooks.kill()

    # With the test kill armed, one worker makes "killed mid-upload" deterministic: nothing runs on past the kill.
    workers = 1 if b.hooks.kill_mid_upload else 4
    uploaded = upload_tree(local, store, step.prefix, workers=workers, progress=progress)
    b.report.info(f"{len(uploaded)} files under {store.url}/{step.prefix}")


def write_provenance(b: Backends, step: WriteProvenance) -> None:
    """krel: the SLSA provenance statement for everything staged, at stage/<bv>/provenance.json.

    Subjects come from the local trees this job uploaded, not from a listing: an object that appeared in the
    bucket meanwhile is not recorded, so release refuses it.
    """
    store = b.store(step.bucket)
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
    b.report.info(f"{len(subjects)} subjects in {step.object_key}")


def verify_staged(b: Backends, step: VerifyStaged) -> None:
    """krel CheckProvenance, made strict: checksum files and provenance must both match the staged objects."""
    store = b.store(step.bucket)
    staged = sorted({info.key.split("/")[2] for info in store.list(step.stage_prefix + "/")
                     if info.key.count("/") > 3 and info.key.split("/")[3] == "gcs-stage"})
    if sorted(step.versions) != staged:
        raise ReleaseError(
            f"{store.url}/{step.stage_prefix} holds {', '.join(staged) or 'no staged versions'}, but this release "
            f"computes {', '.join(step.versions)}; check --type and --branch against the krel stage run"
        )
    count = 0
    for version in step.versions:
        prefix = f"{step.stage_prefix}/{version}/gcs-stage/{version}"
        count += len(checksums.verify_checksums(store, prefix).files)
    subjects = provenance.verify(store, step.stage_prefix, step.provenance_key)
    b.report.info(f"{count} staged files match their checksums; {len(subjects)} provenance subjects match")


def copy_to_release(b: Backends, step: CopyToRelease) -> None:
    """krel CopyStagedFromGCS: a sync that skips identical objects and refuses to overwrite different ones."""
    store = b.store(step.bucket)
    if not any(True for _ in store.list(step.src_prefix + "/")):
        raise ReleaseError(f"{store.url}/{step.src_prefix}/ is empty; nothing staged to release")
    sync(store, step.src_prefix, store, step.dst_prefix,
         progress=lambda done, total: b.report.progress(step.dst_prefix, done, total))
    if step.provenance_key:
        store.copy_to(step.provenance_key, store, f"{step.dst_prefix}/provenance.json")


def _update_json_object(b: Backends, bucket: str, key: str, name: str, value: str) -> None:
    """Set one entry of a JSON object in the bucket with a generation precondition (retry on a lost race)."""
    store = b.store(bucket)
    for _ in range(5):
        current = store.read_generation(key)
        data: dict[str, str] = {}
        generation = None
        if current is not None:
            try:
                data = json.loads(current[0])
            except ValueError as exc:
                raise ReleaseError(f"{store.url}/{key} is not JSON ({exc})") from exc
            generation = current[1]
        if data.get(name) == value:
            return
        data[name] = value
        body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
        try:
            store.put_if_generation(key, body, generation, content_type="application/json")
            return
        except PreconditionFailedError:
            time.sleep(0.05)
    raise ReleaseError(f"{store.url}/{key}: kept changing under us; try again")


def public_url(download_url: str, key: str) -> str:
    """krel FixPublicReleaseNotesURL: index entries point at the public download URL, not the bucket."""
    return f"{download_url.rstrip('/')}/{key}"


def publish_notes(b: Backends, step: PublishNotes) -> None:
    """release/<v>/release-notes.{json,html} from the stage area, and the index entry for the version."""
    store = b.store(step.bucket)
    for src in step.src_keys:
        if not store.exists(src):
            raise ReleaseError(f"{store.url}/{src} is missing; the stage job writes the notes")
        store.copy_to(src, store, f"{step.dst_prefix}/{src.rsplit('/', 1)[-1]}")
    json_key = f"{step.dst_prefix}/{layout.NOTES_FILES[0]}"
    _update_json_object(b, step.bucket, step.index_key, step.version, public_url(step.download_url, json_key))


def create_announcement(b: Backends, step: CreateAnnouncement) -> None:
    """krel CreateAnnouncement: announcement.html (+ subject) for the prime version, next to its release."""
    from releng.announce.compose import build_announcement, detect_go_version

    store = b.store(step.bucket)
    changelog_html = store.get(step.notes_html_key).decode() if step.notes_html_key else ""
    try:
        go_version = detect_go_version()
    except ReleaseError:
        go_version = "unknown"
    announcement = build_announcement(b.profile, step.tag, go_version=go_version, changelog_html=changelog_html)
    html_key = f"{step.prefix}/announcement.html"
    if store.exists(html_key):
        b.report.info(f"{html_key} already written")
        return
    store.put_new(f"{step.prefix}/announcement-subject.txt", announcement.subject.encode(), content_type="text/plain")
    store.put_new(html_key, announcement.html.encode(), content_type="text/html")


def publish_markers(b: Backends, step: PublishMarkers) -> None:
    """krel PublishVersion: each marker only moves forward, under a generation precondition, then is read back."""
    store = b.store(step.bucket)
    minor_marker = step.markers[-1]
    for key in step.markers:
        for _ in range(5):
            current = store.read_generation(key)
            published = current[0].decode().strip() if current else None
            if not markers.needs_update(published, step.version):
                if published != step.version and key == minor_marker:
                    raise MarkerBackwardsError.for_marker(store.url, key, published or "", step.version)
                b.report.info(f"{key} holds {published}; not moved")
                break
            try:
                store.put_if_generation(key, step.version.encode(), current[1] if current else None, "text/plain")
            except PreconditionFailedError:
                continue
            back = store.get(key).decode().strip()
            if back != step.version:
                raise ReleaseError(f"{store.url}/{key} reads back {back!r} after writing {step.version!r}")
            b.report.info(f"{key} -> {step.version}")
            break
        else:
            raise ReleaseError(f"{store.url}/{key}: generation kept changing; another release is writing markers")


def update_github_page(b: Backends, step: UpdateGitHubPage) -> None:
    """The GitHub release page through the announce library, in the targets' mode (render, publish, bucket)."""
    from releng.announce.ghrelease import update_github_release

    store = b.store(step.bucket)
    notes = store.get(step.notes_key).decode() if step.notes_key and store.exists(step.notes_key) else ""
    targets = dataclasses.replace(b.targets, github_release=step.mode, bucket=step.bucket)
    result = update_github_release(
        b.profile, targets, step.tag, notes=notes, token=b.github_token, api_url=b.github_api_url, store=store
    )
    b.report.info(f"GitHub release page {step.tag}: {result.location or 'rendered only'}")


def archive_log(b: Backends, step: ArchiveLog) -> None:
    """A copy of this run's log (new key per run) plus the stage logs, under archive/ or stage/<bv>/logs."""
    store = b.store(step.bucket)
    log_file = Path(step.log_file)
    if log_file.exists():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        key = f"{step.prefix}/{log_file.stem}-{stamp}-{uuid.uuid4().hex[:8]}.log"
        store.put_new(key, log_file.read_bytes(), content_type="text/plain")
    if step.extra_prefix:
        for info in store.list(step.extra_prefix + "/"):
            store.copy_to(info.key, store, f"{step.prefix}/{info.key.rsplit('/', 1)[-1]}")
