"""krel's golden notes documents, rebuilt from the notes they show and matched byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.notes import document, gather, render
from releng.notes.note import ReleaseNote

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "notes"
TAG = "v1.28.1"
TARS = [
    "kubernetes.tar.gz",
    "kubernetes-src.tar.gz",
    *(
        f"kubernetes-client-{p}.tar.gz"
        for p in [
            *("darwin-386", "darwin-amd64", "linux-386", "linux-amd64", "linux-arm", "linux-arm64"),
            *("linux-ppc64le", "linux-s390x", "windows-386", "windows-amd64", "windows-arm64"),
        ]
    ),
    *(f"kubernetes-server-linux-{a}.tar.gz" for a in ("amd64", "arm64", "ppc64le", "s390x")),
    *(f"kubernetes-node-linux-{a}.tar.gz" for a in ("amd64", "arm64", "ppc64le", "s390x")),
    "kubernetes-node-windows-amd64.tar.gz",
    "kubernetes-manifests.tar.gz",  # not listed by krel
]
IMAGES = ["conformance", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubectl"]
ARCHES = ["amd64", "arm64", "ppc64le", "s390x"]


def note(n: int, markdown: str, kinds: list[str], **flags: bool) -> ReleaseNote:
    return ReleaseNote(
        commit=f"{n:040x}", text=markdown, markdown=markdown, author="dev", author_url="", pr_url="", pr_number=n,
        kinds=kinds, duplicate_kind=len(kinds) > 1, **flags,
    )


def golden_notes() -> list[ReleaseNote]:
    return [
        note(1, "Action required note.", ["bug"], action_required=True),
        note(2, "Deprecation #1.", ["deprecation"]),
        note(3, "This note is duplicated across SIGs.", ["deprecation"], duplicate=True),
        note(4, "A feature.", ["feature"]),
        note(5, "Design change.", ["design"]),
        note(6, "Update docs.", ["documentation"]),
        note(7, "Fix a failing test.", ["failing-test"]),
        note(8, "Bugfix.", ["bug"]),
        note(9, "- This note was prepended with a dash (-) initially.", ["bug"]),
        note(10, "* This note was prepended with a star (*) initially.", ["regression"]),
        note(11, "Clean up.", ["cleanup"]),
        note(12, "Fix a flakey test.", ["flake"]),
        note(13, "Uncategorized note.", []),
        note(14, "Never published.", ["bug"], do_not_publish=True),
    ]


@pytest.fixture
def tars(tmp_path: Path) -> Path:
    for name in TARS:
        (tmp_path / name).write_bytes(bytes([1, 2, 3]))  # krel's test tarball content
    return tmp_path


def test_document_with_downloads_matches_krel_golden(tars: Path) -> None:
    files = document.downloads(gather.tarballs(tars), "https://dl.k8s.io", TAG)
    images = document.images([(name, ARCHES) for name in IMAGES], TAG)
    doc = document.build(golden_notes(), files, images)
    assert render.markdown(doc, TAG) == (GOLDEN / "document.md.golden").read_text(encoding="utf-8")


def test_document_without_downloads_matches_krel_golden() -> None:
    doc = document.build(golden_notes())
    assert render.markdown(doc, TAG) == (GOLDEN / "document_without_downloads.md.golden").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("kinds", "action_required", "heading"),
    [
        (["bug", "feature"], False, "Feature"),  # multi-kind: once, under the highest priority
        (["regression", "cleanup"], False, "Bug or Regression"),
        (["flake"], False, "Other (Cleanup or Flake)"),
        (["api-change", "deprecation"], True, "Deprecation"),  # multi-kind wins over action required, as krel
        (["feature"], True, "Urgent"),
        ([], False, "Uncategorized"),
    ],
)
def test_placement(kinds: list[str], action_required: bool, heading: str) -> None:
    doc = document.build([note(1, "Entry.", kinds, action_required=action_required)])
    placed = [s.title for s in doc.kinds if "Entry." in s.entries]
    if heading == "Urgent":
        assert doc.action_required == ("Entry.",) and placed == []
    else:
        assert placed == [heading] and doc.action_required == ()


def test_images_from_release_images_dir(tmp_path: Path) -> None:
    for arch in ("amd64", "arm64"):
        (tmp_path / arch).mkdir()
        (tmp_path / arch / f"kube-proxy-{arch}.tar").write_bytes(b"x")
        (tmp_path / arch / "conformance.tar").write_bytes(b"x")
    expected = [("conformance", ["amd64", "arm64"]), ("kube-proxy", ["amd64", "arm64"])]
    assert gather.images_from_dir(tmp_path) == expected


def test_html_page_wraps_rendered_markdown() -> None:
    page = render.html("## Dependencies\n\nname | x\n---- | -\na | b\n", "v1.28.1")
    # krel's shell (pkg/changelog/const.go htmlTemplate); the whole page: tests/golden/test_fidelity_layout.py
    assert page.startswith("<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\" />\n")
    assert "<h2>Dependencies</h2>" in page and "<table>" in page and "<td>a</td>" in page
    assert page.endswith("</table>\n\n  </body>\n</html>")


@pytest.mark.parametrize(
    ("registry", "row"),
    [
        (
            "registry.k8s.io",
            f"[registry.k8s.io/kube-proxy:{TAG}]({document.IMAGE_CONSOLE}/kube-proxy) | "
            f"[amd64]({document.IMAGE_CONSOLE}/kube-proxy-amd64), [arm64]({document.IMAGE_CONSOLE}/kube-proxy-arm64)",
        ),
        ("127.0.0.1:5000/staging", f"127.0.0.1:5000/staging/kube-proxy:{TAG} | amd64, arm64"),
        ("ghcr.io/demo/", f"ghcr.io/demo/kube-proxy:{TAG} | amd64, arm64"),
    ],
)
def test_container_images_link_the_console_only_for_registry_k8s_io(registry: str, row: str) -> None:
    doc = document.build([], (), document.images([("kube-proxy", ["amd64", "arm64"])], TAG, registry))
    text = render.downloads_markdown(doc)
    assert "### Container Images" in text and "name | architectures\n---- | -------------\n" in text
    assert text.rstrip("\n").splitlines()[-1] == row
    assert ("console.cloud.google.com" in text) == (registry == "registry.k8s.io")
    html = render.html(text, TAG)
    assert f"<td>{registry.rstrip('/')}/kube-proxy:{TAG}</td>" in html or registry == "registry.k8s.io"


@pytest.mark.parametrize(
    ("markdown", "entry"),
    [
        ("- Fixed a bug. (#1, @a)", "Fixed a bug. (#1, @a)"),
        ("* Fixed a bug.", "Fixed a bug."),
        ("-- Fixed a bug.", "Fixed a bug."),  # any run of markers, not only one
        ("*-*  \t Fixed a bug.", "Fixed a bug."),
        ("-\n  Fixed a bug.", "Fixed a bug."),  # Go's \s spans the line break
        ("**Bold** stays.", "**Bold** stays."),  # no whitespace after the run: not a bullet
        ("-flag is new.", "-flag is new."),
        ("Text - with a dash.", "Text - with a dash."),
    ],
)
def test_leading_bullet_runs_are_stripped_as_krel_does(markdown: str, entry: str) -> None:
    doc = document.build([note(1, markdown, ["bug"])])
    assert doc.kinds[0].entries == (entry,)
