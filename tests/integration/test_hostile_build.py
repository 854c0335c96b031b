"""Build outputs stay inside their tree: a hostile build.output_dir never empties a directory outside the clone, and
symlinks (in the build output, in a tree being uploaded, in a file:// bucket) are refused instead of followed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from releng import git
from releng.errors import ReleaseError
from releng.jobs.clients import Clients, ReleaseTexts
from releng.jobs.handlers.build import BUILD_DONE, build_artifacts
from releng.jobs.steps import BuildArtifacts
from releng.objectstore import open_store
from releng.objectstore.local import LocalStore
from releng.objectstore.sync import sync, upload_tree
from releng.paths import PathEscapeError, inside
from releng.profile import Author, load_profile

ROBOT = Author("t", "t@localhost")
VARS = {"krel_home": "/krel-home", "local_registry": "127.0.0.1:5000"}


def _backends() -> Clients:
    profile = load_profile("local", VARS)
    return Clients(ReleaseTexts(profile))


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """A tagged clone in job/src and a precious directory beside the job that nothing may touch."""
    repo = git.init(tmp_path / "job" / "src")
    (repo / "README").write_text("x")
    sha = git.commit_paths(repo, ["README"], "initial", ROBOT)
    assert sha is not None
    git.tag(repo, "v1.0.0", sha, "v1.0.0", ROBOT)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    return repo, precious


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every path below root (outside .git) with its content."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else b"") for p in root.rglob("*")
            if ".git" not in p.relative_to(root).parts}


def _step(repo: Path, command: str, output_dir: str) -> BuildArtifacts:
    return BuildArtifacts(str(repo), "v1.0.0", "v1.0.0", command, output_dir, str(repo.parent / "_output-v1.0.0"))


# build.output_dir values from a hostile profile (PRECIOUS is replaced by the absolute path of the precious dir)
OUTPUT_DIRS = [
    ("absolute", "PRECIOUS"),
    ("dotdot", "../../precious"),
    ("dotdot-inside-first", "sub/../../../precious"),
    ("the-clone-itself", "."),
    ("empty", ""),
    ("parent-of-clone", ".."),
]


@pytest.mark.parametrize("output_dir", [v for _, v in OUTPUT_DIRS], ids=[n for n, _ in OUTPUT_DIRS])
def test_output_dir_outside_the_clone_is_refused_and_nothing_removed(world: tuple[Path, Path], output_dir: str) -> None:
    repo, precious = world
    value = output_dir.replace("PRECIOUS", str(precious))
    before, clone_before = _snapshot(precious), _snapshot(repo)
    with pytest.raises(PathEscapeError, match=r"build.output_dir .* leaves .*: expected a relative path inside it"):
        build_artifacts(_step(repo, f"mkdir -p '{value}' && touch '{value}/built'", value), _backends())
    assert _snapshot(precious) == before
    assert _snapshot(repo) == clone_before


def test_output_dir_that_is_a_committed_symlink_out_of_the_clone_is_refused(world: tuple[Path, Path]) -> None:
    repo, precious = world
    (repo / "_output").symlink_to(precious)
    git.run(repo, "add", "_output")
    git.run(repo, "commit", "--quiet", "-m", "out link")
    git.run(repo, "tag", "-f", "v1.0.0")
    before = _snapshot(precious)
    with pytest.raises(PathEscapeError, match=r"build.output_dir '_output' leaves"):
        build_artifacts(_step(repo, "true", "_output"), _backends())
    assert _snapshot(precious) == before


# what a hostile build leaves in its output: a link to a file, a directory, an image tarball outside the tree, a fifo
LINKS = [
    ("link-to-file", "ln -s {outside}/secret.txt _output/release-tars/kubernetes.tar.gz", "symlink"),
    ("link-to-dir", "ln -s {outside} _output/bin", "symlink"),
    ("link-to-image", "mkdir -p _output/release-images/amd64 && ln -s {outside}/img.tar "
                      "_output/release-images/amd64/demo.tar", "symlink"),
    ("dangling-link", "ln -s /nonexistent/x _output/release-tars/x.tar.gz", "symlink"),
    ("relative-link-inside", "ln -s ../README _output/release-tars/readme", "symlink"),
    ("fifo", "mkfifo _output/release-tars/pipe", "not a regular file or directory"),
]


@pytest.mark.parametrize(("command", "problem"), [(c, p) for _, c, p in LINKS], ids=[n for n, _, _ in LINKS])
def test_special_files_in_the_build_output_are_refused(world: tuple[Path, Path], command: str, problem: str) -> None:
    repo, precious = world
    (precious / "secret.txt").write_text("secret")
    (precious / "img.tar").write_text("not yours")
    script = "mkdir -p _output/release-tars && " + command.format(outside=precious)
    with pytest.raises(ReleaseError, match=rf"build output of v1.0.0: .* is (a )?{problem}"):
        build_artifacts(_step(repo, script, "_output"), _backends())
    dest = repo.parent / "_output-v1.0.0"
    assert not dest.exists() and not (repo / "_output" / BUILD_DONE).exists()


def test_a_regular_build_output_still_builds(world: tuple[Path, Path]) -> None:
    repo, _ = world
    build_artifacts(_step(repo, "mkdir -p out/bin && echo x > out/bin/tool", "out"), _backends())
    assert (repo.parent / "_output-v1.0.0" / "bin" / "tool").read_text() == "x\n"


def test_inside_resolves_a_plain_relative_path(tmp_path: Path) -> None:
    assert inside(tmp_path, "a/b/../c") == tmp_path.resolve() / "a" / "c"


def _tree_with(tmp_path: Path, kind: str) -> Path:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "ok.txt").write_text("ok")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    if kind == "file-link":
        (tree / "sub" / "secret.txt").symlink_to(outside / "secret.txt")
    elif kind == "dir-link":
        (tree / "linked").symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(tree / "sub" / "pipe")
    return tree


@pytest.mark.parametrize("kind", ["file-link", "dir-link", "fifo"])
def test_upload_tree_refuses_special_files_before_uploading_anything(tmp_path: Path, kind: str) -> None:
    store = open_store((tmp_path / "bucket").as_uri())
    with pytest.raises(ReleaseError, match=r"upload: .* is (a symlink|not a regular file or directory)"):
        upload_tree(_tree_with(tmp_path, kind), store, "stage/x")
    assert list(store.list("")) == []


def _bucket_with_link(tmp_path: Path, where: str) -> tuple[LocalStore, Path]:
    """A file:// bucket holding staged objects, plus one link planted by whoever can write the bucket's disk."""
    store = LocalStore((tmp_path / "bucket").as_uri())
    store.put_new("stage/bv/a.txt", b"a")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = store.root
    if where == "key-is-link":
        (root / "stage" / "bv" / "secret.txt").symlink_to(outside / "secret.txt")
    elif where == "parent-is-link":
        (root / "stage" / "bv" / "linked").symlink_to(outside)
    elif where == "release-dir-is-link":
        (root / "release").symlink_to(outside)
    elif where == "tmp-dir-is-link":
        (root / ".krel-tmp").symlink_to(outside)
    return store, outside


STORE_OPS: list[tuple[str, str, Callable[[LocalStore], object]]] = [
    ("get-link", "key-is-link", lambda s: s.get("stage/bv/secret.txt")),
    ("exists-link", "key-is-link", lambda s: s.exists("stage/bv/secret.txt")),
    ("reader-link", "key-is-link", lambda s: s.reader("stage/bv/secret.txt").__enter__()),
    ("list-with-link", "key-is-link", lambda s: list(s.list("stage/"))),
    ("get-through-parent", "parent-is-link", lambda s: s.get("stage/bv/linked/secret.txt")),
    ("list-with-linked-dir", "parent-is-link", lambda s: list(s.list("stage/"))),
    ("sync-with-link", "key-is-link", lambda s: sync(s, "stage/bv", s, "release/v1")),
    ("copy-link", "key-is-link", lambda s: s.copy_to("stage/bv/secret.txt", s, "release/v1/secret.txt")),
    ("write-through-parent", "release-dir-is-link", lambda s: s.put_new("release/v1/x.txt", b"x")),
    ("copy-into-linked-dir", "release-dir-is-link", lambda s: s.copy_to("stage/bv/a.txt", s, "release/v1/a.txt")),
    ("marker-through-link", "release-dir-is-link", lambda s: s.put_if_generation("release/latest.txt", b"v", None)),
    ("write-through-tmp-link", "tmp-dir-is-link", lambda s: s.put_new("stage/bv/b.txt", b"b")),
]


@pytest.mark.parametrize(("where", "op"), [(w, o) for _, w, o in STORE_OPS], ids=[n for n, _, _ in STORE_OPS])
def test_file_bucket_never_reads_or_writes_through_a_symlink(
    tmp_path: Path, where: str, op: Callable[[LocalStore], object]
) -> None:
    store, outside = _bucket_with_link(tmp_path, where)
    before = _snapshot(outside)
    with pytest.raises(ReleaseError, match=r"is a symlink; objects are never read or written through links"):
        op(store)
    assert _snapshot(outside) == before
