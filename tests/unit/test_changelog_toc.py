"""CHANGELOG-X.Y.md layout: GitHub anchors, duplicate suffixes, prepend/replace, README entry, start revisions."""

from __future__ import annotations

import pytest
from releng.changelog import revisions, toc
from releng.errors import ReleaseError, UsageError


@pytest.mark.parametrize(
    ("title", "anchor"),
    [
        ("v1.25.3", "v1253"),
        ("Changelog since v1.25.2", "changelog-since-v1252"),
        ("Other (Cleanup or Flake)", "other-cleanup-or-flake"),
        ("(No, really, you MUST read this before you upgrade)", "no-really-you-must-read-this-before-you-upgrade"),
        ("API Change", "api-change"),
    ],
)
def test_anchor(title: str, anchor: str) -> None:
    assert toc.anchor(title) == anchor


def test_toc_nests_and_suffixes_duplicates() -> None:
    md = "# v2\n\n## Changes\n\n### Feature\n\n```\n# not a heading\n```\n# v1\n\n## Changes\n\n### Feature\n"
    entries = [(e.depth, e.title, e.anchor) for e in toc.toc_entries(md)]
    assert entries == [
        (0, "v2", "v2"), (1, "Changes", "changes"), (2, "Feature", "feature"),
        (0, "v1", "v1"), (1, "Changes", "changes-1"), (2, "Feature", "feature-1"),
    ]


def test_merge_new_prepend_and_replace() -> None:
    first = toc.merge(None, "# v1.0.1\n\n## A\n\n\n\n", "v1.0.1", "f")
    assert first == (
        "<!-- BEGIN MUNGE: GENERATED_TOC -->\n\n- [v1.0.1](#v101)\n  - [A](#a)\n\n"
        "<!-- END MUNGE: GENERATED_TOC -->\n\n# v1.0.1\n\n## A\n\n\n\n"
    )
    second = toc.merge(first, "# v1.0.2\n\n## A\n\n\n\n", "v1.0.2", "f")
    assert second.index("# v1.0.2\n") < second.index("# v1.0.1\n") and "(#a-1)" in second
    replaced = toc.merge(second, "# v1.0.2\n\n## B\n\n\n\n", "v1.0.2", "f")
    assert replaced.count("# v1.0.2\n") == 1 and "## B" in replaced and "## A\n" in replaced
    assert toc.merge(second, "# v1.0.2\n\n## A\n\n\n\n", "v1.0.2", "f") == second


def test_merge_needs_the_end_marker() -> None:
    with pytest.raises(ReleaseError, match="end marker"):
        toc.merge("# v1.0.0\n", "# v1.0.1\n", "v1.0.1", "master:CHANGELOG/CHANGELOG-1.0.md")


def test_readme_entry_once_before_first_list_entry() -> None:
    readme = "# CHANGELOGs\n\n- [CHANGELOG-1.24.md](./CHANGELOG-1.24.md)\n"
    updated = toc.readme_with(readme, "CHANGELOG-1.25.md")
    assert updated == (
        "# CHANGELOGs\n\n- [CHANGELOG-1.25.md](./CHANGELOG-1.25.md)\n- [CHANGELOG-1.24.md](./CHANGELOG-1.24.md)\n"
    )
    assert toc.readme_with(updated, "CHANGELOG-1.25.md") == updated
    assert toc.readme_with(None, "CHANGELOG-1.0.md") == "# CHANGELOGs\n\n- [CHANGELOG-1.0.md](./CHANGELOG-1.0.md)\n"


@pytest.mark.parametrize(("tag", "draft"), [("v1.30.0", True), ("v1.30.1", False), ("v1.30.0-rc.1", False)])
def test_needs_draft(tag: str, draft: bool) -> None:
    assert revisions.needs_draft(tag) is draft


def test_bad_tag_is_usage_error() -> None:
    with pytest.raises(UsageError):
        revisions.release_branch("1.30")
