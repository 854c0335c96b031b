"""`krel backup` end to end on real Debian docker-registry processes, requests counted at GCR-style fronts: only what
the backup lacks is copied, a no-op rerun costs at most one request per repository, nothing in the backup moves,
and every bad input is one line with a non-zero exit."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from releng.errors import ReleaseError, UsageError
from releng.promo.backup import BackupOptions, NothingToBackUpError, run_backup
from releng.promo.inventory import InventoryError, Registries
from releng.promo.manifests import ManifestError
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.imagetar import build_image_tarball, push_image_tarball
from releng.registry.localserver import LocalRegistry
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.gcrfront import GcrFront, GcrFrontFactory
from tests.fixtures.promo import STAGING_PREFIX, PromoGolden

REPOS = ("golden-foo/foo", "golden-bar/bar")


@dataclass
class World:
    """Production (`prod/...`, the golden images) and an empty backup, each behind a counting front."""

    prod: GcrFront
    bak: GcrFront
    golden: PromoGolden
    cache: Path

    @property
    def source(self) -> str:
        return f"{self.prod.host}/prod"

    @property
    def backup(self) -> str:
        return f"{self.bak.host}/bak"

    def options(self, **kw: Any) -> BackupOptions:
        return BackupOptions(source=kw.pop("source", self.source), backup=kw.pop("backup", self.backup),
                             cache_dir=self.cache, **kw)  # fmt: skip

    def manifest(self, path: Path, dmaps: dict[str, dict[str, list[str]]] | None = None) -> Path:
        """A plain promoter manifest promoting the golden images into production (untagged `notag` included)."""
        d = self.golden.digests
        dmaps = dmaps or {
            "golden-foo/foo": {d["foo-index"]: ["1.0"], d["notag"]: []},
            "golden-bar/bar": {d["bar"]: ["1.0"]},
        }
        lines = [f"registries:\n- name: {self.golden.staging.host}/{STAGING_PREFIX}\n  src: true\n",
                 f"- name: {self.source}\n", "images:\n"]  # fmt: skip
        for name, dmap in dmaps.items():
            lines.append(f"- name: {name}\n  dmap:\n")
            lines += [f'    "{digest}": {json.dumps(tags)}\n' for digest, tags in dmap.items()]
        path.write_text("".join(lines))
        return path


@pytest.fixture
def world(
    promo_golden: PromoGolden,
    registry_factory: Callable[..., LocalRegistry],
    gcr_front: GcrFrontFactory,
    tmp_path: Path,
) -> Iterator[World]:
    prod_reg, bak_reg = registry_factory("backup-prod"), registry_factory("backup-bak")
    with RegistryClient(promo_golden.staging.host) as stg, RegistryClient(prod_reg.host) as prod:
        for repo in REPOS:
            for digest, tags in _staged(promo_golden, repo).items():
                copy_image(stg, f"{STAGING_PREFIX}/{repo}", digest, prod, f"prod/{repo}", tags)
    world = World(gcr_front(prod_reg), gcr_front(bak_reg), promo_golden, tmp_path / "cache")
    world.prod.extension = world.bak.extension = False  # plain OCI listings unless a test asks for Google's
    yield world


def _staged(golden: PromoGolden, repo: str) -> dict[str, tuple[str, ...]]:
    d = golden.digests
    if repo == "golden-foo/foo":
        return {d["foo-index"]: ("1.0",), d["notag"]: ()}
    return {d["bar"]: ("1.0",)}


@pytest.fixture
def registries() -> Iterator[Registries]:
    with Registries(rate=500, retries=1, retry_budget=2) as regs:
        yield regs


def held(front: GcrFront, repo: str, ref: str) -> str | None:
    """The digest `ref` names in the registry behind the front (None if absent); not counted by the test's figures."""
    with RegistryClient(front.backend or front.host) as client:
        desc = client.head_manifest(repo, ref)
    return desc.digest if desc else None


def counted(world: World, run: Callable[[], Any]) -> tuple[Any, int]:
    world.prod.reset(), world.bak.reset()
    out = run()
    return out, sum(world.prod.reset().values()) + sum(world.bak.reset().values())


# ---- what gets copied --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [False, True], ids=["plain+cache", "google-extension"])
def test_listing_driven_first_run_then_noop(world: World, registries: Registries, extension: bool) -> None:
    world.prod.extension = world.bak.extension = extension
    d = world.golden.digests
    dry = run_backup(world.options(), registries)
    assert dry.mode == "dry-run" and dry.plan.copies and held(world.bak, "bak/golden-foo/foo", "1.0") is None

    first = run_backup(world.options(confirm=True), registries)
    assert first.error() is None and not first.failures
    assert held(world.bak, "bak/golden-foo/foo", "1.0") == d["foo-index"]
    for child in ("foo-amd64", "foo-s390x"):  # the index came with its children
        assert held(world.bak, "bak/golden-foo/foo", d[child]) == d[child]
    assert held(world.bak, "bak/golden-bar/bar", "1.0") == d["bar"]

    rerun, requests = counted(world, lambda: run_backup(world.options(confirm=True), registries))
    assert rerun.error() is None and not rerun.plan.copies and not rerun.outcomes
    repositories = 2 * len(REPOS)  # each production repository and its backup
    # Finding the repositories: on a plain registry one tags/list of the prefix (404) and one catalog page; with
    # Google's extension the `child` walk lists the prefix and each intermediate level (prod, golden-foo, golden-bar).
    overhead = 3 if extension else 2
    assert requests <= repositories + overhead, requests


def test_manifest_driven_copies_untagged_and_noop_reads_only_the_backup(world: World, registries: Registries,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    manifest = world.manifest(tmp_path / "m.yaml")
    notag = world.golden.digests["notag"]
    first = run_backup(world.options(manifest=manifest, confirm=True), registries)
    assert first.error() is None
    assert held(world.bak, "bak/golden-foo/foo", notag) == notag  # invisible to tag listings, still backed up

    rerun, requests = counted(world, lambda: run_backup(world.options(manifest=manifest, confirm=True), registries))
    assert rerun.error() is None and not rerun.plan.copies
    assert requests <= len(REPOS), requests  # one tags/list per backup repository, production not read at all


def test_new_image_in_production_copies_only_it(world: World, registries: Registries, tmp_path: Path) -> None:
    run_backup(world.options(confirm=True), registries)
    tar = build_image_tarball(tmp_path / "new.tar", {"new": b"new release\n"}, "amd64")
    with RegistryClient(world.prod.backend or "") as client:
        new = push_image_tarball(client, tar, "prod/golden-bar/bar", "1.1")
    again = run_backup(world.options(confirm=True), registries)
    assert [(c.digest, c.tags) for c in again.plan.copies] == [(new, ("1.1",))]
    assert again.error() is None and held(world.bak, "bak/golden-bar/bar", "1.1") == new


def test_interrupted_copy_then_rerun_heals(world: World, registries: Registries) -> None:
    d = world.golden.digests
    # What an interruption inside an index copy leaves: the children there, the index and its tag not.
    with RegistryClient(world.prod.backend or "") as src, RegistryClient(world.bak.backend or "") as dst:
        for child in ("foo-amd64", "foo-s390x"):
            copy_image(src, "prod/golden-foo/foo", d[child], dst, "bak/golden-foo/foo", ())
    healed = run_backup(world.options(confirm=True), registries)
    assert healed.error() is None
    assert held(world.bak, "bak/golden-foo/foo", "1.0") == d["foo-index"]
    assert held(world.bak, "bak/golden-bar/bar", "1.0") == d["bar"]
    assert not run_backup(world.options(), registries).plan.copies


# ---- the backup never moves or deletes -------------------------------------------------------------------------------


def test_backup_tag_elsewhere_is_left_alone_and_named(world: World, registries: Registries) -> None:
    d = world.golden.digests
    with RegistryClient(world.prod.backend or "") as src, RegistryClient(world.bak.backend or "") as dst:
        copy_image(src, "prod/golden-bar/bar", d["bar"], dst, "bak/golden-foo/foo", ("1.0",))  # a squatter
    result = run_backup(world.options(confirm=True), registries)
    error = result.error()
    assert error is not None and "bak/golden-foo/foo:1.0 points at " + d["bar"] in str(error)
    assert "left alone" in str(error)
    assert held(world.bak, "bak/golden-foo/foo", "1.0") == d["bar"]  # never moved
    assert held(world.bak, "bak/golden-foo/foo", d["foo-index"]) == d["foo-index"]  # the digest still backed up
    assert held(world.bak, "bak/golden-bar/bar", "1.0") == d["bar"]


def test_backup_keeps_what_production_dropped(world: World, registries: Registries) -> None:
    run_backup(world.options(confirm=True), registries)
    with RegistryClient(world.prod.backend or "") as client:
        client.delete_manifest("prod/golden-bar/bar", world.golden.digests["bar"])
    result = run_backup(world.options(confirm=True), registries)
    assert result.error() is None and not result.plan.copies
    assert held(world.bak, "bak/golden-bar/bar", "1.0") == world.golden.digests["bar"]


# ---- hostile input: unreachable, failing repositories, bad manifests ---------------------------------------------


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("side", ["from", "to"])
def test_unreachable_registry_is_one_error(world: World, registries: Registries, tmp_path: Path, side: str) -> None:
    dead = f"{_closed_port()}/x"
    kw = {"source": dead} if side == "from" else {"backup": dead}
    if side == "to":
        kw["manifest"] = world.manifest(tmp_path / "m.yaml")  # type: ignore[assignment]
    with pytest.raises(ReleaseError) as err:
        result = run_backup(world.options(confirm=True, **kw), registries)
        raise result.error() or AssertionError("no error")
    assert dead.split("/")[0] in str(err.value)


@pytest.mark.parametrize("status", [404, 500])
def test_failing_repository_is_listed_and_the_rest_backed_up(world: World, registries: Registries, status: int,
                                                              tmp_path: Path) -> None:  # fmt: skip
    world.bak.fail["bak/golden-bar/bar"] = status
    manifest = world.manifest(tmp_path / "m.yaml")
    result = run_backup(world.options(manifest=manifest, confirm=True), registries)
    error = result.error()
    if status == 404:  # distribution answers 404 for a repository not created yet: it is simply empty
        assert error is None
    else:
        assert error is not None and "bak/golden-bar/bar unreadable" in str(error)
        assert held(world.bak, "bak/golden-bar/bar", "1.0") is None
    assert held(world.bak, "bak/golden-foo/foo", "1.0") == world.golden.digests["foo-index"]


def test_every_repository_failing_is_one_error(world: World, registries: Registries, tmp_path: Path) -> None:
    for repo in REPOS:
        world.bak.fail[f"bak/{repo}"] = 500
    with pytest.raises(InventoryError):
        run_backup(world.options(manifest=world.manifest(tmp_path / "m.yaml")), registries)


def test_lost_digest_named(world: World, registries: Registries, tmp_path: Path) -> None:
    lost = "sha256:" + "1" * 64
    manifest = world.manifest(tmp_path / "m.yaml", {"golden-bar/bar": {world.golden.digests["bar"]: ["1.0"],
                                                                       lost: ["9.9"]}})  # fmt: skip
    result = run_backup(world.options(manifest=manifest, confirm=True), registries)
    error = result.error()
    assert error is not None and f"{lost} is not in production" in str(error)
    assert held(world.bak, "bak/golden-bar/bar", "1.0") == world.golden.digests["bar"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("registries: [\n", ManifestError),
        ("registries:\n- name: a.io/x\n  src: true\nimages:\n- name: foo\n  dmap:\n    \"sha256:zz\": [\"1\"]\n",
         ManifestError),
        ("images: []\n", ManifestError),
        ("registries:\n- name: a.io/x\n  src: true\n- name: b.io/y\nimages: []\n", NothingToBackUpError),
    ],
    ids=["broken-yaml", "bad-digest", "no-registries", "no-destination-under-from"],
)
def test_bad_manifest_is_refused_before_any_read(world: World, registries: Registries, tmp_path: Path, text: str,
                                                 expected: type[ReleaseError]) -> None:  # fmt: skip
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    world.prod.reset(), world.bak.reset()
    with pytest.raises(expected):
        run_backup(world.options(manifest=path, confirm=True), registries)
    assert not world.prod.reset() and not world.bak.reset()


def test_empty_prefix_is_an_error(world: World, registries: Registries) -> None:
    with pytest.raises(NothingToBackUpError, match="no repository at or under it"):
        run_backup(world.options(source=f"{world.prod.host}/nothing-here"), registries)


# ---- the command ------------------------------------------------------------------------------------------------


def test_cli_dry_run_pipe_records_then_confirm_json(world: World, krel_home: Path) -> None:
    runner = CliRunner()
    args = ["backup", "--from", world.source, "--to", world.backup]
    dry = runner.invoke(app, args)
    assert dry.exit_code == 0, dry.output
    lines = [line for line in dry.stdout.splitlines() if line]
    assert lines and all(len(line.split("\t")) == 5 for line in lines)  # one record per line in a pipe
    assert held(world.bak, "bak/golden-bar/bar", "1.0") is None
    done = runner.invoke(app, [*args, "--confirm", "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["mode"] == "confirm" and doc["copied"] == len(doc["copies"]) > 0


@pytest.mark.parametrize(
    ("source", "backup"),
    [
        ("{p}/prod", "{p}/prod"),
        ("{p}/prod", "{p}/prod/bak"),
        ("{p}/prod/x", "{p}/prod"),
        ("{p}", "{p}/bak"),
        ("{p}/prod", "{L}/prod/"),
        ("{p}/prod", "user:s3cret-pw@127.0.0.1:1/bak"),
        ("https://{p}/prod", "{p}/bak"),
        ("{p}/Prod", "{p}/bak"),
        ("{p}/prod", "{p}/../prod"),
    ],
    ids=["same", "to-inside-from", "from-inside-to", "from-host-whole", "localhost-spelling", "credentials",
         "scheme", "upper-case", "dot-dot"],
)
def test_cli_refuses_bad_places(world: World, krel_home: Path, source: str, backup: str) -> None:
    host = world.prod.host
    loopback = host.replace("127.0.0.1", "localhost")
    args = ["backup", "--from", source.format(p=host, L=loopback), "--to", backup.format(p=host, L=loopback)]
    world.prod.reset()
    result = CliRunner().invoke(app, [*args, "--confirm"])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "s3cret-pw" not in result.output
    assert not world.prod.reset()  # refused before any request


def test_cli_secret_never_printed(world: World, krel_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREL_REGISTRY_USERNAME", "robot")
    monkeypatch.setenv("KREL_REGISTRY_PASSWORD", "s3cret-pw-value")
    world.bak.fail["bak/golden-bar/bar"] = 403  # not retried (a 500 is, for the CLI's 10-minute budget)
    result = CliRunner().invoke(app, ["--log-level", "debug", "backup", "--from", world.source, "--to", world.backup,
                                      "--confirm"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "bak/golden-bar/bar unreadable" in result.output
    assert "s3cret-pw-value" not in result.output


def test_usage_both_manifest_kinds(world: World, tmp_path: Path, registries: Registries) -> None:
    with pytest.raises(UsageError, match="exactly one"):
        run_backup(world.options(manifest=tmp_path / "a", thin_manifest_dir=tmp_path), registries)
