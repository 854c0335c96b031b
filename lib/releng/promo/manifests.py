"""Promoter manifests: the plain form (one file) and the thin form (manifests/<p> + images/<p>), with every problem
collected as `file:line: message` (the original's Validate rules, plus duplicate keys and typo suggestions)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from releng import safeload
from releng.errors import ReleaseError
from releng.registry import reference

# The OCI distribution grammar, ASCII-only and whole-string (one definition, in releng.registry.reference).
DIGEST_RE = reference.DIGEST
TAG_RE = reference.TAG
IMAGE_NAME_RE = reference.REPOSITORY
REGISTRY_NAME_RE = reference.REGISTRY_PATH

# Thin layout is fixed: DIR/manifests/<p>/promoter-manifest.yaml and DIR/images/<p>/images.yaml.
THIN_MANIFEST = "promoter-manifest.yaml"
THIN_IMAGES = "images.yaml"

_PLAIN_KEYS = ("registries", "images", "imagesPath")
_THIN_KEYS = ("registries", "imagesPath")
_REGISTRY_KEYS = ("name", "src", "service-account")
_IMAGE_KEYS = ("name", "dmap")


class ManifestError(ReleaseError):
    """One or more manifest problems; the message has one `file:line: problem` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = f"{len(problems)} manifest problem{'s' if len(problems) != 1 else ''}:"
        super().__init__("\n".join([head, *problems]) if len(problems) > 1 else problems[0])


@dataclass(frozen=True)
class Registry:
    """One `registries[]` entry: a registry path (host plus optional prefix) and whether it is the source."""

    name: str
    src: bool = False
    service_account: str = ""


@dataclass(frozen=True)
class Image:
    """One `images[]` entry: image name (same in source and destinations) and digest -> tags (empty = tag-less)."""

    name: str
    dmap: Mapping[str, tuple[str, ...]]
    line: int = 0
    digest_lines: Mapping[str, int] = field(default_factory=dict)

    def origin_line(self, digest: str) -> int:
        """The line of digest's dmap entry (else the image's line), for messages."""
        return self.digest_lines.get(digest, self.line)


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: where it came from, its registries and images."""

    path: str
    registries: tuple[Registry, ...]
    images: tuple[Image, ...]
    images_path: str = ""

    @property
    def src(self) -> Registry:
        """The single source registry (validation guarantees exactly one)."""
        return next(r for r in self.registries if r.src)

    @property
    def destinations(self) -> tuple[Registry, ...]:
        """Every registry but the source."""
        return tuple(r for r in self.registries if not r.src)


class _Problems:
    """Collects `file:line: message` lines while walking YAML nodes."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, node: yaml.Node | None, message: str) -> None:
        """Record a problem at node's line."""
        where = f"{path}:{node.start_mark.line + 1}" if node is not None else path
        self.lines.append(f"{where}: {message}")


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The C loader (keeps line marks, ~10x faster) with a resolver that only tells null from string: manifests
    read raw scalar text, and the stock resolver's regex walk was a third of the parse time at 46k digests."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _NULL_TAG if implicit[0] and value in _NULLS else _STR_TAG
        return "tag:yaml.org,2002:seq" if kind is yaml.SequenceNode else "tag:yaml.org,2002:map"

    def descend_resolver(self, current_node: yaml.Node | None, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


def _compose(path: Path, text: str, problems: _Problems) -> yaml.Node | None:
    # Bounded: an alias bomb or deep nesting is one `file:line: problem`, not 90 million edges walked later.
    try:
        return safeload.compose_yaml(text, str(path), _Loader)
    except safeload.InputError as exc:
        problems.lines.append(str(exc))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problems.lines.append(f"{path}{line}: malformed YAML: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        problems.lines.append(f"{path}: malformed YAML: {safeload.yaml_problem(exc)}")
    return None


def _read(path: Path, problems: _Problems) -> str | None:
    try:
        return safeload.read_text(path)
    except safeload.InputError as exc:
        problems.lines.append(str(exc))
        return None


def _load(path: Path, problems: _Problems) -> tuple[bool, yaml.Node | None]:
    """(whether the file could be read, its YAML root); the root is None when empty, unreadable or malformed."""
    text = _read(path, problems)
    return text is not None, _compose(path, text, problems) if text is not None else None


def _suggest(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _mapping(
    path: str, node: yaml.Node, allowed: tuple[str, ...], what: str, problems: _Problems
) -> dict[str, yaml.Node] | None:
    """A mapping node's scalar keys -> value nodes; unknown and duplicate keys are problems."""
    if not isinstance(node, yaml.MappingNode):
        problems.add(path, node, f"{what} must be a mapping with keys {', '.join(allowed)}")
        return None
    out: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key is None:
            problems.add(path, key_node, f"{what}: keys must be plain strings")
        elif key in out:
            problems.add(path, key_node, f"{what}: duplicate key {key!r}")
        elif key not in allowed:
            problems.add(path, key_node, f"{what}: unknown key {key!r}{_suggest(key, allowed)}")
        else:
            out[key] = value_node
    return out


def _scalar(path: str, node: yaml.Node, what: str, problems: _Problems) -> str | None:
    # Raw scalar text, never the resolved type: an unquoted tag `1.0` must stay "1.0", not the float 1.0.
    if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
        problems.add(path, node, f"{what} must be a string")
        return None
    return str(node.value)


def _name(
    path: str, item: yaml.Node, fields: dict[str, yaml.Node], what: str, example: str, problems: _Problems
) -> str | None:
    """The entry's required `name` scalar; a problem (with an example) when it is missing."""
    if "name" not in fields:
        problems.add(path, item, f"{what}: name is required{example}")
        return None
    return _scalar(path, fields["name"], f"{what} name", problems)


def _registries(path: str, node: yaml.Node | None, parent: yaml.Node, problems: _Problems) -> tuple[Registry, ...]:
    if node is None:
        problems.add(path, parent, "registries: missing (expected a list with exactly one `src: true` entry)")
        return ()
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        problems.add(path, node, "registries: must be a non-empty list of {name, src, service-account}")
        return ()
    out: list[Registry] = []
    seen: set[str] = set()
    src_nodes: list[yaml.Node] = []
    for item in node.value:
        fields = _mapping(path, item, _REGISTRY_KEYS, "registry", problems)
        if fields is None:
            continue
        name = _name(path, item, fields, "registry", " (e.g. gcr.io/k8s-staging-foo)", problems)
        if name is not None and not REGISTRY_NAME_RE.match(name):
            problems.add(path, fields["name"], f"registry name {name!r} is not a registry path like gcr.io/project")
        if name is not None and name in seen:
            problems.add(path, fields["name"], f"registry {name!r} is listed twice")
        src = False
        if "src" in fields:
            raw = _scalar(path, fields["src"], "registry src", problems)
            if raw is not None and raw.lower() not in ("true", "false"):
                problems.add(path, fields["src"], f"registry src must be true or false, not {raw!r}")
            src = raw is not None and raw.lower() == "true"
            if src:
                src_nodes.append(fields["src"])
        account = ""
        if "service-account" in fields:
            account = _scalar(path, fields["service-account"], "service-account", problems) or ""
        if name is not None:
            seen.add(name)
            out.append(Registry(name=name, src=src, service_account=account))
    if len(src_nodes) > 1:
        problems.add(path, src_nodes[1], "cannot have more than 1 source registry (`src: true`)")
    elif not src_nodes:
        problems.add(path, node, "source registry must be set: mark exactly one registry with `src: true`")
    return tuple(out)


def _images(path: str, node: yaml.Node, problems: _Problems) -> tuple[Image, ...]:
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.add(path, node, "images must be a list of {name, dmap}")
        return ()
    out: list[Image] = []
    for item in node.value:
        fields = _mapping(path, item, _IMAGE_KEYS, "image", problems)
        if fields is None:
            continue
        name = _name(path, item, fields, "image", "", problems)
        if name is not None and not IMAGE_NAME_RE.match(name):
            problems.add(path, fields["name"], f"image name {name!r} is not a valid repository name (a-z0-9._-/)")
            name = None
        lines: dict[str, int] = {}
        dmap = _dmap(path, fields.get("dmap"), item, name or "?", problems, lines)
        if name is not None and dmap is not None:
            out.append(Image(name=name, dmap=dmap, line=item.start_mark.line + 1, digest_lines=lines))
    return tuple(out)


def _dmap(
    path: str, node: yaml.Node | None, parent: yaml.Node, image: str, problems: _Problems, lines: dict[str, int]
) -> dict[str, tuple[str, ...]] | None:
    if node is None or not isinstance(node, yaml.MappingNode) or not node.value:
        problems.add(path, node or parent, f"image {image}: dmap must be a non-empty mapping of digest -> [tags]")
        return None
    dmap: dict[str, tuple[str, ...]] = {}
    ok = True
    for key_node, value_node in node.value:
        digest = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        if not DIGEST_RE.match(digest):
            problems.add(path, key_node, f"image {image}: bad digest {digest!r} (expected sha256:<64 lower-case hex>)")
            ok = False
            continue
        if digest in dmap:
            problems.add(path, key_node, f"image {image}: digest {digest} is listed twice")
            ok = False
            continue
        tags = _tags(path, value_node, image, digest, problems)
        if tags is None:
            ok = False
            continue
        dmap[digest] = tags
        lines[digest] = key_node.start_mark.line + 1
    return dmap if ok else None


def _tags(path: str, node: yaml.Node, image: str, digest: str, problems: _Problems) -> tuple[str, ...] | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.add(path, node, f"image {image}: tags of {digest[:19]} must be a list (use [] for tag-less)")
        return None
    tags: list[str] = []
    ok = True
    for tag_node in node.value:
        tag = tag_node.value if isinstance(tag_node, yaml.ScalarNode) else None
        if tag is None or not TAG_RE.match(tag):
            problems.add(
                path, tag_node, f"image {image}: bad tag {tag!r} (expected [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
            )
            ok = False
        elif tag not in tags:
            tags.append(tag)
    return tuple(tags) if ok else None


def _parse_plain(path: Path, problems: _Problems) -> Manifest | None:
    read, root = _load(path, problems)
    if root is None:
        if read and not problems.lines:
            problems.lines.append(f"{path}: empty manifest (expected registries and images)")
        return None
    fields = _mapping(str(path), root, _PLAIN_KEYS, "manifest", problems)
    if fields is None:
        return None
    registries = _registries(str(path), fields.get("registries"), root, problems)
    images = _images(str(path), fields["images"], problems) if "images" in fields else ()
    return Manifest(path=str(path), registries=registries, images=images)


def parse_manifest(path: Path) -> Manifest:
    """Parse and validate one plain promoter manifest (`registries` + `images`); raise ManifestError listing all."""
    problems = _Problems()
    manifest = _parse_plain(Path(path), problems)
    if problems.lines or manifest is None:
        raise ManifestError(problems.lines or [f"{path}: not a promoter manifest"])
    return manifest


def _parse_thin_pair(root: Path, manifest_path: Path, problems: _Problems) -> Manifest | None:
    project = manifest_path.parent.name
    read, node = _load(manifest_path, problems)
    if node is None:
        if read:
            problems.lines.append(f"{manifest_path}: empty manifest (expected registries)")
        return None
    fields = _mapping(str(manifest_path), node, _THIN_KEYS, "thin manifest", problems)
    if fields is None:
        return None
    registries = _registries(str(manifest_path), fields.get("registries"), node, problems)
    images_path = root / "images" / project / THIN_IMAGES
    if not images_path.exists():
        problems.lines.append(
            f"{manifest_path}: corresponding file {images_path} does not exist (thin manifests need images/{project})"
        )
        return None
    if not images_path.is_file():
        problems.lines.append(f"{manifest_path}: corresponding file {images_path} is not a regular file")
        return None
    images_node = _load(images_path, problems)[1]
    images = _images(str(images_path), images_node, problems) if images_node is not None else ()
    return Manifest(path=str(manifest_path), registries=registries, images=images, images_path=str(images_path))


def find_thin_manifests(root: Path) -> list[Path]:
    """Every DIR/manifests/<p>/promoter-manifest.yaml, sorted; other depths are errors, other prefixes ignored."""
    base = root / "manifests"
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob(THIN_MANIFEST) if p.is_file())


def parse_thin_dir(root: Path) -> list[Manifest]:
    """Parse and validate a thin-manifest tree; raise ManifestError listing every problem in every file."""
    root = Path(root)
    problems = _Problems()
    if not root.is_dir():
        raise ManifestError([f"{root}: thin manifest dir does not exist or is not a directory"])
    manifests: list[Manifest] = []
    for path in find_thin_manifests(root):
        rel = path.relative_to(root).parts
        if len(rel) != 3:
            problems.lines.append(
                f"{path}: unexpected manifest path {'/'.join(rel)} (expected manifests/<project>/{THIN_MANIFEST})"
            )
            continue
        manifest = _parse_thin_pair(root, path, problems)
        if manifest is not None:
            manifests.append(manifest)
    if not manifests and not problems.lines:
        problems.lines.append(f"{root}: no manifests found in dir (expected manifests/<project>/{THIN_MANIFEST})")
    if problems.lines:
        raise ManifestError(problems.lines)
    return manifests


def map_registries(manifests: list[Manifest], mapping: Mapping[str, str]) -> list[Manifest]:
    """Rewrite registry names by longest matching prefix (e.g. gcr.io/k8s-cip-test-prod -> 127.0.0.1:5001/prod)."""
    if not mapping:
        return manifests
    prefixes = sorted(mapping, key=len, reverse=True)

    def rename(name: str) -> str:
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "/"):
                return mapping[prefix] + name[len(prefix) :]
        return name

    out = []
    for m in manifests:
        regs = tuple(Registry(rename(r.name), r.src, r.service_account) for r in m.registries)
        out.append(Manifest(path=m.path, registries=regs, images=m.images, images_path=m.images_path))
    return out
