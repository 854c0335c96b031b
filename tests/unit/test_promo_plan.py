"""Grouped edges, the overlap check and the delta against an inventory: tables of cases, no network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from releng.errors import UsageError
from releng.promo.delta import ADD_TAG, COPY, AllLostError, Copy, TagMoveError, check_delta, compute_delta
from releng.promo.edges import Edge, OverlapError, check_overlaps, count_edges, plan_edges, to_edge_groups
from releng.promo.manifests import Image, Manifest, Registry
from releng.promo.promote import order_copies, parse_registry_map
from releng.promo.snapshot import SnapshotImage, render

A, B, C = ("sha256:" + c * 64 for c in "abc")


def manifest(
    src: str, dsts: Sequence[str], images: Mapping[str, Mapping[str, tuple[str, ...]]], path: str = "m"
) -> Manifest:
    regs = (Registry(src, src=True), *(Registry(d) for d in dsts))
    return Manifest(path, regs, tuple(Image(n, dict(d), line=i + 1) for i, (n, d) in enumerate(images.items())))


def edges_of(manifests: Sequence[Manifest]) -> set[Edge]:
    return {e for g in to_edge_groups(manifests) for e in g.edges()}


def test_edges_one_per_tag_per_destination_and_tagless() -> None:
    m = manifest("s", ["d1", "d2"], {"foo": {A: ("1.0", "latest"), B: ()}})
    assert edges_of([m]) == {
        Edge("s", "foo", A, "1.0", "d1"),
        Edge("s", "foo", A, "latest", "d1"),
        Edge("s", "foo", A, "1.0", "d2"),
        Edge("s", "foo", A, "latest", "d2"),
        Edge("s", "foo", B, "", "d1"),
        Edge("s", "foo", B, "", "d2"),
    }
    assert count_edges(to_edge_groups([m])) == 6


def test_groups_share_destination_tuples() -> None:
    m1 = manifest("s1", ["d1", "d2"], {"foo": {A: ("1",)}})
    m2 = manifest("s2", ["d1", "d2"], {"bar": {B: ("1",)}})
    g1, g2 = to_edge_groups([m1, m2])
    assert g1.destinations is g2.destinations


@pytest.mark.parametrize(
    ("second", "expected_extra"),
    [
        # same digest, same tag, same destinations from another source: redundant, first kept
        (manifest("s2", ["d1"], {"foo": {A: ("1",)}}), set()),
        # same digest, one new tag: only the new tag is added
        (manifest("s2", ["d1"], {"foo": {A: ("1", "2")}}), {Edge("s2", "foo", A, "2", "d1")}),
        # same digest to a new destination: full edges there
        (manifest("s2", ["d1", "d3"], {"foo": {A: ("1",)}}), {Edge("s2", "foo", A, "1", "d3")}),
        # tag-less duplicate of a tagged digest adds nothing
        (manifest("s2", ["d1"], {"foo": {A: ()}}), set()),
    ],
)
def test_redundant_edges_dropped(second: Manifest, expected_extra: set[Edge]) -> None:
    first = manifest("s1", ["d1"], {"foo": {A: ("1",)}})
    assert edges_of([first, second]) == {Edge("s1", "foo", A, "1", "d1")} | expected_extra


@pytest.mark.parametrize(
    ("manifests", "conflict"),
    [
        ([manifest("s", ["d"], {"foo": {A: ("1",), B: ("1",)}})], True),  # one tag on two digests in one image
        ([manifest("s", ["d"], {"foo": {A: ("1",)}}), manifest("t", ["d"], {"foo": {B: ("1",)}})], True),
        ([manifest("s", ["d"], {"foo": {A: ("1",)}}), manifest("t", ["d"], {"foo": {A: ("1",)}})], False),
        ([manifest("s", ["d"], {"foo": {A: ("1",)}}), manifest("t", ["e"], {"foo": {B: ("1",)}})], False),
        ([manifest("s", ["d"], {"foo": {A: ("1",)}}), manifest("t", ["d"], {"bar": {B: ("1",)}})], False),
        ([manifest("s", ["d"], {"foo": {A: ()}}), manifest("t", ["d"], {"foo": {B: ()}})], False),  # tag-less
        # d1-d2 and d2-d3 join one component, but d1 and d3 never meet: no conflict between them
        (
            [
                manifest("s", ["d1"], {"foo": {A: ("1",)}}),
                manifest("t", ["d1", "d2"], {"bar": {C: ("1",)}}),
                manifest("u", ["d2", "d3"], {"x": {C: ("9",)}}),
                manifest("v", ["d3"], {"foo": {B: ("1",)}}),
            ],
            False,
        ),
        (
            [
                manifest("s", ["d1"], {"foo": {A: ("1",)}}),
                manifest("t", ["d1", "d2"], {"foo": {A: ("1",)}}),
                manifest("v", ["d2"], {"foo": {B: ("1",)}}),
            ],
            True,
        ),
    ],
)
def test_overlap_check(manifests: list[Manifest], conflict: bool) -> None:
    groups = to_edge_groups(manifests)
    if conflict:
        with pytest.raises(OverlapError, match="overlapping edges detected"):
            check_overlaps(groups)
    else:
        check_overlaps(groups)


def test_delta_cases() -> None:
    m = manifest(
        "stg",
        ["prod"],
        {
            "done": {A: ("1",)},
            "addtag": {A: ("1", "2")},
            "new": {A: ("1",)},
            "tagless": {B: ()},
            "lost": {C: ("1",)},
            "move": {A: ("1", "3")},
        },
    )
    inventory = {
        "stg/done": {A: ["1"]},
        "stg/addtag": {A: ["1"]},
        "stg/new": {A: []},
        "stg/tagless": {B: []},
        "stg/move": {A: ["1"]},
        "prod/done": {A: ["1"]},
        "prod/addtag": {A: ["1"]},
        "prod/move": {B: ["3"], A: ["1"]},
    }
    delta = compute_delta(plan_edges([m]), inventory)
    assert delta.edges == 8
    assert delta.already_promoted == 3  # done:1, addtag:1, move:1
    got = {(c.image, c.action, c.tags) for c in delta.copies}
    assert got == {("addtag", ADD_TAG, ("2",)), ("new", COPY, ("1",)), ("tagless", COPY, ())}
    assert [(x.src_repo, x.digest) for x in delta.lost] == [("stg/lost", C)]
    assert [(t.dst_repo, t.tag, t.current, t.wanted) for t in delta.moves] == [("prod/move", "3", B, A)]
    with pytest.raises(TagMoveError, match=r"prod/move:3 points at sha256:b+, the manifest wants sha256:a+"):
        check_delta(delta)


def test_tag_move_when_digest_absent_is_not_copied() -> None:
    m = manifest("stg", ["prod"], {"foo": {A: ("1",)}})
    delta = compute_delta(plan_edges([m]), {"stg/foo": {A: ["1"]}, "prod/foo": {B: ["1"]}})
    assert delta.copies == [] and len(delta.moves) == 1


@pytest.mark.parametrize(
    ("inventory", "all_lost"),
    [
        ({}, True),  # registry names keyed wrongly: nothing found anywhere -> loud failure
        ({"stg/foo": {A: ["1"]}}, False),  # one found, one lost -> reported, not the loud failure
        ({"prod/foo": {A: ["1"], B: ["2"]}}, False),  # staging cleaned up but everything promoted: fine
    ],
)
def test_all_lost_fails_loudly(inventory: dict[str, dict[str, list[str]]], all_lost: bool) -> None:
    m = manifest("stg", ["prod"], {"foo": {A: ("1",), B: ("2",)}})
    delta = compute_delta(plan_edges([m]), inventory)
    if all_lost:
        with pytest.raises(AllLostError, match="every one of 2 source digests is missing"):
            check_delta(delta)
    else:
        check_delta(delta)


def test_untagged_digest_already_there_only_gets_its_tags() -> None:
    m = manifest("stg", ["prod"], {"foo": {A: ("1",)}})
    delta = compute_delta(plan_edges([m]), {"stg/foo": {A: ["1"]}, "prod/foo": {A: []}})
    assert [(c.action, c.tags) for c in delta.copies] == [(ADD_TAG, ("1",))]


def test_lost_already_promoted_is_not_lost() -> None:
    m = manifest("stg", ["prod"], {"foo": {A: ()}})
    delta = compute_delta(plan_edges([m]), {"prod/foo": {A: []}})
    assert delta.lost == [] and delta.copies == [] and delta.already_promoted == 1


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], {}),
        (["gcr.io/p=127.0.0.1:5000/p"], {"gcr.io/p": "127.0.0.1:5000/p"}),
        (
            ["gcr.io/p/=localhost:5000/x/y/", "us.gcr.io/q=h.example:1/z"],
            {"gcr.io/p": "localhost:5000/x/y", "us.gcr.io/q": "h.example:1/z"},
        ),
    ],
)
def test_registry_map_parsing(items: list[str], expected: dict[str, str]) -> None:
    assert parse_registry_map(items) == expected


@pytest.mark.parametrize(
    "item", ["no-equals", "=127.0.0.1:5000/x", "gcr.io/p=", "gcr.io/p=hostonly", "gcr.io/p=h:1/UPPER"]
)
def test_registry_map_rejects(item: str) -> None:
    with pytest.raises(UsageError, match="expected FROM=TO"):
        parse_registry_map([item])


def test_snapshot_render_formats() -> None:
    images = [SnapshotImage("a/b", {A: ["1.0", "latest"], B: []})]
    assert render(images, "yaml") == f'- name: a/b\n  dmap:\n    "{A}": ["1.0", "latest"]\n    "{B}": []\n'
    # The original's ToCSV: name@digest,name:tag per tag, name@digest,- when untagged, no header.
    assert render(images, "csv") == f"a/b@{A},a/b:1.0\na/b@{A},a/b:latest\na/b@{B},-\n"
    assert render([], "yaml") == "[]\n"
    with pytest.raises(UsageError):
        render(images, "xml")


def test_two_copies_of_one_digest_share_a_task() -> None:
    copies = [Copy("foo", A, "s1/foo", "p/foo", ("1",), COPY), Copy("foo", A, "s2/foo", "p/foo", ("2",), COPY)]
    assert order_copies(copies, {}) == [copies]


def test_overlap_through_nested_registry_names() -> None:
    """`r` + image `foo/x` and `r/foo` + image `x` are the same repository r/foo/x."""
    m1 = manifest("s", ["r"], {"foo/x": {A: ("1",)}}, path="one")
    m2 = manifest("t", ["r/foo"], {"x": {B: ("1",)}}, path="two")
    with pytest.raises(OverlapError, match=r"two:1: overlapping edges detected: r/foo/x:1 is claimed by"):
        check_overlaps(to_edge_groups([m1, m2]))
    check_overlaps(to_edge_groups([m1, manifest("t", ["r/foo"], {"x": {A: ("1",)}})]))
