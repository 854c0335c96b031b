"""The inventory cache file (parse, write, reconcile with tags/list) and the tags/list parser, on hostile input:
anything malformed is ignored (cache) or one RegistryError naming the registry and repository (listing)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.errors import ReleaseError
from releng.registry.client import RegistryError
from releng.registry.invcache import FORMAT, InventoryCache, MovedTag, MovedTagError, RepoCache, dump_entry, parse_entry
from releng.registry.listing import parse_listing

A, B, C = ("sha256:" + x * 64 for x in "abc")
HOST, REPO = "127.0.0.1:5000", "prod/foo"
INDEX = "application/vnd.oci.image.index.v1+json"
GOOD = RepoCache({"1.0": A}, {A: INDEX, B: "m", C: "m"}, {A: [B]})


def good_doc() -> dict[str, Any]:
    return json.loads(dump_entry(GOOD, HOST, REPO))


def test_round_trip_and_stable_bytes(tmp_path: Path) -> None:
    cache = InventoryCache(tmp_path)
    cache.save(HOST, REPO, GOOD)
    path = cache.path_for(HOST, REPO)
    assert path == tmp_path / "127.0.0.1_5000" / "prod+foo.json"
    assert cache.load(HOST, REPO) == GOOD
    first = path.read_bytes()
    cache.save(HOST, REPO, GOOD)
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["prod+foo.json"]  # no temp file left behind


def _set(doc: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**doc, key: value}


# Each case: the file's text. Every one must be ignored (None), never trusted and never an exception.
HOSTILE_FILES: dict[str, str | bytes] = {
    "cut-in-half": dump_entry(GOOD, HOST, REPO)[:40],
    "cut-before-last-brace": dump_entry(GOOD, HOST, REPO).rstrip()[:-1],
    "empty": "",
    "whitespace": "   \n",
    "not-json": "tags: {1.0: sha256:aaa}",
    "json-list": "[]",
    "json-null": "null",
    "json-string": '"format"',
    "no-format": json.dumps({k: v for k, v in good_doc().items() if k != "format"}),
    "other-format": json.dumps(_set(good_doc(), "format", FORMAT + 1)),
    "format-as-string": json.dumps(_set(good_doc(), "format", str(FORMAT))),
    "format-true": json.dumps(_set(good_doc(), "format", True)),
    "other-registry": json.dumps(_set(good_doc(), "registry", "gcr.io")),
    "other-repository": json.dumps(_set(good_doc(), "repository", "prod/bar")),
    "tags-not-object": json.dumps(_set(good_doc(), "tags", [A])),
    "tag-to-short-digest": json.dumps(_set(good_doc(), "tags", {"1.0": "sha256:abc"})),
    "tag-to-uppercase-digest": json.dumps(_set(good_doc(), "tags", {"1.0": A.upper()})),
    "tag-to-digest-newline": json.dumps(_set(good_doc(), "tags", {"1.0": A + "\n"})),
    "tag-to-number": json.dumps(_set(good_doc(), "tags", {"1.0": 1})),
    "unicode-tag": json.dumps(_set(good_doc(), "tags", {"안녕": A})),
    "tag-with-newline": json.dumps(_set(good_doc(), "tags", {"latest\n": A})),
    "tag-path-traversal": json.dumps(_set(good_doc(), "tags", {"../../x": A})),
    "digests-key-invalid": json.dumps(_set(good_doc(), "digests", {"md5:00": "m"})),
    "digests-value-not-string": json.dumps(_set(good_doc(), "digests", {A: None})),
    "children-not-list": json.dumps(_set(good_doc(), "children", {A: B})),
    "children-bad-digest": json.dumps(_set(good_doc(), "children", {A: ["sha256:zz"]})),
    "children-missing": json.dumps({k: v for k, v in good_doc().items() if k != "children"}),
    "binary-garbage": b"\x00\xff\xfe" * 30,
    "utf16": json.dumps(good_doc()).encode("utf-16"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_hostile_cache_file_is_ignored(tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture) -> None:
    cache = InventoryCache(tmp_path)
    path = cache.path_for(HOST, REPO)
    path.parent.mkdir(parents=True)
    data = HOSTILE_FILES[case]
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    assert cache.load(HOST, REPO) is None
    assert str(path) in caplog.text and "ignored" in caplog.text
    cache.save(HOST, REPO, GOOD)  # the next read rewrites it whole
    assert cache.load(HOST, REPO) == GOOD


def test_directory_in_place_of_file_is_ignored_and_save_only_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = InventoryCache(tmp_path)
    cache.path_for(HOST, REPO).mkdir(parents=True)
    assert cache.load(HOST, REPO) is None
    cache.save(HOST, REPO, GOOD)  # cannot replace a directory: a warning, not a failed run
    cache.save(HOST, REPO, GOOD)
    assert caplog.text.count("not written") == 1


def test_unwritable_cache_root_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    InventoryCache(blocker / "cache").save(HOST, REPO, GOOD)
    assert "not written" in caplog.text


@pytest.mark.parametrize(
    ("host", "repo"),
    [
        ("127.0.0.1:5000", "../../etc"),
        ("127.0.0.1:5000", "prod/../../x"),
        ("127.0.0.1:5000", "/abs"),
        ("127.0.0.1:5000", "Prod/Upper"),
        ("127.0.0.1:5000", "prod//foo"),
        ("127.0.0.1:5000", "prod/foo\n"),
        ("127.0.0.1:5000", "prod/føo"),
        ("../x", "prod/foo"),
        ("host/with/slash", "prod/foo"),
        ("", "prod/foo"),
        ("127.0.0.1:5000\x00", "prod/foo"),
    ],
    ids=["dotdot", "dotdot-inside", "absolute", "uppercase", "empty-component", "newline", "unicode",
         "host-dotdot", "host-slash", "host-empty", "host-nul"],
)
def test_names_that_are_not_registry_names_never_become_paths(tmp_path: Path, host: str, repo: str) -> None:
    with pytest.raises(ReleaseError, match="is not a registry repository name"):
        InventoryCache(tmp_path).path_for(host, repo)
    assert list(tmp_path.iterdir()) == []


def test_long_repository_names_are_hashed_and_distinct(tmp_path: Path) -> None:
    cache = InventoryCache(tmp_path)
    long_a, long_b = "a/" + "x" * 230, "a/" + "x" * 229 + "y"
    pa, pb = cache.path_for(HOST, long_a), cache.path_for(HOST, long_b)
    assert pa != pb and len(pa.name) < 100
    cache.save(HOST, long_a, GOOD)
    assert cache.load(HOST, long_b) is None and cache.load(HOST, long_a) == GOOD


def test_flattened_names_cannot_collide(tmp_path: Path) -> None:
    cache = InventoryCache(tmp_path)
    assert cache.path_for(HOST, "a/b.json") != cache.path_for(HOST, "a/b")
    assert cache.path_for("h:1", "x") != cache.path_for("h", "1/x")


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        (["1.0"], GOOD),
        (["1.0", "2.0"], GOOD),  # a new tag: the cache simply does not know it yet (it will be HEADed)
        ([], RepoCache({}, {}, {})),  # the tag went away: untagged digests are no longer vouched for
    ],
    ids=["unchanged", "tag-added", "tag-deleted"],
)
def test_still_listed(listed: list[str], expected: RepoCache) -> None:
    assert GOOD.still_listed(listed) == expected


def test_still_listed_keeps_what_a_listed_tag_reaches() -> None:
    entry = RepoCache({"1.0": A, "gone": C}, {A: INDEX, B: "m", C: "m"}, {A: [B]})
    assert entry.still_listed(["1.0"]) == RepoCache({"1.0": A}, {A: INDEX, B: "m"}, {A: [B]})


def test_moved_tag_error_is_one_line_naming_the_file(tmp_path: Path) -> None:
    move = MovedTag("h/prod/foo", "1.0", A, B, tmp_path / "f.json")
    one = str(MovedTagError.of([move]))
    assert "\n" not in one and "h/prod/foo:1.0" in one and A in one and B in one and "f.json" in one
    assert str(MovedTagError.of([move, move])).count("\n") == 2


# -- tags/list as the registry sends it -----------------------------------------------------------------------------

WHERE = "registry r, repository prod/foo"
GOOGLE_PAGE = {
    "name": "prod/foo",
    "tags": ["1.0"],
    "child": ["sub"],
    "manifest": {A: {"tag": ["1.0"], "mediaType": INDEX, "imageSizeBytes": "1"}, B: {"mediaType": "m"}},
}


def test_google_listing_parsed() -> None:
    listing = parse_listing([GOOGLE_PAGE], WHERE)
    assert listing.extended and listing.tags == ("1.0",) and listing.children == ("sub",)
    assert listing.manifests == {A: (INDEX, ("1.0",)), B: ("m", ())}


def test_plain_listing_and_pages_merged() -> None:
    listing = parse_listing([{"tags": ["a"]}, {"tags": None}, {"tags": ["b"]}], WHERE)
    assert not listing.extended and listing.tags == ("a", "b") and listing.pages == 3
    merged = parse_listing([GOOGLE_PAGE, {"tags": [], "manifest": {C: {"mediaType": "m", "tag": []}}}], WHERE)
    assert merged.manifests is not None and set(merged.manifests) == {A, B, C}


HOSTILE_PAGES: dict[str, Any] = {
    "page-is-list": [],
    "page-is-string": "tags",
    "tags-is-string": {"tags": "1.0"},
    "tags-is-object": {"tags": {"1.0": A}},
    "tag-is-number": {"tags": [1]},
    "tag-unicode": {"tags": ["안녕"]},
    "tag-trailing-newline": {"tags": ["latest\n"]},
    "tag-slash": {"tags": ["../manifests/x"]},
    "tag-empty": {"tags": [""]},
    "tag-too-long": {"tags": ["a" * 129]},
    "tag-leading-dot": {"tags": [".hidden"]},
    "manifest-is-list": {"tags": [], "manifest": [A]},
    "manifest-bad-digest": {"tags": [], "manifest": {"sha256:xyz": {}}},
    "manifest-digest-uppercase": {"tags": [], "manifest": {A.upper(): {}}},
    "manifest-digest-newline": {"tags": [], "manifest": {A + "\n": {}}},
    "manifest-entry-not-object": {"tags": [], "manifest": {A: "x"}},
    "manifest-mediatype-number": {"tags": [], "manifest": {A: {"mediaType": 3}}},
    "manifest-tag-is-string": {"tags": [], "manifest": {A: {"tag": "1.0"}}},
    "manifest-tag-unicode": {"tags": [], "manifest": {A: {"tag": ["ｖ1"]}}},
    "child-is-string": {"tags": [], "child": "sub"},
    "child-dotdot": {"tags": [], "child": [".."]},
    "child-absolute": {"tags": [], "child": ["/etc"]},
    "child-uppercase": {"tags": [], "child": ["Sub"]},
    "child-empty": {"tags": [], "child": [""]},
}


@pytest.mark.parametrize("case", list(HOSTILE_PAGES))
def test_hostile_listing_is_one_registry_error(case: str) -> None:
    with pytest.raises(RegistryError) as err:
        parse_listing([HOSTILE_PAGES[case]], WHERE)
    assert str(err.value).startswith(WHERE) and "\n" not in str(err.value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
                    max_leaves=12))  # fmt: skip
def test_any_json_page_parses_or_is_our_error(page: Any) -> None:
    with contextlib.suppress(RegistryError):
        parse_listing([page], WHERE)


@given(st.text(max_size=200))
def test_any_cache_text_is_an_entry_or_ignored(text: str) -> None:
    entry = parse_entry(text, HOST, REPO)
    assert entry is None or isinstance(entry, RepoCache)


