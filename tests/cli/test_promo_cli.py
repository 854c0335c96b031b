"""`krel promote images|snapshot` end to end through typer's CliRunner, on real local registries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from releng.registry.client import RegistryClient
from releng.registry.localserver import LocalRegistry
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.promo import PROMO_DATA, PROMO_E2E, PromoGolden, promo_copy_fixture

INVALID = PROMO_DATA / "k8s-container-image-promoter-2021/legacy/dockerregistry/inventory_test"
INVALID = INVALID / "TestValidateThinManifestsFromDir/invalid"


def maps(golden: PromoGolden, prod: LocalRegistry) -> list[str]:
    return [arg for m in golden.registry_map(prod) for arg in ("--registry-map", m)]


def catalog(registry: LocalRegistry) -> list[str]:
    with RegistryClient(registry.host) as client:
        return client.catalog()


def test_parse_only_valid_tree(cli: CliRunner, krel_home: Path) -> None:
    result = cli.invoke(
        app, ["promote", "images", "--thin-manifest-dir", str(PROMO_E2E / "fixture/recursive-thin"), "--parse-only"]
    )
    assert result.exit_code == 0, result.output
    assert "2 manifest(s), 15 edges" in result.output or "15 edges, all valid" in result.output


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "no manifests found in dir"),
        ("malformed-directory-tree-structure", "does not exist"),
        ("malformed-directory-tree-structure-nested", "unexpected manifest path"),
        ("overlapping-destination-vertices-different-digest", "overlapping edges detected"),
    ],
)
def test_invalid_fixtures_exit_nonzero(cli: CliRunner, krel_home: Path, case: str, message: str) -> None:
    result = cli.invoke(app, ["promote", "images", "--thin-manifest-dir", str(INVALID / case), "--parse-only"])
    assert result.exit_code == 1
    assert "error:" in result.output and message in result.output


def test_bad_input_one_line_per_problem(cli: CliRunner, krel_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "registries:\n- name: gcr.io/a\n  src: true\n- name: gcr.io/b\n  src: true\n"
        "images:\n- name: foo\n  dmap:\n    sha256:nothex: [v1]\n    'sha256:" + "a" * 64 + "': [-bad]\n"
    )
    result = cli.invoke(app, ["promote", "images", "--manifest", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if str(path) in line]
    assert [re.sub(r".*m\.yaml:(\d+):.*", r"\1", line) for line in lines] == ["5", "9", "10"]
    assert "more than 1 source registry" in lines[0] and "bad digest" in lines[1] and "bad tag" in lines[2]


def test_malformed_yaml(cli: CliRunner, krel_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("registries:\n- name: [unclosed\n")
    result = cli.invoke(app, ["promote", "images", "--manifest", str(path)])
    assert result.exit_code == 1 and f"{path}:3: malformed YAML" in result.output


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--manifest", "a.yaml", "--thin-manifest-dir", "b"],
        ["--manifest", "a.yaml", "--registry-map", "no-equals-sign"],
        ["--manifest", "a.yaml", "--threads", "0"],
    ],
)
def test_usage_errors_exit_2(cli: CliRunner, krel_home: Path, args: list[str]) -> None:
    assert cli.invoke(app, ["promote", "images", *args]).exit_code == 2


def test_dry_run_then_confirm_then_snapshot(
    cli: CliRunner, krel_home: Path, tmp_path: Path, promo_golden: PromoGolden, promo_prod: LocalRegistry
) -> None:
    tree = promo_copy_fixture(promo_golden, "recursive-thin", tmp_path / "tree")
    base = ["promote", "images", "--thin-manifest-dir", str(tree), *maps(promo_golden, promo_prod)]

    dry = cli.invoke(app, base)
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "image" in dry.output and "destination" in dry.output
    assert catalog(promo_prod) == []

    planned = cli.invoke(app, [*base, "--json"])
    data = json.loads(planned.stdout)
    assert data["mode"] == "dry-run" and data["edges"] == 15 and len(data["delta"]["copies"]) == 15

    done = cli.invoke(app, [*base, "--confirm", "--threads", "4"])
    assert done.exit_code == 0, done.output
    assert sorted(catalog(promo_prod)) == [f"{r}/golden-{i}/{i}" for r in ("asia", "eu", "us") for i in ("bar", "foo")]

    again = cli.invoke(app, [*base, "--confirm", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["delta"]["already_promoted"] == 15

    snap = cli.invoke(app, ["promote", "snapshot", f"{promo_prod.host}/us"])
    assert snap.exit_code == 0, snap.output
    assert "- name: golden-bar/bar\n  dmap:\n" in snap.stdout
    assert f'"{promo_golden.digests["bar"]}": ["1.0"]' in snap.stdout
    csv = cli.invoke(app, ["promote", "snapshot", f"{promo_prod.host}/us", "--output", "csv"])
    assert csv.exit_code == 0 and f"golden-bar/bar@{promo_golden.digests['bar']},golden-bar/bar:1.0" in csv.stdout
    assert cli.invoke(app, ["promote", "snapshot", f"{promo_prod.host}/us", "--output", "xml"]).exit_code == 2


def test_tag_move_exit_1_nothing_written(
    cli: CliRunner,
    krel_home: Path,
    tmp_path: Path,
    promo_golden: PromoGolden,
    promo_prod: LocalRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = promo_golden.digests
    with RegistryClient(promo_golden.staging.host) as src, RegistryClient(promo_prod.host) as dst:
        from releng.registry.copy import copy_image

        copy_image(src, "k8s-staging-cip-test/golden-bar/bar", d["bar"], dst, "us/golden-foo/foo", ["1.0"])
    tree = promo_copy_fixture(promo_golden, "recursive-thin", tmp_path / "tree")
    # The map can come from the environment too.
    monkeypatch.setenv("KREL_PROMO_REGISTRY_MAP", ",".join(promo_golden.registry_map(promo_prod)))
    result = cli.invoke(app, ["promote", "images", "--thin-manifest-dir", str(tree), "--confirm"])
    assert result.exit_code == 1
    assert "tag move refused" in result.output and "images/foo/images.yaml:3" in result.output
    assert catalog(promo_prod) == ["us/golden-foo/foo"]


def test_401_one_line_nothing_copied(
    cli: CliRunner, krel_home: Path, tmp_path: Path, httpserver: HTTPServer, promo_prod: LocalRegistry
) -> None:
    httpserver.expect_request(re.compile("^/v2/.*")).respond_with_data(
        '{"errors":[{"code":"UNAUTHORIZED"}]}', status=401, headers={"WWW-Authenticate": 'Basic realm="stub"'}
    )
    path = tmp_path / "m.yaml"
    path.write_text(
        f"registries:\n- name: localhost:{httpserver.port}/staging\n  src: true\n- name: {promo_prod.host}/prod\n"
        "images:\n- name: foo\n  dmap:\n    'sha256:" + "a" * 64 + "': [v1]\n"
    )
    result = cli.invoke(app, ["promote", "images", "--manifest", str(path), "--confirm"])
    assert result.exit_code == 1
    assert "denied (HTTP 401" in result.output and result.output.count("error:") == 1
    assert catalog(promo_prod) == []


def test_lost_digest_row_and_exit_1(
    cli: CliRunner, krel_home: Path, tmp_path: Path, promo_golden: PromoGolden, promo_prod: LocalRegistry
) -> None:
    missing = "sha256:" + "f" * 64
    path = tmp_path / "m.yaml"
    path.write_text(
        f"registries:\n- name: {promo_golden.staging.host}/k8s-staging-cip-test/golden-bar\n  src: true\n"
        f"- name: {promo_prod.host}/lost\nimages:\n- name: bar\n  dmap:\n"
        f'    "{promo_golden.digests["bar"]}": ["1.0"]\n    "{missing}": ["9.9"]\n'
    )
    result = cli.invoke(app, ["promote", "images", "--manifest", str(path), "--confirm"])
    assert result.exit_code == 1
    assert "LOST" in result.output and f"{path}:9: " in result.output
    assert catalog(promo_prod) == ["lost/bar"]


def test_snapshot_bad_path_is_usage_error(cli: CliRunner, krel_home: Path) -> None:
    assert cli.invoke(app, ["promote", "snapshot", "not a path"]).exit_code == 2
