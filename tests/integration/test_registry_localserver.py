"""The registry fixture starts real, independent docker-registry processes."""

from __future__ import annotations

import httpx

from tests.fixtures.registry import RegistryFactory


def test_registry_factory_starts_independent_registries(registry_factory: RegistryFactory) -> None:
    a = registry_factory("a")
    b = registry_factory("b")
    assert a.host != b.host
    for reg in (a, b):
        assert reg.host.startswith("127.0.0.1:")
        assert httpx.get(f"{reg.url}/v2/").status_code == 200
        assert (reg.data_dir / "config.yml").is_file()
    b.stop()
    assert not b.running()
    assert a.running()
