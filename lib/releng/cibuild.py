"""`krel ci-build`: build a revision in a fresh clone and publish it as a CI build, `ci/<version>/…` with checksums and
the forward-only `ci/latest[-X[.Y]].txt` markers that `krel stage` reads by default.

krel's `ci-build` + `push --ci` (pkg/build/ci.go, pkg/build/push.go): the version is the revision's `git describe` in
k/k's form, CI objects are written once (a rebuild with other bytes is refused, never overwrites), markers only move
forward under a generation precondition and are read back. Standalone: it uses git, checksums, markers and the
object store, not the stage/release job.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from releng import buildcmd, checksums, digests, git, layout, markermove, markers, names
from releng.errors import ReleaseError, UsageError
from releng.objectstore import ObjectStore, open_store
from releng.objectstore.base import ObjectExistsError
from releng.objectstore.sync import upload_tree
from releng.paths import inside, refuse_special_files
from releng.profile import Profile
from releng.version import build_version_from_describe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CiFile:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CiBuild:
    """What one ci-build published: the version, its commit, every object and each marker's state."""

    version: str
    commit: str
    url: str  # <ci bucket>/ci/<version>
    files: tuple[CiFile, ...]
    markers: tuple[tuple[str, str], ...]  # (key, "moved" | "kept <published version>")
    already_published: bool


class BuildFailedError(ReleaseError):
    @classmethod
    def for_run(cls, command: str, code: int, tail: list[str], log_path: Path) -> BuildFailedError:
        last = tail[-1] if tail else "no output"
        return cls(f"ci-build: build command {command!r} failed with exit code {code}: {last} (full log: {log_path})")


def ci_build(profile: Profile, home: Path, revision: str = "", *, store: ObjectStore | None = None,
             report: Callable[[str], None] = log.info, output: Callable[[str], None] = lambda line: None) -> CiBuild:
    """Clone the profile's upstream under home, build `revision` (default: the default branch), publish it.

    report gets one line per stage; output gets each line the build prints, as it prints it."""
    _check_revision(revision)
    base = home / "ci-builds" / profile.name
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=base))  # krel's own directory: removed once published
    repo = work / "src"
    report(f"cloning {profile.upstream.url} into {repo}")
    git.clone(profile.upstream.url, repo)
    commit = resolve_revision(repo, revision or profile.upstream.default_branch, profile.upstream.url)
    git.checkout_detached(repo, commit)
    version = build_version_from_describe(git.describe(repo, commit))
    report(f"building {version} ({commit[:14]}) with {profile.build.command!r}")
    out = run_build(profile, repo, version, work / "build.log", output)
    checksums.write_checksums(out)
    target = store or open_store(profile.ci_bucket)
    prefix = layout.ci_key(version)  # krel's gs://<bucket>/ci/<version>
    already = refuse_conflicts(target, prefix, out)
    uploaded = upload_tree(out, target, prefix)
    moved = tuple(
        (key, move_marker(target, key, version, report))
        for key in (layout.ci_key(name) for name in markers.marker_names(version, "ci"))
    )
    shutil.rmtree(work, ignore_errors=True)
    files = tuple(CiFile(u.key, u.size, u.sha256) for u in uploaded)
    return CiBuild(version, commit, f"{target.url.rstrip('/')}/{prefix}", files, moved, already)


def _check_revision(revision: str) -> None:
    """The one guard for --revision, before anything is cloned: a sha, tag or branch is a git ref name."""
    if revision:
        try:
            names.check_git_ref(revision)
        except names.InvalidValue as exc:
            raise UsageError(f"ci-build --revision: {exc}") from None


def resolve_revision(repo: Path, revision: str, url: str) -> str:
    """The commit a revision names in the clone: as given (sha, tag), else as a branch of the upstream."""
    for candidate in (revision, f"origin/{revision}"):
        try:
            return git.rev_parse(repo, candidate)
        except ReleaseError:
            continue
    raise ReleaseError(f"ci-build: revision {revision!r} not found in {url}: expected a branch, tag or commit there")


def run_build(profile: Profile, repo: Path, version: str, log_path: Path,
              output: Callable[[str], None] = lambda line: None) -> Path:
    """Run the profile's build command in the clone with KREL_VERSION set; returns its output dir (inside the clone)."""
    out = inside(repo, profile.build.output_dir, "build.output_dir")
    shutil.rmtree(out, ignore_errors=True)
    env = buildcmd.build_env(version, version)
    try:
        with open(log_path, "w", encoding="utf-8") as sink:

            def on_line(line: str) -> None:
                sink.write(line + "\n")
                log.debug("build: %s", line)
                output(line)

            done = buildcmd.run_streamed(profile.build.command, repo, env, on_line)
    except OSError as exc:
        raise ReleaseError(f"ci-build: build command {profile.build.command!r} could not start in {repo}: "
                           f"{exc.strerror}") from exc
    if done.code != 0:
        for line in done.tail:
            log.error("build: %s", line)
        raise BuildFailedError.for_run(profile.build.command, done.code, list(done.tail), log_path)
    if not out.is_dir():
        raise ReleaseError(f"ci-build: build command {profile.build.command!r} produced no {profile.build.output_dir}/")
    refuse_special_files(out, f"build output of {version}")
    return out


def refuse_conflicts(store: ObjectStore, prefix: str, out: Path) -> bool:
    """Before any write: an object already at ci/<version>/ with other content stops the run (CI objects are
    write-once). True when every file is already there, identical (a rerun)."""
    existing = {info.key: info for info in store.list(f"{prefix}/")}
    if not existing:
        return False
    local = sorted(p for p in out.rglob("*") if p.is_file())
    for path in local:
        key = f"{prefix}/{path.relative_to(out).as_posix()}"
        if key in existing and store.md5(key) != digests.hash_file(path, ("md5",))[0]:
            raise ObjectExistsError.for_key(store.url, key)
    return len(local) == len(existing) and all(f"{prefix}/{p.relative_to(out).as_posix()}" in existing for p in local)


def move_marker(store: ObjectStore, key: str, version: str, report: Callable[[str], None]) -> str:
    """Move one marker forward to version (never back), under a generation precondition, then read it back."""
    done = markermove.move(store, key, version, guarded=False, contender="another build is writing markers")
    report(markermove.describe(key, version, done))
    return "moved" if done.after is not None else f"kept {markers.published(done.before)}"
