"""Image references: `host[:port]/repo/path[:tag][@sha256:...]`, parsed the way the distribution spec reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from releng.errors import UsageError

_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference; at least one of tag and digest is set unless the ref names a repository only."""

    host: str
    repo: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str:
        """What to ask the manifests endpoint for: the digest when known, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.host}/{self.repo}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _looks_like_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def parse_image_ref(text: str, *, require_ref: bool = False) -> ImageRef:
    """Parse `127.0.0.1:5000/staging/foo:tag` or `gcr.io/p/foo@sha256:..` into an ImageRef (UsageError if invalid)."""
    original = text
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise UsageError(f"image reference {original!r}: digest must be sha256:<64 lower-case hex digits>")
    host, sep, rest = text.partition("/")
    if not sep or not _looks_like_host(host):
        raise UsageError(f"image reference {original!r}: expected REGISTRY/REPO[:TAG][@DIGEST]")
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise UsageError(f"image reference {original!r}: invalid tag {tag!r}")
    if not rest or not all(_REPO_COMPONENT.match(c) for c in rest.split("/")):
        raise UsageError(f"image reference {original!r}: invalid repository path {rest!r}")
    if require_ref and not (tag or digest):
        raise UsageError(f"image reference {original!r}: needs a :tag or @sha256: digest")
    return ImageRef(host, rest, tag, digest)
