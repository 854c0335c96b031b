"""The WriteArtifacts handler and its preflight check (release/<v>/artifacts.json, written once), and what
`krel stage|release --json` lists: the same records, for a stage run read from its provenance and registry."""

from __future__ import annotations

import json
from typing import Any

from releng import artifacts, layout, provenance
from releng.address import RegistryAddress
from releng.artifacts import Artifacts, ArtifactsError, FileArtifact, ImageArtifact
from releng.errors import ReleaseError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import checks, handles
from releng.jobs.handlers.bucket import copy_pairs, verified_statement
from releng.jobs.steps import PushImages, WriteArtifacts, WriteProvenance
from releng.objectstore import ObjectStore
from releng.plan import Plan


def image_digests(clients: Clients, registry: str, version: str, images: tuple[str, ...]) -> list[ImageArtifact]:
    """registry/<image>:<version> -> the digest its tag names, for every image."""
    if not images:
        return []
    address = RegistryAddress.parse(registry)
    host = address.host
    client = clients.registry(host)
    found = []
    for image in images:
        repo = address.repo(image)
        descriptor = client.head_manifest(repo, version)
        if descriptor is None:
            raise ReleaseError(f"image {host}/{repo}:{version} not found; it is listed in the artifacts")
        found.append(ImageArtifact(f"{host}/{repo}:{version}", descriptor.digest))
    return found


def released(step: WriteArtifacts, clients: Clients) -> Artifacts:
    """What the release publishes for step.version: the verified provenance's subjects at their release keys."""
    store = clients.store(step.bucket)
    _, subjects = verified_statement(step.verified_file)
    files = [
        FileArtifact(key.removeprefix(f"{step.dst_prefix}/"), f"{store.url}/{key}", subject.size, subject.sha256)
        for subject, key in copy_pairs(step.stage_prefix, subjects, step.src_prefix, step.dst_prefix)
    ]
    return artifacts.build(step.version, files, image_digests(clients, step.registry, step.version, step.images))


def _holds(store: ObjectStore, key: str, data: bytes) -> bool:
    """True when key already holds data; another list there is refused (never rewritten)."""
    if not store.exists(key):
        return False
    if store.get(key) != data:
        raise ArtifactsError.differs(f"{store.url}/{key}")
    return True


@checks(WriteArtifacts)
def check_write_artifacts(step: WriteArtifacts, clients: Clients) -> None:
    """Refused in advance: an artifacts.json that lists something else than this release publishes."""
    store = clients.store(step.bucket)
    if store.exists(step.artifacts_key):  # nothing to compare (and no registry to ask) before the first release
        _holds(store, step.artifacts_key, released(step, clients).encode())


@handles(WriteArtifacts)
def write_artifacts(step: WriteArtifacts, clients: Clients) -> None:
    """Write the list once; a rerun finds the same bytes and writes nothing."""
    store = clients.store(step.bucket)
    data = released(step, clients).encode()
    if not _holds(store, step.artifacts_key, data):
        store.put_new(step.artifacts_key, data, content_type="application/json")
    clients.report.info(f"artifacts listed in {store.url}/{step.artifacts_key}")


def job_artifacts(plan: Plan, clients: Clients) -> list[dict[str, Any]]:
    """What `krel stage|release --json` lists, read back from where the job put it: each artifacts.json a release
    wrote, or for a stage run the files its provenance records below gcs-stage/<v>/ and its images' digests."""
    lists = [step for step in plan.steps if isinstance(step, WriteArtifacts)]
    if lists:
        return [json.loads(clients.store(step.bucket).get(step.artifacts_key)) for step in lists]
    recorded = [step for step in plan.steps if isinstance(step, WriteProvenance)]
    if not recorded:
        return []
    pushes = {step.version: step for step in plan.steps if isinstance(step, PushImages)}
    return [listed.as_json() for listed in _staged(clients, recorded[0], pushes)]


def _staged(clients: Clients, recorded: WriteProvenance, pushes: dict[str, PushImages]) -> list[Artifacts]:
    store = clients.store(recorded.bucket)
    subjects = provenance.load(store, recorded.object_key)
    listed = []
    for version in recorded.versions:
        tree = layout.gcs_stage_prefix(recorded.build_version, version).removeprefix(f"{recorded.stage_prefix}/")
        files = [
            FileArtifact(name.removeprefix(f"{tree}/"), f"{store.url}/{recorded.stage_prefix}/{name}", s.size, s.sha256)
            for name, s in subjects.items()
            if name.startswith(f"{tree}/")
        ]
        push = pushes.get(version)
        images = image_digests(clients, push.registry, version, push.images) if push else []
        listed.append(artifacts.build(version, files, images))
    return listed
