"""krel's notes document: downloads, container images, CVEs, urgent notes and notes grouped by kind."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from releng.notes.note import Cve, ReleaseNote

# krel kindPriority, with the three kinds it folds into others.
KIND_ORDER = (
    "deprecation",
    "api-change",
    "feature",
    "design",
    "documentation",
    "failing-test",
    "bug",
    "regression",
    "cleanup",
    "flake",
    "other",
    "uncategorized",
)
KIND_MAP = {"regression": "bug", "cleanup": "other", "flake": "other"}
KIND_TITLES = {
    "api-change": "API Change",
    "failing-test": "Failing Test",
    "bug": "Bug or Regression",
    "other": "Other (Cleanup or Flake)",
}
# krel's tables, for any product name P: P.tar.gz then P-src.tar.gz, and P-client-*, P-server-*, P-node-*.
DOWNLOAD_GROUPS = (
    ("Source Code", re.compile(r"^[^-]+(-src)?\.tar\.gz$")),
    ("Client Binaries", re.compile(r"^[^-]+-client-")),
    ("Server Binaries", re.compile(r"^[^-]+-server-")),
    ("Node Binaries", re.compile(r"^[^-]+-node-")),
)
IMAGE_REGISTRY = "registry.k8s.io"
IMAGE_CONSOLE = "https://console.cloud.google.com/artifacts/docker/k8s-artifacts-prod/southamerica-east1/images"


@dataclass(frozen=True)
class File:
    """One row of a download table."""

    name: str
    url: str
    sha512: str


@dataclass(frozen=True)
class FileGroup:
    """One download table (Source Code, Client, Server or Node Binaries)."""

    title: str
    files: tuple[File, ...]


@dataclass(frozen=True)
class Arch:
    """One architecture link of a container image row."""

    arch: str
    url: str


@dataclass(frozen=True)
class Image:
    """One manifest-list image row."""

    ref: str
    url: str
    arches: tuple[Arch, ...]


@dataclass(frozen=True)
class KindSection:
    """A `### <Kind>` section with its sorted entries."""

    kind: str
    title: str
    entries: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    """Everything the notes templates show, already grouped and sorted."""

    downloads: tuple[FileGroup, ...]
    images: tuple[Image, ...]
    cves: tuple[Cve, ...]
    action_required: tuple[str, ...]
    kinds: tuple[KindSection, ...]
    signing_key_url: str = ""  # the release's public key, when its files are signed (issue 13)


def kind_title(kind: str) -> str:
    """krel's heading for a kind: `API Change`, `Bug or Regression`, ... others title-cased."""
    return KIND_TITLES.get(kind, kind.replace("-", " ").title())


def _priority(kind: str) -> int:
    # kinds krel does not know sort after Other and before Uncategorized
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else KIND_ORDER.index("other") + 1


# krel document.New processNote: `^([-\*]+\s+)`, Go's \s being ASCII whitespace (tab, newline, form feed, CR, space).
_LEADING_BULLETS = re.compile(r"[-*]+[\t\n\f\r ]+")


def _entry(markdown: str) -> str:
    """The note without any leading run of list markers; the template adds its own bullet."""
    match = _LEADING_BULLETS.match(markdown)
    return markdown[match.end() :] if match else markdown


def group(notes: list[ReleaseNote]) -> tuple[tuple[Cve, ...], tuple[str, ...], tuple[KindSection, ...]]:
    """krel document.New: multi-kind notes once under the highest-priority kind, action-required only as urgent."""
    cves: list[Cve] = []
    urgent: list[str] = []
    by_kind: dict[str, list[str]] = {}
    for note in notes:
        if note.cve is not None:
            cves.append(note.cve)
        if not note.published:
            continue
        entry = _entry(note.markdown)
        if note.duplicate_kind:
            top = min((KIND_MAP.get(k, k) for k in note.kinds), key=_priority)
            by_kind.setdefault(top, []).append(entry)
        elif note.action_required:
            urgent.append(entry)
        elif note.kinds:
            for kind in dict.fromkeys(KIND_MAP.get(k, k) for k in note.kinds):
                by_kind.setdefault(kind, []).append(entry)
        else:
            by_kind.setdefault("uncategorized", []).append(entry)
    sections = tuple(
        KindSection(kind, kind_title(kind), tuple(sorted(by_kind[kind])))
        for kind in sorted(by_kind, key=lambda k: (_priority(k), k))
    )
    return tuple(cves), tuple(sorted(urgent)), sections


def downloads(sha512s: Mapping[str, str], download_url: str, tag: str) -> tuple[FileGroup, ...]:
    """The four download tables from {tarball name: sha512} (gather.tarballs), URLs `<download_url>/<tag>/<file>`."""
    names = sorted(sha512s)
    groups = []
    for title, pattern in DOWNLOAD_GROUPS:
        picked = [n for n in names if pattern.match(n)]
        if title == "Source Code":
            picked.sort(key=lambda n: n.endswith("-src.tar.gz"))  # krel lists kubernetes.tar.gz first
        files = tuple(File(n, f"{download_url.rstrip('/')}/{tag}/{n}", sha512s[n]) for n in picked)
        if files:
            groups.append(FileGroup(title, files))
    return tuple(groups)


def images(names: list[tuple[str, list[str]]], tag: str, registry: str = IMAGE_REGISTRY) -> tuple[Image, ...]:
    """The Container Images table: manifest list per image name with one entry per architecture.

    Only registry.k8s.io has a public console to link to; other registries get the plain refs (url "").
    """
    registry = registry.rstrip("/")
    console = IMAGE_CONSOLE if registry == IMAGE_REGISTRY else ""
    return tuple(
        Image(
            ref=f"{registry}/{name}:{tag}",
            url=f"{console}/{name}" if console else "",
            arches=tuple(Arch(a, f"{console}/{name}-{a}" if console else "") for a in arches),
        )
        for name, arches in sorted(names)
    )


def build(
    notes: list[ReleaseNote],
    files: tuple[FileGroup, ...] = (),
    image_list: tuple[Image, ...] = (),
) -> Document:
    """The document for these notes and (optionally) downloads and images."""
    cves, urgent, sections = group(notes)
    return Document(downloads=files, images=image_list, cves=cves, action_required=urgent, kinds=sections)
