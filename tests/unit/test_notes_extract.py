"""krel's extraction rules (pkg/notes tests, reference §4.2) as a table of cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from releng.notes import extract
from releng.notes.pullrequest import PullRequest


def pr(
    body: str, labels: tuple[str, ...] = (), number: int = 42, author: str = "dev", head: str = "topic"
) -> PullRequest:
    return PullRequest(
        number=number, title="t", body=body, labels=labels, author=author, author_url=f"https://github.com/{author}",
        url=f"https://github.com/kubernetes/kubernetes/pull/{number}", merge_commit_sha="", base_ref="master",
        head_ref=head, head_label=f"{author}:{head}", updated_at="", merged_at="",
    )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("something\n```release-note\nFixed a bug\n```\n", "Fixed a bug"),
        ("```release-note\nnone\n```", None),
        ("```release-note\nn/a\n```", None),
        ("```release-note\nNA\n```", None),
        ("```release-note\n'none'\n```", None),
        ('```release-note\n"NONE"\n```', None),
        ("```release-note\nthis none should\n```", "this none should"),
        ("```release-note\n\n```", None),
        ("```release-note\nAction Required: test\n```", "test"),
        ("```release-note\n[ACTION REQUIRED] The note text\n```", "The note text"),
        ("```release-note\n- item\n  item\n  item\n```", "item\nitem\nitem"),
        ("```release-note\n- item\n  item\n- item\n  item\n```", "item\nitem\n- item\n  item"),
        ("```release-note\n* The note text\n```", "The note text"),
        ("```release-note\n* list item\n  * sub\n- second\n```", "list item\n- sub\n- second"),
        ("```release-note\n**bold** text\n```", "**bold** text"),
        ("```release-note\ntest\ntest\ntest\n```", "test\ntest\ntest"),
        ("```release-note\r\nWindows line ends\r\n```\r\n```docs\r\n\r\n```", "Windows line ends"),
        ("```release-notes\nplural block\n```", "plural block"),
        ("text\n```release-note\nkept\n```\n/release-note-none\n", None),
        ("no block at all", None),
        ("```release-note\n```\n```docs\n```", None),
    ],
)
def test_note_text(body: str, text: str | None) -> None:
    note = extract.note_from_pr(pr(body), "abc")
    assert (note.text if note else None) == text


def test_labels_and_markdown() -> None:
    note = extract.note_from_pr(
        pr("```release-note\nAdded feature X\n```", ("sig/node", "kind/feature", "area/kubelet", "lgtm")), "abc"
    )
    assert note is not None
    assert (note.sigs, note.kinds, note.areas, note.feature) == (["node"], ["feature"], ["kubelet"], True)
    assert note.markdown == (
        "Added feature X ([#42](https://github.com/kubernetes/kubernetes/pull/42), [@dev](https://github.com/dev)) "
        "[SIG Node]"
    )


def test_flags_from_labels() -> None:
    body = "```release-note\nmulti\nline\n```"
    labels = ("sig/b", "sig/a", "kind/bug", "kind/regression", "release-note-action-required", "release-note-none")
    note = extract.note_from_pr(pr(body, labels), "abc")
    assert note is not None
    assert note.duplicate and note.duplicate_kind and note.action_required and note.do_not_publish
    assert note.markdown.startswith("Multi\n  line ([#42]") and note.markdown.endswith("[SIG A and B]")
    assert not note.published


@pytest.mark.parametrize(
    ("sigs", "suffix"),
    [
        (["api-machinery"], "API Machinery"),
        (["cluster-lifecycle", "cli"], "CLI and Cluster Lifecycle"),
        (["vsphere", "vmware", "openstack"], "OpenStack, VMWare and vSphere"),
        (["aws", "gcp", "node"], "AWS, GCP and Node"),
    ],
)
def test_sig_names(sigs: list[str], suffix: str) -> None:
    assert extract.sig_list(sigs) == suffix


@pytest.mark.parametrize(("text", "out"), [("hello, world!", "Hello, world!"), ("привет", "Привет"), ("안녕", "안녕")])
def test_capitalize(text: str, out: str) -> None:
    assert extract.capitalize(text) == out


def test_cherry_pick_robot_credits_origin_author() -> None:
    robot = pr("```release-note\nFix\n```", author=extract.CHERRY_PICK_ROBOT, head="cherry-pick-99-to-release-1.30")
    assert extract.origin_pr(robot) == 99
    note = extract.note_from_pr(robot, "abc", origin=pr("", number=99, author="alice"))
    assert note is not None and note.author == "alice" and "[@alice](https://github.com/alice)" in note.markdown


def test_unbalanced_fence_is_one_clear_error() -> None:
    with pytest.raises(extract.NoteError, match=r"#42: its release-note block has no closing ``` fence"):
        extract.note_from_pr(pr("```release-note\nnever closed\n"), "abc")


def test_docs_block() -> None:
    body = (
        "```release-note\nX\n```\n```docs\n- [KEP]: https://github.com/kubernetes/enhancements/tree/master/keps/1\n"
        "- [Usage]: https://kubernetes.io/docs/x\nother -- https://example.com/y\n```"
    )
    note = extract.note_from_pr(pr(body), "abc")
    assert note is not None
    assert [(d.description, d.type) for d in note.documentation] == [
        ("[KEP]", "KEP"), ("[Usage]", "official"), ("other", "external")
    ]


@given(st.text(max_size=300))
def test_any_body_gives_a_note_none_or_our_error(body: str) -> None:
    try:
        note = extract.note_from_pr(pr(body), "abc")
    except extract.NoteError:
        return
    assert note is None or note.text


def test_fence_closed_on_the_text_line_is_skipped_like_krel() -> None:
    assert extract.note_from_pr(pr("```release-note\nsloppy```\n"), "abc") is None
