"""A signed release: the key a profile's targets sign with, signing a staged tree, and checking a staged or
released tree, its provenance envelope and its images (`krel verify release`, the release preflight).

Key-based only: keyless signing (Sigstore's Fulcio certificates and Rekor entries) is left for later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releng import address, checksums, layout, provenance
from releng.errors import ReleaseError, UsageError
from releng.objectstore import ObjectStore
from releng.profile import SigningTargets
from releng.provenance import Subject
from releng.registry.client import RegistryClient
from releng.signing import blobs, cosign, dsse, keys

# Mock's throwaway key, below KREL_HOME; created on first use.
MOCK_KEY = Path("keys") / "mock" / "signing.key"
SBOM_PREDICATE = "https://spdx.dev/Document"


class ReleaseSignatureError(ReleaseError):
    """A staged or released object is not signed as the profile says; the message names it."""


# ---- the key --------------------------------------------------------------------------------------------------


def key_path(settings: SigningTargets, home: Path, nomock: bool, environ: Mapping[str, str]) -> Path:
    """Where the targets' private key is: the profile's key, else mock's throwaway key or $KREL_SIGNING_KEY.

    Production keys never touch mock: mock refuses $KREL_SIGNING_KEY's file, nomock refuses mock's key file.
    """
    mock_key = (home / MOCK_KEY).resolve()
    env_key = environ.get(keys.KEY_ENV, "")
    if settings.key:
        path = Path(settings.key).expanduser()
    elif not nomock:
        path = home / MOCK_KEY
    elif env_key:
        path = Path(env_key).expanduser()
    else:
        raise UsageError(f"signing: --nomock signs with a production key: set {keys.KEY_ENV} (and "
                         f"{keys.PASSWORD_ENV} if it is encrypted) or name signing.nomock.key in the profile")
    resolved = path.resolve()
    if nomock and resolved == mock_key:
        raise UsageError(f"signing: the production key {path} is mock's throwaway key; production keys never "
                         f"touch mock")
    if not nomock and env_key and resolved == Path(env_key).expanduser().resolve():
        raise UsageError(f"signing: mock would sign with {path}, the production key in ${keys.KEY_ENV}")
    return path


def load_key(settings: SigningTargets, home: Path, nomock: bool, environ: Mapping[str, str]) -> keys.SigningKey:
    """The targets' signing key, created first when it is a throwaway one (mock, or a demo's generate_key)."""
    path = key_path(settings, home, nomock, environ)
    if not path.exists() and (not nomock or settings.generate_key):
        path.parent.mkdir(parents=True, exist_ok=True)
        return keys.generate_key(path, path.with_suffix(".pub"))
    return keys.load_signing_key(path, keys.password_from_env(environ))


def load_verify_key(public_key: str, settings: SigningTargets, home: Path, nomock: bool,
                    environ: Mapping[str, str]) -> keys.VerifyKey:
    """--key PUB, else the public half of the targets' signing key (never created here: there is nothing to check)."""
    if public_key:
        return keys.load_verify_key(Path(public_key).expanduser())
    path = key_path(settings, home, nomock, environ)
    if not path.exists():
        raise UsageError(f"verify: no key to verify with: {path} does not exist; pass --key PUB (the release's "
                         f"public key file)")
    return keys.load_signing_key(path, keys.password_from_env(environ)).public


# ---- signing a staged tree (stage) ----------------------------------------------------------------------------


def signed_files(root: Path) -> list[Path]:
    """What gets a .sig: every file SHA256SUMS lists (every file but side files) and the two sums files."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and not checksums.is_checksum_file(p.name))
    return files + [root / name for name in checksums.SUMS_FILES.values() if (root / name).is_file()]


def sbom_statement(sbom_path: Path) -> bytes:
    """The in-toto statement the SBOM envelope carries: the SBOM file (by sha256) as subject and as predicate."""
    data = sbom_path.read_bytes()
    statement = {
        "_type": provenance.STATEMENT_TYPE,
        "subject": [{"name": sbom_path.name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}],
        "predicateType": SBOM_PREDICATE,
        "predicate": json.loads(data),
    }
    return provenance.encode(statement)


def sign_tree(key: keys.SigningKey, root: Path, sbom_name: str) -> int:
    """`<file>.sig` beside every file, the SBOM's envelope and the public key; a rerun writes nothing new.

    Returns how many files are signed.
    """
    files = signed_files(root)
    for path in files:
        blobs.sign_file(key, path)
    sbom = root / sbom_name
    envelope = root / layout.envelope_name(sbom_name)
    if sbom.is_file():
        _write_envelope(key, envelope, sbom_statement(sbom))
    _write_once(root / layout.PUBLIC_KEY_FILE, key.public_pem())
    return len(files)


def _write_envelope(key: keys.SigningKey, path: Path, payload: bytes) -> None:
    """An envelope over payload; an existing one this key verifies over the same payload is kept (reruns)."""
    if path.exists():
        try:
            if dsse.verify(key.public, path.read_bytes(), str(path)) == payload:
                return
        except ReleaseError:
            pass
        raise ReleaseSignatureError(f"refusing to replace {path}: it holds another envelope (move it away)")
    path.write_bytes(dsse.encode(dsse.sign(key, payload)))


def _write_once(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() != data:
        raise ReleaseSignatureError(f"refusing to replace {path}: it holds another key (move it away)")
    path.write_bytes(data)


def provenance_envelope(key: keys.SigningKey, statement: bytes) -> bytes:
    """The bytes of provenance.intoto.jsonl for the statement provenance.json holds."""
    return dsse.encode(dsse.sign(key, statement))


def sign_provenance(store: ObjectStore, statement_key: str, envelope_key: str, key: keys.SigningKey) -> bool:
    """Write the envelope of the statement at statement_key to envelope_key; False when this key's envelope over
    the same statement is there already (a rerun). Another envelope there is refused (objects are never replaced)."""
    statement = _read(store, statement_key, "the provenance statement")
    if store.exists(envelope_key):
        where = f"{store.url}/{envelope_key}"
        try:
            if dsse.verify(key.public, store.get(envelope_key), where) == statement:
                return False
        except ReleaseError:
            pass
        raise ReleaseSignatureError(f"refusing to replace {where}: it holds another envelope")
    store.put_new(envelope_key, provenance_envelope(key, statement), content_type="application/json")
    return True


# ---- checking (release preflight, krel verify release) ---------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One check: the object (a bucket URL or an image reference), what was checked, and the result."""

    subject: str
    check: str
    ok: bool
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"object": self.subject, "check": self.check, "ok": self.ok, "detail": self.detail}


def _finding(subject: str, check: str, run: Callable[..., str], *args: Any) -> Finding:
    """Run one check, run(*args); a ReleaseError is its failure (the message names what differs)."""
    try:
        return Finding(subject, check, True, run(*args))
    except ReleaseError as exc:
        return Finding(subject, check, False, str(exc))


def require(findings: Iterable[Finding]) -> int:
    """Raise the first failure (release refuses before anything is written); returns how many passed."""
    count = 0
    for finding in findings:
        if not finding.ok:
            raise ReleaseSignatureError(f"{finding.subject}: {finding.check} failed: {finding.detail}")
        count += 1
    return count


def _sha256(store: ObjectStore, key: str) -> Subject:
    return provenance.object_subject(store, key, key)


def _check_signature(store: ObjectStore, key: str, verify_key: keys.VerifyKey, sha256: str) -> str:
    where = f"{store.url}/{key}"
    sig_key = key + layout.SIGNATURE_SUFFIX
    if not store.exists(sig_key):
        raise blobs.SignatureError(f"{where}: no signature ({sig_key.rsplit('/', 1)[-1]} is missing)")
    der = blobs.decode_signature(store.get(sig_key)[: blobs.MAX_SIGNATURE_B64 + 1], f"{where}{layout.SIGNATURE_SUFFIX}")
    if not verify_key.verify_digest(bytes.fromhex(sha256), der):
        raise blobs.SignatureError.mismatch(where, verify_key)
    return f"key {verify_key.key_id}"


def _check_recorded(subject: Subject, recorded: Subject | None, where: str) -> str:
    if recorded is None:
        raise ReleaseSignatureError(f"{where}: not a subject of the signed provenance")
    if (subject.sha256, subject.size) != (recorded.sha256, recorded.size):
        raise ReleaseSignatureError(f"{where}: sha256 {subject.sha256[:16]}… differs from the signed provenance's "
                                    f"{recorded.sha256[:16]}…")
    return "matches the signed provenance"


def check_tree(store: ObjectStore, prefix: str, verify_key: keys.VerifyKey,
               recorded: Mapping[str, Subject] | None = None, recorded_prefix: str = "") -> list[Finding]:
    """Every file SHA256SUMS lists under prefix: checksums, its .sig, the SBOM envelope, the public key.

    With `recorded` (the signed provenance's subjects), each file must also be the subject
    `<recorded_prefix>/<path>` with the same sha256.
    """
    base = f"{store.url}/{prefix}"
    findings = [_finding(f"{base}/SHA256SUMS", "sha256/sha512", _checksums, store, prefix)]
    try:
        names = [*checksums.listed_files(store, prefix), *checksums.SUMS_FILES.values()]
    except ReleaseError as exc:
        return [*findings, Finding(f"{base}/SHA256SUMS", "file list", False, str(exc))]
    for name in names:
        key = f"{prefix}/{name}"
        try:
            subject = _sha256(store, key)
        except ReleaseError as exc:
            findings.append(Finding(f"{base}/{name}", "signature", False, str(exc)))
            continue
        where = f"{base}/{name}"
        findings.append(_finding(where, "signature", _check_signature, store, key, verify_key, subject.sha256))
        if recorded is not None and name not in checksums.SUMS_FILES.values():
            findings.append(_finding(where, "provenance", _check_recorded, subject,
                                     recorded.get(f"{recorded_prefix}/{name}"), where))
    sboms = [n for n in names if n.endswith(".spdx.json")]
    for name in sboms:
        findings.append(_finding(f"{base}/{layout.envelope_name(name)}", "SBOM envelope", _check_sbom_envelope,
                                 store, f"{prefix}/{name}", verify_key))
    findings.append(_finding(f"{base}/{layout.PUBLIC_KEY_FILE}", "public key", _check_public_key,
                             store, f"{prefix}/{layout.PUBLIC_KEY_FILE}", verify_key))
    return findings


def _checksums(store: ObjectStore, prefix: str) -> str:
    verified = checksums.verify_checksums(store, prefix, unlisted_ok=True)
    return f"{len(verified.files)} files match SHA256SUMS and SHA512SUMS"


def _read(store: ObjectStore, key: str, what: str) -> bytes:
    if not store.exists(key):
        raise ReleaseSignatureError(f"{store.url}/{key}: {what} is missing")
    return store.get(key)


def _check_sbom_envelope(store: ObjectStore, sbom_key: str, verify_key: keys.VerifyKey) -> str:
    envelope_key = layout.envelope_name(sbom_key)
    where = f"{store.url}/{envelope_key}"
    payload = dsse.verify(verify_key, _read(store, envelope_key, "the SBOM envelope"), where)
    try:
        subject = json.loads(payload)["subject"][0]["digest"]["sha256"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ReleaseSignatureError(f"{where}: the payload is not an in-toto statement about the SBOM") from None
    if subject != _sha256(store, sbom_key).sha256:
        raise ReleaseSignatureError(f"{where}: signs another SBOM than {store.url}/{sbom_key} (sha256 differs)")
    return f"key {verify_key.key_id}"


def _check_public_key(store: ObjectStore, key: str, verify_key: keys.VerifyKey) -> str:
    published = _read(store, key, "the public key")
    if published.strip() != verify_key.public_pem().strip():
        raise ReleaseSignatureError(f"{store.url}/{key}: is not the verifying key {verify_key.key_id}")
    return f"key {verify_key.key_id}"


def check_provenance(store: ObjectStore, statement_key: str, envelope_key: str, verify_key: keys.VerifyKey,
                     statement: bytes | None = None) -> Finding:
    """The envelope verifies and carries exactly the statement (the bytes at statement_key, or `statement`)."""
    where = f"{store.url}/{envelope_key}"

    def run() -> str:
        payload = dsse.verify(verify_key, _read(store, envelope_key, "the provenance envelope"), where)
        want = statement if statement is not None else _read(store, statement_key, "the provenance statement")
        if payload != want:
            raise ReleaseSignatureError(f"{where}: its payload is not {store.url}/{statement_key}")
        return f"key {verify_key.key_id}"

    return _finding(where, "provenance envelope", run)


def signed_statement(store: ObjectStore, statement_key: str, envelope_key: str,
                     verify_key: keys.VerifyKey) -> dict[str, Subject] | None:
    """The subjects of the statement the envelope signs, or None when it does not verify (reported elsewhere)."""
    try:
        payload = dsse.verify(verify_key, _read(store, envelope_key, "the provenance envelope"), envelope_key)
        return provenance.parse(payload, f"{store.url}/{envelope_key}")
    except ReleaseError:
        return None


def check_staged(store: ObjectStore, stage_prefix: str, versions: Iterable[str], statement: bytes,
                 verify_key: keys.VerifyKey, *, artifacts: bool, signed_provenance: bool) -> list[Finding]:
    """The release preflight's checks of stage/<bv>/: the provenance envelope signs exactly `statement` (the bytes
    VerifyStaged checked), and each staged tree is signed file by file with the statement's digests."""
    findings = []
    if signed_provenance:
        findings.append(check_provenance(store, f"{stage_prefix}/{provenance.PROVENANCE_FILE}",
                                         f"{stage_prefix}/{layout.PROVENANCE_ENVELOPE}", verify_key, statement))
    if artifacts:
        recorded = provenance.parse(statement, f"{store.url}/{stage_prefix}/{provenance.PROVENANCE_FILE}")
        for v in versions:
            findings += check_tree(store, f"{stage_prefix}/{layout.staged_tree(v)}", verify_key, recorded,
                                   layout.staged_tree(v))
    return findings


# ---- images ---------------------------------------------------------------------------------------------------


def sign_images(client: RegistryClient, registry: str, repos: Iterable[str], version: str,
                key: keys.SigningKey) -> list[str]:
    """Sign `<registry>/<repo>:<version>` by digest as cosign does; returns one line per image (a rerun: present)."""
    where = address.RegistryAddress.parse(registry)
    lines = []
    for name in repos:
        repo = where.repo(name)
        found = client.head_manifest(repo, version)
        if found is None:
            raise ReleaseSignatureError(f"{client.host}/{repo}:{version}: no such image to sign")
        result = cosign.sign_image(client, repo, found.digest, key)
        lines.append(f"{result.reference} {result.outcome} as {result.tag}")
    return lines


def _check_image(client: RegistryClient, repo: str, version: str, verify_key: keys.VerifyKey) -> str:
    found = client.head_manifest(repo, version)
    if found is None:
        raise ReleaseSignatureError(f"{client.host}/{repo}:{version}: no such image")
    cosign.verify_image(client, repo, found.digest, verify_key)
    return f"{found.digest[:19]}… key {verify_key.key_id}"


def check_images(client: RegistryClient, registry: str, repos: Iterable[str], version: str,
                 verify_key: keys.VerifyKey) -> list[Finding]:
    """Each `<registry>/<repo>:<version>` has a cosign signature by the key over its digest."""
    where = address.RegistryAddress.parse(registry)
    return [_finding(f"{client.host}/{where.repo(name)}:{version}", "image signature", _check_image, client,
                     where.repo(name), version, verify_key) for name in repos]


# ---- a published release (`krel verify release`) --------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseTarget:
    """Where one release was published: its bucket and registry, and the images stage pushed."""

    bucket: str
    registry: str
    images: tuple[str, ...]
    arches: tuple[str, ...]


def verify_release(store: ObjectStore, client: RegistryClient | None, target: ReleaseTarget, tag: str,
                   verify_key: keys.VerifyKey) -> list[Finding]:
    """Every check of release/<tag>: the files (checksums, .sig, SBOM envelope, public key, signed provenance's
    digests), the provenance envelope, and every image's signature. Failures are findings, not exceptions."""
    prefix = layout.release_prefix(tag)
    statement_key = f"{prefix}/{provenance.PROVENANCE_FILE}"
    envelope_key = f"{prefix}/{layout.PROVENANCE_ENVELOPE}"
    findings = [check_provenance(store, statement_key, envelope_key, verify_key)]
    recorded = signed_statement(store, statement_key, envelope_key, verify_key)
    # the statement names files relative to stage/<bv>/: <tag>/gcs-stage/<tag>/<path>
    findings += check_tree(store, prefix, verify_key, recorded, layout.staged_tree(tag))
    if client is not None:
        repos = layout.image_repos(target.images, target.arches)
        findings += check_images(client, target.registry, repos, tag, verify_key)
    return findings
