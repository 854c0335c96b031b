import pytest

from krel.options import github_api_url, github_token


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ("http://127.0.0.1:9/api", "http://env.example/api", "http://127.0.0.1:9/api"),
        (None, "http://env.example/api", "http://env.example/api"),
        (None, "", "https://api.github.com"),  # set but empty is not a URL
        (None, None, "https://api.github.com"),
        ("", "http://env.example/api", "http://env.example/api"),
    ],
)
def test_github_api_url_precedence(
    monkeypatch: pytest.MonkeyPatch, flag: str | None, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv("KREL_GITHUB_API_URL", raising=False)
    else:
        monkeypatch.setenv("KREL_GITHUB_API_URL", env)
    assert github_api_url(flag) == expected


@pytest.mark.parametrize(("env", "expected"), [("ghp_value123", "ghp_value123"), (None, "")])
def test_github_token_from_environment(monkeypatch: pytest.MonkeyPatch, env: str | None, expected: str) -> None:
    if env is None:
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GITHUB_TOKEN", env)
    assert github_token() == expected
