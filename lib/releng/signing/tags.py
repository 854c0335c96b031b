"""The tag cosign keeps an image's signatures under, `sha256-<hex>.sig`: pure, so the auditor's verdicts use it too."""

from __future__ import annotations

import re

from releng.errors import ReleaseError
from releng.registry.reference import DIGEST

SIG_TAG = re.compile(r"\Asha256-([0-9a-f]{64})\.sig\Z", re.ASCII)


def signature_tag(digest: str) -> str:
    """`sha256:<hex>` -> `sha256-<hex>.sig`."""
    if not DIGEST.fullmatch(digest):
        raise ReleaseError(f"invalid digest {digest!r}: expected sha256:<64 lower-case hex digits>")
    return digest.replace(":", "-", 1) + ".sig"


def signed_digest(tag: str) -> str | None:
    """The image digest a `sha256-<hex>.sig` tag holds signatures for, None for any other tag."""
    match = SIG_TAG.fullmatch(tag)
    return f"sha256:{match.group(1)}" if match else None
