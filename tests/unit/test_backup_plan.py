"""The backup plan is pure: places checked in canonical form, edges from manifests or listings, what to read and
what to copy decided from inventories alone (no sockets)."""

from __future__ import annotations

import pytest
from releng.errors import UsageError
from releng.promo.backup import (
    check_places,
    groups_from_listings,
    groups_from_manifests,
    plan_backup,
    sources_to_read,
)
from releng.promo.delta import ADD_TAG, COPY
from releng.promo.edges import EdgeGroup

A, B, C = ("sha256:" + c * 64 for c in "abc")
SRC, BAK = "prod.io/p", "bak.io/b"


@pytest.mark.parametrize(
    ("source", "backup"),
    [
        ("prod.io/p", "prod.io/p"),
        ("prod.io/p", "prod.io/p/"),
        ("prod.io/p", "PROD.IO/p"),
        ("prod.io/p", "prod.io./p"),
        ("prod.io/p", "prod.io/p/bak"),
        ("prod.io/p/x", "prod.io/p"),
        ("prod.io", "prod.io/bak"),
        ("127.0.0.1:5000/p", "localhost:5000/p/bak"),
        ("127.0.0.1:5000/p", "127.1:5000/p"),
        ("127.0.0.1:5000/p", "[::1]:5000/p"),
        ("prod.io/p", "prod.io:443/p"),
        ("prod.io/p", "user:pw@bak.io/b"),
        ("https://prod.io/p", "bak.io/b"),
        ("prod.io/p", "bak.io/../b"),
        ("prod.io/p", "bak.io//b"),
        ("prod.io/P", "bak.io/b"),
        ("prod.io/p q", "bak.io/b"),
        ("prod.io/p", "bak.io:99999/b"),
        ("prod.io/p", ""),
        ("prod.io/p\n", "bak.io/b"),
    ],
    ids=["same", "trailing-slash", "host-case", "host-dot", "to-inside-from", "from-inside-to", "host-whole",
         "localhost-spelling", "short-ipv4", "ipv6-loopback", "implicit-port", "credentials", "scheme", "dot-dot",
         "empty-segment", "upper-case-path", "space", "bad-port", "empty", "newline"],
)
def test_bad_places_are_usage_errors(source: str, backup: str) -> None:
    with pytest.raises(UsageError) as err:
        check_places(source, backup)
    assert "\n" not in str(err.value).strip() and "pw@" not in str(err.value)


@pytest.mark.parametrize(
    ("source", "backup"),
    [("prod.io/p", "bak.io/b"), ("prod.io/p", "prod.io/pbak"), ("127.0.0.1:5000/p", "127.0.0.1:5001/p"),
     ("prod.io/p/", "bak.io")],
)
def test_separate_places_pass(source: str, backup: str) -> None:
    assert check_places(source, backup) == (source.rstrip("/"), backup.rstrip("/"))


def group(image: str, digest: str, tags: tuple[str, ...], *dsts: str) -> EdgeGroup:
    return EdgeGroup("stg.io/s", image, digest, tags, dsts, f"m.yaml:{image}")


def test_groups_from_manifests_keep_destinations_under_source_only() -> None:
    groups = groups_from_manifests(
        [
            group("foo", A, ("1.0",), "prod.io/p", "eu.prod.io/p"),
            group("bar", B, (), "prod.io/p/sub", "other.io/x"),
            group("foo", A, ("1.1",), "prod.io/p"),
        ],
        SRC,
        BAK,
    )
    assert {(g.src, g.image, g.digest, g.tags, g.destinations) for g in groups} == {
        (SRC, "foo", A, ("1.0", "1.1"), (BAK,)),
        (SRC, "sub/bar", B, (), (BAK,)),  # untagged promoted digests are backed up too
    }


def test_groups_from_listings() -> None:
    repos = {f"{SRC}/foo": {A: ["2", "1"], B: []}, SRC: {C: ["x"]}}
    got = {(g.src, g.image, g.digest, g.tags) for g in groups_from_listings(repos, SRC, BAK)}
    assert got == {(SRC, "foo", A, ("1", "2")), (SRC, "foo", B, ()), ("prod.io", "p", C, ("x",))}


def backup_group(image: str, digest: str, tags: tuple[str, ...]) -> EdgeGroup:
    return EdgeGroup(SRC, image, digest, tags, (BAK,), f"{SRC}/{image}@{digest}")


@pytest.mark.parametrize(
    ("backup", "expected"),
    [
        ({}, {f"{SRC}/foo"}),
        ({f"{BAK}/foo": {A: ["1"]}}, set()),
        ({f"{BAK}/foo": {A: []}}, {f"{SRC}/foo"}),
        ({f"{BAK}/foo": {B: ["1"]}}, {f"{SRC}/foo"}),
    ],
    ids=["empty-backup", "no-op", "tag-missing", "digest-missing"],
)
def test_sources_to_read_only_where_the_backup_lacks(
    backup: dict[str, dict[str, list[str]]], expected: set[str]
) -> None:
    assert set(sources_to_read([backup_group("foo", A, ("1",))], backup)) == expected


def test_plan_copies_only_what_is_missing_and_never_moves() -> None:
    groups = [
        backup_group("foo", A, ("1",)),  # already there
        backup_group("foo", B, ("2",)),  # missing
        backup_group("foo", C, ("3", "4")),  # there with one tag: add the other
        backup_group("bar", A, ("1",)),  # tag taken by another digest: digest kept, tag left alone
        backup_group("baz", B, ()),  # lost: production does not hold it
    ]
    inventory = {
        f"{SRC}/foo": {A: ["1"], B: ["2"], C: ["3", "4"]},
        f"{SRC}/bar": {A: ["1"]},
        f"{BAK}/foo": {A: ["1"], C: ["3"]},
        f"{BAK}/bar": {C: ["1"]},
    }
    plan = plan_backup(groups, inventory)
    assert {(c.dst_repo, c.digest, c.tags, c.action) for c in plan.copies} == {
        (f"{BAK}/foo", B, ("2",), COPY),
        (f"{BAK}/foo", C, ("4",), ADD_TAG),
        (f"{BAK}/bar", A, (), COPY),
    }
    assert [(m.dst_repo, m.tag, m.current, m.wanted) for m in plan.conflicts] == [(f"{BAK}/bar", "1", C, A)]
    assert [(x.src_repo, x.digest) for x in plan.lost] == [(f"{SRC}/baz", B)]
    assert plan.present == 2  # foo:1 and foo:3


def test_plan_of_a_complete_backup_is_empty() -> None:
    groups = [backup_group("foo", A, ("1",)), backup_group("foo", B, ())]
    plan = plan_backup(groups, {f"{BAK}/foo": {A: ["1"], B: []}})
    assert not plan.copies and not plan.conflicts and not plan.lost and plan.present == 2
