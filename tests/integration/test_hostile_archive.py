"""A tampered staged src.tar.gz stops `krel release` before anything is published, and nothing on the machine changes.

One real staging (nomock) is copied per case. Each case rebuilds the copy's src.tar.gz from the staged clone with
one hostile change, and (except for the swapped-archive case) records the new digest in provenance.json too: an
attacker who can write the bucket can do both, so the archive checks themselves must stop the run. A rebuilt
archive without a change is released, so every refusal below is caused by its change alone. The release runs with
signing off (a project that signs nothing): with signing on, the signed provenance envelope refuses the rewritten
provenance first (tests/integration/test_signed_release.py), and these checks would never be reached.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import releng
from releng import git
from releng.jobs.handlers import git as git_handlers
from releng.profile import BUILTIN_DIR, load_profile

from tests.fixtures.releaseflow import FlowEnv, flow_generator

ARGS = ["--branch", "master", "--type", "alpha", "--nomock"]
ALPHA1 = "v1.0.0-alpha.1"


@pytest.fixture(scope="module")
def staged_world(tmp_path_factory: pytest.TempPathFactory, registry_factory: Any) -> FlowEnv:
    home = tmp_path_factory.mktemp("hostile-archive") / "krel-home"
    project = flow_generator().create(home)
    world = FlowEnv(home, registry_factory("hostile-archive").host, project)
    staged = world.krel("stage", *ARGS)
    assert staged.returncode == 0, staged.stderr[-2000:]
    return world


@pytest.fixture
def world(staged_world: FlowEnv, tmp_path: Path) -> FlowEnv:
    home = tmp_path / "krel-home"
    shutil.copytree(staged_world.home, home, symlinks=True, ignore=shutil.ignore_patterns("workspaces"))
    return FlowEnv(home, staged_world.registry, staged_world.project)


def _stage(world: FlowEnv) -> Path:
    return world.bucket("release") / "stage" / world.build_version


class Archive:
    """The staged clone unpacked (from krel's own archive) for editing, plus extra raw tar members."""

    def __init__(self, world: FlowEnv, work: Path) -> None:
        self.world, self.work = world, work
        with tarfile.open(_stage(world) / "src.tar.gz") as tar:
            tar.extractall(work, filter="data")
        self.src = work / "src"
        self.extra: list[tuple[tarfile.TarInfo, bytes | None]] = []
        # The copy's own upstream: the staged clone names the world it was staged in.
        profile = load_profile("local", {"krel_home": str(world.home), "local_registry": world.registry})
        git.run(self.src, "config", "remote.origin.url", profile.upstream.url)

    def config(self, *args: str) -> None:
        git.run(self.src, "config", "--file", str(self.src / ".git" / "config"), *args)

    def member(self, name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = b"x", link: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        info.size = len(data) if data is not None and kind == tarfile.REGTYPE else 0
        self.extra.append((info, data if kind == tarfile.REGTYPE else None))

    def write(self, update_provenance: bool = True) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            if self.src.exists():
                tar.add(self.src, arcname="src")
            for info, data in self.extra:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        blob = buffer.getvalue()
        target = _stage(self.world) / "src.tar.gz"
        target.unlink()  # a new inode: the staged one may be shared with the original world
        target.write_bytes(blob)
        if update_provenance:
            path = _stage(self.world) / "provenance.json"
            doc = json.loads(path.read_text())
            subject = next(s for s in doc["subject"] if s["name"] == "src.tar.gz")
            subject["digest"]["sha256"] = hashlib.sha256(blob).hexdigest()
            subject["annotations"]["size"] = len(blob)
            path.unlink()
            path.write_text(json.dumps(doc, indent=2))


def _hook(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch {marker}\n")
    path.chmod(0o755)


def _move_tag(a: Archive) -> None:
    # Same content, but not the build commit: a root commit with its tree (no parent to be a release commit of).
    other = git.run(a.src, "commit-tree", "-m", "evil", git.rev_parse_tree(a.src, "HEAD")).strip()
    git.run(a.src, "tag", "-f", "-a", "-m", "evil", ALPHA1, other)


def _tree_changing_release_commit(a: Archive) -> None:
    (a.src / "evil.sh").write_text("echo evil\n")
    git.run(a.src, "add", "evil.sh")
    tree = git.run(a.src, "write-tree").strip()
    commit = git.rev_parse(a.src, ALPHA1)
    other = git.run(a.src, "commit-tree", "-m", f"Release commit for Demo {ALPHA1}", "-p", commit, tree).strip()
    git.run(a.src, "tag", "-f", "-a", "-m", "evil", ALPHA1, other)


def _dotdot(marker: Path) -> str:
    return "src/" + "../" * 40 + str(marker).lstrip("/")


# case -> (change the archive (archive, marker path), the one error line must match)
CASES: dict[str, tuple[Callable[[Archive, Path], None], str]] = {
    "absolute-member": (lambda a, m: a.member(str(m)), r"member '/\S+PWNED' is outside src/"),
    "dotdot-member": (lambda a, m: a.member(_dotdot(m)), r"member 'src/\.\./\S+' has a '\.\.' part"),
    "dotdot-inside-src": (lambda a, m: a.member("src/a/../../evil"), r"'src/a/\.\./\.\./evil' has a '\.\.' part"),
    "dotdot-staying-inside": (lambda a, m: a.member("src/a/../b"), r"has a '\.\.' part"),
    "member-outside-src": (lambda a, m: a.member("other/file"), r"member 'other/file' is outside src/"),
    "symlink-out": (lambda a, m: a.member("src/evil", tarfile.SYMTYPE, link=str(m.parent)), r"'src/evil' is a symlink"),
    "symlink-dir-then-file": (lambda a, m: (a.member("src/d", tarfile.SYMTYPE, link="/tmp"),
                                            a.member("src/d/PWNED")), r"'src/d' is a symlink"),
    "symlink-relative": (lambda a, m: a.member("src/r", tarfile.SYMTYPE, link="README.md"), r"is a symlink"),
    "hardlink": (lambda a, m: a.member("src/h", tarfile.LNKTYPE, link="/etc/passwd"), r"'src/h' is a hardlink"),
    "fifo": (lambda a, m: a.member("src/p", tarfile.FIFOTYPE), r"'src/p' is not a file or directory"),
    "char-device": (lambda a, m: a.member("src/null", tarfile.CHRTYPE), r"is not a file or directory"),
    "hook-in-hooks-dir": (lambda a, m: _hook(a.src / ".git" / "hooks" / "post-checkout", m),
                          r"src/\.git/hooks/post-checkout is a hook"),
    "hooksPath": (lambda a, m: (_hook(a.src / "evil-hooks" / "pre-push", m),
                                a.config("core.hooksPath", "evil-hooks")), r"\.git/config sets core\.hookspath"),
    "include-path": (lambda a, m: a.config("include.path", "/tmp/evil.config"), r"sets include\.path"),
    "includeIf": (lambda a, m: a.config("includeIf.gitdir:/.path", "/tmp/evil.config"), r"sets includeif\."),
    "fsmonitor": (lambda a, m: a.config("core.fsmonitor", f"touch {m}"), r"sets core\.fsmonitor"),
    "sshCommand": (lambda a, m: a.config("core.sshCommand", f"touch {m}"), r"sets core\.sshcommand"),
    "filter-driver": (lambda a, m: a.config("filter.x.smudge", f"touch {m}"), r"sets filter\.x\.smudge"),
    "remote-elsewhere": (lambda a, m: a.config("remote.origin.url", "https://evil.example/steal.git"),
                         r"remote\.origin\.url is 'https://evil\.example/steal\.git', not the profile's upstream"),
    "second-remote": (lambda a, m: a.config("remote.evil.url", str(m.parent)), r"remote\.evil\.url is"),
    "pushurl": (lambda a, m: a.config("remote.origin.pushurl", "https://evil.example/x.git"),
                r"sets remote\.origin\.pushurl"),
    "alternates": (lambda a, m: (a.src / ".git" / "objects" / "info" / "alternates").write_text("/tmp\n"),
                   r"src/\.git/objects/info/alternates points git elsewhere"),
    "gitdir-file": (lambda a, m: (shutil.rmtree(a.src / ".git"), (a.src / ".git").write_text("gitdir: /tmp/x\n")),
                    r"src/\.git is not a directory"),
    "no-src": (lambda a, m: shutil.rmtree(a.src), r"src/\.git is not a directory"),
    "tag-moved": (lambda a, m: _move_tag(a), rf"tag {re.escape(ALPHA1)} points to \w+, not to the build commit"),
    "release-commit-changes-tree": (lambda a, m: _tree_changing_release_commit(a), r"not to the build commit"),
    "tag-missing": (lambda a, m: git.run(a.src, "tag", "-d", ALPHA1), rf"tag {re.escape(ALPHA1)} is missing"),
}


def _release_area(world: FlowEnv) -> dict[str, str]:
    return world.bucket_state("release", lambda key: not key.startswith("release/"))


def _outside_state(world: FlowEnv, tmp_path: Path) -> set[str]:
    """Every path below the test's tmp dir except the job dirs (where krel writes) and bucket temp files."""
    jobs = world.home / "workspaces"
    return {p.as_posix() for p in tmp_path.rglob("*") if not p.is_relative_to(jobs) and ".krel-tmp" not in p.parts}


def _release_unsigned(world: FlowEnv, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """krel release with the local profile minus its [signing.*] tables."""
    profile = tmp_path / "unsigned.toml"
    text = (BUILTIN_DIR / "local.toml").read_text()
    profile.write_text(re.sub(r"(?ms)^\[signing\.\w+\]\n.*?(?=^\[)", "", text))
    return world.krel("release", *ARGS, "--build-version", world.build_version, "--profile", str(profile))


def _refused(world: FlowEnv, tmp_path: Path, pattern: str) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "unsigned.toml").touch()  # written by the release below; not a change the release made
    before = (_release_area(world), world.remote_refs(), _outside_state(world, tmp_path))
    result = _release_unsigned(world, tmp_path)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.stderr[-2000:]
    assert not marker.exists() and not Path("/tmp/PWNED").exists()
    assert (_release_area(world), world.remote_refs(), _outside_state(world, tmp_path)) == before


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_source_archive_is_refused(world: FlowEnv, tmp_path: Path, case: str) -> None:
    change, pattern = CASES[case]
    archive = Archive(world, tmp_path / "edit")
    change(archive, tmp_path / "PWNED")
    archive.write()
    shutil.rmtree(tmp_path / "edit")
    _refused(world, tmp_path, pattern)


def test_swapped_archive_with_another_digest_is_refused(world: FlowEnv, tmp_path: Path) -> None:
    archive = Archive(world, tmp_path / "edit")
    _hook(archive.src / ".git" / "hooks" / "post-checkout", tmp_path / "PWNED")
    archive.write(update_provenance=False)
    shutil.rmtree(tmp_path / "edit")
    _refused(world, tmp_path, r"src\.tar\.gz: (sha256|size) \S+ does not match provenance")


def test_oversized_archive_is_refused(world: FlowEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Archive(world, tmp_path / "edit").write()
    shutil.rmtree(tmp_path / "edit")
    monkeypatch.setattr(git_handlers, "MAX_SOURCE_MEMBERS", 10)
    _refused(world, tmp_path, r"more than 10 members .* refusing the staged source")


def test_rebuilt_archive_without_a_change_is_released(world: FlowEnv, tmp_path: Path) -> None:
    Archive(world, tmp_path / "edit").write()
    shutil.rmtree(tmp_path / "edit")
    result = _release_unsigned(world, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"release/{ALPHA1}/provenance.json" in _release_area(world)
    assert f"refs/tags/{ALPHA1}" in world.remote_refs()


def test_upload_pack_in_upstream_url_runs_nothing_under_plan(world: FlowEnv, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    profile = tmp_path / "evil.toml"
    builtin = (Path(releng.__file__).parent / "profiles" / "local.toml").read_text()
    profile.write_text(re.sub(r'(?m)^url = .*$', f'url = "--upload-pack=touch {marker}"', builtin, count=1))
    for args in (["release", *ARGS, "--build-version", world.build_version, "--plan"],
                 ["stage", "--branch", "release-1.0", "--type", "rc", "--plan"],
                 ["release", *ARGS, "--build-version", world.build_version]):
        result = world.krel(*args, "--profile", str(profile))
        assert result.returncode in (1, 2), result.stdout[-2000:]
        assert not marker.exists()
