"""Release profiles: what is released and where things go, with separate mock and nomock Targets."""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from releng import address, names, safeload
from releng.errors import UsageError
from releng.names import InvalidValue

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"

# The modes a profile chooses by name, the one list of each: the profile accepts exactly these values ("choices"),
# and the dict that picks the implementation is keyed by the same Literal (ghrelease.PAGE_DESTINATIONS,
# announce.mail.TRANSPORTS, gcb.RUNNERS; a test checks each dict has every value). git_push picks no backend.
GitPushMode = Literal["dry-run", "push"]
GitHubReleaseMode = Literal["render", "publish", "bucket"]
MailTransport = Literal["smtp", "sendgrid", "outbox"]
RunnerName = Literal["local", "gcb"]


def _rule(check: Callable[[str], object], *, optional: bool = False) -> dict[str, Any]:
    """Field metadata: the check every value of the field must pass on load (an empty value too, unless optional)."""
    return {"check": check, "optional": optional}


def _check_owner_repo(text: str) -> None:
    """owner/name of a GitHub repository."""
    owner, slash, repo = text.partition("/")
    if not slash:
        raise InvalidValue(f"{text!r} is not a GitHub repository: expected owner/name")
    names.check_github_owner(owner)
    names.check_github_repo(repo)


def _check_cut_issue_title(text: str) -> None:
    """One line naming the release with {version} (vX.Y.0), as krel's "Cut {version} release"."""
    names.check_one_line(text)
    if text.count("{version}") != 1 or "{" in text.replace("{version}", ""):
        raise InvalidValue(f"{text!r} must contain {{version}} once and no other placeholder")


@dataclass(frozen=True)
class Targets:
    """Everything a job writes to; mock and nomock differ only here."""

    # object store URL holding stage/ and release/ (file:// or gs://)
    bucket: str = field(metadata=_rule(address.check_bucket))
    # registry/repo images are pushed to at stage
    registry: str = field(metadata=_rule(address.check_registry))
    # registry/repo whose images must exist before release pushes git objects
    validate_registry: str = field(metadata=_rule(address.check_registry))
    git_push: GitPushMode = field(metadata={"choices": typing.get_args(GitPushMode)})
    mail_to: tuple[str, ...] = field(metadata=_rule(address.check_mail))  # announcement recipients
    gcb_project: str = field(metadata=_rule(names.check_project))
    download_url: str = field(metadata=_rule(address.check_required_link))  # public URL prefix of the bucket
    # "render" (print only), "publish" (GitHub API) or "bucket" (write the page into the bucket)
    github_release: GitHubReleaseMode = field(metadata={"choices": typing.get_args(GitHubReleaseMode)})
    fastly_service: str = field(default="", metadata=_rule(names.check_argument, optional=True))
    # public URL of release/<tag>/ files without the tag; default <download_url>/release
    release_url: str = field(default="", metadata=_rule(address.check_link, optional=True))
    # PEM bundle of a private CA these targets' registries use (relative to the profile file), trusted besides the
    # system store; "" = none. A registry with a CA is spoken to over TLS, loopback ones included.
    registry_ca: str = field(default="", metadata=_rule(names.check_argument, optional=True))
    # object store URL of the deb/rpm repositories ([packages]); its public URL (default: the bucket URL), and the
    # GPG key signing them: "throwaway" (krel's own under $KREL_HOME/keys/) or "env" (KREL_PACKAGES_GPG_HOME)
    packages_bucket: str = field(default="", metadata=_rule(address.check_bucket, optional=True))
    packages_url: str = field(default="", metadata=_rule(address.check_link, optional=True))
    packages_key: str = field(default="throwaway", metadata={"choices": ("throwaway", "env")})

    def release_download_url(self) -> str:
        """krel URLPrefixForBucket: https://dl.k8s.io for production, <bucket URL>/release otherwise."""
        return self.release_url or f"{self.download_url.rstrip('/')}/release"


@dataclass(frozen=True)
class Upstream:
    url: str = field(metadata=_rule(address.check_clone_url))  # clone URL of the repository being released
    org: str = field(metadata=_rule(names.check_github_owner))
    repo: str = field(metadata=_rule(names.check_github_repo))
    default_branch: str = field(default="master", metadata=_rule(names.check_git_ref))
    remote: str = field(default="origin", metadata=_rule(names.check_remote_name))
    # krel ff (kubernetes/release#2814): no fast-forward while this repository (owner/name; "" = no check) has the
    # open issue `cut_issue_title`, {version} being the branch's vX.Y.0
    cut_issue_repo: str = field(default="", metadata=_rule(_check_owner_repo, optional=True))
    cut_issue_title: str = field(default="Cut {version} release", metadata=_rule(_check_cut_issue_title))


@dataclass(frozen=True)
class Build:
    # run in the workspace with KREL_VERSION set; produces output_dir. A shell command by design: no text checks.
    command: str = field(metadata={"unchecked": True})
    output_dir: str = field(default="_output", metadata=_rule(names.check_relative_dir))
    arches: tuple[str, ...] = field(default=("amd64", "arm64", "ppc64le", "s390x"), metadata=_rule(names.check_arch))
    # manifest-list image names expected under release-images/<arch>/
    images: tuple[str, ...] = field(default=(), metadata=_rule(names.check_image_name))
    min_free_gib: int = 1


@dataclass(frozen=True)
class Author:
    name: str = field(metadata=_rule(names.check_person_name))
    email: str = field(metadata=_rule(address.check_mail))


@dataclass(frozen=True)
class Mail:
    transport: MailTransport = field(default="smtp", metadata={"choices": typing.get_args(MailTransport)})
    smtp_host: str = field(default="localhost", metadata=_rule(names.check_argument))
    smtp_port: int = 25
    starttls: bool = False
    smtp_user: str = ""
    from_name: str = field(default="Release Managers", metadata=_rule(names.check_person_name))
    from_email: str = field(default="release-managers@localhost", metadata=_rule(address.check_mail))
    outbox: str = ""  # directory for the "outbox" transport


@dataclass(frozen=True)
class Gcb:
    runner: RunnerName = field(default="local", metadata={"choices": typing.get_args(RunnerName)})
    timeout_s: int = 14400
    machine_type: str = field(default="", metadata=_rule(names.check_argument, optional=True))
    private_pool: str = field(default="", metadata=_rule(names.check_argument, optional=True))
    builder_image: str = field(default="", metadata=_rule(names.check_image_ref, optional=True))
    tool_org: str = field(default="kubernetes", metadata=_rule(names.check_github_owner))
    tool_repo: str = field(default="release", metadata=_rule(names.check_github_repo))
    tool_ref: str = field(default="master", metadata=_rule(names.check_git_ref))
    # Secret Manager names mapped to env vars as NAME=ENV
    secrets: tuple[str, ...] = field(default=(), metadata=_rule(names.check_secret_mapping))


@dataclass(frozen=True)
class Links:
    changelog: str = field(default="", metadata=_rule(address.check_link))  # may use {major}, {minor}, {tag}
    github_release: str = field(default="", metadata=_rule(address.check_link))  # may use {tag}
    cherry_picks: str = field(default="", metadata=_rule(address.check_link))
    announce_list: str = field(default="", metadata=_rule(address.check_link))
    release_managers: str = field(default="", metadata=_rule(address.check_link))


@dataclass(frozen=True)
class Templates:
    # the profile's own templates (relative to the profile file), searched before the built-in ones; "" = none
    dir: str = field(default="", metadata=_rule(names.check_argument, optional=True))


@dataclass(frozen=True)
class Announce:
    # the announcement's toolchain line: "go" (krel's "Golang version X", X from `go version`), any other text quoted
    # as is ("Rust 1.79"), "" = no toolchain line
    toolchain: str = field(default="", metadata=_rule(names.check_one_line, optional=True))


@dataclass(frozen=True)
class ReleaseIssue:
    """The release team's tracking issue for each cut ("Cut vX.Y.Z release", `krel release-issue`)."""

    # stage, release and announce send update it at their end (the manual command works either way)
    enabled: bool = False
    # owner/name of the release team's repository; "" = upstream.cut_issue_repo (the one krel ff's guard reads)
    repo: str = field(default="", metadata=_rule(_check_owner_repo, optional=True))
    managers: tuple[str, ...] = field(default=(), metadata=_rule(names.check_github_owner))  # GitHub logins


@dataclass(frozen=True)
class ReleaseSettings:
    # krel release sends the announcement at its end (after the GitHub page), as `krel announce send` would
    announce: bool = False


def _check_key_path(text: str) -> None:
    """A key file path, absolute or below the home directory: the job runs from other directories."""
    if not text.startswith(("/", "~")):
        raise InvalidValue(f"{text!r} must be an absolute path (or start with ~)")


@dataclass(frozen=True)
class SigningTargets:
    """What one set of targets signs, and with which key (issue 13; keyless Sigstore signing is left for later)."""

    artifacts: bool = False  # a `.sig` beside every staged file, the SBOM in a DSSE envelope, the public key
    images: bool = False  # cosign signatures of every pushed image, in its repository
    provenance: bool = False  # provenance.json in a DSSE envelope (provenance.intoto.jsonl)
    # PEM private key (ECDSA P-256). "" = mock: $KREL_HOME/keys/mock/signing.key; nomock: $KREL_SIGNING_KEY.
    # Its password always comes from $KREL_SIGNING_KEY_PASSWORD.
    key: str = field(default="", metadata=_rule(_check_key_path, optional=True))
    # create the key on first use: always so in mock (a throwaway key); in nomock only for a demo profile
    generate_key: bool = False

    def signs(self) -> bool:
        return self.artifacts or self.images or self.provenance


@dataclass(frozen=True)
class Signing:
    """[signing.mock] and [signing.nomock]; an absent section signs nothing."""

    mock: SigningTargets = field(default_factory=SigningTargets)
    nomock: SigningTargets = field(default_factory=SigningTargets)


@dataclass(frozen=True)
class PackageFile:
    """One file of a package: from the build output (`src`, may use {arch}) or written out (`content`)."""

    dst: str = field(metadata=_rule(names.check_argument))  # absolute install path; checked in releng.packages.spec
    src: str = field(default="", metadata=_rule(names.check_argument, optional=True))  # relative to the build output
    content: str = field(default="", metadata={"multiline": True})  # e.g. a systemd unit
    mode: str = field(default="0644", metadata=_rule(names.check_argument))  # octal, as a string
    config: bool = False  # a conffile (deb) / %config(noreplace) (rpm): kept when changed locally


@dataclass(frozen=True)
class Package:
    """One deb/rpm package built from the release's build output (names and versions checked in releng.packages)."""

    name: str = field(metadata=_rule(names.check_argument))
    summary: str = field(metadata=_rule(names.check_one_line))
    files: tuple[PackageFile, ...]
    description: str = field(default="", metadata=_rule(names.check_one_line, optional=True))
    depends: tuple[str, ...] = field(default=(), metadata=_rule(names.check_one_line))  # "name (>= 1.2)"
    postinst: str = field(default="", metadata={"multiline": True})  # maintainer scripts (sh), "" = none
    prerm: str = field(default="", metadata={"multiline": True})
    license: str = field(default="Apache-2.0", metadata=_rule(names.check_one_line))


@dataclass(frozen=True)
class Packages:
    """deb and rpm packages of every release, in one repository per minor as pkgs.k8s.io lays them out."""

    maintainer: str = field(metadata=_rule(names.check_one_line))  # "Name <mail>"
    package: tuple[Package, ...]
    project: str = field(default="core", metadata=_rule(names.check_remote_name))  # <project>:/stable:/vX.Y
    arches: tuple[str, ...] = field(default=(), metadata=_rule(names.check_arch))  # () = build.arches
    homepage: str = field(default="", metadata=_rule(address.check_link, optional=True))


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a profile file: the dotted key it is about ("" = the file) and what is wrong."""

    key: str
    message: str


@dataclass(frozen=True)
class Profile:
    """A validated release profile; pick targets with `targets(nomock)`."""

    name: str = field(metadata=_rule(names.check_profile_name))
    product: str = field(metadata=_rule(names.check_one_line))
    upstream: Upstream
    build: Build
    git_author: Author
    ci_bucket: str = field(metadata=_rule(address.check_bucket))
    mock: Targets
    nomock: Targets
    mail: Mail = field(default_factory=Mail)
    gcb: Gcb = field(default_factory=Gcb)
    links: Links = field(default_factory=Links)
    templates: Templates = field(default_factory=Templates)
    announce: Announce = field(default_factory=Announce)
    signing: Signing = field(default_factory=Signing)
    release_issue: ReleaseIssue = field(default_factory=ReleaseIssue)
    release: ReleaseSettings = field(default_factory=ReleaseSettings)
    # the registry named in notes and the changelog (where users pull from); "" = nomock.validate_registry
    public_registry: str = field(default="", metadata=_rule(address.check_registry, optional=True))
    packages: Packages | None = None  # absent: no packages are built or published
    source: str = field(default="", metadata={"unchecked": True})  # the file it was loaded from, not a TOML value

    def targets(self, nomock: bool) -> Targets:
        """The nomock targets with --nomock, the mock targets otherwise."""
        return self.nomock if nomock else self.mock

    def cut_issue_repository(self) -> str:
        """Where the cut's tracking issue lives: [release_issue] repo, else upstream.cut_issue_repo ('' = nowhere).
        One repository for `krel release-issue` and krel ff's guard, so the guard reads the issue the tool keeps."""
        return self.release_issue.repo or self.upstream.cut_issue_repo

    def signing_for(self, nomock: bool) -> SigningTargets:
        """What the chosen targets sign, and with which key."""
        return self.signing.nomock if nomock else self.signing.mock

    def notes_registry(self) -> str:
        """The registry users pull released images from, as notes and the changelog name it."""
        return self.public_registry or self.nomock.validate_registry

    def production_is_local(self) -> bool:
        """Every nomock target is on this machine, so --nomock needs no confirmation (issue 12 item 6).

        Local means: file:// bucket, loopback registries, outbox mail, the local job runner, no GitHub publishing,
        no CDN purge, and git pushes (if any) to a file:// upstream.
        """
        targets = self.nomock
        registries = (targets.registry, targets.validate_registry)
        return (
            address.bucket_place(targets.bucket).kind == "file"
            and all(address.registry_place(r).host == address.LOOPBACK for r in registries)
            and self.mail.transport == "outbox"
            and self.gcb.runner == "local"
            and targets.github_release != "publish"
            and not targets.fastly_service
            and (targets.git_push != "push" or self.upstream.url.startswith(("file://", "/")))
        )

    def template_dir(self) -> Path | None:
        """The profile's template directory (relative to the profile file), or None."""
        return self._beside(self.templates.dir)

    def registry_ca_file(self, targets: Targets) -> Path | None:
        """The CA bundle targets name for their registries (relative to the profile file), or None."""
        return self._beside(targets.registry_ca)

    def _beside(self, value: str) -> Path | None:
        """A path a profile gives: `~` expanded, relative ones taken from the profile file's directory."""
        return (Path(self.source).parent / Path(value).expanduser()).resolve() if value else None


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path, variables: dict[str, str] | None = None) -> Profile:
    """Load a built-in profile by name or a TOML file by path, expand {placeholders} and validate it."""
    path = _resolve(str(name_or_path))
    try:
        # Bounded: too large, too deep, not UTF-8 or not TOML is one line naming the file (never a RecursionError).
        raw = safeload.load_toml(safeload.read_text(path, max_bytes=1 << 20), str(path))
    except safeload.InputError as exc:
        raise UsageError(f"profile {exc}") from None
    raw = _expand(raw, variables or {}, str(path))
    raw.setdefault("name", path.stem)
    profile: Profile = _build(Profile, {**raw, "source": str(path)}, str(path), "")
    _refuse_shared_targets(profile, str(path))
    return profile


def collect_problems(name_or_path: str | Path, variables: dict[str, str] | None = None) -> list[Problem]:
    """Every problem of a profile file, each with its key, instead of stopping at the first (`krel profile check`)."""
    path = _resolve(str(name_or_path))
    try:
        raw = safeload.load_toml(safeload.read_text(path, max_bytes=1 << 20), str(path))
    except safeload.InputError as exc:
        return [Problem("", str(exc).removeprefix(f"{path}: "))]
    problems: list[Problem] = []
    raw = _expand(raw, variables or {}, str(path), problems)
    raw.setdefault("name", path.stem)
    profile = _build(Profile, {**raw, "source": str(path)}, str(path), "", problems)
    if profile is not None:
        try:
            _refuse_shared_targets(profile, str(path))
        except UsageError as exc:
            problems.append(Problem("mock", str(exc).removeprefix(f"profile {path}: ")))
    return problems


def profile_path(name_or_path: str) -> Path:
    """The file a profile name (built-in) or path names."""
    return _resolve(name_or_path)


def _fail(path: str, key: str, message: str, problems: list[Problem] | None) -> None:
    """Stop at the first problem (loading), or collect it and go on (checking)."""
    if problems is None:
        raise UsageError(f"profile {path}: {message}")
    problems.append(Problem(key, message))


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
RUNTIME_PLACEHOLDERS = frozenset({"major", "minor", "patch", "tag", "version", "branch", "arch"})


def _expand(value: Any, variables: dict[str, str], where: str, problems: list[Problem] | None = None,
            key: str = "") -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if name not in RUNTIME_PLACEHOLDERS:
                _fail(where, key, f"unknown placeholder {{{name}}} in {value!r}", problems)
            return match.group(0)

        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, variables, where, problems, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, variables, where, problems, key) for v in value]
    return value


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _build(cls: type[Any], table: Any, path: str, prefix: str, problems: list[Problem] | None = None) -> Any:
    """Build dataclass cls from a TOML table, naming file and key on every error.

    With `problems` every error is collected instead of raised, and None is returned for a table that had one.
    """
    where = prefix.rstrip(".") or "top level"
    if not isinstance(table, dict):
        _fail(path, prefix.rstrip("."), f"{where} must be a table", problems)
        return None
    found = len(problems) if problems is not None else 0
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            shown = key if key.isprintable() else repr(key)  # a quoted TOML key may hold ESC or CR
            _fail(path, f"{prefix}{key}", f"unknown key {prefix}{shown}{_suggest(key, list(fields))}", problems)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                _fail(path, f"{prefix}{name}", f"missing required key {prefix}{name}", problems)
            continue
        try:
            values[name] = _convert(hints[name], table[name], path, f"{prefix}{name}", problems)
            choices = f.metadata.get("choices")
            if choices and values[name] not in choices:
                allowed = ", ".join(repr(c) for c in choices)
                raise UsageError(f"profile {path}: {prefix}{name} must be one of {allowed}, got {values[name]!r}")
            _check_field(f, values[name], path, f"{prefix}{name}")
        except UsageError as exc:
            if problems is None:
                raise
            problems.append(Problem(f"{prefix}{name}", str(exc).removeprefix(f"profile {path}: ")))
    if problems is not None and len(problems) > found:
        return None
    return cls(**values)


def _check_field(f: dataclasses.Field[Any], value: Any, path: str, key: str) -> None:
    """Every string a profile gives is untrusted: no control characters, and the field's own rule (metadata "check")."""
    if f.metadata.get("unchecked"):
        return
    check = f.metadata.get("check")
    for item in value if isinstance(value, tuple) else (value,):
        if not isinstance(item, str):
            continue
        try:
            # multi-line text (a unit file, a maintainer script) may hold newlines and tabs, no other control char
            names.check_text(item.replace("\n", "").replace("\t", "") if f.metadata.get("multiline") else item)
            if check is not None and (item or not f.metadata.get("optional")):
                check(item)
        except InvalidValue as exc:
            raise UsageError(f"profile {path}: {key}: {exc}") from exc


def _convert(hint: Any, value: Any, path: str, key: str, problems: list[Problem] | None = None) -> Any:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path, key + ".", problems)
    origin = typing.get_origin(hint)
    if origin is Literal:
        # a mode: its type is its values' (str); the field's "choices" refuse the others
        hint = type(typing.get_args(hint)[0])
    item = typing.get_args(hint)[0] if origin is tuple else None
    if isinstance(item, type) and dataclasses.is_dataclass(item):
        # an array of tables ([[packages.package]]): each built and named by its index
        if not isinstance(value, list):
            raise UsageError(f"profile {path}: {key} must be an array of tables ([[{key}]]), got {value!r}")
        return tuple(_build(item, v, path, f"{key}[{i}].", problems) for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"profile {path}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    expected = {"str": str, "int": int, "bool": bool}.get(getattr(hint, "__name__", ""), hint)
    if (expected is int and isinstance(value, bool)) or not isinstance(value, expected):
        raise UsageError(f"profile {path}: {key} must be {expected.__name__}, got {value!r}")
    return value


_REGISTRY_KEYS = ("registry", "validate_registry")


def _refuse_shared_targets(profile: Profile, path: str) -> None:
    """Mock must never be able to touch a production target, however either is spelled (compared in canonical form)."""
    mock, nomock = profile.mock, profile.nomock
    shared = []
    if address.bucket_place(mock.bucket).overlaps(address.bucket_place(nomock.bucket)):
        shared.append(_overlap("bucket", mock.bucket, "bucket", nomock.bucket))
    # Mock writing to nomock.validate_registry is production too: every mock registry against every nomock one.
    pairs = {(m, n, getattr(mock, m), getattr(nomock, n)) for m in _REGISTRY_KEYS for n in _REGISTRY_KEYS}
    for mock_key, nomock_key, mock_value, nomock_value in sorted(pairs):
        mock_place, nomock_place = address.registry_place(mock_value), address.registry_place(nomock_value)
        # krel's own mock registry is gcr.io/k8s-staging-kubernetes/mock, below production: repositories are matched
        # whole and images are one segment, so a mock path below production never names a production repository.
        if mock_place.overlaps(nomock_place) and not mock_place.below(nomock_place):
            shared.append(_overlap(mock_key, mock_value, nomock_key, nomock_value))
    mock_key, nomock_key = profile.signing.mock.key, profile.signing.nomock.key
    if mock_key and nomock_key and _same_file(mock_key, nomock_key):
        # production keys never touch mock
        shared.append(f"signing.mock.key {mock_key} is signing.nomock.key {nomock_key}")
    # packages: the mock repositories never inside a production bucket or repository
    for nomock_key in ("packages_bucket", "bucket"):
        mock_value, nomock_value = mock.packages_bucket, getattr(nomock, nomock_key)
        if mock_value and nomock_value and address.bucket_place(mock_value).overlaps(
                address.bucket_place(nomock_value)):
            shared.append(_overlap("packages_bucket", mock_value, nomock_key, nomock_value))
    if mock.git_push == "push":
        shared.append("git_push = 'push' in mock")
    if mock.github_release == "publish":
        shared.append("github_release = 'publish' in mock")
    production = {address.mail_key(a): a for a in nomock.mail_to}
    lists = sorted(_same_list(a, production[key]) for a in mock.mail_to if (key := address.mail_key(a)) in production)
    if lists:
        shared.append(f"mail list {', '.join(lists)}")
    if shared:
        raise UsageError(f"profile {path}: mock targets must not reach production: {'; '.join(shared)}")


def _same_file(a: str, b: str) -> bool:
    """Two key paths name one file, however spelled (~, .., symlinks)."""
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _overlap(mock_key: str, mock_value: str, nomock_key: str, nomock_value: str) -> str:
    return f"mock.{mock_key} {mock_value} is, contains or lies inside nomock.{nomock_key} {nomock_value}"


def _same_list(mock_address: str, nomock_address: str) -> str:
    return mock_address if mock_address == nomock_address else f"{mock_address} (is nomock {nomock_address})"
