"""Inventory reads: only the wanted repositories and tags, a 429 pauses the shared limiter and is retried, and
manifest-list children are recorded (real local registry, plus a small HTTP stub where a 429 is needed)."""

from __future__ import annotations

import time

from pytest_httpserver import HTTPServer
from releng.promo.delta import Copy
from releng.promo.inventory import Registries, Wanted, read_inventory, repos_to_read
from releng.promo.promote import order_copies
from releng.registry.localserver import LocalRegistry
from werkzeug import Request, Response

from tests.fixtures.promo import STAGING_PREFIX, PromoGolden

D = "sha256:" + "d" * 64
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def test_429_pauses_everyone_then_succeeds(httpserver: HTTPServer) -> None:
    tags_path = "/v2/stg/foo/tags/list"
    httpserver.expect_oneshot_request(tags_path).respond_with_data(
        '{"errors":[{"code":"TOOMANYREQUESTS"}]}', status=429, headers={"Retry-After": "0.3"}
    )
    httpserver.expect_request(tags_path).respond_with_json({"name": "stg/foo", "tags": ["v1", "other"]})

    def head(request: Request) -> Response:
        return Response(status=200, headers={"Docker-Content-Digest": D, "Content-Type": MANIFEST_TYPE,
                                             "Content-Length": "10"})  # fmt: skip

    httpserver.expect_request("/v2/stg/foo/manifests/v1", method="HEAD").respond_with_handler(head)
    start = time.monotonic()
    with Registries(rate=100, retries=2) as registries:
        inv = read_inventory(registries, {f"localhost:{httpserver.port}/stg/foo": Wanted({D}, {"v1"})})
        assert registries.limiter.pauses == 1
    assert time.monotonic() - start >= 0.25
    assert inv.repos == {f"localhost:{httpserver.port}/stg/foo": {D: ["v1"]}}
    # The tag nobody promotes ("other") was never resolved.
    assert not any("/manifests/other" in str(req.url) for req, _ in httpserver.log)


def test_index_children_recorded(promo_golden: PromoGolden, promo_registries: Registries) -> None:
    d = promo_golden.digests
    path = f"{promo_golden.staging.host}/{STAGING_PREFIX}/golden-foo/foo"
    inv = read_inventory(promo_registries, {path: Wanted({d["foo-index"], d["notag"]}, {"1.0"})})
    assert inv.repos[path] == {d["foo-index"]: ["1.0"], d["foo-amd64"]: [], d["foo-s390x"]: [], d["notag"]: []}
    assert inv.children[path] == {d["foo-amd64"]: d["foo-index"], d["foo-s390x"]: d["foo-index"]}


def test_missing_repository_is_empty(promo_prod: LocalRegistry, promo_registries: Registries) -> None:
    inv = read_inventory(promo_registries, {f"{promo_prod.host}/nothing/here": Wanted({D}, {"v1"})})
    assert inv.repos == {f"{promo_prod.host}/nothing/here": {}}


def test_repos_to_read_and_copy_order() -> None:
    from releng.promo.edges import EdgeGroup

    groups = [EdgeGroup("s", "foo", D, ("1",), ("p1", "p2"), "m:1")]
    assert {k: (v.digests, v.tags) for k, v in repos_to_read(groups).items()} == {
        "s/foo": ({D}, {"1"}),
        "p1/foo": ({D}, {"1"}),
        "p2/foo": ({D}, {"1"}),
    }
    idx, amd, other = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
    copies = [
        Copy("foo", amd, "s/foo", "p/foo", ("amd",), "copy"),
        Copy("foo", idx, "s/foo", "p/foo", ("1",), "copy"),
        Copy("foo", other, "s/foo", "p/foo", (), "copy"),
        Copy("foo", amd, "s/foo", "q/foo", ("amd",), "copy"),
    ]
    tasks = order_copies(copies, {"s/foo": {amd: idx}})
    assert [[c.digest[:8] + c.dst_repo for c in t] for t in tasks] == [
        [amd[:8] + "p/foo", idx[:8] + "p/foo"],
        [other[:8] + "p/foo"],
        [amd[:8] + "q/foo"],
    ]
