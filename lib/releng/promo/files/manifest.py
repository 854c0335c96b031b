"""File-promoter manifests (kpromo run files): a filestores manifest (exactly one `src`) and files manifests
(`name` + `sha256`), merged per project, every problem collected as `file:line: problem` (the original's Validate
rules, plus unknown and duplicate keys, and names that could leave the destination prefix)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from releng.errors import UsageError
from releng.objectstore.base import check_key
from releng.promo.manifests import ManifestError, _load, _mapping, _Problems, _scalar

# --manifests DIR layout, as kpromo: DIR/filestores/<p>/filepromoter-manifest.yaml and DIR/manifests/<p>/*.
FILESTORES_MANIFEST = "filepromoter-manifest.yaml"
SCHEMES = ("gs", "file")  # the original's s3:// has no backend here
MAX_NAME_BYTES = 1024  # GCS's limit for an object name

_TOP_KEYS = ("filestores", "files")
_FILESTORE_KEYS = ("base", "src", "service-account")
_FILE_KEYS = ("name", "sha256")
_NULL_TAG = "tag:yaml.org,2002:null"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True)
class Filestore:
    """One `filestores[]` entry: a base URL (gs://bucket/prefix or file:///dir) and whether it is the source."""

    base: str
    src: bool = False
    service_account: str = ""


@dataclass(frozen=True)
class PromotedFile:
    """One `files[]` entry: a name relative to every filestore's base and its sha256 (lower-case hex)."""

    name: str
    sha256: str
    origin: str  # file:line of the entry, for messages


@dataclass(frozen=True)
class FileManifest:
    """A merged manifest: the filestores file and every files entry that goes with it."""

    origin: str
    filestores: tuple[Filestore, ...]
    files: tuple[PromotedFile, ...]

    @property
    def src(self) -> Filestore:
        """The single source filestore (validation guarantees exactly one)."""
        return next(f for f in self.filestores if f.src)

    @property
    def destinations(self) -> tuple[Filestore, ...]:
        """Every filestore but the source."""
        return tuple(f for f in self.filestores if not f.src)


def _where(path: str, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def base_problem(base: str) -> str | None:
    """Why a filestore base URL is unusable, or None: gs://bucket[/prefix] or file:///absolute/dir, no `..`."""
    if _CONTROL.search(base):
        return f"filestore base {base!r} contains control characters"
    parts = urlsplit(base)
    if parts.scheme not in SCHEMES:
        known = " or ".join(f"{s}://" for s in SCHEMES)
        return f"filestore has unsupported scheme in base {base!r} (expected {known})"
    if parts.query or parts.fragment or "?" in base or "#" in base:
        return f"filestore base {base!r} has a query or fragment (expected a plain {parts.scheme}:// URL)"
    if parts.scheme == "gs" and not parts.netloc:
        return f"filestore base {base!r} names no bucket (expected gs://bucket[/prefix])"
    if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path.startswith("/")):
        return f"filestore base {base!r} is not file:///absolute/dir"
    if any(seg in (".", "..") for seg in parts.path.split("/")) or "\\" in base:
        return f"filestore base {base!r} has a '.' or '..' segment or a backslash (expected a plain path)"
    return None


def name_problem(name: str) -> str | None:
    """Why a file name cannot be promoted, or None: a relative '/'-path, no empty, '.' or '..' segment, no control
    characters, at most 1024 bytes; anything else could land outside the destination prefix or spoof output."""
    if _CONTROL.search(name):
        return f"file name {name!r} contains control characters"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"file name {name[:40]!r}... is longer than {MAX_NAME_BYTES} bytes"
    if os.path.isabs(name):
        return f"file name {name!r} is absolute (expected a path relative to the filestore base)"
    try:
        check_key(name)
    except UsageError:
        return f"file name {name!r} is not a plain relative path (no empty, '.' or '..' segments, no backslash)"
    return None


def sha256_problem(value: str) -> str | None:
    """The original's checks: hex, 32 bytes."""
    if not _HEX.fullmatch(value) or len(value) % 2:
        return f"sha256 was not valid (not hex): {value[:80]!r}"
    if len(value) != 64:
        return f"sha256 was not valid (bad length): {value!r} (expected 64 hex digits)"
    return None


def _top(
    path: Path, problems: _Problems, forbidden: str, what: str, expected: str
) -> tuple[dict[str, yaml.Node], yaml.Node] | None:
    """The top mapping; a `forbidden` top key (files in a filestores manifest and vice versa) is a problem."""
    read, root = _load(path, problems)
    if root is None:
        if read:
            problems.lines.append(f"{path}: empty {what} (expected {expected})")
        return None
    fields = _mapping(str(path), root, _TOP_KEYS, what, problems)
    if fields is None:
        return None
    if forbidden in fields:
        problems.add(str(path), fields[forbidden], f"{forbidden} should not be present in a {what}")
    return fields, root


def _src_flag(path: str, fields: dict[str, yaml.Node], problems: _Problems) -> bool:
    if "src" not in fields:
        return False
    raw = _scalar(path, fields["src"], "filestore src", problems)
    if raw is not None and raw.lower() not in ("true", "false"):
        problems.add(path, fields["src"], f"filestore src must be true or false, not {raw!r}")
    return raw is not None and raw.lower() == "true"


def _filestore(path: str, item: yaml.Node, problems: _Problems) -> Filestore | None:
    fields = _mapping(path, item, _FILESTORE_KEYS, "filestore", problems)
    if fields is None:
        return None
    base = _scalar(path, fields["base"], "filestore base", problems) if "base" in fields else ""
    if base == "":
        problems.add(path, item, "filestore did not have base set (e.g. base: gs://k8s-staging-foo/releases)")
        return None
    if base is None:
        return None
    problem = base_problem(base)
    if problem:
        problems.add(path, fields["base"], problem)
        return None
    account = ""
    if "service-account" in fields:
        account = _scalar(path, fields["service-account"], "service-account", problems) or ""
    return Filestore(base=base.rstrip("/"), src=_src_flag(path, fields, problems), service_account=account)


def parse_filestores(path: Path, problems: _Problems) -> tuple[Filestore, ...]:
    """The filestores of one filepromoter-manifest.yaml: exactly one source, at least one other destination."""
    top = _top(path, problems, "files", "filestores manifest", "a filestores list")
    if top is None:
        return ()
    fields, root = top
    where = str(path)
    node = fields.get("filestores")
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG) or (
        isinstance(node, yaml.SequenceNode) and not node.value
    ):
        problems.add(where, node or root, "at least one filestore must be specified")
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.add(where, node, "filestores must be a list of {base, src, service-account}")
        return ()
    stores = [s for s in (_filestore(where, item, problems) for item in node.value) if s is not None]
    if len(stores) < len(node.value):
        return ()  # the broken entry is reported; source/destination counts would only add noise
    bases = [s.base for s in stores]
    for i, base in enumerate(bases):
        if base in bases[:i]:
            problems.add(where, node.value[i], f"filestore {base!r} is listed twice")
    sources = [i for i, s in enumerate(stores) if s.src]
    if len(sources) > 1:
        problems.add(where, node.value[sources[1]], "found multiple source filestores (`src: true`)")
    elif not sources:
        problems.add(where, node, "source filestore not found: mark exactly one filestore with `src: true`")
    elif len(stores) == 1:
        problems.add(where, node, "no destination filestores found")
    return tuple(stores)


def _file(path: str, item: yaml.Node, problems: _Problems) -> PromotedFile | None:
    fields = _mapping(path, item, _FILE_KEYS, "file", problems)
    if fields is None:
        return None
    name = _scalar(path, fields["name"], "file name", problems) if "name" in fields else ""
    sha = _scalar(path, fields["sha256"], "file sha256", problems) if "sha256" in fields else ""
    if name == "":
        problems.add(path, item, "name is required for file")
    elif name is not None and (problem := name_problem(name)):
        problems.add(path, fields["name"], problem)
        name = None
    if sha == "":
        problems.add(path, item, f"sha256 is required for file {name or ''}".rstrip())
    elif sha is not None and (problem := sha256_problem(sha)):
        problems.add(path, fields["sha256"], problem)
        sha = None
    if not name or not sha:
        return None
    return PromotedFile(name=name, sha256=sha.lower(), origin=_where(path, item))


def parse_files(path: Path, problems: _Problems) -> list[PromotedFile]:
    """The files of one files manifest (`files:` only)."""
    top = _top(path, problems, "filestores", "files manifest", "a files list")
    if top is None:
        return []
    fields, _ = top
    node = fields.get("files")
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
        return []
    if not isinstance(node, yaml.SequenceNode):
        problems.add(str(path), node, "files must be a list of {name, sha256}")
        return []
    return [f for f in (_file(str(path), item, problems) for item in node.value) if f is not None]


def _files_paths(path: Path, problems: _Problems) -> list[Path]:
    """The file itself, or every regular file below a directory, sorted (the original's order)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        problems.lines.append(f"{path}: files manifest does not exist (expected a YAML file or a directory of them)")
        return []
    found = sorted(Path(d, n) for d, _, names in os.walk(path) for n in names)
    return [p for p in found if p.is_file() and not p.is_symlink()]


def _merge(files: list[PromotedFile], problems: _Problems) -> tuple[PromotedFile, ...]:
    """One entry per name: the same name twice with the same sha256 is redundant; with another sha256, an error."""
    first: dict[str, PromotedFile] = {}
    for f in files:
        seen = first.get(f.name)
        if seen is None:
            first[f.name] = f
        elif seen.sha256 != f.sha256:
            problems.lines.append(f"{f.origin}: file {f.name!r} is also listed at {seen.origin} with another sha256 "
                                  f"({seen.sha256} vs {f.sha256})")
    return tuple(first.values())


def _read_pair(filestores: Path, files: Path, problems: _Problems) -> FileManifest | None:
    before = len(problems.lines)
    stores = parse_filestores(filestores, problems)
    entries: list[PromotedFile] = []
    paths = _files_paths(files, problems)
    for path in paths:
        entries.extend(parse_files(path, problems))
    merged = _merge(entries, problems)
    if paths and not merged and len(problems.lines) == before:
        problems.lines.append(f"{files}: at least one file must be specified")
    if len(problems.lines) > before:
        return None
    return FileManifest(origin=str(filestores), filestores=stores, files=merged)


def read_manifest(filestores: Path, files: Path) -> FileManifest:
    """--filestores F --files F|DIR: one merged manifest; ManifestError listing every problem."""
    problems = _Problems()
    manifest = _read_pair(Path(filestores), Path(files), problems)
    if manifest is None:
        raise ManifestError(problems.lines or [f"{filestores}: not a file promoter manifest"])
    return manifest


def read_manifests_dir(root: Path) -> list[FileManifest]:
    """--manifests DIR: filestores/<p>/filepromoter-manifest.yaml with manifests/<p>/ for every project <p>."""
    root = Path(root)
    problems = _Problems()
    stores_dir, files_dir = root / "filestores", root / "manifests"
    if not stores_dir.is_dir():
        raise ManifestError([f"{root}: no filestores/ directory (expected filestores/<project>/{FILESTORES_MANIFEST})"])
    projects = sorted(p.name for p in stores_dir.iterdir() if p.is_dir() and not p.is_symlink())
    manifests: list[FileManifest] = []
    for project in projects:
        stores = stores_dir / project / FILESTORES_MANIFEST
        files = files_dir / project
        if not stores.is_file():
            problems.lines.append(f"{stores}: missing (every filestores/<project>/ needs {FILESTORES_MANIFEST})")
            continue
        if not files.is_dir():
            problems.lines.append(f"{stores}: no files manifests for {project!r} (expected a directory {files})")
            continue
        manifest = _read_pair(stores, files, problems)
        if manifest is not None:
            manifests.append(manifest)
    if files_dir.is_dir():
        for orphan in sorted(p.name for p in files_dir.iterdir() if p.is_dir() and p.name not in projects):
            problems.lines.append(f"{files_dir / orphan}: project {orphan!r} has no "
                                  f"filestores/{orphan}/{FILESTORES_MANIFEST}; its files would never be promoted")
    if not projects and not problems.lines:
        problems.lines.append(f"{stores_dir}: no projects found (expected filestores/<project>/{FILESTORES_MANIFEST})")
    if problems.lines:
        raise ManifestError(problems.lines)
    return manifests
