"""`git describe` output to build version, as k/k hack/lib/version.sh does it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.version import InvalidVersionError, build_version_from_describe, parse_build_version

SHA = "4e9bdd481e2400"


@pytest.mark.parametrize(
    ("describe", "expected"),
    [
        # three dashes: distance to a pre-release tag joins its pre-release with a dot
        (f"v1.18.0-rc.1-5-g{SHA}", f"v1.18.0-rc.1.5+{SHA}"),
        (f"v1.20.0-alpha.2-1273-g{SHA}", f"v1.20.0-alpha.2.1273+{SHA}"),
        (f"v1.19.0-beta.0-1-g{SHA}", f"v1.19.0-beta.0.1+{SHA}"),
        # two dashes: distance to a final tag becomes the pre-release
        (f"v1.18.4-3-g{SHA}", f"v1.18.4-3+{SHA}"),
        (f"v1.30.0-11-g{SHA}", f"v1.30.0-11+{SHA}"),
        # exactly on a tag
        ("v1.18.4", "v1.18.4"),
        ("v1.18.0-rc.1", "v1.18.0-rc.1"),
        # dirty trees keep their mark; surrounding whitespace from the command output goes
        (f"v1.18.4-3-g{SHA}-dirty", f"v1.18.4-3+{SHA}-dirty"),
        (f"v1.18.0-rc.1-5-g{SHA}-dirty", f"v1.18.0-rc.1.5+{SHA}-dirty"),
        ("v1.18.4-dirty", "v1.18.4-dirty"),
        (f"v1.18.0-rc.1-5-g{SHA}\n", f"v1.18.0-rc.1.5+{SHA}"),
        # --long gives a zero distance on the tag itself
        (f"v1.18.4-0-g{SHA}", f"v1.18.4-0+{SHA}"),
        (f"v1.18.4-3-g{'a' * 40}", f"v1.18.4-3+{'a' * 40}"),
    ],
)
def test_build_version_from_describe(describe: str, expected: str) -> None:
    assert build_version_from_describe(describe) == expected
    assert str(parse_build_version(expected)) == expected


@pytest.mark.parametrize(
    "describe",
    [
        "",
        "4e9bdd4",  # no tag reachable: git prints the bare sha
        "1.18.4-3-g4e9bdd481e2400",
        f"v1.18.4-3-{SHA}",  # no g before the sha
        "v1.18.4-3-g4e9b",  # sha shorter than krel accepts
        f"v1.18.4-3-g{SHA.upper()}",
        f"v1.18.4-g{SHA}",
        "v1.18",
        "release-1.18",
        f"v1.18.4-3-g{SHA} extra",
    ],
)
def test_build_version_from_describe_refuses(describe: str) -> None:
    with pytest.raises(InvalidVersionError, match="invalid git describe output"):
        build_version_from_describe(describe)


_tags = st.tuples(
    st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.sampled_from(["", "-alpha.0", "-beta.3", "-rc.12"])
)


@given(_tags, st.integers(1, 5000), st.text(alphabet="0123456789abcdef", min_size=14, max_size=14), st.booleans())
def test_describe_always_gives_a_parseable_build_version(
    tag: tuple[int, int, int, str], distance: int, sha: str, dirty: bool
) -> None:
    major, minor, patch, pre = tag
    describe = f"v{major}.{minor}.{patch}{pre}-{distance}-g{sha}" + ("-dirty" if dirty else "")
    parsed = parse_build_version(build_version_from_describe(describe))
    assert (parsed.major, parsed.minor, parsed.patch, parsed.sha, parsed.dirty) == (major, minor, patch, sha, dirty)
    assert parsed.pre[-1] == str(distance)
