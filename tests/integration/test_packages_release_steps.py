"""The release's PublishPackages step against real files, gpg and the package tools: its preflight check refuses every
bad staged package, key or published conflict in one line before anything is written, and the step publishes the
verified staged copies (a rerun writes nothing). BuildPackages builds into the build's packages/ dir once."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from releng import git, layout, provenance
from releng.errors import ReleaseError
from releng.jobs.clients import Clients, ReleaseTexts
from releng.jobs.handlers.packages import build_packages, check_publish_packages, publish_packages
from releng.jobs.steps import BuildPackages, PublishPackages
from releng.objectstore import open_store
from releng.packages import run
from releng.profile import Profile, load_profile

TAG = "v1.0.0"
BV = "v1.0.0-rc.0.3+0123456789abcd"


@dataclasses.dataclass(frozen=True)
class World:
    home: Path
    profile: Profile
    built: Path  # the build output with packages/ from BuildPackages


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # A short path: gpg-agent's socket lives in the throwaway key's GnuPG home (107 bytes at most).
    home = Path(tempfile.mkdtemp(prefix="kr", dir="/tmp"))
    repo = home / "src"
    git.init(repo)
    git.run(repo, "commit", "--allow-empty", "-q", "-m", "one", env={"GIT_COMMITTER_DATE": "2026-11-01T12:00:00Z"})
    git.run(repo, "tag", TAG)
    build_dir = home / "_output"
    for arch in ("amd64", "arm64"):
        binary = build_dir / "bin" / "linux" / arch / "demo-server"
        binary.parent.mkdir(parents=True)
        binary.write_text(f"#!/bin/sh\necho demo-server {arch}\n")
    profile = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    assert profile.packages is not None
    step = BuildPackages(str(repo), TAG, str(build_dir), str(layout.packages_build_dir(build_dir)), profile.packages,
                         ("amd64",))
    clients = Clients(texts=ReleaseTexts(profile))
    build_packages(step, clients)
    first = {p.name: p.read_bytes() for p in layout.packages_build_dir(build_dir).iterdir()}
    build_packages(step, clients)  # already built: nothing rebuilt
    assert {p.name: p.read_bytes() for p in layout.packages_build_dir(build_dir).iterdir()} == first
    assert not (build_dir / "packages.partial").exists()
    yield World(home, profile, build_dir)
    shutil.rmtree(home, ignore_errors=True)


@dataclasses.dataclass
class Release:
    """One staged release in a fresh stage bucket, its verified statement, and an empty packages bucket."""

    step: PublishPackages
    stage: Path  # the stage bucket's directory
    packages: Path  # the packages bucket's directory
    verified: Path
    env: dict[str, str]

    profile: Profile
    buckets: tuple[str, ...] = ()  # the job's buckets: the stage bucket and the targets' packages bucket

    def clients(self) -> Clients:
        urls = self.buckets or (self.step.bucket, self.step.packages_bucket)
        return Clients(texts=ReleaseTexts(self.profile), stores={u: open_store(u) for u in urls},
                       packages_key_env=self.env)

    def staged(self, name: str) -> Path:
        return self.stage / layout.packages_prefix(BV, TAG) / name

    def restate(self, names: dict[str, Path]) -> None:
        """Rewrite the verified statement to name these files (staged name -> local file)."""
        subjects = [provenance.file_subject(path, name) for name, path in names.items()]
        doc = provenance.statement(subjects, "file:///upstream", "0123456789abcd", BV, (TAG,), "test")
        self.verified.write_bytes(provenance.encode(doc))


@pytest.fixture
def release(world: World, tmp_path: Path) -> Release:
    stage_dir = tmp_path / "stage-bucket"
    staged = stage_dir / layout.packages_prefix(BV, TAG)
    staged.mkdir(parents=True)
    for path in layout.packages_build_dir(world.built).iterdir():
        shutil.copyfile(path, staged / path.name)
    # One packages bucket URL for the module: its throwaway key is generated once.
    packages_dir = world.home / "buckets" / "packages"
    shutil.rmtree(packages_dir, ignore_errors=True)
    packages_dir.mkdir(parents=True)
    step = PublishPackages(
        bucket=stage_dir.as_uri(), stage_prefix=layout.stage_prefix(BV), src_prefix=layout.packages_prefix(BV, TAG),
        verified_file=str(tmp_path / "verified.json"), work_dir=str(tmp_path / "work"), tag=TAG, project="core",
        packages_bucket=packages_dir.as_uri(), public_url="https://pkgs.example/", key_mode="throwaway",
        keys_dir=str(world.home / "keys"),
    )
    out = Release(step, stage_dir, packages_dir, Path(step.verified_file), {}, world.profile,
                  (step.bucket, step.packages_bucket))
    out.restate({f"{TAG}/packages/{p.name}": p for p in sorted(staged.iterdir())})
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_publishes_the_verified_staged_packages_and_a_rerun_writes_nothing(release: Release) -> None:
    check_publish_packages(release.step, release.clients())
    assert _tree(release.packages) == {}  # the check writes nothing
    publish_packages(release.step, release.clients())
    published = _tree(release.packages)
    assert {k for k in published if k.endswith((".deb", ".rpm"))} == {
        "core:/stable:/v1.0/deb/amd64/demo-server_1.0.0-1.1_amd64.deb",
        "core:/stable:/v1.0/rpm/x86_64/demo-server-1.0.0-1.1.x86_64.rpm",
    }
    assert "core:/stable:/v1.0/deb/InRelease" in published and "core:/stable:/v1.0/rpm/repodata/repomd.xml.asc" in \
        published
    mtimes = {p: p.stat().st_mtime_ns for p in release.packages.rglob("*") if p.is_file()}
    publish_packages(release.step, release.clients())
    check_publish_packages(release.step, release.clients())
    assert _tree(release.packages) == published
    assert {p: p.stat().st_mtime_ns for p in release.packages.rglob("*") if p.is_file()} == mtimes
    assert not Path(release.step.work_dir, "publish").exists() and not Path(release.step.work_dir, "check").exists()


def _swap_bytes(r: Release) -> None:
    deb = next(r.staged("x").parent.glob("*.deb"))
    deb.write_bytes(deb.read_bytes() + b"swapped after verify")


def _remove_staged(r: Release) -> None:
    next(r.staged("x").parent.glob("*.rpm")).unlink()


def _name_nothing(r: Release) -> None:
    deb = next(r.staged("x").parent.glob("*.deb"))
    r.restate({f"{TAG}/gcs-stage/{TAG}/{deb.name}": deb})


def _nested(r: Release) -> None:
    deb = next(r.staged("x").parent.glob("*.deb"))
    nested = deb.parent / "sub" / deb.name
    nested.parent.mkdir()
    shutil.copyfile(deb, nested)
    r.restate({f"{TAG}/packages/sub/{deb.name}": nested})


def _not_a_package(r: Release) -> None:
    script = r.staged("postinst.sh")
    script.write_text("#!/bin/sh\nrm -rf /\n")
    r.restate({f"{TAG}/packages/postinst.sh": script})


def _other_version(r: Release) -> None:
    deb = next(r.staged("x").parent.glob("*.deb"))
    other = deb.with_name(deb.name.replace("1.0.0", "9.9.9"))
    deb.rename(other)
    r.restate({f"{TAG}/packages/{other.name}": other})


def _published_differs(r: Release) -> None:
    deb = next(r.staged("x").parent.glob("*.deb"))
    target = r.packages / "core:/stable:/v1.0/deb/amd64" / deb.name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's package")


def _env_key(env: dict[str, str]) -> Callable[[Release], None]:
    def apply(r: Release) -> None:
        r.step = dataclasses.replace(r.step, key_mode="env")
        r.env.update(env)
    return apply


def _foreign_bucket(r: Release) -> None:
    r.step = dataclasses.replace(r.step, packages_bucket=(r.packages.parent / "other").as_uri())


def _stage_path_traversal(r: Release) -> None:
    deb = next(r.staged("x").parent.glob("*.deb"))
    r.restate({f"{TAG}/packages/../../../{deb.name}": deb})


HOSTILE: list[tuple[str, Callable[[Release], None], str]] = [
    ("staged-bytes-swapped", _swap_bytes, "does not match provenance"),
    ("staged-package-missing", _remove_staged, "rpm"),
    ("provenance-names-no-package", _name_nothing, "the provenance records nothing below"),
    ("nested-path", _nested, "not a package file of"),
    ("not-a-package-file", _not_a_package, "postinst.sh is not a package of v1.0.0"),
    ("package-of-another-version", _other_version, "9.9.9-1.1_amd64.deb is not a package of v1.0.0"),
    ("published-with-other-bytes", _published_differs, "is already published with different content"),
    ("env-key-not-set", _env_key({}), "neither is set"),
    ("env-key-home-missing", _env_key({"KREL_PACKAGES_GPG_HOME": "/nonexistent/gnupg"}), "is not a directory"),
    ("packages-bucket-not-the-jobs", _foreign_bucket, "is not one of this job's buckets"),
    ("stage-path-traversal", _stage_path_traversal, "is not a relative key below the stage area"),
]


@pytest.mark.parametrize(("spoil", "fragment"), [pytest.param(s, f, id=i) for i, s, f in HOSTILE])
def test_refused_in_one_line_before_anything_is_written(release: Release, spoil: Callable[[Release], None],
                                                        fragment: str) -> None:
    spoil(release)
    before = _tree(release.packages)
    with pytest.raises(ReleaseError) as caught:
        check_publish_packages(release.step, release.clients())
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert _tree(release.packages) == before
    with pytest.raises(ReleaseError):  # the step itself refuses too (a resumed run skips the preflight)
        publish_packages(release.step, release.clients())
    assert _tree(release.packages) == before
    assert not Path(release.step.work_dir, "publish").exists() and not Path(release.step.work_dir, "check").exists()


def test_build_refuses_a_profile_arch_it_cannot_name(world: World, tmp_path: Path) -> None:
    assert world.profile.packages is not None
    step = BuildPackages(str(world.home / "src"), TAG, str(world.built), str(tmp_path / "packages"),
                         world.profile.packages, ("riscv64",))
    with pytest.raises(ReleaseError, match="riscv64"):
        build_packages(step, Clients(texts=ReleaseTexts(world.profile)))
    assert not (tmp_path / "packages").exists() and not (tmp_path / "packages.partial").exists()


def test_key_source_is_per_bucket(world: World) -> None:
    mock = run.key_source_for("file:///a", world.home / "keys", {})
    nomock = run.key_source_for("file:///b", world.home / "keys", {})
    assert mock.name != nomock.name
