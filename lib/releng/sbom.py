"""A hand-written SPDX 2.3 JSON bill of materials for one version's staged files."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from releng import checksums, digests, git

SPDX_VERSION = "SPDX-2.3"
NAMESPACE_ROOT = "https://sbom.krel.local"
# The release commit's time, never the clock: a rerun writes the same document, so the staged tree's checksums hold.
_CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # SPDX 2.3 §6.9: UTC, no fraction
# Only for a caller that does not pass the commit's time yet (the stage step's AssembleStage, to be wired).
UNKNOWN_CREATED = "1970-01-01T00:00:00Z"


def creation_time(commit_epoch: int) -> str:
    """SPDX `created` for a release whose commit has this committer time (seconds since the epoch)."""
    return datetime.fromtimestamp(commit_epoch, UTC).strftime(_CREATED_FORMAT)


def release_time(repo: Path, tag: str) -> str:
    """`created` for the release at tag: its commit's committer time (the release commit on a release branch)."""
    return creation_time(git.commit_time(repo, f"refs/tags/{git.positional(tag, 'tag')}"))


def sbom_name(product: str) -> str:
    return f"{re.sub(r'[^a-z0-9]+', '-', product.lower()).strip('-')}-release.spdx.json"


def _spdx_id(rel: str) -> str:
    return "SPDXRef-File-" + re.sub(r"[^A-Za-z0-9.-]+", "-", rel)


def release_document(
    root: Path, version: str, product: str, upstream: str, commit: str, created: str = UNKNOWN_CREATED
) -> dict[str, Any]:
    """The SPDX document: one package (the release) containing every file under root, with SHA1 and SHA256.

    `created` is `creation_time()` of the release commit.
    """
    files = sorted(p for p in root.rglob("*") if p.is_file() and not checksums.is_checksum_file(p.name))
    package_id = "SPDXRef-Package-" + re.sub(r"[^A-Za-z0-9.-]+", "-", f"{product}-{version}")
    entries = []
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": package_id}]
    for path in files:
        rel = path.relative_to(root).as_posix()
        sha1, sha256 = digests.hash_file(path, ("sha1", "sha256"))
        entries.append({
            "SPDXID": _spdx_id(rel),
            "fileName": f"./{rel}",
            "checksums": [{"algorithm": "SHA1", "checksumValue": sha1},
                          {"algorithm": "SHA256", "checksumValue": sha256}],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        })
        relationships.append({"spdxElementId": package_id, "relationshipType": "CONTAINS",
                              "relatedSpdxElement": _spdx_id(rel)})
    seed = hashlib.sha256(f"{product}/{version}/{commit}".encode()).hexdigest()
    return {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{product} {version} release artifacts",
        "documentNamespace": f"{NAMESPACE_ROOT}/{version}/release-{uuid.UUID(seed[:32])}",
        "creationInfo": {"created": created, "creators": ["Tool: krel"]},
        "packages": [{
            "SPDXID": package_id,
            "name": product,
            "versionInfo": version,
            "downloadLocation": _download_location(upstream, commit),
            "filesAnalyzed": True,
            "packageVerificationCode": {"packageVerificationCodeValue": _verification_code(entries)},
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "hasFiles": [e["SPDXID"] for e in entries],
        }],
        "files": entries,
        "relationships": relationships,
    }


def _download_location(upstream: str, commit: str) -> str:
    """SPDX 2.3 §7.7 VCS form, git+<url>@<rev>; a local upstream (file://, a path) is no download location."""
    if upstream.startswith(("https://", "http://", "ssh://", "git://")):
        return f"git+{upstream}@{commit}"
    return "NOASSERTION"


def _verification_code(entries: list[dict[str, Any]]) -> str:
    """SPDX 2.3 §7.9: sha1 over the sorted, concatenated SHA1s of the package's files."""
    sha1s = sorted(e["checksums"][0]["checksumValue"] for e in entries)
    return hashlib.sha1("".join(sha1s).encode()).hexdigest()


def write_release_sbom(
    root: Path, version: str, product: str, upstream: str, commit: str, created: str = UNKNOWN_CREATED
) -> Path:
    """Write the SBOM into root (it then gets checksummed and staged like any other file)."""
    doc = release_document(root, version, product, upstream, commit, created)
    path = root / sbom_name(product)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path
