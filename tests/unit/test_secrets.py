import pytest
from releng import secrets


def test_every_secret_name_is_listed() -> None:
    assert set(secrets.SECRET_ENV) == {
        "GITHUB_TOKEN", "SENDGRID_API_KEY", "KREL_SMTP_PASSWORD", "DOCKERHUB_TOKEN", "KREL_REGISTRY_PASSWORD",
        "KREL_SIGNING_KEY_PASSWORD", "KREL_PACKAGES_GPG_PASSPHRASE", "KREL_SIGNING_KEY_DATA",
        "KREL_PACKAGES_GPG_KEY_DATA",
    }


@pytest.mark.parametrize(
    ("environ", "names", "expected"),
    [
        ({"GITHUB_TOKEN": "ghp_abcdef"}, secrets.SECRET_ENV, ["ghp_abcdef"]),
        ({"GITHUB_TOKEN": "abc"}, secrets.SECRET_ENV, []),  # too short to mask
        ({"GITHUB_TOKEN": ""}, secrets.SECRET_ENV, []),
        ({"HOME": "/home/someone"}, secrets.SECRET_ENV, []),
        ({"GITHUB_TOKEN": "abcd", "SENDGRID_API_KEY": "abcdefgh"}, secrets.SECRET_ENV, ["abcdefgh", "abcd"]),
        ({"GITHUB_TOKEN": "same1", "DOCKERHUB_TOKEN": "same1"}, secrets.SECRET_ENV, ["same1"]),
        ({"MY_KEY": "s3cr3t-value"}, {"MY_KEY"}, ["s3cr3t-value"]),
    ],
)
def test_secret_values(environ: dict[str, str], names: set[str], expected: list[str]) -> None:
    assert secrets.secret_values(environ, names) == expected


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("token ghp_abcdef here", ["ghp_abcdef"], "token *** here"),
        ("ghp_abcdef ghp_abcdef", ["ghp_abcdef"], "*** ***"),
        ("nothing to hide", ["ghp_abcdef"], "nothing to hide"),
        ("key abcdefgh", ["abcdefgh", "abcd"], "key ***"),  # longest first: no half-masked tail
        ("plain", [], "plain"),
    ],
)
def test_mask(text: str, values: list[str], expected: str) -> None:
    assert secrets.mask(text, values) == expected
