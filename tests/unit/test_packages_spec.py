"""releng.packages.spec: versions and arch names as pkgs.k8s.io spells them, and every hostile [packages] value
refused with one line naming its key before anything is built."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from releng import layout
from releng.errors import ReleaseError, UsageError
from releng.packages import spec
from releng.profile import Package, PackageFile, Packages

GOOD_FILE = PackageFile(dst="/usr/bin/demo-server", src="bin/linux/{arch}/demo-server", mode="0755")
UNIT = PackageFile(dst="/lib/systemd/system/demo-server.service", content="[Unit]\n")
GOOD = Package(name="demo-server", summary="demo", files=(GOOD_FILE, UNIT), depends=("libc6 (>= 2.34)", "adduser"))


def _packages(**changes: object) -> Packages:
    return Packages(maintainer="Demo <demo@localhost>", package=(dataclasses.replace(GOOD, **changes),))


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    binary = tmp_path / "out" / "bin" / "linux" / "amd64" / "demo-server"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    (tmp_path / "secret").write_text("x")
    (tmp_path / "out" / "link").symlink_to(tmp_path / "secret")
    return tmp_path / "out"


@pytest.mark.parametrize(("tag", "upstream", "deb", "rpm"), [
    ("v1.29.0", "1.29.0", "demo-server_1.29.0-1.1_amd64.deb", "demo-server-1.29.0-1.1.x86_64.rpm"),
    ("v1.29.0-rc.1", "1.29.0~rc.1", "demo-server_1.29.0~rc.1-1.1_amd64.deb", "demo-server-1.29.0~rc.1-1.1.x86_64.rpm"),
    ("v1.30.0-alpha.0", "1.30.0~alpha.0", "demo-server_1.30.0~alpha.0-1.1_amd64.deb",
     "demo-server-1.30.0~alpha.0-1.1.x86_64.rpm"),
])
def test_versions_and_file_names(build_dir: Path, tag: str, upstream: str, deb: str, rpm: str) -> None:
    (item,) = spec.resolve(_packages(), tag, "amd64", build_dir, 1700000000)
    assert (item.version, item.deb_file, item.rpm_file) == (upstream, deb, rpm)
    assert item.rpm_depends() == ("libc6 >= 2.34", "adduser")
    assert [e.dst for e in item.entries] == sorted(e.dst for e in item.entries)


@pytest.mark.parametrize(("tag", "prefix"), [
    ("v1.29.3", "core:/stable:/v1.29"), ("v1.30.0-rc.0", "core:/prerelease:/v1.30")])
def test_repository_per_minor(tag: str, prefix: str) -> None:
    assert layout.packages_repo_prefix("core", tag) == prefix


def test_arches_map_to_deb_and_rpm_names() -> None:
    assert (spec.DEB_ARCH["arm64"], spec.RPM_ARCH["arm64"], spec.RPM_ARCH["amd64"]) == ("arm64", "aarch64", "x86_64")
    assert spec.package_arches(_packages(), ("amd64", "arm64"), ()) == ("amd64", "arm64")
    with pytest.raises(UsageError, match="--arch 'riscv64'"):
        spec.package_arches(_packages(), ("amd64", "arm64"), ("riscv64",))


# (id, changes to the package, fragment of the one-line error)
HOSTILE = [
    ("name-upper", {"name": "Demo"}, "packages.package[0].name: 'Demo' is not a package name"),
    ("name-underscore", {"name": "demo_server"}, "is not a package name"),
    ("name-one-char", {"name": "d"}, "is not a package name"),
    ("name-leading-dash", {"name": "-demo"}, "is not a package name"),
    ("name-space", {"name": "demo server"}, "is not a package name"),
    ("depends-shell", {"depends": ("foo; rm -rf /",)}, "depends: 'foo; rm -rf /' is not a dependency"),
    ("depends-bad-op", {"depends": ("foo (=> 1)",)}, "is not a dependency"),
    ("depends-newline-version", {"depends": ("foo (>= 1\n2)",)}, "is not a dependency"),
    ("dst-relative", {"files": (dataclasses.replace(GOOD_FILE, dst="usr/bin/x"),)}, "files[0].dst"),
    ("dst-dotdot", {"files": (dataclasses.replace(GOOD_FILE, dst="/usr/../etc/shadow"),)}, "is not an install path"),
    ("dst-dot", {"files": (dataclasses.replace(GOOD_FILE, dst="/usr/./bin"),)}, "is not an install path"),
    ("dst-rpm-macro", {"files": (dataclasses.replace(GOOD_FILE, dst="/usr/bin/%{_bindir}"),)},
     "is not an install path"),
    ("dst-space", {"files": (dataclasses.replace(GOOD_FILE, dst="/usr/bin/a b"),)}, "is not an install path"),
    ("dst-glob", {"files": (dataclasses.replace(GOOD_FILE, dst="/usr/bin/*"),)}, "is not an install path"),
    ("dst-root", {"files": (dataclasses.replace(GOOD_FILE, dst="/"),)}, "is not an install path"),
    ("dst-twice", {"files": (GOOD_FILE, GOOD_FILE)}, "/usr/bin/demo-server is installed twice"),
    ("mode-not-octal", {"files": (dataclasses.replace(GOOD_FILE, mode="0855"),)}, "'0855' is not an octal mode"),
    ("mode-too-big", {"files": (dataclasses.replace(GOOD_FILE, mode="17777"),)}, "is not an octal mode"),
    ("mode-symbolic", {"files": (dataclasses.replace(GOOD_FILE, mode="rwxr-xr-x"),)}, "is not an octal mode"),
    ("src-escapes", {"files": (dataclasses.replace(GOOD_FILE, src="../secret"),)}, "files[0].src '../secret' leaves"),
    ("src-absolute", {"files": (dataclasses.replace(GOOD_FILE, src="/etc/passwd"),)}, "leaves"),
    ("src-symlink-out", {"files": (dataclasses.replace(GOOD_FILE, src="link"),)}, "leaves"),
    ("src-missing", {"files": (dataclasses.replace(GOOD_FILE, src="bin/linux/{arch}/nope"),)},
     "is not a regular file"),
    ("src-directory", {"files": (dataclasses.replace(GOOD_FILE, src="bin"),)}, "is not a regular file"),
    ("src-and-content", {"files": (dataclasses.replace(GOOD_FILE, content="x"),)}, "exactly one of src"),
    ("neither-src-nor-content", {"files": (dataclasses.replace(GOOD_FILE, src=""),)}, "exactly one of src"),
    ("no-files", {"files": ()}, "a package needs at least one file"),
    ("script-rpm-section", {"postinst": "echo hi\n%files\n/etc/shadow\n"}, "postinst: line 2 starts with '%'"),
]


@pytest.mark.parametrize(("changes", "fragment"), [pytest.param(c, f, id=i) for i, c, f in HOSTILE])
def test_hostile_package_values_are_refused(build_dir: Path, changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ReleaseError) as caught:
        spec.resolve(_packages(**changes), "v1.0.0", "amd64", build_dir, 1)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("maintainer", ["Demo", "demo@localhost", "Demo <demo>", "A <a@b> <c@d>"])
def test_bad_maintainer_is_refused(build_dir: Path, maintainer: str) -> None:
    packages = dataclasses.replace(_packages(), maintainer=maintainer)
    with pytest.raises(ReleaseError, match=r"packages\.maintainer"):
        spec.resolve(packages, "v1.0.0", "amd64", build_dir, 1)


def test_a_package_described_twice_is_refused(build_dir: Path) -> None:
    packages = dataclasses.replace(_packages(), package=(GOOD, GOOD))
    with pytest.raises(ReleaseError, match="described twice"):
        spec.resolve(packages, "v1.0.0", "amd64", build_dir, 1)


@pytest.mark.parametrize("tag", ["1.0.0", "v1.0", "v1.0.0+build", "v1.0.0-rc.1; rm"])
def test_bad_tags_are_usage_errors(build_dir: Path, tag: str) -> None:
    with pytest.raises(UsageError):
        spec.resolve(_packages(), tag, "amd64", build_dir, 1)


LOCAL = (Path(__file__).resolve().parents[2] / "lib" / "releng" / "profiles" / "local.toml").read_text()
# (id, (old, new) in the local profile, fragment of the one-line error)
PROFILE_HOSTILE = [
    ("mock-packages-bucket-is-production", ('packages_bucket = "file://{krel_home}/buckets/packages-mock"',
                                           'packages_bucket = "file://{krel_home}/buckets/packages"'),
     "mock.packages_bucket"),
    ("mock-packages-inside-release-bucket", ('packages_bucket = "file://{krel_home}/buckets/packages-mock"',
                                            'packages_bucket = "file://{krel_home}/buckets/release/pkgs"'),
     "nomock.bucket"),
    ("control-char-in-unit", ("WantedBy=multi-user.target", "WantedBy=multi\\u001b-user.target"),
     "control character U+001B"),
    ("package-not-array", ("[[packages.package]]", "[packages.package]"),
     "packages.package must be an array of tables"),
    ("unknown-key-in-file", ('mode = "0755"', 'mode = "0755"\nowner = "root"'),
     "unknown key packages.package[0].files[0].owner"),
    ("bad-key-mode", ('packages_bucket = "file://{krel_home}/buckets/packages"',
                      'packages_bucket = "file://{krel_home}/buckets/packages"\npackages_key = "flag"'),
     "nomock.packages_key must be one of"),
]


@pytest.mark.parametrize(("edit", "fragment"), [pytest.param(e, f, id=i) for i, e, f in PROFILE_HOSTILE])
def test_hostile_profile_packages_refused_on_load(tmp_path: Path, edit: tuple[str, str], fragment: str) -> None:
    from releng.profile import load_profile

    assert edit[0] in LOCAL
    path = tmp_path / "p.toml"
    path.write_text(LOCAL.replace(edit[0], edit[1], 1))
    with pytest.raises(UsageError) as caught:
        load_profile(path, {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})
    assert fragment in str(caught.value) and str(path) in str(caught.value)


def test_a_profile_without_packages_has_none(tmp_path: Path) -> None:
    from releng.profile import load_profile

    path = tmp_path / "p.toml"
    path.write_text(LOCAL[:LOCAL.index("# deb and rpm packages")] + LOCAL[LOCAL.index("[mock]"):])
    assert load_profile(path, {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"}).packages is None
