"""Image references: `host[:port]/repo/path[:tag][@sha256:...]`, parsed the way the distribution spec reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from releng.errors import UsageError

# The OCI distribution grammar (distribution/reference), ASCII only and anchored with \Z: Python's \w takes any
# Unicode letter and $ matches before a trailing newline, so `안녕` or "latest\n" used to pass and fail at copy time.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"

DIGEST = re.compile(r"\Asha256:[0-9a-f]{64}\Z", re.ASCII)
TAG = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z", re.ASCII)
COMPONENT = re.compile(rf"\A{_COMPONENT}\Z", re.ASCII)
# A repository path (image name) below a registry; the whole name is at most 255 characters.
REPOSITORY = re.compile(rf"\A(?=.{{1,255}}\Z){_COMPONENT}(?:/{_COMPONENT})*\Z", re.ASCII)
HOST = re.compile(rf"\A{_HOST}\Z", re.ASCII)
# A registry path as manifests name it: a host, optionally followed by repository components (gcr.io/k8s-staging-x).
REGISTRY_PATH = re.compile(rf"\A(?=.{{1,255}}\Z){_HOST}(?:/{_COMPONENT})*\Z", re.ASCII)


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
        if not DIGEST.fullmatch(digest):
            raise UsageError(f"image reference {original!r}: digest must be sha256:<64 lower-case hex digits>")
    host, sep, rest = text.partition("/")
    if not sep or not _looks_like_host(host) or not HOST.fullmatch(host):
        raise UsageError(f"image reference {original!r}: expected REGISTRY/REPO[:TAG][@DIGEST]")
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not TAG.fullmatch(tag):
            raise UsageError(f"image reference {original!r}: invalid tag {tag!r}")
    if not rest or not REPOSITORY.fullmatch(rest):
        raise UsageError(f"image reference {original!r}: invalid repository path {rest!r}")
    if require_ref and not (tag or digest):
        raise UsageError(f"image reference {original!r}: needs a :tag or @sha256: digest")
    return ImageRef(host, rest, tag, digest)
