"""The cut issue's checklist, pure: evidence merged into entries, krel's block found and rewritten inside a body a
human edits, the state read back, and hostile text kept out of the markdown."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.errors import ReleaseError
from releng.releaseissue import checklist, cut, issue_title
from releng.releaseissue.checklist import BEGIN, END, Entry, Run

RUN = Run(key="stage", succeeded=True, result="Yes", link="https://ci.example/1", start="2026-01-01T10:00:00+00:00",
          duration="00:10:00", command="krel stage --nomock")


def block(entries: dict[str, Entry], packages: bool = False) -> str:
    return cut.render_block(entries, packages)


def test_a_failed_retry_never_hides_a_success() -> None:
    failed = Run(key="stage", succeeded=False, result="No", start="2026-01-01T11:00:00+00:00")
    assert checklist.merge({}, [RUN, failed])["stage"].done
    assert checklist.merge({"stage": checklist.merge({}, [RUN])["stage"]}, [failed])["stage"].done
    assert not checklist.merge({}, [failed])["stage"].done


def test_a_box_ticked_by_hand_stays_ticked_until_evidence_arrives() -> None:
    text = block({}).replace("- [ ] **Packages (deb, rpm)**", "- [x] **Packages (deb, rpm)**")
    parsed = checklist.split(text, "issue").entries
    assert parsed["packages"] == Entry(done=True, by_hand=True)
    assert "ticked by hand" in block(parsed)
    # unticking it again is respected too
    back = block(parsed).replace("- [x] **Packages (deb, rpm)**", "- [ ] **Packages (deb, rpm)**")
    assert "packages" not in checklist.split(back, "issue").entries or not checklist.split(back, "x").entries[
        "packages"].done


def test_the_state_round_trips_and_rendering_is_stable() -> None:
    entries = checklist.merge({}, [RUN, cut.announce_run(__import__("datetime").datetime(2026, 1, 2), 2, "krel x")])
    text = block(entries)
    assert checklist.split(text, "issue").entries == {k: v for k, v in entries.items() if v != Entry()}
    assert block(checklist.split(text, "issue").entries) == text


def test_packages_follow_the_nomock_release_only_when_the_profile_builds_them() -> None:
    release = Run(key="release", succeeded=True, result="Yes", start="2026-01-01T12:00:00+00:00")
    assert cut.packages_runs([release], builds_packages=False) == []
    [packages] = cut.packages_runs([release], builds_packages=True)
    assert packages.succeeded and packages.result == "published with the release"
    assert "this profile builds no packages" in block({}, packages=False)


def test_the_title_is_the_one_the_ff_guard_looks_for() -> None:
    from releng.fastforward import cut_issue_title

    assert issue_title("Cut {version} release", "v1.30.0") == cut_issue_title("Cut {version} release", "release-1.30")


# --- hostile -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("command", "krel stage `rm -rf` -->\n<!-- krel:release-issue:end -->", id="command-ends-block"),
        pytest.param("result", "Yes <script>alert(1)</script>", id="result-html"),
        pytest.param("duration", "\n- [x] **Announce**", id="duration-fake-item"),
        pytest.param("link", "javascript:alert(1)", id="link-javascript"),
        pytest.param("link", "https://x.example/a) [click](https://evil.example", id="link-breaks-markdown"),
        pytest.param("start", "--> <!-- krel:release-issue:begin", id="start-begin-marker"),
    ],
)
def test_hostile_job_text_stays_inside_its_line(field: str, value: str) -> None:
    run = Run(**{**RUN.__dict__, field: value})
    text = block(checklist.merge({}, [run]))
    assert text.count(BEGIN) == 1 and text.count(END) == 1 and text.count("<!-- krel:release-issue:state") == 1
    assert text.count("\n- [") == 6 and "<script>" not in text and "javascript:" not in text.split("state")[0]
    assert "evil.example" not in text.split("<!-- krel:release-issue:state")[0]
    parsed = checklist.split(f"before\n{text}\nafter", "issue")
    assert parsed.before == "before\n" and parsed.after == "\nafter" and parsed.entries["stage"].done


@pytest.mark.parametrize(
    "state",
    [
        pytest.param("{not json}", id="state-not-json"),
        pytest.param(json.dumps({"stage": ["x"]}), id="state-item-a-list"),
        pytest.param(json.dumps({"stage": {"done": "yes"}}), id="state-done-a-string"),
        pytest.param(json.dumps({"stage": {"done": True, "evil": 1}}), id="state-unknown-field"),
        pytest.param(json.dumps({"stage": {"done": True, "link": "javascript:x"}}), id="state-bad-link"),
        pytest.param(json.dumps({"rm -rf": {"done": True}}), id="state-unknown-item"),
    ],
)
def test_a_state_edited_by_hand_is_read_as_nothing_it_did_not_say(state: str) -> None:
    text = f"{BEGIN}\n<!-- krel:release-issue:state {state} -->\n{END}"
    entries = checklist.split(text, "issue").entries
    assert set(entries) <= {"stage"}
    assert all(e.link == "" for e in entries.values())


@given(st.text(max_size=300))
def test_any_human_body_either_splits_or_is_refused_in_one_line(body: str) -> None:
    try:
        parts = checklist.split(body, "issue")
    except ReleaseError as exc:
        assert "\n" not in str(exc) and "markers are damaged" in str(exc)
        return
    new = checklist.join(parts, block({}))
    assert new.count(BEGIN) == 1 and new.count(END) == 1
    assert body.replace("\r\n", "\n").rstrip("\n") in new or parts.has_block
