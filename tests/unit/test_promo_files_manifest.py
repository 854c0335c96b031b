"""File-promoter manifests: the original's fixtures parse to its expected merged manifests; every hostile or broken
manifest is one `file:line: problem` (ManifestError), never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from releng.errors import ReleaseError, UsageError
from releng.promo.files.manifest import read_manifest, read_manifests_dir
from releng.promo.files.promote import FilePromoteOptions, load_manifests
from releng.promo.manifests import ManifestError

from tests.fixtures.promo import PROMO_DATA

PROMOBOT = PROMO_DATA / "promo-tools/promobot/testdata"
SHA = "905fef7b0658ff5d266140d1cea1eb5b414393b4d0c7897b05beae78678395c3"
FILESTORES = "filestores:\n- base: gs://src\n  src: true\n- base: gs://dest\n"


def _expected(case: str) -> list[dict[str, object]]:
    data = yaml.safe_load((PROMOBOT / "expected" / f"{case}.yaml").read_text())
    assert isinstance(data, list)
    return data


def _as_expected(manifest: object) -> dict[str, object]:
    files = [{"name": f.name, "sha256": f.sha256} for f in manifest.files]  # type: ignore[attr-defined]
    stores = [{"base": s.base, "src": True} if s.src else {"base": s.base}
              for s in manifest.filestores]  # type: ignore[attr-defined]
    return {"files": files, "filestores": stores}


def test_onefile_matches_the_originals_expected_manifest() -> None:
    case = PROMOBOT / "manifests/onefile"
    m = read_manifest(case / "filepromoter-manifest.yaml", case / "files.yaml")
    assert [_as_expected(m)] == _expected("onefile")


def test_manyfiles_directory_is_merged_in_name_order() -> None:
    case = PROMOBOT / "manifests/manyfiles"
    m = read_manifest(case / "filepromoter-manifest.yaml", case / "files")
    assert [_as_expected(m)] == _expected("manyfiles")


def test_manyprojects_tree_gives_one_manifest_per_project() -> None:
    assert [_as_expected(m) for m in read_manifests_dir(PROMOBOT / "manifests/manyprojects")] == _expected(
        "manyprojects")


def test_top_level_files_manifest_fixture_pairs_with_a_filestores_manifest(tmp_path: Path) -> None:
    (tmp_path / "fs.yaml").write_text(FILESTORES)
    m = read_manifest(tmp_path / "fs.yaml", PROMOBOT / "files-manifest.yaml")
    assert [f.name for f in m.files] == ["blue.png", "green.png", "red.png"]
    assert m.src.base == "gs://src" and [d.base for d in m.destinations] == ["gs://dest"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({}, "give either --filestores"),
        ({"filestores": Path("a"), "files": Path("b"), "manifests_dir": Path("c")}, "give either --filestores"),
        ({"filestores": Path("a")}, "--filestores and --files go together"),
        ({"files": Path("b")}, "--filestores and --files go together"),
    ],
    ids=["none", "both-modes", "filestores-alone", "files-alone"],
)
def test_flag_combinations_are_usage_errors(flags: dict[str, Path], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_manifests(FilePromoteOptions(**flags))


def _stores(*entries: str) -> str:
    return "filestores:\n" + "".join(entries)


# (filestores manifest text, expected problem): the original's ValidateFilestores cases first, then krel's own.
HOSTILE_FILESTORES = {
    "no-filestores-key": ("{}\n", "at least one filestore must be specified"),
    "empty-list": ("filestores: []\n", "at least one filestore must be specified"),
    "null-list": ("filestores:\n", "at least one filestore must be specified"),
    "only-source": (_stores("- base: gs://src\n  src: true\n"), "no destination filestores found"),
    "no-source": (_stores("- base: gs://dest1\n"), "source filestore not found"),
    "two-sources": (_stores("- base: gs://a\n  src: true\n- base: gs://b\n  src: true\n"),
                    "found multiple source filestores"),
    "no-base": (_stores("- src: true\n- base: gs://dest\n"), "filestore did not have base set"),
    "s3-unsupported": (_stores("- base: s3://src\n  src: true\n- base: gs://d\n"), "unsupported scheme in base"),
    "http-unsupported": (_stores("- base: http://x/src\n  src: true\n- base: gs://d\n"), "unsupported scheme"),
    "no-scheme": (_stores("- base: /srv/src\n  src: true\n- base: gs://d\n"), "unsupported scheme"),
    "gs-no-bucket": (_stores("- base: gs:///x\n  src: true\n- base: gs://d\n"), "names no bucket"),
    "file-with-host": (_stores("- base: file://evil.example/x\n  src: true\n- base: gs://d\n"),
                       "is not file:///absolute/dir"),
    "file-relative": (_stores("- base: 'file:x/y'\n  src: true\n- base: gs://d\n"), "is not file:///absolute/dir"),
    "base-dotdot": (_stores("- base: gs://src\n  src: true\n- base: gs://d/binaries/../../x\n"),
                    "'.' or '..' segment"),
    "base-query": (_stores("- base: gs://src?alt=media\n  src: true\n- base: gs://d\n"), "query or fragment"),
    "base-control-char": (_stores('- base: "gs://src\\x1b[2J"\n  src: true\n- base: gs://d\n'), "control characters"),
    "base-not-string": (_stores("- base: [gs://a]\n  src: true\n- base: gs://d\n"), "filestore base must be a string"),
    "src-not-bool": (_stores("- base: gs://a\n  src: maybe\n- base: gs://d\n"), "src must be true or false"),
    "duplicate-destination": (_stores("- base: gs://a\n  src: true\n- base: gs://d\n- base: gs://d/\n"),
                              "is listed twice"),
    "unknown-key-typo": (_stores("- bas: gs://a\n  src: true\n- base: gs://d\n"), "unknown key 'bas' (did you mean"),
    "duplicate-key": (_stores("- base: gs://a\n  base: gs://b\n  src: true\n- base: gs://d\n"), "duplicate key"),
    "filestores-not-list": ("filestores: gs://a\n", "filestores must be a list"),
    "entry-not-mapping": (_stores("- gs://a\n"), "filestore must be a mapping"),
    "files-in-filestores": (FILESTORES + f"files:\n- name: a\n  sha256: {SHA}\n", "files should not be present"),
    "top-level-list": ("- base: gs://a\n", "filestores manifest must be a mapping"),
    "malformed-yaml": ("filestores: [\n", "malformed YAML"),
    "alias-bomb": ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)),
        "aliases expand"),
    "deep-nesting": ("filestores: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
    "empty-file": ("", "empty filestores manifest"),
}


@pytest.mark.parametrize(("text", "message"), list(HOSTILE_FILESTORES.values()), ids=list(HOSTILE_FILESTORES))
def test_hostile_filestores_manifest_is_one_problem_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "fs.yaml").write_text(text)
    (tmp_path / "files.yaml").write_text(f"files:\n- name: a\n  sha256: {SHA}\n")
    with pytest.raises(ManifestError) as info:
        read_manifest(tmp_path / "fs.yaml", tmp_path / "files.yaml")
    assert message in str(info.value)
    assert f"{tmp_path / 'fs.yaml'}" in str(info.value)


def _files(*entries: str) -> str:
    return "files:\n" + "".join(entries)


# (files manifest text, expected problem): the original's ValidateFiles cases, then names that would leave the
# destination prefix or spoof output, then structure.
HOSTILE_FILES = {
    "no-files": ("files: []\n", "at least one file must be specified"),
    "no-name": (_files(f"- sha256: {SHA}\n"), "name is required for file"),
    "no-sha": (_files("- name: foo\n"), "sha256 is required for file foo"),
    "sha-not-hex": (_files("- name: foo\n  sha256: bad\n"), "sha256 was not valid (not hex)"),
    "sha-bad-length": (_files("- name: foo\n  sha256: abcd\n"), "sha256 was not valid (bad length)"),
    "sha-odd-length": (_files("- name: foo\n  sha256: abc\n"), "sha256 was not valid (not hex)"),
    "sha-sha512-length": (_files(f"- name: foo\n  sha256: {SHA * 2}\n"), "bad length"),
    "name-absolute": (_files(f"- name: /etc/passwd\n  sha256: {SHA}\n"), "is absolute"),
    "name-dotdot": (_files(f"- name: ../../prod/kubectl\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-inner-dotdot": (_files(f"- name: v1/../../x\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-dot": (_files(f"- name: ./x\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-empty-segment": (_files(f"- name: a//b\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-trailing-slash": (_files(f"- name: a/\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-backslash": (_files(f"- name: 'a\\..\\..\\x'\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-only-dotdot": (_files(f"- name: '..'\n  sha256: {SHA}\n"), "not a plain relative path"),
    "name-nul": (_files(f'- name: "a\\0b"\n  sha256: {SHA}\n'), "control characters"),
    "name-newline": (_files(f'- name: "a\\nOK b"\n  sha256: {SHA}\n'), "control characters"),
    "name-escape": (_files(f'- name: "a\\x1b[2Jb"\n  sha256: {SHA}\n'), "control characters"),
    "name-too-long": (_files(f"- name: {'a' * 1025}\n  sha256: {SHA}\n"), "longer than 1024 bytes"),
    "name-not-string": (_files(f"- name: [a]\n  sha256: {SHA}\n"), "file name must be a string"),
    "name-null": (_files(f"- name: ~\n  sha256: {SHA}\n"), "file name must be a string"),
    "same-name-two-hashes": (_files(f"- name: a\n  sha256: {SHA}\n", f"- name: a\n  sha256: {'0' * 64}\n"),
                             "is also listed at"),
    "unknown-key": (_files(f"- name: a\n  sha265: {SHA}\n"), "unknown key 'sha265' (did you mean 'sha256'?)"),
    "filestores-in-files": (FILESTORES + _files(f"- name: a\n  sha256: {SHA}\n"), "filestores should not be present"),
    "files-not-list": ("files: {name: a}\n", "files must be a list"),
    "not-utf8": (b"files:\n- name: \xff\n".decode("latin-1"), "not UTF-8"),
}


@pytest.mark.parametrize(("text", "message"), list(HOSTILE_FILES.values()), ids=list(HOSTILE_FILES))
def test_hostile_files_manifest_is_one_problem_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "fs.yaml").write_text(FILESTORES)
    files = tmp_path / "files.yaml"
    # not-utf8 is written as raw bytes; every other text as UTF-8
    files.write_bytes(text.encode("latin-1") if message == "not UTF-8" else text.encode())
    with pytest.raises(ManifestError) as info:
        read_manifest(tmp_path / "fs.yaml", files)
    assert message in str(info.value)
    assert str(files) in str(info.value)


def test_upper_case_hex_is_accepted_and_normalised(tmp_path: Path) -> None:
    (tmp_path / "fs.yaml").write_text(FILESTORES)
    (tmp_path / "f.yaml").write_text(_files(f"- name: a\n  sha256: {SHA.upper()}\n"))
    assert read_manifest(tmp_path / "fs.yaml", tmp_path / "f.yaml").files[0].sha256 == SHA


def test_same_name_same_hash_twice_is_redundant_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "fs.yaml").write_text(FILESTORES)
    (tmp_path / "f.yaml").write_text(_files(f"- name: a\n  sha256: {SHA}\n", f"- name: a\n  sha256: {SHA}\n"))
    assert [f.name for f in read_manifest(tmp_path / "fs.yaml", tmp_path / "f.yaml").files] == ["a"]


def test_every_problem_of_every_file_is_listed(tmp_path: Path) -> None:
    (tmp_path / "fs.yaml").write_text(_stores("- base: s3://a\n  src: true\n- base: gs://d\n"))
    (tmp_path / "files").mkdir()
    (tmp_path / "files/1.yaml").write_text(_files(f"- name: /abs\n  sha256: {SHA}\n"))
    (tmp_path / "files/2.yaml").write_text(_files("- name: ok\n  sha256: xyz\n"))
    with pytest.raises(ManifestError) as info:
        read_manifest(tmp_path / "fs.yaml", tmp_path / "files")
    lines = str(info.value).splitlines()
    assert lines[0] == "3 manifest problems:"
    assert [line.split(": ", 1)[0] for line in lines[1:]] == [
        f"{tmp_path}/fs.yaml:2", f"{tmp_path}/files/1.yaml:2", f"{tmp_path}/files/2.yaml:3"]


HOSTILE_TREES = {
    "no-filestores-dir": ({"manifests/p/a.yaml": _files(f"- name: a\n  sha256: {SHA}\n")}, "no filestores/ directory"),
    "project-without-manifest": ({"filestores/p/other.yaml": FILESTORES}, "missing (every filestores/<project>/"),
    "project-without-files": ({"filestores/p/filepromoter-manifest.yaml": FILESTORES}, "no files manifests for 'p'"),
    "orphan-files-project": ({"filestores/p/filepromoter-manifest.yaml": FILESTORES,
                              "manifests/p/a.yaml": _files(f"- name: a\n  sha256: {SHA}\n"),
                              "manifests/q/a.yaml": _files(f"- name: a\n  sha256: {SHA}\n")}, "project 'q' has no"),
    "empty-filestores-dir": ({"filestores/.keep": ""}, "no projects found"),
    "missing-files-path": (None, "files manifest does not exist"),
}


@pytest.mark.parametrize(("tree", "message"), list(HOSTILE_TREES.values()), ids=list(HOSTILE_TREES))
def test_broken_manifest_trees_are_named(tmp_path: Path, tree: dict[str, str] | None, message: str) -> None:
    if tree is None:
        (tmp_path / "fs.yaml").write_text(FILESTORES)
        with pytest.raises(ManifestError) as missing:
            read_manifest(tmp_path / "fs.yaml", tmp_path / "nope")
        assert message in str(missing.value)
        return
    for rel, text in tree.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    with pytest.raises(ReleaseError) as info:
        read_manifests_dir(tmp_path)
    assert message in str(info.value)
