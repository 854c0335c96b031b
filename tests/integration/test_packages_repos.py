"""krel packages against the real tools and clients: dpkg-deb/rpmbuild give the same bytes twice; apt-get (own
state, the repository key as its only trusted key) verifies InRelease and downloads each package; rpmkeys checks each
rpm's signature; a second release adds packages and leaves the first's bytes alone; changed bytes are refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from releng import git
from releng.errors import ReleaseError
from releng.packages import run
from releng.profile import Profile, load_profile

TAGS = ("v1.0.0", "v1.0.1")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Path, Profile]]:
    # A short path: gpg-agent's socket lives in the throwaway key's GnuPG home (107 bytes at most).
    home = Path(tempfile.mkdtemp(prefix="kp", dir="/tmp"))
    repo = home / "src"
    git.init(repo)
    for arch in ("amd64", "arm64"):
        binary = home / "out" / "bin" / "linux" / arch / "demo-server"
        binary.parent.mkdir(parents=True)
        binary.write_text(f"#!/bin/sh\necho demo-server {arch}\n")
    env = {"GIT_COMMITTER_DATE": "2026-11-01T12:00:00Z", "GIT_AUTHOR_DATE": "2026-11-01T12:00:00Z"}
    git.run(repo, "commit", "--allow-empty", "-q", "-m", "one", env=env)
    git.run(repo, "tag", TAGS[0])
    later = {k: v.replace("01T", "02T") for k, v in env.items()}
    git.run(repo, "commit", "--allow-empty", "-q", "-m", "two", env=later)
    git.run(repo, "tag", TAGS[1])
    profile = load_profile("local", {"krel_home": str(home), "local_registry": "127.0.0.1:5000"})
    yield home, profile
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def published(world: tuple[Path, Profile]) -> dict[str, object]:
    home, profile = world
    source = run.key_source(profile.mock, home / "keys", {})
    first = run.build_release(profile, TAGS[0], (), home / "out", home / "src", home / "p1")
    again = run.build_release(profile, TAGS[0], (), home / "out", home / "src", home / "p1again")
    repos1 = run.publish_release(profile, profile.mock, TAGS[0], home / "p1", source)
    bucket = Path(profile.mock.packages_bucket.removeprefix("file://"))
    before = {p: _sha(p) for p in bucket.rglob("*") if p.suffix in (".deb", ".rpm")}
    rerun = run.publish_release(profile, profile.mock, TAGS[0], home / "p1", source)
    run.build_release(profile, TAGS[1], (), home / "out", home / "src", home / "p2")
    repos2 = run.publish_release(profile, profile.mock, TAGS[1], home / "p2", source)
    return {"first": first, "again": again, "repos1": repos1, "rerun": rerun, "repos2": repos2, "before": before,
            "bucket": bucket}


def test_same_input_same_bytes(published: dict[str, object]) -> None:
    first, again = published["first"], published["again"]
    same = [(b.format, b.arch, b.sha256) for b in first]  # type: ignore[attr-defined]
    assert same == [(b.format, b.arch, b.sha256) for b in again]  # type: ignore[attr-defined]
    assert {b.format for b in first} == {"deb", "rpm"} and len(first) == 4  # type: ignore[attr-defined]


def test_rerun_writes_nothing_and_second_release_keeps_the_first(published: dict[str, object]) -> None:
    assert all(not r.written for r in published["rerun"])  # type: ignore[attr-defined]
    before: dict[Path, str] = published["before"]  # type: ignore[assignment]
    assert len(before) == 4 and all(_sha(p) == sha for p, sha in before.items())
    bucket: Path = published["bucket"]  # type: ignore[assignment]
    assert len([p for p in bucket.rglob("*") if p.suffix in (".deb", ".rpm")]) == 8


def _apt(home: Path, repo_url: str, key: Path, *args: str) -> subprocess.CompletedProcess[str]:
    root = home / "apt"
    for sub in ("state/lists/partial", "cache/archives/partial", "trusted", "prefs", "dl"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(key, root / "trusted" / "repo.asc")
    (root / "sources.list").write_text(f"deb {repo_url} /\n")
    options = {"Dir::State": root / "state", "Dir::Cache": root / "cache",
               "Dir::Etc::SourceList": root / "sources.list",
               "Dir::Etc::SourceParts": "/dev/null", "Dir::Etc::TrustedParts": root / "trusted",
               "Dir::Etc::Trusted": "/dev/null", "Dir::Etc::PreferencesParts": root / "prefs",
               "Dir::Etc::Preferences": "/dev/null", "APT::Architectures": "amd64,arm64",
               "APT::Architecture": "amd64", "APT::Sandbox::User": "root", "Debug::NoLocking": "1"}
    argv = ["apt-get", "-q"] + [a for k, v in options.items() for a in ("-o", f"{k}={v}")] + list(args)
    return subprocess.run(argv, cwd=root / "dl", capture_output=True, text=True, check=False)


def test_apt_get_verifies_and_downloads_every_package(world: tuple[Path, Profile],
                                                      published: dict[str, object]) -> None:
    home, _ = world
    deb = published["repos2"][0]  # type: ignore[index]
    bucket: Path = published["bucket"]  # type: ignore[assignment]
    key = next(bucket.rglob("deb/Release.key"))
    update = _apt(home, deb.url, key, "update")
    assert update.returncode == 0 and "InRelease" in update.stdout, update.stdout + update.stderr
    assert "W:" not in update.stderr.replace("W: Download is performed unsandboxed", ""), update.stderr
    for spec in ("demo-server=1.0.0-1.1", "demo-server=1.0.1-1.1", "demo-server:arm64=1.0.1-1.1"):
        done = _apt(home, deb.url, key, "download", spec)
        assert done.returncode == 0, done.stderr
    files = sorted((home / "apt" / "dl").glob("*.deb"))
    assert len(files) == 3
    listing = subprocess.run(["dpkg-deb", "-c", str(files[0])], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/demo-server" in listing and "./lib/systemd/system/demo-server.service" in listing
    assert "-rwxr-xr-x root/root" in listing and "2026-11-01 12:00" in listing


def test_apt_get_refuses_a_repository_signed_by_another_key(world: tuple[Path, Profile],
                                                           published: dict[str, object], tmp_path: Path) -> None:
    home, _ = world
    deb = published["repos2"][0]  # type: ignore[index]
    other = tmp_path / "other.asc"
    other.write_text("")  # no trusted key at all
    update = _apt(home, deb.url, other, "update")
    assert "NO_PUBKEY" in update.stderr or "not signed" in update.stderr, update.stderr


def test_rpmkeys_checks_every_signature(world: tuple[Path, Profile], published: dict[str, object],
                                        tmp_path: Path) -> None:
    bucket: Path = published["bucket"]  # type: ignore[assignment]
    rpms = sorted(bucket.rglob("*.rpm"))
    assert len(rpms) == 4
    key = next(bucket.rglob("rpm/repodata/repomd.xml.key"))
    dbpath = ["--dbpath", str(tmp_path / "rpmdb")]
    unsigned = subprocess.run(["rpmkeys", *dbpath, "--checksig", str(rpms[0])], capture_output=True, text=True)
    assert unsigned.returncode != 0  # no key imported yet: the check is real
    subprocess.run(["rpmkeys", *dbpath, "--import", str(key)], check=True)
    for rpm in rpms:
        checked = subprocess.run(["rpmkeys", *dbpath, "--checksig", str(rpm)], capture_output=True, text=True)
        assert checked.returncode == 0 and "signatures OK" in checked.stdout, checked.stdout + checked.stderr
        info = subprocess.run(["rpm", *dbpath, "-qip", str(rpm)], capture_output=True, text=True, check=True).stdout
        assert "Name        : demo-server" in info and "Signature   : RSA/SHA512" in info
    repomd = next(bucket.rglob("rpm/repodata/repomd.xml"))
    gnupg = tmp_path / "g"
    gnupg.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"}
    subprocess.run(["gpg", "--batch", "--quiet", "--import", str(key)], env=env, check=True, capture_output=True)
    verified = subprocess.run(["gpg", "--batch", "--verify", f"{repomd}.asc", str(repomd)], env=env,
                              capture_output=True, text=True)
    subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], check=False)
    assert verified.returncode == 0, verified.stderr


def test_a_published_package_with_other_bytes_is_refused(world: tuple[Path, Profile],
                                                         published: dict[str, object], tmp_path: Path) -> None:
    home, profile = world
    bucket: Path = published["bucket"]  # type: ignore[assignment]
    first = published["first"]  # type: ignore[assignment]
    deb = next(Path(b.path) for b in first if b.format == "deb")  # type: ignore[attr-defined]
    changed = tmp_path / deb.name
    changed.write_bytes(deb.read_bytes() + b"tampered")
    snapshot = {p: p.stat().st_mtime_ns for p in bucket.rglob("*") if p.is_file()}
    with pytest.raises(ReleaseError, match=f"{deb.name} is already published with different content"):
        run.publish_release(profile, profile.mock, TAGS[0], tmp_path,
                            run.key_source(profile.mock, home / "keys", {}))
    assert {p: p.stat().st_mtime_ns for p in bucket.rglob("*") if p.is_file()} == snapshot


@pytest.mark.parametrize(("gpg_home", "fragment"), [
    ("", "KREL_PACKAGES_GPG_HOME (a GnuPG home holding the secret key) or KREL_PACKAGES_GPG_KEY_FILE (an armoured "
         "secret key file): neither is set"),
    ("/nonexistent/gnupg", "is not a directory"),
])
def test_env_key_missing_writes_nothing(world: tuple[Path, Profile], gpg_home: str, fragment: str) -> None:
    import dataclasses

    home, profile = world
    targets = dataclasses.replace(profile.nomock, packages_key="env")
    with pytest.raises(ReleaseError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        run.publish_release(profile, targets, TAGS[0], home / "p1",
                            run.key_source(targets, home / "keys", {"KREL_PACKAGES_GPG_HOME": gpg_home}))
    assert not Path(targets.packages_bucket.removeprefix("file://")).exists()


def test_files_of_another_release_are_refused(world: tuple[Path, Profile], published: dict[str, object]) -> None:
    home, profile = world
    with pytest.raises(ReleaseError, match=r"is not a package of v1\.0\.1"):
        run.publish_release(profile, profile.mock, TAGS[1], home / "p1",
                            run.key_source(profile.mock, home / "keys", {}))
