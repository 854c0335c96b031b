"""`krel promote files` against the real GCS emulator and file:// stores, driven by the original's promobot
fixtures (their trees, with bases and hashes rewritten onto local stores and our own bytes)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from releng.objectstore import ObjectStore, open_store
from releng.objectstore.gcs import GCSStore
from releng.promo.files import plan
from releng.promo.files.promote import FilePromoteOptions, promote_files
from typer.testing import CliRunner

from krel.app import app
from tests.fixtures.gcs import GCSEmulator
from tests.fixtures.promo import PROMO_DATA

PROMOBOT = PROMO_DATA / "promo-tools/promobot/testdata/manifests"
CONTENT = {"blue.png": b"blue pixels\n", "green.png": b"green pixels\n" * 1000, "red.png": b"red pixels\n"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(tmp_path: Path, case: str, bases: dict[str, str]) -> Path:
    """A copy of an original fixture tree with every base URL and sha256 mapped onto this test's stores and bytes."""
    out = tmp_path / case
    shutil.copytree(PROMOBOT / case, out)
    original = {name: re.search(rf"name: {re.escape(name)}\n\s*sha256: (\w+)", (PROMOBOT / "onefile/files.yaml")
                                .read_text())[1] for name in CONTENT}  # type: ignore[index]
    for path in out.rglob("*.yaml"):
        text = path.read_text()
        for old, new in bases.items():
            text = re.sub(rf"base: {re.escape(old)}\n", f"base: {new}\n", text)
        for name, sha in original.items():
            text = text.replace(sha, _sha(CONTENT[name]))
        path.write_text(text)
    return out


def _seed(url: str, content: dict[str, bytes] = CONTENT) -> ObjectStore:
    store = open_store(url)
    for name, data in content.items():
        store.put_new(name, data)
    return store


def _keys(url: str) -> dict[str, bytes]:
    store = open_store(url)
    return {i.key: store.get(i.key) for i in store.list()}


def _onefile(tmp_path: Path, src: str, dest: str) -> FilePromoteOptions:
    tree = _tree(tmp_path, "onefile", {"gs://src": src, "gs://dest": dest})
    return FilePromoteOptions(filestores=tree / "filepromoter-manifest.yaml", files=tree / "files.yaml")


@pytest.fixture
def stores(gcs_emulator: GCSEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], str]:
    """kind ('gs' or 'file') -> a fresh empty store URL."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.host)
    count = iter(range(1000))

    def make(kind: str) -> str:
        if kind == "gs":
            return gcs_emulator.new_bucket("krel-files")
        path = tmp_path / f"store-{next(count)}"
        path.mkdir()
        return path.as_uri()

    return make


@pytest.mark.parametrize(("src_kind", "dest_kind"), [("gs", "gs"), ("file", "gs"), ("gs", "file"), ("file", "file")])
def test_dry_run_plans_then_confirm_copies_then_rerun_is_identical(
    tmp_path: Path, stores: Callable[[str], str], src_kind: str, dest_kind: str
) -> None:
    src, dest = stores(src_kind), stores(dest_kind)
    _seed(src)
    options = _onefile(tmp_path, src, dest)

    dry = promote_files(options)
    assert dry.mode == "dry-run" and dry.error() is None
    assert [(op.name, op.action) for op in dry.ops] == [(n, plan.COPY) for n in CONTENT]
    assert _keys(dest) == {}  # a dry run writes nothing

    done = promote_files(FilePromoteOptions(options.filestores, options.files, confirm=True))
    assert [op.action for op in done.ops] == [plan.COPIED] * 3 and done.error() is None
    assert _keys(dest) == CONTENT

    again = promote_files(FilePromoteOptions(options.filestores, options.files, confirm=True))
    assert again.counts() == {plan.IDENTICAL: 3}
    assert _keys(dest) == CONTENT


def test_manyprojects_tree_promotes_each_project_to_its_own_prefix(
    tmp_path: Path, stores: Callable[[str], str]
) -> None:
    src1, src2, prod = stores("gs"), stores("gs"), stores("gs")
    _seed(src1)
    _seed(src2, {"blue.png": CONTENT["blue.png"], "green.png": CONTENT["green.png"], "red.png": CONTENT["red.png"]})
    tree = _tree(tmp_path, "manyprojects", {"gs://k8s-staging-project1": src1, "gs://k8s-staging-project2": src2,
                                            "gs://test-prod/project1": f"{prod}/project1",
                                            "gs://test-prod/project2": f"{prod}/project2"})
    result = promote_files(FilePromoteOptions(manifests_dir=tree, confirm=True))
    assert result.manifests == 2 and result.counts() == {plan.COPIED: 6}
    assert _keys(prod) == {f"project{p}/{n}": d for p in (1, 2) for n, d in CONTENT.items()}


def test_conflict_names_both_hashes_overwrites_nothing_and_the_rest_still_copy(
    tmp_path: Path, stores: Callable[[str], str]
) -> None:
    src, dest = stores("gs"), stores("gs")
    _seed(src)
    open_store(dest).put_new("red.png", b"someone else's red\n")
    options = _onefile(tmp_path, src, dest)
    result = promote_files(FilePromoteOptions(options.filestores, options.files, confirm=True))
    by_name = {op.name: op for op in result.ops}
    assert by_name["red.png"].action == plan.CONFLICT
    assert _sha(b"someone else's red\n") in by_name["red.png"].detail
    assert _sha(CONTENT["red.png"]) in by_name["red.png"].detail
    assert {by_name["blue.png"].action, by_name["green.png"].action} == {plan.COPIED}
    assert open_store(dest).get("red.png") == b"someone else's red\n"
    error = result.error()
    assert error is not None and "1 of 3 file copies not promoted" in str(error) and f"{dest}/red.png" in str(error)


def test_source_that_does_not_match_the_manifest_is_never_copied(tmp_path: Path, stores: Callable[[str], str]) -> None:
    src, dest = stores("gs"), stores("file")
    _seed(src, {**CONTENT, "green.png": b"tampered green\n"})
    options = _onefile(tmp_path, src, dest)
    result = promote_files(FilePromoteOptions(options.filestores, options.files, confirm=True))
    green = next(op for op in result.ops if op.name == "green.png")
    assert green.action == plan.FAILED
    assert _sha(b"tampered green\n") in green.detail and _sha(CONTENT["green.png"]) in green.detail
    assert set(_keys(dest)) == {"blue.png", "red.png"}


def test_missing_source_file_is_lost_and_fails_the_run(tmp_path: Path, stores: Callable[[str], str]) -> None:
    src, dest = stores("file"), stores("gs")
    _seed(src, {"blue.png": CONTENT["blue.png"]})
    options = _onefile(tmp_path, src, dest)
    dry = promote_files(options)
    assert dry.counts() == {plan.COPY: 1, plan.LOST: 2} and dry.error() is not None


class _Racing:
    """A real source store whose reader lets a rival write the destination first (after the plan said copy).

    The emulator ignores generation preconditions, so this exercises the check put_new makes before writing; the
    precondition itself (if_generation_match=0) is what guards the real service."""

    def __init__(self, inner: ObjectStore, rival: ObjectStore, data: bytes) -> None:
        self.inner, self.rival, self.data = inner, rival, data
        self.url = inner.url

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def reader(self, key: str) -> AbstractContextManager[BinaryIO]:
        if not self.rival.exists(key):
            self.rival.put_new(key, self.data)
        return self.inner.reader(key)


def test_destination_written_by_someone_else_mid_run_is_a_conflict_not_an_overwrite(
    tmp_path: Path, stores: Callable[[str], str]
) -> None:
    src, dest = stores("gs"), stores("gs")
    _seed(src)
    options = _onefile(tmp_path, src, dest)
    rival = open_store(dest)

    def opener(url: str) -> ObjectStore:
        store = open_store(url)
        return _Racing(store, rival, b"rival\n") if url == src else store  # type: ignore[return-value]

    result = promote_files(FilePromoteOptions(options.filestores, options.files, confirm=True), opener=opener)
    assert result.counts() == {plan.CONFLICT: 3}
    assert all(_sha(b"rival\n") in op.detail for op in result.ops)
    assert _keys(dest) == dict.fromkeys(CONTENT, b"rival\n")


def test_unreachable_bucket_fails_only_its_files(tmp_path: Path, stores: Callable[[str], str]) -> None:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    src, good = stores("file"), stores("file")
    _seed(src)
    dead = storage.Client(project="x", credentials=AnonymousCredentials(),
                          client_options=ClientOptions(api_endpoint="http://127.0.0.1:9"))
    tree = _tree(tmp_path, "onefile", {"gs://src": src, "gs://dest": good})
    fs = tree / "filepromoter-manifest.yaml"
    fs.write_text(fs.read_text() + "- base: gs://unreachable/binaries\n")

    def opener(url: str) -> ObjectStore:
        if url.startswith("gs://"):
            return GCSStore.from_url(url, client=dead, retry_timeout=0.2)
        return open_store(url)

    result = promote_files(FilePromoteOptions(fs, tree / "files.yaml", confirm=True), opener=opener)
    actions = {(op.dest, op.action) for op in result.ops}
    assert actions == {(good, plan.COPIED), ("gs://unreachable/binaries", plan.UNREADABLE)}
    assert all("unreachable" in op.detail for op in result.ops if op.action == plan.UNREADABLE)
    assert _keys(good) == CONTENT


def test_symlink_in_a_file_destination_is_refused_and_nothing_lands_outside(
    tmp_path: Path, stores: Callable[[str], str]
) -> None:
    src, dest = stores("file"), stores("file")
    _seed(src, {"v1/kubectl": b"kubectl\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(dest.removeprefix("file://")) / "v1").symlink_to(outside)
    (tmp_path / "fs.yaml").write_text(f"filestores:\n- base: {src}\n  src: true\n- base: {dest}\n")
    (tmp_path / "f.yaml").write_text(f"files:\n- name: v1/kubectl\n  sha256: {_sha(b'kubectl' + bytes([10]))}\n")
    result = promote_files(FilePromoteOptions(tmp_path / "fs.yaml", tmp_path / "f.yaml", confirm=True))
    assert [op.action for op in result.ops] == [plan.UNREADABLE]
    assert "symlink" in result.ops[0].detail
    assert list(outside.iterdir()) == []


def _cli_tree(tmp_path: Path, stores: Callable[[str], str]) -> tuple[Path, str]:
    src, dest = stores("file"), stores("file")
    _seed(src)
    return _tree(tmp_path, "manyfiles", {"gs://src": src, "gs://dest": dest}), dest


def test_cli_dry_run_prints_records_and_writes_nothing(
    tmp_path: Path, stores: Callable[[str], str], cli: CliRunner, krel_home: Path
) -> None:
    tree, dest = _cli_tree(tmp_path, stores)
    args = ["promote", "files", "--filestores", str(tree / "filepromoter-manifest.yaml"),
            "--files", str(tree / "files")]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [line.split("\t") for line in result.output.splitlines() if "\t" in line]
    assert [(r[0], r[2], r[3]) for r in records] == [(n, f"{dest}/{n}", "copy") for n in CONTENT]
    assert "dry run: rerun with --confirm" in result.output
    assert _keys(dest) == {}

    confirmed = cli.invoke(app, [*args, "--confirm", "--json"])
    assert confirmed.exit_code == 0, confirmed.output
    data = json.loads(confirmed.output)
    assert data["mode"] == "confirm" and data["counts"] == {"copied": 3}
    assert _keys(dest) == CONTENT


def test_cli_conflict_exits_1_and_bad_flags_exit_2(
    tmp_path: Path, stores: Callable[[str], str], cli: CliRunner, krel_home: Path
) -> None:
    tree, dest = _cli_tree(tmp_path, stores)
    open_store(dest).put_new("blue.png", b"not blue\n")
    args = ["promote", "files", "--filestores", str(tree / "filepromoter-manifest.yaml"),
            "--files", str(tree / "files")]
    result = cli.invoke(app, [*args, "--confirm"])
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output and "Traceback" not in result.output
    assert open_store(dest).get("blue.png") == b"not blue\n"
    usage = cli.invoke(app, ["promote", "files", "--files", str(tree / "files")])
    assert usage.exit_code == 2 and "--filestores and --files go together" in usage.output


def test_cli_help_has_examples(cli: CliRunner) -> None:
    result = cli.invoke(app, ["promote", "files", "--help"])
    assert result.exit_code == 0 and "Example: krel promote files --manifests" in result.output
