"""Note maps (krel's test data): loading, applying field by field, CVEs, and `validate`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from releng.notes import document, maps, render
from releng.notes.note import ReleaseNote

from tests.fixtures.github import SHARED_DATA

MAPS = SHARED_DATA / "release-notes-maps"
VALIDATION = SHARED_DATA / "release-notes-maps-validation"


def arghya_note() -> ReleaseNote:
    """krel's ApplyMap fixture note: PR 95000 without links, two SIGs."""
    return ReleaseNote(
        commit="c", text="Original text", markdown="Original text (#95000, @arghya88)", author="arghya88",
        author_url="", pr_url="", pr_number=95000, sigs=["scheduling", "instrumentation"], areas=["x"],
        feature=True, action_required=True,
    )


def test_apply_map_field_by_field() -> None:
    path = MAPS / "applymap-unit-test" / "maps.yaml"
    for doc in yaml.safe_load_all(path.read_text()):
        case = doc["datafields"]["testcase"]
        note = maps.apply(arghya_note(), maps.NoteMap(pr=doc["pr"], source=str(path), releasenote=doc["releasenote"]))
        attr = {"ActionRequired": "action_required", "Text": "text", "Author": "author", "Feature": "feature",
                "Areas": "areas", "Markdown": "markdown"}[case["property"]]
        assert getattr(note, attr) == case["expected"], case["name"]
        assert note.is_mapped


def test_map_without_sigs_has_no_suffix() -> None:
    loaded = maps.load_maps([MAPS / "no-sigs-unit-test"])
    note = arghya_note()
    note.sigs = []
    for note_map in loaded[95000]:
        maps.apply(note, note_map)
    assert note.markdown == "This test string has been modified (#95000, @arghya88)"


def test_krel_refuses_the_legacy_cve_map_and_renders_a_valid_one(tmp_path: Path) -> None:
    loaded = maps.load_maps([MAPS])
    assert sorted(loaded) == [123, 89796]
    # The shared CVE-2020-8555 map keeps its vector under `rating` and has no description: krel's pkg/cve refuses it.
    with pytest.raises(maps.MapError, match=r"cve-2020-8555\.yaml: pr 89796: datafields\.cve\.rating: invalid CVSS"):
        for note_map in loaded[89796]:
            maps.apply(arghya_note(), note_map)
    legacy = (MAPS / "cve-2020-8555.yaml").read_text()
    vector = "CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:C/C:H/I:N/A:N"
    fixed = legacy.replace(f"rating: {vector}", f"rating: Medium\n    vector: {vector}\n    description: SSRF.")
    (tmp_path / "cve.yaml").write_text(fixed)
    note = arghya_note()
    note.pr_number, note.action_required = 89796, False
    for note_map in maps.load_maps([tmp_path])[89796]:
        maps.apply(note, note_map)
    assert note.cve is not None and note.cve.id == "CVE-2019-1010260" and note.cve.linked_prs[-1] == 89839
    text = render.markdown(document.build([note]), "v1.18.3")
    assert text.startswith("## Important Security Information\n\nThis release contains changes that address")
    assert "### CVE-2019-1010260: CVE-2020-8555: Half-Blind SSRF in kube-controller-manager\n" in text
    assert f"**CVSS Rating:** Medium (5.2) [{vector}](https://www.first.org/cvss/calculator/3.0#{vector})\n\n" in text
    assert "- Implement changes to mitigate CVE-2020-8555 (#89796, @kubernetes/product-security-committee)" in text


def test_do_not_publish_map_hides_and_mapped_note_publishes() -> None:
    note = arghya_note()
    note.do_not_publish = True
    maps.apply(note, maps.NoteMap(pr=95000, source="m", releasenote={"text": "Now public."}))
    assert note.published
    maps.apply(note, maps.NoteMap(pr=95000, source="m", releasenote={"do_not_publish": True}))
    assert not note.published


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("valid.yaml", None),
        ("invalid-indent.yaml", "not valid YAML"),
        ("invalid-multi-line.yaml", "not valid YAML"),
        ("invalid-yaml-start.yaml", "not valid YAML"),
        ("missing-punctuation.yaml", "must end with punctuation"),
    ],
)
def test_validate_krel_cases(name: str, reason: str | None) -> None:
    problems = maps.validate_file(VALIDATION / name)
    if reason is None:
        assert problems == []
    else:
        assert len(problems) == 1 and reason in problems[0] and name in problems[0]


def test_validate_directory_counts() -> None:
    checked, problems = maps.validate(VALIDATION)
    assert checked == 5 and len(problems) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("pr: nope\n", "`pr` must be a pull request number"),
        ("pr: 1\nreleasenote:\n  txt: hi\n", "unknown key releasenote.txt"),
        ("pr: 1\nreleasenote:\n  kinds: bug\n", "releasenote.kinds must be a list"),
        ("- 1\n- 2\n", "each document must be a mapping"),
        ("pr: 1\ndatafields:\n  cve: {title: x}\n", None),
    ],
)
def test_malformed_maps_name_file_and_key(tmp_path: Path, content: str, message: str | None) -> None:
    (tmp_path / "m.yaml").write_text(content)
    if message is None:
        loaded = maps.load_maps([tmp_path])
        with pytest.raises(maps.MapError, match=r"m\.yaml: pr 1: datafields\.cve\.rating: missing CVSS rating"):
            maps.apply(arghya_note(), loaded[1][0])
        return
    with pytest.raises(maps.MapError, match=message) as info:
        maps.load_maps([tmp_path])
    assert str(tmp_path / "m.yaml") in str(info.value)


@given(st.text(max_size=200))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=60)
def test_any_map_file_loads_or_raises_map_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "m.yaml").write_text(content, encoding="utf-8")
    with contextlib.suppress(maps.MapError):
        maps.load_maps([tmp_path])


def test_impossible_date_is_a_map_error(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("pr: 1\ndatafields:\n  published: 2001-02-30\n")
    with pytest.raises(maps.MapError, match="not valid YAML"):
        maps.load_maps([tmp_path])
