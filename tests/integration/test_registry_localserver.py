"""The registry fixture starts real, independent docker-registry processes (optionally posting notifications)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from releng.errors import ReleaseError
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.localserver import free_port, start_local_registry
from werkzeug import Request, Response

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


def test_notifications_reach_the_listener(registry_factory: RegistryFactory, registry_images: dict[str, Path]) -> None:
    events: list[dict[str, object]] = []

    def listener(request: Request) -> Response:
        events.extend(json.loads(request.get_data())["events"])
        return Response("", status=200)

    with HTTPServer(host="127.0.0.1", port=0, threaded=True) as server:
        server.expect_request("/events", method="POST").respond_with_handler(listener)
        registry = registry_factory("notify", notifications_url=server.url_for("/events"))
        with RegistryClient(registry.host) as client:
            digest = imagetar.push_image_tarball(client, registry_images["amd64"], "staging/notify", "v1")
        deadline = time.monotonic() + 10
        while not any(e.get("action") == "push" for e in events) and time.monotonic() < deadline:
            time.sleep(0.05)
    pushes = [e["target"] for e in events if e.get("action") == "push"]
    assert {"repository": "staging/notify", "digest": digest, "tag": "v1"}.items() <= pushes[0].items()  # type: ignore[union-attr]


def test_start_failure_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    first = start_local_registry(tmp_path / "one", port=port)
    try:
        with pytest.raises(ReleaseError, match=rf"127.0.0.1:{port} is already in use"):
            start_local_registry(tmp_path / "two", port=port)
    finally:
        first.stop()
