"""Release profiles: what is released and where things go, with separate mock and nomock Targets."""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releng.errors import UsageError

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Targets:
    """Everything a job writes to; mock and nomock differ only here."""

    bucket: str  # object store URL holding stage/ and release/ (file:// or gs://)
    registry: str  # registry/repo images are pushed to at stage
    validate_registry: str  # registry/repo whose images must exist before release pushes git objects
    git_push: str = field(metadata={"choices": ("dry-run", "push")})
    mail_to: tuple[str, ...]  # announcement recipients
    gcb_project: str
    download_url: str  # public URL prefix of the bucket
    # "render" (print only), "publish" (GitHub API) or "bucket" (write the page into the bucket)
    github_release: str = field(metadata={"choices": ("render", "publish", "bucket")})
    fastly_service: str = ""
    release_url: str = ""  # public URL of release/<tag>/ files without the tag; default <download_url>/release

    def release_download_url(self) -> str:
        """krel URLPrefixForBucket: https://dl.k8s.io for production, <bucket URL>/release otherwise."""
        return self.release_url or f"{self.download_url.rstrip('/')}/release"


@dataclass(frozen=True)
class Upstream:
    url: str  # clone URL of the repository being released
    org: str
    repo: str
    default_branch: str = "master"
    remote: str = "origin"


@dataclass(frozen=True)
class Build:
    command: str  # run in the workspace with KREL_VERSION set; produces output_dir
    output_dir: str = "_output"
    arches: tuple[str, ...] = ("amd64", "arm64", "ppc64le", "s390x")
    images: tuple[str, ...] = ()  # manifest-list image names expected under release-images/<arch>/
    min_free_gib: int = 1


@dataclass(frozen=True)
class Author:
    name: str
    email: str


@dataclass(frozen=True)
class Mail:
    transport: str = field(default="smtp", metadata={"choices": ("smtp", "sendgrid", "outbox")})
    smtp_host: str = "localhost"
    smtp_port: int = 25
    starttls: bool = False
    smtp_user: str = ""
    from_name: str = "Release Managers"
    from_email: str = "release-managers@localhost"
    outbox: str = ""  # directory for the "outbox" transport


@dataclass(frozen=True)
class Gcb:
    runner: str = field(default="local", metadata={"choices": ("local", "gcb")})
    timeout_s: int = 14400
    machine_type: str = ""
    private_pool: str = ""
    builder_image: str = ""
    tool_org: str = "kubernetes"
    tool_repo: str = "release"
    tool_ref: str = "master"
    secrets: tuple[str, ...] = ()  # Secret Manager names mapped to env vars as NAME=ENV


@dataclass(frozen=True)
class Links:
    changelog: str = ""  # may use {major}, {minor}, {tag}
    github_release: str = ""  # may use {tag}
    cherry_picks: str = ""
    announce_list: str = ""
    release_managers: str = ""


@dataclass(frozen=True)
class Profile:
    """A validated release profile; pick targets with `targets(nomock)`."""

    name: str
    product: str
    upstream: Upstream
    build: Build
    git_author: Author
    ci_bucket: str
    mock: Targets
    nomock: Targets
    mail: Mail = field(default_factory=Mail)
    gcb: Gcb = field(default_factory=Gcb)
    links: Links = field(default_factory=Links)
    source: str = ""  # the file it was loaded from

    def targets(self, nomock: bool) -> Targets:
        """The nomock targets with --nomock, the mock targets otherwise."""
        return self.nomock if nomock else self.mock


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path, variables: dict[str, str] | None = None) -> Profile:
    """Load a built-in profile by name or a TOML file by path, expand {placeholders} and validate it."""
    path = _resolve(str(name_or_path))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"profile {path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"profile {path}: cannot read: {exc.strerror}") from exc
    raw = _expand(raw, variables or {}, str(path))
    raw.setdefault("name", path.stem)
    profile: Profile = _build(Profile, {**raw, "source": str(path)}, str(path), "")
    _refuse_shared_targets(profile, str(path))
    return profile


def _resolve(name: str) -> Path:
    if "/" in name or name.endswith(".toml"):
        return Path(name).expanduser()
    candidate = BUILTIN_DIR / f"{name}.toml"
    if candidate.exists():
        return candidate
    hint = _suggest(name, builtin_names())
    raise UsageError(f"profile {name!r}: no such built-in profile (have {', '.join(builtin_names())}){hint}")


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Filled in later, per release, by whoever formats the link.
RUNTIME_PLACEHOLDERS = frozenset({"major", "minor", "patch", "tag", "version", "branch"})


def _expand(value: Any, variables: dict[str, str], where: str) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if name in RUNTIME_PLACEHOLDERS:
                return match.group(0)
            raise UsageError(f"profile {where}: unknown placeholder {{{name}}} in {value!r}")

        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, variables, where) for v in value]
    return value


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _build(cls: type[Any], table: Any, path: str, prefix: str) -> Any:
    """Build dataclass cls from a TOML table, naming file and key on every error."""
    where = prefix.rstrip(".") or "top level"
    if not isinstance(table, dict):
        raise UsageError(f"profile {path}: {where} must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise UsageError(f"profile {path}: unknown key {prefix}{key}{_suggest(key, list(fields))}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise UsageError(f"profile {path}: missing required key {prefix}{name}")
            continue
        values[name] = _convert(hints[name], table[name], path, f"{prefix}{name}")
        choices = f.metadata.get("choices")
        if choices and values[name] not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise UsageError(f"profile {path}: {prefix}{name} must be one of {allowed}, got {values[name]!r}")
    return cls(**values)


def _convert(hint: Any, value: Any, path: str, key: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path, key + ".")
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"profile {path}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    if origin in (types.UnionType, typing.Union):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    expected = {"str": str, "int": int, "bool": bool}.get(getattr(hint, "__name__", ""), hint)
    if (expected is int and isinstance(value, bool)) or not isinstance(value, expected):
        raise UsageError(f"profile {path}: {key} must be {expected.__name__}, got {value!r}")
    return value


def _refuse_shared_targets(profile: Profile, path: str) -> None:
    """Mock must never be able to touch a production target."""
    mock, nomock = profile.mock, profile.nomock
    shared = []
    if mock.bucket.rstrip("/") == nomock.bucket.rstrip("/"):
        shared.append(f"bucket {mock.bucket}")
    if mock.registry.rstrip("/") == nomock.registry.rstrip("/"):
        shared.append(f"registry {mock.registry}")
    if mock.git_push == "push":
        shared.append("git_push = 'push' in mock")
    if mock.github_release == "publish":
        shared.append("github_release = 'publish' in mock")
    lists = set(mock.mail_to) & set(nomock.mail_to)
    if lists:
        shared.append(f"mail list {', '.join(sorted(lists))}")
    if shared:
        raise UsageError(f"profile {path}: mock targets must not reach production: {'; '.join(shared)}")
