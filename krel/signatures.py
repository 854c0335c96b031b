"""The CLI edge for `krel sign` and `krel verify`: the key options, the signing key from --key or the environment,
and one line per artifact."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from releng.errors import ReleaseError
from releng.signing import keys
from releng.signing.blobs import Outcome

from krel import ui

SignKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key", metavar="FILE",
        help=f"PEM private key, ECDSA P-256 (default: ${keys.KEY_ENV}). An encrypted key's password is read from "
        f"{keys.PASSWORD_ENV}, never from a flag.",
    ),
]
VerifyKeyOpt = Annotated[
    Path,
    typer.Option("--key", metavar="PUB", help="PEM public key, ECDSA P-256 (cosign.pub, `openssl ec -pubout`)."),
]


def signing_key(path: Path | None) -> keys.SigningKey:
    """The key to sign with; the environment is read here, at the edge, and nowhere deeper."""
    if path is None:
        return keys.signing_key_from_env(environ=os.environ)
    return keys.load_signing_key(path, keys.password_from_env(os.environ))


def report(what: str, outcomes: Sequence[Outcome], json_out: bool) -> None:
    """One line per artifact (`ok` or `FAILED` and why); ReleaseError (exit 1) when any failed."""
    failed = [o for o in outcomes if not o.ok]
    if json_out:
        ui.print_json({"ok": not failed, "results": [o.as_dict() for o in outcomes]})
    else:
        ui.records(what, ["result", "artifact", "detail"],
                   [("ok" if o.ok else "FAILED", o.artifact, o.detail) for o in outcomes])
    if failed:
        raise ReleaseError(f"{what}: {len(failed)} of {len(outcomes)} failed (first: {failed[0].detail})")
