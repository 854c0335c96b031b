"""`krel verify blobs|images`: check cosign-compatible signatures with a public key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from releng import address
from releng.errors import ReleaseError
from releng.registry.pool import Registries
from releng.signing import blobs, cosign, keys

from krel import registries as edge
from krel import ui
from krel.options import DEFAULT_PROFILE, JsonOpt, NomockOpt, ProfileOpt, krel_home, open_profile, targets_for
from krel.registries import CaFileOpt
from krel.signatures import VerifyKeyOpt, report

verify_app = typer.Typer(
    name="verify",
    help=(
        "Verify signatures krel (or cosign) made: files against their `.sig`, images against their "
        "`sha256-<hex>.sig` tag. One line per artifact; exit 1 if any fails.\n\n"
        "Examples:\n\n"
        "  krel verify blobs --key cosign.pub kubernetes.tar.gz\n\n"
        "  krel verify images --key cosign.pub 127.0.0.1:5000/prod/kube-apiserver:v1.30.0 --json"
    ),
    no_args_is_help=True,
)


@verify_app.command("blobs")
def verify_blobs(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Files, each with FILE.sig beside it.")],
    key: VerifyKeyOpt,
    sig_dir: Annotated[
        Path | None,
        typer.Option("--sig-dir", metavar="DIR", help="Read FILE.sig from here instead of beside each file."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check each file against FILE.sig (base64 DER ECDSA-SHA256, as `cosign sign-blob` writes). Large files are
    hashed as a stream. A changed byte in the file or the signature, or another key, fails that file.

    Example: krel verify blobs --key cosign.pub kubernetes.tar.gz kubernetes-src.tar.gz

    Example: krel verify blobs --key cosign.pub --sig-dir sigs/ --json _output/release-tars/*.tar.gz
    """
    report("verify blobs", blobs.verify_files(keys.load_verify_key(key), files, sig_dir), json_out)


@verify_app.command("images")
def verify_images(
    refs: Annotated[list[str], typer.Argument(metavar="REF...", help="Images: REGISTRY/REPO:TAG or @sha256:DIGEST.")],
    key: VerifyKeyOpt,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check each image as `cosign verify --key` does: a layer of its `sha256-<hex>.sig` manifest must carry a
    simple-signing payload naming the image's digest, with a signature the key verifies.

    Example: krel verify images --key cosign.pub 127.0.0.1:5000/prod/kube-apiserver:v1.30.0

    Example: krel verify images --key cosign.pub registry.k8s.io/pause:3.9 --json

    Credentials: as `krel promote images` (docker config, KREL_REGISTRY_USERNAME/PASSWORD, Google ADC).
    """
    refs_parsed = cosign.parse_refs(refs)
    public = keys.load_verify_key(key)
    with Registries(edge.credentials(), ca_file=ca_file) as registries:
        outcomes = cosign.verify_images(registries, [str(r) for r in refs_parsed], public)
    report("verify images", outcomes, json_out)


@verify_app.command("release")
def verify_release(
    tag: Annotated[str, typer.Option("--tag", metavar="VERSION", help="The released version, e.g. v1.30.0.")],
    key: Annotated[
        Path | None,
        typer.Option("--key", metavar="PUB", help="PEM public key to verify with (default: the public half of the "
                     "key the profile's targets sign with)."),
    ] = None,
    nomock: NomockOpt = False,
    profile: ProfileOpt = DEFAULT_PROFILE,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a published release: every file SHA256SUMS lists against SHA256SUMS/SHA512SUMS, its `.sig` and the
    signed provenance's digest; the SBOM and provenance DSSE envelopes; the published public key; every image
    (manifest list and per-arch) against its cosign signature. One row per check; exit 1 naming each failure.

    Key-based only: keyless signatures (Sigstore: Fulcio certificates, Rekor entries) are not checked yet.

    Example: krel verify release --tag v1.0.0-rc.0

    Example: krel verify release --tag v1.30.0 --nomock --key release-key.pub --json
    """
    from releng import version
    from releng.objectstore import open_store
    from releng.signing import release

    version.parse_tag(tag)  # the one guard: a tag is a key in the bucket and a tag in the registry
    loaded = open_profile(profile)
    targets = targets_for(loaded, nomock)
    public = release.load_verify_key(str(key or ""), loaded.signing_for(nomock), krel_home(), nomock, os.environ)
    target = release.ReleaseTarget(targets.bucket, targets.validate_registry, loaded.build.images,
                                   loaded.build.arches)
    host = address.RegistryAddress.parse(target.registry).host
    with Registries(edge.credentials(), ca_file=ca_file) as registries:
        client = registries.client(host) if target.images else None
        findings = release.verify_release(open_store(targets.bucket), client, target, tag, public)
    _report_release(tag, findings, json_out)


def _report_release(tag: str, findings: list[Any], json_out: bool) -> None:
    """The summary table (or JSON); ReleaseError (exit 1) naming the failures."""
    failed = [f for f in findings if not f.ok]
    if json_out:
        ui.print_json({"tag": tag, "ok": not failed, "checks": [f.as_json() for f in findings]})
    else:
        ui.table(f"krel verify release {tag}", ["result", "check", "object", "detail"],
                 [("ok" if f.ok else "FAILED", f.check, f.subject, f.detail) for f in findings])
    if failed:
        names = ", ".join(f.subject.rsplit("/", 1)[-1] for f in failed[:5])
        raise ReleaseError(f"verify release {tag}: {len(failed)} of {len(findings)} checks failed ({names}); "
                           f"first: {failed[0].detail}")


def register(app: typer.Typer) -> None:
    app.add_typer(verify_app, name="verify")
