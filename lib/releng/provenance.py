"""An in-toto Statement v1 with a SLSA v1 provenance predicate for the staged files, and its verification."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from releng import checksums
from releng.errors import ReleaseError
from releng.objectstore import ObjectStore

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://github.com/kubernetes/release/krel-stage@v1"


def subjects_of(build_dir: Path, version: str) -> list[dict[str, Any]]:
    """Subjects named as staged below stage/<bv>/: <v>/gcs-stage/<v>/… and <v>/release-images/<arch>/…."""
    result = []
    trees = ((build_dir / "gcs-stage" / version, f"{version}/gcs-stage/{version}"),
             (build_dir / "release-images", f"{version}/release-images"))
    for root, name_prefix in trees:
        files = sorted(p for p in root.rglob("*") if p.is_file() and not checksums.is_checksum_file(p.name))
        for path in files:
            (sha256,) = checksums.hash_file(path, ("sha256",))
            result.append({"name": f"{name_prefix}/{path.relative_to(root).as_posix()}", "digest": {"sha256": sha256}})
    return result


def statement(
    subjects: Iterable[dict[str, Any]], upstream: str, commit: str, build_version: str, versions: Iterable[str],
    builder: str,
) -> dict[str, Any]:
    """The statement; no timestamps, so a rerun produces the same bytes and the upload is a no-op."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": sorted(subjects, key=lambda s: s["name"]),
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


def verify(store: ObjectStore, stage_prefix: str, provenance_key: str) -> int:
    """Every subject exists in the stage area with its sha256; every staged artifact is a subject. Returns count."""
    if not store.exists(provenance_key):
        raise ReleaseError(f"{store.url}/{provenance_key} is missing; the stage job writes it last")
    try:
        doc = json.loads(store.get(provenance_key))
        subjects = {s["name"]: s["digest"]["sha256"] for s in doc["subject"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ReleaseError(f"{store.url}/{provenance_key}: not an in-toto statement with subjects ({exc})") from exc
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise ReleaseError(f"{store.url}/{provenance_key}: predicateType is not {PREDICATE_TYPE}")
    for name, want in sorted(subjects.items()):
        key = f"{stage_prefix}/{name}"
        if not store.exists(key):
            raise ReleaseError(f"provenance subject {name} is not staged at {store.url}/{key}")
        with store.reader(key) as stream:
            got = checksums.hash_stream(stream, ("sha256",))["sha256"]
        if got != want:
            raise ReleaseError(f"{store.url}/{key}: sha256 {got[:16]}… does not match provenance {want[:16]}…")
    return len(subjects)
