"""The inventory at Kubernetes scale: a no-op rerun costs one tags/list per repository (the inventory cache on a
plain registry, Google's listing extension on the GCR-style front), moved production tags stop the run, a damaged
cache is re-read, one unreadable repository only fails its own edges, and snapshots read tags/list, not the catalog.

Requests are counted at the front (tests/fixtures/gcrfront.py), in front of real local docker-registry processes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from releng.promo.inventory import InventoryError, Registries
from releng.promo.promote import PromoteOptions, PromotionResult, promote_images
from releng.promo.snapshot import EmptySnapshotError, render, snapshot
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.invcache import InventoryCache, MovedTagError
from releng.registry.localserver import LocalRegistry
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.gcrfront import GcrFront, GcrFrontFactory
from tests.fixtures.promo import STAGING_PREFIX, PromoGolden

# Repositories one run reads: 2 sources (golden-foo/foo, golden-bar/bar) and 2 destinations x 2 images.
REPOS = 6


class Setup:
    """Staging and production behind counting fronts, a manifest promoting foo (an index + an untagged image) and
    bar to prod/a and prod/b, and a cache directory."""

    def __init__(self, golden: PromoGolden, stg: GcrFront, prod: GcrFront, prod_registry: LocalRegistry,
                 tmp: Path) -> None:  # fmt: skip
        self.golden, self.stg, self.prod, self.prod_registry = golden, stg, prod, prod_registry
        self.cache_dir = tmp / "cache"
        d = golden.digests
        self.manifest = tmp / "promoter-manifest.yaml"
        self.manifest.write_text(
            f"registries:\n- name: {stg.host}/{STAGING_PREFIX}/golden-foo\n  src: true\n"
            f"- name: {prod.host}/a\n- name: {prod.host}/b\n"
            f'images:\n- name: foo\n  dmap:\n    "{d["foo-index"]}": ["1.0"]\n    "{d["notag"]}": []\n'
        )
        self.bar_manifest = tmp / "bar-manifest.yaml"
        self.bar_manifest.write_text(
            f"registries:\n- name: {stg.host}/{STAGING_PREFIX}/golden-bar\n  src: true\n"
            f"- name: {prod.host}/a\n- name: {prod.host}/b\n"
            f'images:\n- name: bar\n  dmap:\n    "{d["bar"]}": ["1.0"]\n'
        )
        self.tree = tmp / "tree"
        for project, manifest in (("foo", self.manifest), ("bar", self.bar_manifest)):
            text = manifest.read_text()
            registries, images = text.split("images:\n")
            (self.tree / "manifests" / project).mkdir(parents=True)
            (self.tree / "images" / project).mkdir(parents=True)
            (self.tree / "manifests" / project / "promoter-manifest.yaml").write_text(registries)
            (self.tree / "images" / project / "images.yaml").write_text(images)

    def extension(self, on: bool) -> None:
        self.stg.extension = self.prod.extension = on

    def run(self, registries: Registries, **kw: object) -> tuple[PromotionResult, Counter[str]]:
        self.stg.reset()
        self.prod.reset()
        options = {"thin_manifest_dir": self.tree, "cache_dir": self.cache_dir, **kw}
        result = promote_images(PromoteOptions(**options), registries)  # type: ignore[arg-type]
        return result, self.stg.reset() + self.prod.reset()


@pytest.fixture
def setup(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, gcr_front: GcrFrontFactory, tmp_path: Path
) -> Iterator[Setup]:
    yield Setup(promo_golden, gcr_front(promo_golden.staging), gcr_front(promo_prod), promo_prod, tmp_path)


@pytest.fixture
def promoted(setup: Setup, promo_registries: Registries) -> Setup:
    """setup, with everything promoted once (through the fronts, so the copy path works through them too)."""
    result, _ = setup.run(promo_registries, confirm=True, cache_dir=None)
    assert result.error() is None and len(result.outcomes) == 6
    return setup


def reads(counts: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in counts.items() if v})


# -- the targets -------------------------------------------------------------------------------------------------


def test_noop_rerun_one_request_per_repository_plain_registry(promoted: Setup, promo_registries: Registries) -> None:
    promoted.extension(False)
    before, counts_before = promoted.run(promo_registries, cache_dir=None)  # the old behaviour: no cache
    assert counts_before["HEAD manifest"] > 0 and counts_before["tags/list"] == REPOS
    cold, counts_cold = promoted.run(promo_registries)
    assert counts_cold == counts_before  # a cold cache costs what the old read cost
    warm, counts_warm = promoted.run(promo_registries)
    assert reads(counts_warm) == Counter({"tags/list": REPOS})
    for result in (before, cold, warm):
        assert result.delta is not None and result.delta.copies == [] and result.error() is None
        assert result.delta.already_promoted == result.edges == 6
    assert warm.requests == REPOS


def test_noop_run_google_extension_sends_no_head(promoted: Setup, promo_registries: Registries) -> None:
    promoted.extension(True)
    first, counts = promoted.run(promo_registries, cache_dir=None)
    # One tags/list per repository, even without a cache: manifest-list children are read only to order copies.
    assert reads(counts) == Counter({"tags/list": REPOS})
    assert first.delta is not None and first.delta.already_promoted == first.edges and not first.delta.copies
    promoted.run(promo_registries)
    again, counts = promoted.run(promo_registries)
    assert reads(counts) == Counter({"tags/list": REPOS})
    assert again.delta is not None and again.delta.already_promoted == again.edges


def test_first_promotion_through_google_front_then_noop(setup: Setup, promo_registries: Registries) -> None:
    setup.extension(True)
    done, _ = setup.run(promo_registries, confirm=True)
    assert done.error() is None and len(done.outcomes) == 6
    again, counts = setup.run(promo_registries, confirm=True)
    assert again.outcomes == [] and counts["HEAD manifest"] == 0


# -- bad input: moved tags, damaged cache, unreadable repositories -----------------------------------------------


def _move_tag(setup: Setup, repo: str, tag: str) -> str:
    """Retag prod's repo:tag onto another image, as someone outside the promoter would."""
    other = setup.golden.push(f"moved/{repo}", tag, {"moved": f"moved {repo}\n".encode()})
    with RegistryClient(setup.golden.staging.host) as src, RegistryClient(setup.prod_registry.host) as dst:
        raw, media_type, _ = src.get_manifest(f"moved/{repo}", other)
        copy_image(src, f"moved/{repo}", other, dst, repo, ())
        dst.put_manifest(repo, tag, raw, media_type)
    return other


@pytest.mark.parametrize(
    ("extension", "reread"),
    [(False, True), (True, False), (True, True)],
    ids=["plain-no-cache-rereads", "google-listing", "google-listing-no-cache"],
)
def test_moved_production_tag_stops_and_is_named(
    promoted: Setup, promo_registries: Registries, extension: bool, reread: bool
) -> None:
    promoted.extension(extension)
    promoted.run(promo_registries)  # fills the cache
    cache = InventoryCache(promoted.cache_dir)
    cache_file = cache.path_for(promoted.prod.host, "a/bar")
    saved = cache_file.read_bytes()
    other = _move_tag(promoted, "a/bar", "1.0")
    with pytest.raises(MovedTagError) as err:
        promoted.run(promo_registries, confirm=True, reread=reread)
    message = str(err.value)
    assert f"{promoted.prod.host}/a/bar:1.0 moved outside the promoter" in message and other in message
    assert str(cache_file) in message and "\n" not in message
    assert cache_file.read_bytes() == saved  # never refreshed silently


def test_trusted_cache_on_plain_registry_does_not_head_cached_tags(
    promoted: Setup, promo_registries: Registries
) -> None:
    """The documented trade: tags never move, so the cache is trusted; --no-cache is the audit (test above)."""
    promoted.extension(False)
    promoted.run(promo_registries)
    _move_tag(promoted, "a/bar", "1.0")
    _, counts = promoted.run(promo_registries)
    assert counts["HEAD manifest"] == 0


DAMAGE = {
    "cut-in-half": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "other-format-version": lambda b: b.replace(b'"format":1', b'"format":2'),
    "binary-garbage": lambda b: b"\x00\xff" * 50,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_cache_is_read_again_and_rewritten(
    promoted: Setup, promo_registries: Registries, damage: str
) -> None:
    promoted.extension(False)
    promoted.run(promo_registries)
    files = sorted(promoted.cache_dir.rglob("*.json"))
    assert len(files) == REPOS
    for path in files:
        path.write_bytes(DAMAGE[damage](path.read_bytes()))
    healed, counts = promoted.run(promo_registries)
    assert healed.error() is None and healed.delta is not None and healed.delta.already_promoted == healed.edges
    assert counts["HEAD manifest"] > 0  # re-read, not trusted
    assert all(json.loads(p.read_text())["format"] == 1 for p in files)
    _, counts = promoted.run(promo_registries)
    assert reads(counts) == Counter({"tags/list": REPOS})


@pytest.mark.parametrize(
    ("where", "status"),
    [("b/bar", 500), ("b/bar", 403), ("a/foo", 500), ("source", 500)],
    ids=["destination-500", "destination-403", "destination-index-500", "source-500"],
)
def test_unreadable_repository_fails_only_its_edges(
    setup: Setup, promo_registries: Registries, where: str, status: int
) -> None:
    setup.extension(False)
    front, repo = (setup.stg, f"{STAGING_PREFIX}/golden-bar/bar") if where == "source" else (setup.prod, where)
    front.fail[repo] = status
    result, _ = setup.run(promo_registries, confirm=True)
    error = result.error()
    assert error is not None
    lines = str(error).splitlines()
    assert lines[-1].startswith(f"repository {front.host}/{repo} unreadable, its edges skipped:")
    assert f"HTTP {status}" in lines[-1]
    skipped = 1 if where == "b/bar" else 2  # a/foo carries two edges (foo:1.0 and the untagged image)
    assert result.skipped_edges == skipped and len(result.outcomes) == 6 - skipped and not result.failures
    del front.fail[repo]
    healed, _ = setup.run(promo_registries, confirm=True)
    assert healed.error() is None and len(healed.outcomes) == skipped


def test_missing_source_repository_is_lost_rest_promoted(setup: Setup, promo_registries: Registries) -> None:
    text = setup.bar_manifest.read_text().replace("golden-bar", "no-such-repo")
    (setup.tree / "manifests/bar/promoter-manifest.yaml").write_text(text.split("images:\n")[0])
    result, _ = setup.run(promo_registries, confirm=True)
    error = str(result.error())
    assert "no-such-repo/bar@" in error and "is lost" in error and len(result.outcomes) == 4


def test_every_repository_unreadable_is_one_error(setup: Setup, promo_registries: Registries) -> None:
    setup.stg.fail.update({f"{STAGING_PREFIX}/golden-foo/foo": 500, f"{STAGING_PREFIX}/golden-bar/bar": 500})
    with pytest.raises(InventoryError, match="HTTP 500"):
        setup.run(promo_registries, confirm=True)
    with RegistryClient(setup.prod_registry.host) as client:
        assert client.catalog() == []


def test_cli_unreadable_repository_exit_1_listed_last(
    setup: Setup, cli: CliRunner, krel_home: Path
) -> None:
    setup.prod.fail["b/foo"] = 403
    result = cli.invoke(app, ["promote", "images", "--thin-manifest-dir", str(setup.tree), "--confirm"])
    assert result.exit_code == 1
    assert f"repository {setup.prod.host}/b/foo unreadable" in result.output
    with RegistryClient(setup.prod_registry.host) as client:
        assert sorted(client.catalog()) == ["a/bar", "a/foo", "b/bar"]
    assert (krel_home / "cache/registry").is_dir()  # the CLI keeps its cache under KREL_HOME


# -- snapshots -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [True, False], ids=["google-child-lists", "plain-catalog-range"])
def test_snapshot_reads_the_path_not_the_host(promoted: Setup, promo_registries: Registries, extension: bool) -> None:
    promoted.extension(extension)
    with RegistryClient(promoted.prod_registry.host) as client:
        # A neighbour sharing the prefix string, which the catalog range passes over.
        copy_image(client, "a/bar", promoted.golden.digests["bar"], client, "aa/x", ["1"])
    promoted.prod.reset()
    images = snapshot(promo_registries, f"{promoted.prod.host}/a")
    counts = promoted.prod.reset()
    d = promoted.golden.digests
    assert [i.name for i in images] == ["bar", "foo"]
    if extension:
        assert counts["catalog"] == 0 and counts["HEAD manifest"] == 0
    else:
        assert counts["catalog"] == 1
    rows = [f"bar@{d['bar']},bar:1.0", f"foo@{d['foo-index']},foo:1.0", f"foo@{d['foo-amd64']},-",
            f"foo@{d['foo-s390x']},-"]  # fmt: skip
    # Only Google's listing names an untagged image that no manifest list holds; plain tags/list cannot.
    rows += [f"foo@{d['notag']},-"] if extension else []
    assert render(images, "csv").splitlines() == sorted(rows, key=lambda row: row.split(",")[0])


@pytest.mark.parametrize("extension", [True, False], ids=["google", "plain"])
@pytest.mark.parametrize("path", ["nothing/here", "a/nothing", "aa/x/y"])
def test_snapshot_of_nothing_is_an_error(
    promoted: Setup, promo_registries: Registries, extension: bool, path: str
) -> None:
    promoted.extension(extension)
    with pytest.raises(EmptySnapshotError, match=f"snapshot {promoted.prod.host}/{path}: no image at or under it"):
        snapshot(promo_registries, f"{promoted.prod.host}/{path}")


def test_snapshot_cli_csv_json_and_errors(promoted: Setup, cli: CliRunner, krel_home: Path) -> None:
    promoted.extension(True)
    host, d = promoted.prod.host, promoted.golden.digests
    csv = cli.invoke(app, ["promote", "snapshot", f"{host}/b", "--output", "csv"])
    assert csv.exit_code == 0, csv.output
    assert f"bar@{d['bar']},bar:1.0\n" in csv.stdout and "name,digest" not in csv.stdout
    data = json.loads(cli.invoke(app, ["promote", "snapshot", f"{host}/b", "--json"]).stdout)
    assert data[0] == {"name": "bar", "dmap": {d["bar"]: ["1.0"]}}
    empty = cli.invoke(app, ["promote", "snapshot", f"{host}/nothing"])
    assert empty.exit_code == 1 and "no image at or under it" in empty.output
    assert cli.invoke(app, ["promote", "snapshot", f"{host}/b", "--output", "xml"]).exit_code == 2
