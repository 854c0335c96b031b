"""RegistryAddress (a registry address split once) and the one registry-client pool."""

from __future__ import annotations

import pytest
from releng.address import RegistryAddress
from releng.errors import ReleaseError, UsageError
from releng.registry.auth import anonymous
from releng.registry.pool import Registries


@pytest.mark.parametrize(("text", "host", "prefix", "shown"), [
    ("127.0.0.1:5000/mock", "127.0.0.1:5000", "mock", "127.0.0.1:5000/mock"),
    ("127.0.0.1:5000/mock/", "127.0.0.1:5000", "mock", "127.0.0.1:5000/mock"),  # registry_place drops it too
    ("registry.k8s.io", "registry.k8s.io", "", "registry.k8s.io"),
    ("registry.k8s.io/", "registry.k8s.io", "", "registry.k8s.io"),
    ("us-docker.pkg.dev/p/r/images", "us-docker.pkg.dev", "p/r/images", "us-docker.pkg.dev/p/r/images"),
    ("[::1]:5000/x", "[::1]:5000", "x", "[::1]:5000/x"),
])
def test_parse_splits_once(text: str, host: str, prefix: str, shown: str) -> None:
    address = RegistryAddress.parse(text)
    assert (address.host, address.prefix, str(address)) == (host, prefix, shown)


@pytest.mark.parametrize("text", ["", "/", "/mock", "//x"])
def test_parse_refuses_an_address_without_host(text: str) -> None:
    with pytest.raises(UsageError, match=r"is not a registry address like HOST\[:PORT\]\[/PATH\]: the host is empty"):
        RegistryAddress.parse(text)


@pytest.mark.parametrize(("prefix", "name", "repo"), [
    ("", "krel", "krel"),
    ("mock", "krel", "mock/krel"),
    ("a/b", "krel-amd64", "a/b/krel-amd64"),
])
def test_repo_below_the_prefix(prefix: str, name: str, repo: str) -> None:
    assert RegistryAddress("h:1", prefix).repo(name) == repo


@pytest.mark.parametrize(("text", "host", "repo"), [
    ("gcr.io/k8s-staging-foo", "gcr.io", "k8s-staging-foo"),
    ("127.0.0.1:5000/prod/app", "127.0.0.1:5000", "prod/app"),
    ("127.0.0.1:5000/prod/", "127.0.0.1:5000", "prod"),
])
def test_repository_needs_a_repo_part(text: str, host: str, repo: str) -> None:
    address = RegistryAddress.repository(text)
    assert (address.host, address.prefix) == (host, repo)


@pytest.mark.parametrize("text", ["gcr.io", "gcr.io/", "", "/repo", "/"])
def test_repository_refuses_a_path_without_host_or_repo(text: str) -> None:
    with pytest.raises(ReleaseError, match=r"is not a registry path like HOST/REPO \(e\.g\. gcr\.io/k8s-staging-foo\)"):
        RegistryAddress.repository(text)


def test_pool_opens_one_client_per_host_and_closes_them() -> None:
    seen: list[str] = []

    def auth_for(host: str) -> object:
        seen.append(host)
        return anonymous()

    pool = Registries(auth_for)  # type: ignore[arg-type]
    with pool:
        client, repo = pool.for_path("127.0.0.1:5000/prod/app")
        assert repo == "prod/app" and client.host == "127.0.0.1:5000"
        assert pool.client("127.0.0.1:5000") is client
        assert pool.client("gcr.io") is not client
        assert client.rate_limiter is pool.limiter.for_host("127.0.0.1:5000")
    assert seen == ["127.0.0.1:5000", "gcr.io"]
    assert pool.client("127.0.0.1:5000") is not client  # closed and forgotten: a new one on next use
    pool.close()


def test_pool_without_a_rate_does_not_pace() -> None:
    with Registries(rate=None) as pool:
        assert pool.client("127.0.0.1:5000").rate_limiter is None
        assert pool.limiter.pauses == 0


@pytest.mark.parametrize(("text", "host"), [
    ("gcr.io/v1/", "gcr.io"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("", ""),
    ("/path", ""),
])
def test_host_of_never_refuses(text: str, host: str) -> None:
    assert RegistryAddress.host_of(text) == host
