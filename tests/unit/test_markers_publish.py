"""Version marker names and the forward-only move rule (krel publish.go and publish_test.go IsUpToDate)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.errors import ReleaseError, UsageError
from releng.markers import MarkerContentError, marker_base, marker_names, needs_update
from releng.version import InvalidVersionError

Z = "00000000000000"


@pytest.mark.parametrize(
    ("version", "build_type", "names"),
    [
        ("v1.19.3", "release", ["stable.txt", "stable-1.txt", "stable-1.19.txt"]),
        ("v1.20.0-rc.1", "release", ["latest.txt", "latest-1.txt", "latest-1.20.txt"]),
        ("v1.20.0-beta.0", "release", ["latest.txt", "latest-1.txt", "latest-1.20.txt"]),
        ("v1.21.0-alpha.0", "release", ["latest.txt", "latest-1.txt", "latest-1.21.txt"]),
        ("v1.19.3", "ci", ["latest.txt", "latest-1.txt", "latest-1.19.txt"]),
        ("v1.20.0-alpha.2.1273+4e9bdd481e2400", "ci", ["latest.txt", "latest-1.txt", "latest-1.20.txt"]),
        ("v2.0.0", "release", ["stable.txt", "stable-2.txt", "stable-2.0.txt"]),
    ],
)
def test_marker_names(version: str, build_type: str, names: list[str]) -> None:
    assert marker_names(version, build_type) == names
    assert marker_base(version, build_type) == names[0].removesuffix(".txt")


def test_marker_names_fast_and_extra() -> None:
    assert marker_names("v1.20.0-alpha.2.1273+4e9bdd481e2400", "ci", fast=True) == ["latest-fast.txt"]
    assert marker_names("v1.20.0-alpha.2.1273+4e9bdd481e2400", "ci", extra=["k8s-master", "k8s-beta"]) == [
        "latest.txt",
        "latest-1.txt",
        "latest-1.20.txt",
        "k8s-master.txt",
        "k8s-beta.txt",
    ]


def test_marker_names_default_is_release() -> None:
    assert marker_names("v1.19.3") == ["stable.txt", "stable-1.txt", "stable-1.19.txt"]


def test_marker_refusals() -> None:
    with pytest.raises(UsageError, match="invalid build type 'nightly': expected one of release, ci"):
        marker_names("v1.19.3", "nightly")
    with pytest.raises(InvalidVersionError, match=r"invalid version 'v1\.19'"):
        marker_names("v1.19", "release")


@pytest.mark.parametrize(
    ("published", "new", "update"),
    [
        # krel publish_test.go TestIsUpToDate (IsUpToDate == not needs_update)
        (f"1.30.0-rc.2.10+{Z}", f"1.30.0-11+{Z}", True),  # final version after RC
        (f"1.30.0-10+{Z}", f"1.30.0-11+{Z}", True),  # more commits
        (f"1.29.0-0+{Z}", f"1.29.1-0+{Z}", True),  # newer release
        (f"1.30.0-rc.2.10+{Z}", f"1.30.0-1+{Z}", True),  # counter reset after RC
        (f"1.29.0-rc.0.20+{Z}", f"1.28.1-2+{Z}", False),  # patch after newer RC
        # §2.4: markers only move forward
        (None, "v1.18.20", True),
        ("v1.20.1", "v1.18.20", False),
        ("v1.20.1", "v1.20.1", False),
        ("v1.20.1", "v1.20.2", True),
        ("v1.20.0-rc.1", "v1.20.0", True),
        ("v1.20.0", "v1.20.0-rc.1", False),
        ("v1.20.0-beta.2", "v1.20.0-rc.0", True),
        ("v1.21.0-alpha.0", "v1.20.0-rc.0", False),
        ("v1.20.1\n", "v1.20.2", True),  # hand-written markers may end in a newline
        # build metadata does not order versions
        (f"v1.20.0-alpha.2.10+{Z}", "v1.20.0-alpha.2.10+ffffffffffffff", False),
        # the exception needs rc with three parts and a bare numeric pre-release
        (f"1.30.0-beta.2.10+{Z}", f"1.30.0-11+{Z}", False),
        (f"1.30.0-rc.2+{Z}", f"1.30.0-11+{Z}", False),
        (f"1.30.0-rc.2.10+{Z}", f"1.30.0-beta+{Z}", False),
        (f"1.30.0-rc.2.10+{Z}", f"1.30.0-rc.2.11+{Z}", True),
    ],
)
def test_needs_update(published: str | None, new: str, update: bool) -> None:
    assert needs_update(published, new) is update


def test_needs_update_refuses_bad_versions() -> None:
    with pytest.raises(InvalidVersionError, match="invalid version 'garbage'"):
        needs_update("v1.20.0", "garbage")
    with pytest.raises(MarkerContentError, match="published version marker holds '<html>'") as info:
        needs_update("<html>", "v1.20.0")
    assert not isinstance(info.value, UsageError) and isinstance(info.value, ReleaseError)
    with pytest.raises(MarkerContentError):
        needs_update("", "v1.20.0")


_cores = st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 5))


@given(_cores, st.sampled_from(["", "-alpha.1", "-beta.0", "-rc.2"]))
def test_a_marker_never_moves_to_the_version_it_holds(core: tuple[int, int, int], pre: str) -> None:
    version = "v{}.{}.{}".format(*core) + pre
    assert needs_update(None, version) is True
    assert needs_update(version, version) is False


@given(_cores, _cores)
def test_final_versions_move_only_forward(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    old, new = "v{}.{}.{}".format(*a), "v{}.{}.{}".format(*b)
    assert needs_update(old, new) is (b > a)
