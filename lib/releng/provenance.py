"""An in-toto Statement v1 with a SLSA v1 provenance predicate for the staged objects, and its verification.

The statement is the record of what `krel stage` staged: every object below stage/<bv>/ (names relative to it)
with its sha256 and size. `krel release` publishes only what it names, and only with those digests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releng import digests, layout
from releng.errors import ReleaseError, UsageError
from releng.objectstore import ObjectStore
from releng.objectstore.base import check_key

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://github.com/kubernetes/release/krel-stage@v1"
PROVENANCE_FILE = layout.PROVENANCE_FILE
# Written below stage/<bv>/ after the provenance (ArchiveLog), so never one of its subjects.
UNRECORDED_PREFIXES = ("logs/",)
# The statement itself, and its signed envelope (written from it, so after it).
UNRECORDED_FILES = (PROVENANCE_FILE, layout.PROVENANCE_ENVELOPE)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Subject:
    """One staged object: its name relative to stage/<bv>/, sha256 and size in bytes."""

    name: str
    sha256: str
    size: int

    def as_json(self) -> dict[str, Any]:
        # in-toto ResourceDescriptor: the size goes in annotations (the descriptor has no size field).
        return {"name": self.name, "digest": {"sha256": self.sha256}, "annotations": {"size": self.size}}


class ProvenanceError(ReleaseError):
    """The staged objects and the provenance statement disagree, or the statement is malformed."""

    @classmethod
    def mismatch(cls, url: str, key: str, what: str, got: str, want: str) -> ProvenanceError:
        return cls(f"{url}/{key}: {what} {got} does not match provenance {want}; the stage area changed after "
                   f"krel stage: restage with a new build version")


def file_subject(path: Path, name: str) -> Subject:
    """The subject of one local file."""
    (sha256,) = digests.hash_file(path, ("sha256",))
    return Subject(name, sha256, path.stat().st_size)


def tree_subjects(root: Path, name_prefix: str) -> list[Subject]:
    """Every file below root (checksum files included: they are published too), named <name_prefix>/<rel>."""
    if not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return [file_subject(p, f"{name_prefix}/{p.relative_to(root).as_posix()}") for p in files]


def object_subject(store: ObjectStore, key: str, name: str) -> Subject:
    """The subject of one object already in the store (read back: its local source is gone, e.g. src.tar.gz)."""
    with store.reader(key) as stream:
        reader = digests.HashingReader(stream, ("sha256",))
        try:
            while reader.read_view():
                pass
        finally:
            reader.close()
    return Subject(name, reader.hasher.hexdigests()["sha256"], reader.hasher.size)


def subjects_of(build_dir: Path, version: str) -> list[Subject]:
    """Subjects of one build staged below stage/<bv>/: <v>/gcs-stage/<v>/…, <v>/release-images/<arch>/… and, when
    the profile builds packages, <v>/packages/…."""
    return [*tree_subjects(layout.stage_tree_dir(build_dir, version), layout.staged_tree(version)),
            *tree_subjects(layout.images_dir(build_dir), layout.staged_images(version)),
            *tree_subjects(layout.packages_build_dir(build_dir), layout.staged_packages(version))]


def statement(
    subjects: Iterable[Subject], upstream: str, commit: str, build_version: str, versions: Iterable[str],
    builder: str,
) -> dict[str, Any]:
    """The statement; no timestamps, so a rerun produces the same bytes and the upload is a no-op."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [s.as_json() for s in sorted(subjects, key=lambda s: s.name)],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"buildVersion": build_version, "versions": list(versions),
                                       "source": upstream},
                "resolvedDependencies": [{"uri": f"git+{upstream}", "digest": {"gitCommit": commit}}],
            },
            "runDetails": {"builder": {"id": builder}},
        },
    }


def encode(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _subject(raw: Any, where: str) -> Subject:
    """One subject from the statement; names must be plain relative keys (they are joined to bucket prefixes)."""
    try:
        name, sha256, size = raw["name"], raw["digest"]["sha256"], raw["annotations"]["size"]
    except (KeyError, TypeError) as exc:
        raise ProvenanceError(f"{where}: subject {str(raw)[:80]} lacks name, digest.sha256 or "
                              f"annotations.size ({exc})") from None
    if not isinstance(name, str) or not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ProvenanceError(f"{where}: subject {str(raw)[:80]}: expected a name and a 64-hex sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProvenanceError(f"{where}: subject {name}: size {size!r} is not a byte count")
    try:
        check_key(name)
    except UsageError:
        raise ProvenanceError(f"{where}: subject name {name!r} is not a relative key below the stage area") from None
    return Subject(name, sha256, size)


def parse(data: bytes, where: str) -> dict[str, Subject]:
    """Subjects by name from a statement's bytes; anything else than a krel provenance statement is refused."""
    try:
        doc = json.loads(data)
        raw_subjects = doc["subject"]
        predicate_type = doc.get("predicateType")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProvenanceError(f"{where}: not an in-toto statement with subjects ({exc})") from None
    if predicate_type != PREDICATE_TYPE:
        raise ProvenanceError(f"{where}: predicateType is not {PREDICATE_TYPE}")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise ProvenanceError(f"{where}: subject is not a non-empty list")
    subjects: dict[str, Subject] = {}
    for raw in raw_subjects:
        subject = _subject(raw, where)
        if subject.name in subjects:
            raise ProvenanceError(f"{where}: subject {subject.name} is listed twice")
        subjects[subject.name] = subject
    return subjects


def read(store: ObjectStore, provenance_key: str) -> bytes:
    """The statement's bytes; a missing statement means the staging never finished."""
    if not store.exists(provenance_key):
        raise ProvenanceError(f"{store.url}/{provenance_key} is missing; the stage job writes it last")
    return store.get(provenance_key)


def load(store: ObjectStore, provenance_key: str) -> dict[str, Subject]:
    """Subjects by name from the statement in the store."""
    return parse(read(store, provenance_key), f"{store.url}/{provenance_key}")


def subject_sha256(store: ObjectStore, provenance_key: str, name: str) -> str:
    """The recorded sha256 of subject `name` (relative to stage/<bv>/, e.g. src.tar.gz); absent -> ReleaseError."""
    subject = load(store, provenance_key).get(name)
    if subject is None:
        raise ProvenanceError(f"{store.url}/{provenance_key} records no subject {name}; restage this build version")
    return subject.sha256


def check_object(store: ObjectStore, key: str, subject: Subject) -> None:
    """The object at key has the subject's size and sha256 (read in full)."""
    got = object_subject(store, key, subject.name)
    if got.size != subject.size:
        raise ProvenanceError.mismatch(store.url, key, "size", str(got.size), str(subject.size))
    if got.sha256 != subject.sha256:
        raise ProvenanceError.mismatch(store.url, key, "sha256", got.sha256[:16] + "…", subject.sha256[:16] + "…")


def staged_names(store: ObjectStore, stage_prefix: str) -> dict[str, int]:
    """Name -> size of every object below stage_prefix/ that the provenance must record."""
    base = stage_prefix.rstrip("/") + "/"
    names = {info.key[len(base):]: info.size for info in store.list(base)}
    return {name: size for name, size in names.items()
            if name not in UNRECORDED_FILES and not name.startswith(UNRECORDED_PREFIXES)}


def verify_statement(store: ObjectStore, stage_prefix: str, data: bytes) -> dict[str, Subject]:
    """The staged objects are exactly the subjects of the statement `data`, with their sizes and sha256."""
    subjects = parse(data, f"{store.url}/{stage_prefix}/{PROVENANCE_FILE}")
    staged = staged_names(store, stage_prefix)
    where = f"{store.url}/{stage_prefix}"
    extra = sorted(set(staged) - set(subjects))
    if extra:
        raise ProvenanceError(f"{where}/{extra[0]} is not recorded in {PROVENANCE_FILE} ({len(extra)} unrecorded "
                              f"objects); the stage area changed after krel stage: refusing to release it")
    missing = sorted(set(subjects) - set(staged))
    if missing:
        raise ProvenanceError(f"provenance subject {missing[0]} is not staged at {where}/{missing[0]} "
                              f"({len(missing)} missing)")
    for name, subject in sorted(subjects.items()):
        if staged[name] != subject.size:
            raise ProvenanceError.mismatch(store.url, f"{stage_prefix}/{name}", "size", str(staged[name]),
                                           str(subject.size))
    for name, subject in sorted(subjects.items()):
        check_object(store, f"{stage_prefix}/{name}", subject)
    return subjects


def verify(store: ObjectStore, stage_prefix: str, provenance_key: str) -> dict[str, Subject]:
    """The staged objects are exactly the subjects of the statement at provenance_key; returns the subjects."""
    return verify_statement(store, stage_prefix, read(store, provenance_key))


def fetch_verified(store: ObjectStore, key: str, subject: Subject, dest: Path) -> None:
    """Download key to dest, hashing on the way; dest is kept only if it is exactly the subject.

    Publishing from this local copy (not a server-side copy of key) means an object swapped after the verify
    step can never reach the release area.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with store.reader(key) as stream, open(dest, "wb") as out:
            reader = digests.HashingReader(stream, ("sha256",))
            try:
                while view := reader.read_view():
                    out.write(view)
            finally:
                reader.close()
        got = Subject(subject.name, reader.hasher.hexdigests()["sha256"], reader.hasher.size)
        if got.size != subject.size:
            raise ProvenanceError.mismatch(store.url, key, "size", str(got.size), str(subject.size))
        if got.sha256 != subject.sha256:
            raise ProvenanceError.mismatch(store.url, key, "sha256", got.sha256[:16] + "…",
                                           subject.sha256[:16] + "…")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def git_commit(data: bytes, where: str) -> str:
    """The build commit the statement records (resolvedDependencies[0].digest.gitCommit)."""
    try:
        commit = json.loads(data)["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProvenanceError(f"{where}: records no resolvedDependencies gitCommit ({exc})") from None
    # A sha, or the tag itself for a build made exactly on a tag (version.BuildVersion.commit).
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]{0,127}", commit):
        raise ProvenanceError(f"{where}: gitCommit {str(commit)[:80]!r} is not a commit sha or tag")
    return commit
