"""krel's release version table (pkg/release/release_version_test.go) and every refusal, as tables of cases."""

import pytest
import semver
from releng.errors import UsageError
from releng.version import (
    BuildVersion,
    InvalidVersionError,
    Versions,
    check_release,
    generate_versions,
    is_release_branch,
    parse_build_version,
    release_branch_for,
    release_type_of,
    release_versions,
    validate_branch,
    validate_release_type,
)

SHA = "3ff09514d162b0"


@pytest.mark.parametrize(
    ("release_type", "build_version", "branch", "branch_is_new", "expected"),
    [
        # krel's own table
        ("official", f"v1.18.4-rc.0.3+{SHA}", "release-1.18", False, ["v1.18.4"]),
        ("rc", f"v1.18.4-beta.0.2+{SHA}", "release-1.18", False, ["v1.18.4-rc.1"]),
        ("rc", f"v1.18.0-beta.3.2+{SHA}", "release-1.18", True, ["v1.18.0-rc.0", "v1.19.0-alpha.0"]),
        ("beta", f"v1.18.4-beta.1.2+{SHA}", "master", False, ["v1.18.4-beta.2"]),
        ("beta", f"v1.18.0-alpha.1.2+{SHA}", "master", False, ["v1.18.0-beta.0"]),
        ("alpha", f"v1.18.4-alpha.1.2+{SHA}", "master", False, ["v1.18.4-alpha.2"]),
        ("alpha", "v1.20.0-alpha.2.1273+4e9bdd481e2400", "master", False, ["v1.20.0-alpha.3"]),
        # consequences spelled out in the reference (§2)
        ("rc", f"v1.18.0-rc.0.7+{SHA}", "release-1.18", False, ["v1.18.0-rc.1"]),
        ("official", f"v1.18.0-rc.1.5+{SHA}", "release-1.18", False, ["v1.18.0"]),
        ("official", f"v1.18.4-3+{SHA}", "release-1.18", False, ["v1.18.5"]),
        ("rc", f"v1.18.4-3+{SHA}", "release-1.18", False, ["v1.18.5-rc.1"]),
        ("official", "v1.18.4", "release-1.18", False, ["v1.18.5"]),
        # main works like master; a new branch takes its numbers from the branch name
        ("alpha", f"v1.31.0-alpha.0.12+{SHA}", "main", False, ["v1.31.0-alpha.1"]),
        ("beta", f"v1.31.0-alpha.3.40+{SHA}", "main", False, ["v1.31.0-beta.0"]),
        ("rc", f"v1.30.0-beta.0.2+{SHA}", "release-1.30", True, ["v1.30.0-rc.0", "v1.31.0-alpha.0"]),
        ("rc", f"v1.9.0-beta.2.1+{SHA}", "release-1.9", True, ["v1.9.0-rc.0", "v1.10.0-alpha.0"]),
        # a build made exactly on a tag, and a dirty one
        ("alpha", "v1.20.0-alpha.2", "master", False, ["v1.20.0-alpha.3"]),
        ("rc", f"v1.18.0-rc.1.5+{SHA}-dirty", "release-1.18", False, ["v1.18.0-rc.2"]),
    ],
)
def test_release_versions_table(
    release_type: str, build_version: str, branch: str, branch_is_new: bool, expected: list[str]
) -> None:
    assert release_versions(release_type, build_version, branch, branch_is_new) == expected
    versions = generate_versions(release_type, parse_build_version(build_version), branch, branch_is_new)
    assert versions.prime == expected[0]
    assert versions.ordered() == expected


def test_versions_fields_follow_krel() -> None:
    assert generate_versions("rc", f"v1.18.0-beta.3.2+{SHA}", "release-1.18", True) == Versions(
        prime="v1.18.0-rc.0", rc="v1.18.0-rc.0", alpha="v1.19.0-alpha.0"
    )
    assert generate_versions("official", f"v1.18.4-rc.0.3+{SHA}", "release-1.18", False) == Versions(
        prime="v1.18.4", official="v1.18.4"
    )
    assert generate_versions("beta", f"v1.18.4-beta.1.2+{SHA}", "master", False) == Versions(
        prime="v1.18.4-beta.2", beta="v1.18.4-beta.2"
    )
    assert Versions(prime="b", official="a", rc="b", beta="c", alpha="d").ordered() == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("release_type", "build_version", "branch", "branch_is_new", "message"),
    [
        # krel's table: alpha after beta, and an invalid branch
        (
            "alpha",
            f"v1.18.4-beta.1.2+{SHA}",
            "master",
            False,
            f"cannot cut an alpha tag after a non-alpha release v1.18.4-beta.1.2+{SHA}. "
            "please specify an allowed release type ('beta')",
        ),
        ("official", "", "wrong", True, "invalid branch 'wrong': expected master, main or release-X.Y"),
        ("official", f"v1.18.4-3+{SHA}", "release-1", False, "invalid branch 'release-1'"),
        ("official", f"v1.18.4-3+{SHA}", "release-1.18.3", False, "invalid branch 'release-1.18.3'"),
        ("official", f"v1.18.4-3+{SHA}", "release-01.18", False, "invalid branch 'release-01.18'"),
        ("official", f"v1.18.4-3+{SHA}", "feature/x", False, "invalid branch 'feature/x'"),
        # BranchChecker.NeedsCreation
        ("official", f"v1.19.0-rc.0.2+{SHA}", "release-1.19", True, "can't do official releases when creating"),
        (
            "rc",
            f"v1.18.4-rc.0.3+{SHA}",
            "release-1.19",
            False,
            "branch and build version does not match, got: release-1.19, required: release-1.18",
        ),
        (
            "rc",
            f"v1.20.0-beta.1.3+{SHA}",
            "release-1.19",
            True,
            "branch and build version does not match, got: release-1.19, required: release-1.20",
        ),
        # gcb Options.Validate
        ("rc", f"v1.18.0-beta.1.2+{SHA}", "master", False, "cannot cut a release candidate or an official release"),
        ("official", f"v1.18.0-beta.1.2+{SHA}", "main", False, "from main"),
        ("alpha", f"v1.18.4-rc.0.3+{SHA}", "release-1.18", False, "cannot cut an alpha or beta release from a release"),
        ("beta", f"v1.18.4-rc.0.3+{SHA}", "release-1.18", False, "(release-1.18)"),
        # master is never new; unknown types; beta from something that is neither alpha nor beta
        ("alpha", f"v1.18.0-alpha.1.2+{SHA}", "master", True, "branch master cannot be new"),
        ("patch", f"v1.18.4-3+{SHA}", "release-1.18", False, "invalid release type 'patch': expected one of alpha"),
        ("", f"v1.18.4-3+{SHA}", "release-1.18", False, "invalid release type ''"),
        ("beta", f"v1.18.0-rc.1.2+{SHA}", "master", False, "cannot cut a beta tag after a non-alpha/beta build"),
        ("beta", f"v1.18.0-4+{SHA}", "master", False, "cannot cut a beta tag after a non-alpha/beta build"),
        ("alpha", f"v1.18.0-4+{SHA}", "master", False, "cannot cut an alpha tag after a non-alpha release"),
        ("alpha", "v1.18.0", "master", False, "cannot cut an alpha tag after a non-alpha release v1.18.0."),
        # the build version itself
        ("alpha", "1.18.0-alpha.1.2+3ff09514d162b0", "master", False, "invalid build version '1.18.0-alpha.1.2+"),
        ("rc", "v1.22.0-alpha.0.787+e6", "release-1.22", False, "expected vX.Y.Z[-label.N.M]+<sha>"),
    ],
)
def test_release_versions_errors(
    release_type: str, build_version: str, branch: str, branch_is_new: bool, message: str
) -> None:
    with pytest.raises(UsageError) as info:
        release_versions(release_type, build_version, branch, branch_is_new)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_check_release_accepts_what_generate_accepts() -> None:
    check_release("rc", parse_build_version(f"v1.18.0-beta.3.2+{SHA}"), "release-1.18", True)
    check_release("alpha", parse_build_version(f"v1.18.0-alpha.1.2+{SHA}"), "master", False)
    with pytest.raises(UsageError, match="does not match"):
        check_release("official", parse_build_version("v1.17.6"), "release-1.18", False)


@pytest.mark.parametrize("release_type", ["alpha", "beta", "rc", "official"])
def test_validate_release_type_accepts_known(release_type: str) -> None:
    assert validate_release_type(release_type) == release_type


@pytest.mark.parametrize("release_type", ["Alpha", "RC", "final", "stable", " rc"])
def test_validate_release_type_refuses_unknown(release_type: str) -> None:
    with pytest.raises(UsageError, match="invalid release type"):
        validate_release_type(release_type)


@pytest.mark.parametrize(
    ("branch", "valid", "release"),
    [
        ("master", True, False),
        ("main", True, False),
        ("release-1.18", True, True),
        ("release-0.0", True, True),
        ("release-10.123", True, True),
        ("release-1", False, False),
        ("release-1.18.1", False, False),
        ("release-1.x", False, False),
        ("release-1.08", False, False),
        ("release-1.18\n", False, False),
        ("release-١.١٨", False, False),
        ("origin/master", False, False),
        ("masters", False, False),
        ("", False, False),
    ],
)
def test_branches(branch: str, valid: bool, release: bool) -> None:
    assert is_release_branch(branch) is release
    if valid:
        assert validate_branch(branch) == branch
    else:
        with pytest.raises(UsageError, match=r"expected master, main or release-X\.Y"):
            validate_branch(branch)


@pytest.mark.parametrize(
    ("version", "branch"),
    [
        ("v1.18.4-rc.0.3+3ff09514d162b0", "release-1.18"),
        ("v1.20.0-alpha.2.1273+4e9bdd481e2400", "release-1.20"),
        ("v1.9.0", "release-1.9"),
        ("v2.0.0-rc.1", "release-2.0"),
        (BuildVersion(1, 30, 2), "release-1.30"),
        (semver.Version(1, 31, 0, "rc.1"), "release-1.31"),
    ],
)
def test_release_branch_for(version: str | BuildVersion | semver.Version, branch: str) -> None:
    assert release_branch_for(version) == branch


def test_release_branch_for_refuses_garbage() -> None:
    with pytest.raises(InvalidVersionError, match="invalid build version 'latest'"):
        release_branch_for("latest")


@pytest.mark.parametrize(
    ("tag", "release_type"),
    [
        ("v1.18.0", "official"),
        ("v1.18.0-rc.0", "rc"),
        ("v1.18.0-rc.12", "rc"),
        ("v1.19.0-beta.2", "beta"),
        ("v1.20.0-alpha.0", "alpha"),
    ],
)
def test_release_type_of(tag: str, release_type: str) -> None:
    assert release_type_of(tag) == release_type


@pytest.mark.parametrize("tag", ["v1.18.0-gamma.1", "v1.18.0-rc", "1.18.0", "v1.18.0-3+3ff09514d162b0", "v1.18"])
def test_release_type_of_refuses_non_release_tags(tag: str) -> None:
    with pytest.raises(InvalidVersionError, match="invalid release tag"):
        release_type_of(tag)
