"""`krel sign blobs|images|generate-key`: cosign-compatible signatures with an ECDSA P-256 key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from releng.registry.pool import Registries
from releng.signing import blobs, cosign, keys

from krel import registries as edge
from krel import ui
from krel.options import JsonOpt
from krel.registries import CaFileOpt
from krel.signatures import SignKeyOpt, report, signing_key

sign_app = typer.Typer(
    name="sign",
    help=(
        "Sign files and images in the formats cosign uses, so `cosign verify-blob`, `cosign verify` and openssl "
        "check them: a file's signature is `<file>.sig` (base64 of a DER ECDSA-SHA256 signature); an image's is "
        "a simple-signing payload stored under the `sha256-<hex>.sig` tag of its repository. Key-based only (the "
        "keyless Sigstore path is for later).\n\n"
        "Examples:\n\n"
        "  krel sign generate-key --output-dir ~/.krel/keys\n\n"
        "  KREL_SIGNING_KEY_PASSWORD=... krel sign blobs --key ~/.krel/keys/cosign.key _output/*.tar.gz\n\n"
        "  krel sign images --key cosign.key 127.0.0.1:5000/staging/kube-apiserver:v1.30.0"
    ),
    no_args_is_help=True,
)


@sign_app.command("blobs")
def sign_blobs(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Files to sign.")],
    key: SignKeyOpt = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", metavar="DIR", help="Write the .sig files here instead of beside each file."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write `<file>.sig` for each file: base64 of a DER ECDSA-SHA256 signature, as `cosign sign-blob
    --output-signature` writes it. A rerun keeps signatures this key already made; a .sig made by another key is
    refused, not replaced. One line per file; exit 1 if any failed.

    Example: krel sign blobs --key cosign.key kubernetes.tar.gz kubernetes-src.tar.gz

    Example: KREL_SIGNING_KEY=cosign.key krel sign blobs --output-dir sigs/ _output/release-tars/*.tar.gz

    Check: openssl dgst -sha256 -verify cosign.pub -signature <(base64 -d F.sig) F
    """
    signer = signing_key(key)
    report("sign blobs", blobs.sign_files(signer, files, output_dir), json_out)


@sign_app.command("images")
def sign_images(
    refs: Annotated[list[str], typer.Argument(metavar="REF...", help="Images: REGISTRY/REPO:TAG or @sha256:DIGEST.")],
    key: SignKeyOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign each image as `cosign sign --key` does: the digest a tag names is signed, and the signature is stored
    in the image's repository under `sha256-<hex>.sig` (added as a layer when other keys signed already; a digest
    this key signed is left as it is). One line per image; exit 1 if any failed.

    Example: krel sign images --key cosign.key 127.0.0.1:5000/staging/kube-apiserver:v1.30.0

    Example: KREL_SIGNING_KEY=cosign.key krel sign images gcr.io/k8s-staging-foo/foo@sha256:DIGEST

    Credentials: as `krel promote images` (docker config, KREL_REGISTRY_USERNAME/PASSWORD, Google ADC).
    """
    refs_parsed = cosign.parse_refs(refs)  # a bad reference is a usage error before the key is even read
    signer = signing_key(key)
    with Registries(edge.credentials(), ca_file=ca_file) as registries:
        outcomes = cosign.sign_images(registries, [str(r) for r in refs_parsed], signer)
    report("sign images", outcomes, json_out)


@sign_app.command("generate-key")
def generate_key(
    output_dir: Annotated[Path, typer.Option("--output-dir", metavar="DIR", help="Where to write the key pair.")],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="File names: NAME.key and NAME.pub.")] = "cosign",
    json_out: JsonOpt = False,
) -> None:
    """Generate an ECDSA P-256 key pair: DIR/NAME.key (PKCS#8 PEM, mode 0600, encrypted with
    KREL_SIGNING_KEY_PASSWORD when it is set) and DIR/NAME.pub. Existing files are never replaced.

    Example: krel sign generate-key --output-dir ~/.krel/keys

    Example: KREL_SIGNING_KEY_PASSWORD=... krel sign generate-key --output-dir keys --name release
    """
    from releng.files import safe_name

    safe_name(name, "--name")
    password = keys.password_from_env(os.environ)
    private, public = output_dir / f"{name}.key", output_dir / f"{name}.pub"
    made = keys.generate_key(private, public, password)
    result = {"private_key": str(private), "public_key": str(public), "key_id": made.key_id,
              "encrypted": password is not None}
    if json_out:
        ui.print_json(result)
        return
    ui.records("generate-key", ["file", "path"], [("private key", private), ("public key", public),
                                                  ("key id", made.key_id)])
    if password is None:
        ui.err_console.print(f"note: the private key is not encrypted (set {keys.PASSWORD_ENV} to encrypt it)",
                             markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sign_app, name="sign")
