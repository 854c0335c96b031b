"""Handlers that sign at stage (files before upload, images after the push, the provenance after it is written) and
check the staged signatures at release, before anything is published (issue 13; key-based, keyless left for later)."""

from __future__ import annotations

from pathlib import Path

from releng import files, layout, sbom
from releng.address import RegistryAddress
from releng.errors import ReleaseError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import handles
from releng.jobs.handlers.bucket import verified_statement
from releng.jobs.steps import SignArtifacts, SignImages, SignProvenance, VerifySignatures
from releng.objectstore import ObjectStore
from releng.signing import dsse, keys
from releng.signing import release as signed


def _key(clients: Clients, what: str) -> keys.SigningKey:
    if clients.signing_key is None:
        raise ReleaseError(f"{what}: the profile's targets sign, but no signing key was loaded for this run")
    return clients.signing_key


@handles(SignArtifacts)
def sign_artifacts(step: SignArtifacts, clients: Clients) -> None:
    """`.sig` beside every file of the assembled tree, the SBOM's envelope, the public key; a rerun writes nothing."""
    key = _key(clients, step.title)
    count = signed.sign_tree(key, Path(step.tree_dir), sbom.sbom_name(step.product))
    clients.report.info(f"{count} files of {step.version} signed with key {key.key_id}")


@handles(SignImages)
def sign_images(step: SignImages, clients: Clients) -> None:
    """A cosign signature per image (manifest list and per-arch), in its repository as `sha256-<hex>.sig`."""
    key = _key(clients, step.title)
    client = clients.registry(RegistryAddress.parse(step.registry).host)
    for line in signed.sign_images(client, step.registry, step.repos, step.version, key):
        clients.report.info(line)


@handles(SignProvenance)
def sign_provenance(step: SignProvenance, clients: Clients) -> None:
    """provenance.intoto.jsonl: the statement in a DSSE envelope, next to it (never a subject of it)."""
    key = _key(clients, step.title)
    store = clients.store(step.bucket)
    wrote = signed.sign_provenance(store, step.statement_key, step.envelope_key, key)
    clients.report.info(f"{step.envelope_key} {'written' if wrote else 'already there'} (key {key.key_id})")


def _verify_key(step: VerifySignatures, clients: Clients, store: ObjectStore) -> keys.VerifyKey:
    """The targets' key; in mock without mock's throwaway key here, the one the stage published (said in the log)."""
    if clients.signing_key is not None or not step.mock:
        return _key(clients, step.title).public
    key = f"{step.stage_prefix}/{layout.staged_tree(step.versions[0])}/{layout.PUBLIC_KEY_FILE}"
    public = keys.parse_verify_key(store.get(key), f"{store.url}/{key}")
    clients.report.info(f"mock: no mock key on this machine; checking with the key the stage published "
                        f"({public.key_id}, {key})")
    return public


@handles(VerifySignatures)
def verify_signatures(step: VerifySignatures, clients: Clients) -> None:
    """Every staged signature the profile's targets make, checked with their key before anything is published.

    The checked provenance envelope is kept in the job dir: CopyToRelease publishes that copy, not the bucket's.
    """
    store = clients.store(step.bucket)
    verify_key = _verify_key(step, clients, store)
    statement, _ = verified_statement(step.verified_file)
    findings = signed.check_staged(store, step.stage_prefix, step.versions, statement, verify_key,
                                   artifacts=step.artifacts, signed_provenance=bool(step.verified_envelope))
    if step.repos:
        client = clients.registry(RegistryAddress.parse(step.registry).host)
        for v in step.versions:
            findings += signed.check_images(client, step.registry, step.repos, v, verify_key)
    count = signed.require(findings)
    if step.verified_envelope:
        # Read once more and checked as read: the copy kept is the one verified, whatever the bucket does meanwhile.
        key = f"{step.stage_prefix}/{layout.PROVENANCE_ENVELOPE}"
        envelope = store.get(key)
        if dsse.verify(verify_key, envelope, f"{store.url}/{key}") != statement:
            raise signed.ReleaseSignatureError(f"{store.url}/{key}: changed while the release was checking it")
        files.write_atomic(Path(step.verified_envelope), envelope)
    clients.report.info(f"{count} signature checks passed with key {verify_key.key_id}")
