"""The promoter end to end on two real local registries (Debian docker-registry): after the original's e2e suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from releng.errors import ReleaseError
from releng.promo.delta import AllLostError, TagMoveError
from releng.promo.inventory import InventoryError, Registries
from releng.promo.promote import PromoteOptions, parse_registry_map, promote_images
from releng.promo.snapshot import render, snapshot
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import LocalRegistry

from tests.fixtures.promo import PROMO_E2E, STAGING_PREFIX, PromoGolden, promo_copy_fixture

SNAPSHOT_MAP = {
    "us.gcr.io/k8s-cip-test-prod": "us",
    "eu.gcr.io/k8s-cip-test-prod": "eu",
    "asia.gcr.io/k8s-cip-test-prod": "asia",
}


def state(registries: Registries, path: str) -> dict[str, dict[str, list[str]]]:
    return {i.name: {d: sorted(t) for d, t in i.dmap.items()} for i in snapshot(registries, path)}


def prod_path(prod: LocalRegistry, name: str) -> str:
    for google, local in SNAPSHOT_MAP.items():
        if name.startswith(google):
            return f"{prod.host}/{local}{name[len(google) :]}"
    raise AssertionError(name)


def original_case(golden: PromoGolden, title: str) -> dict[str, Any]:
    cases = yaml.load(golden.rewrite((PROMO_E2E / "tests.yaml").read_text()), Loader=yaml.BaseLoader)
    return next(c for c in cases if c["name"].startswith(title))


def options(golden: PromoGolden, prod: LocalRegistry, **kw: Any) -> PromoteOptions:
    return PromoteOptions(registry_map=parse_registry_map(golden.registry_map(prod)), **kw)


def catalog(registry: LocalRegistry) -> list[str]:
    with RegistryClient(registry.host) as client:
        return client.catalog()


@pytest.mark.parametrize(("title", "fixture"), [("sanity", "sanity/promoter-manifest.yaml"), ("recursive-thin", "")])
def test_original_e2e_cases(
    promo_golden: PromoGolden,
    promo_prod: LocalRegistry,
    promo_registries: Registries,
    tmp_path: Path,
    title: str,
    fixture: str,
) -> None:
    tree = promo_copy_fixture(promo_golden, title, tmp_path / "fixture")
    source = {"manifest": tree / "promoter-manifest.yaml"} if fixture else {"thin_manifest_dir": tree}
    case = original_case(promo_golden, title)

    dry = promote_images(options(promo_golden, promo_prod, **source), promo_registries)
    assert dry.mode == "dry-run" and dry.delta is not None and dry.delta.copies
    assert catalog(promo_prod) == []  # the dry run wrote nothing

    run = promote_images(options(promo_golden, promo_prod, confirm=True, **source), promo_registries)
    assert run.error() is None and run.outcomes and not run.failures
    notag = promo_golden.digests["notag"]
    for snap in case["snapshots"]:
        expected = {i["name"]: {d: sorted(t) for d, t in i["dmap"].items()} for i in snap["after"]}
        path = prod_path(promo_prod, snap["name"])
        # The standard API lists tags only, so a tag-less image that is not an index child is checked by HEAD.
        for name, dmap in expected.items():
            if dmap.pop(notag, None) is not None:
                client, repo = promo_registries.for_path(f"{path}/{name}")
                assert client.head_manifest(repo, notag) is not None
        assert state(promo_registries, path) == expected

    again = promote_images(options(promo_golden, promo_prod, confirm=True, **source), promo_registries)
    assert again.delta is not None and again.delta.copies == [] and again.outcomes == []
    assert again.delta.already_promoted == again.edges


def test_manifest_list_copied_whole_and_children_tagless(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    d = promo_golden.digests
    path = tmp_path / "m.yaml"
    path.write_text(
        f"registries:\n- name: {promo_golden.staging.host}/{STAGING_PREFIX}/golden-foo\n  src: true\n"
        f'- name: {promo_prod.host}/prod\nimages:\n- name: foo\n  dmap:\n    "{d["foo-index"]}": ["1.0"]\n'
    )
    run = promote_images(PromoteOptions(manifest=path, confirm=True), promo_registries)
    assert run.error() is None
    got = state(promo_registries, f"{promo_prod.host}/prod")
    assert got == {"foo": {d["foo-index"]: ["1.0"], d["foo-amd64"]: [], d["foo-s390x"]: []}}
    yaml_text = render(snapshot(promo_registries, f"{promo_prod.host}/prod"), "yaml")
    assert f'    "{d["foo-index"]}": ["1.0"]\n' in yaml_text
    csv_text = render(snapshot(promo_registries, f"{promo_prod.host}/prod"), "csv")
    rows = csv_text.splitlines()
    assert f"foo@{d['foo-index']},foo:1.0" in rows and f"foo@{d['foo-amd64']},-" in rows and len(rows) == 3


def _thin(root: Path, project: str, registries: list[str], images: str) -> None:
    (root / "manifests" / project).mkdir(parents=True)
    (root / "images" / project).mkdir(parents=True)
    regs = "".join(f"- name: {r}\n" + ("  src: true\n" if i == 0 else "") for i, r in enumerate(registries))
    (root / "manifests" / project / "promoter-manifest.yaml").write_text("registries:\n" + regs)
    (root / "images" / project / "images.yaml").write_text(images)


def test_same_digest_from_two_sources_promoted_once(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    stg, bar = promo_golden.staging.host, promo_golden.digests["bar"]
    with RegistryClient(stg) as client:
        copy_image(client, f"{STAGING_PREFIX}/golden-bar/bar", bar, client, "mirror/bar", ["1.0"])
    images = f'- name: bar\n  dmap:\n    "{bar}": ["1.0"]\n'
    _thin(tmp_path, "a", [f"{stg}/{STAGING_PREFIX}/golden-bar", f"{promo_prod.host}/prod"], images)
    _thin(tmp_path, "b", [f"{stg}/mirror", f"{promo_prod.host}/prod"], images)
    run = promote_images(PromoteOptions(thin_manifest_dir=tmp_path, confirm=True), promo_registries)
    assert run.delta is not None and len(run.delta.copies) == 1 and run.error() is None
    assert state(promo_registries, f"{promo_prod.host}/prod") == {"bar": {bar: ["1.0"]}}


def test_tag_move_refused_production_unchanged(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    d, stg = promo_golden.digests, promo_golden.staging.host
    with RegistryClient(stg) as src, RegistryClient(promo_prod.host) as dst:
        copy_image(src, f"{STAGING_PREFIX}/golden-bar/bar", d["bar"], dst, "prod/foo", ["1.0"])
    before = state(promo_registries, f"{promo_prod.host}/prod")
    path = tmp_path / "m.yaml"
    path.write_text(
        f"registries:\n- name: {stg}/{STAGING_PREFIX}/golden-foo\n  src: true\n- name: {promo_prod.host}/prod\n"
        f'images:\n- name: foo\n  dmap:\n    "{d["foo-index"]}": ["1.0"]\n    "{d["notag"]}": []\n'
    )
    with pytest.raises(TagMoveError, match=r"prod/foo:1.0 points at sha256:\w+, the manifest wants"):
        promote_images(PromoteOptions(manifest=path, confirm=True), promo_registries)
    assert state(promo_registries, f"{promo_prod.host}/prod") == before


def test_lost_digest_reported_rest_promoted(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    d, stg = promo_golden.digests, promo_golden.staging.host
    missing = "sha256:" + "e" * 64
    path = tmp_path / "m.yaml"
    path.write_text(
        f"registries:\n- name: {stg}/{STAGING_PREFIX}/golden-bar\n  src: true\n- name: {promo_prod.host}/prod\n"
        f'images:\n- name: bar\n  dmap:\n    "{d["bar"]}": ["1.0"]\n    "{missing}": ["2.0"]\n'
    )
    run = promote_images(PromoteOptions(manifest=path, confirm=True), promo_registries)
    error = run.error()
    assert error is not None and f"golden-bar/bar@{missing} is lost" in str(error) and f"{path}:9" in str(error)
    assert state(promo_registries, f"{promo_prod.host}/prod") == {"bar": {d["bar"]: ["1.0"]}}


def test_all_lost_fails_loudly_nothing_promoted(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    """The v4.3.0 regression: registry names keyed wrongly, every digest 'lost', job green. Must fail."""
    tree = promo_copy_fixture(promo_golden, "recursive-thin", tmp_path / "fixture")
    # Right staging registry, wrong repository root: every source digest looks missing.
    wrong = [*promo_golden.registry_map(promo_prod), f"gcr.io/{STAGING_PREFIX}={promo_golden.staging.host}/elsewhere"]
    opts = PromoteOptions(thin_manifest_dir=tree, confirm=True, registry_map=parse_registry_map(wrong))
    with pytest.raises(AllLostError, match="every one of 5 source digests is missing"):
        promote_images(opts, promo_registries)
    assert catalog(promo_prod) == []


def test_rerun_after_partial_failure_heals(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    stg = promo_golden.staging
    good = promo_golden.push("partial/good", "1.0", {"good": b"good image\n"})
    bad = promo_golden.push("partial/bad", "1.0", {"bad": b"bad image, blob goes missing\n"})
    with RegistryClient(stg.host) as client:
        raw, _, _ = client.get_manifest("partial/bad", bad)
    layer = yaml.safe_load(raw)["layers"][0]["digest"].split(":")[1]
    blob = stg.data_dir / "storage/docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
    saved = blob.read_bytes()
    path = tmp_path / "m.yaml"
    path.write_text(
        f"registries:\n- name: {stg.host}/partial\n  src: true\n"
        f"- name: {promo_prod.host}/a\n- name: {promo_prod.host}/b\n"
        f'images:\n- name: good\n  dmap:\n    "{good}": ["1.0"]\n- name: bad\n  dmap:\n    "{bad}": ["1.0"]\n'
    )
    blob.unlink()
    try:
        first = promote_images(PromoteOptions(manifest=path, confirm=True, threads=4), promo_registries)
    finally:
        blob.write_bytes(saved)
    error = first.error()
    assert error is not None and len(first.failures) == 2 and len(first.outcomes) == 4
    assert str(error).count("failed:") == 2 and "partial/bad@" in str(error)
    assert state(promo_registries, f"{promo_prod.host}/a") == {"good": {good: ["1.0"]}}

    second = promote_images(PromoteOptions(manifest=path, confirm=True, threads=4), promo_registries)
    assert second.error() is None and second.delta is not None and len(second.delta.copies) == 2
    for side in ("a", "b"):
        assert state(promo_registries, f"{promo_prod.host}/{side}") == {"good": {good: ["1.0"]}, "bad": {bad: ["1.0"]}}


def test_unreachable_registry_fails_before_copying(
    promo_golden: PromoGolden, promo_prod: LocalRegistry, promo_registries: Registries, tmp_path: Path
) -> None:
    from releng.registry.localserver import free_port

    tree = promo_copy_fixture(promo_golden, "recursive-thin", tmp_path / "fixture")
    dead = f"127.0.0.1:{free_port()}"
    maps = [*promo_golden.registry_map(promo_prod), f"gcr.io/{STAGING_PREFIX}={dead}/stg"]
    opts = PromoteOptions(thin_manifest_dir=tree, confirm=True, registry_map=parse_registry_map(maps))
    with pytest.raises(InventoryError, match=f"registry {dead} unreachable"):
        promote_images(opts, promo_registries)
    assert catalog(promo_prod) == []


def test_parse_only_reads_no_registry(promo_registries: Registries, tmp_path: Path) -> None:
    tree = PROMO_E2E / "fixture/recursive-thin"
    run = promote_images(PromoteOptions(thin_manifest_dir=tree, parse_only=True), promo_registries)
    assert run.mode == "parse-only" and run.edges == 15 and run.delta is None


def test_wrong_options_are_usage_errors(promo_registries: Registries) -> None:
    with pytest.raises(ReleaseError, match="exactly one of --manifest FILE and --thin-manifest-dir DIR"):
        promote_images(PromoteOptions(), promo_registries)
