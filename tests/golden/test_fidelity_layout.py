"""Changelog and notes layout byte for byte as krel writes it (issue 16).

The goldens in tests/golden/fidelity/ were written by hand from krel's templates and writers (kubernetes/release:
pkg/changelog/const.go releaseNotesTemplate and htmlTemplate, pkg/notes/document/template.go,
pkg/notes/document/document.go CreateDownloadsTable, sigs.k8s.io/mdtoc for the TOC), not from this code's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.changelog import render_section, toc
from releng.notes import document, gather, render
from releng.notes.document import Document, KindSection
from releng.notes.note import Cve

GOLDEN = Path(__file__).resolve().parent / "fidelity"
CVES = (
    Cve("CVE-2024-0001", "First", "Desc one.", "8.8", "High", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        "https://github.com/kubernetes/kubernetes/issues/123"),
    Cve("CVE-2024-0002", "Second `kubelet` flaw", "Desc two.", "3.1", "Low",
        "CVSS:3.0/AV:L/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N"),
)
KINDS = (
    KindSection("feature", "Feature", ("A feature.",)),
    KindSection("bug", "Bug or Regression", ("A fix.", "Another fix.")),
)
FULL = Document(downloads=(), images=(), cves=CVES, action_required=("Urgent one.", "Urgent two."), kinds=KINDS)
# a file as krel leaves it: TOC, blank line, trimmed markdown (no newline at the end)
OLD_FILE = (
    "<!-- BEGIN MUNGE: GENERATED_TOC -->\n\n- [v1.30.1](#v1301)\n"
    "  - [Changelog since v1.30.0](#changelog-since-v1300)\n"
    "  - [Changes by Kind](#changes-by-kind)\n    - [Feature](#feature)\n\n<!-- END MUNGE: GENERATED_TOC -->\n\n"
    "# v1.30.1\n\n## Changelog since v1.30.0\n\n## Changes by Kind\n\n### Feature\n\n- Old."
)
# what krel puts between a new section and the old body: "\n" + the blank lines after the old TOC end marker
GLUE = "\n\n\n"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def test_patch_section_prepended_matches_krel() -> None:
    """CVEs (with and without tracking issue), two urgent notes (krel's changelog spacing), TOC with <code>."""
    section = render_section(FULL, "v1.30.2", "v1.30.1", render.notes_markdown(FULL, changelog=True))
    merged = toc.merge(OLD_FILE, section, "v1.30.2", "master:CHANGELOG/CHANGELOG-1.30.md")
    assert merged == golden("changelog-patch.md.golden")


def test_release_notes_document_with_cves_and_urgent_notes_matches_krel() -> None:
    assert render.markdown(FULL, "v1.30.2") == golden("document-cves-urgent.md.golden")


def test_html_strikethrough_as_goldmark_gfm() -> None:
    assert "<p>a <del>b</del> c</p>" in render.html("a ~~b~~ c\n", "v1")


def test_html_page_shell_matches_krel() -> None:
    page = render.html("# v1.30.2\n\n## Changes by Kind\n\n- A `fix`.\n", "v1.30.2")
    assert page == golden("page.html.golden")


MINOR_TARS = (
    "kubernetes.tar.gz", "kubernetes-src.tar.gz", "kubernetes-client-linux-amd64.tar.gz",
    "kubernetes-client-darwin-arm64.tar.gz", "kubernetes-server-linux-amd64.tar.gz",
)
DRAFT = "## Changes by Kind\n\n### Feature\n\n- A curated feature note.\n"


def test_minor_release_section_uses_krels_downloads_writer(tmp_path: Path) -> None:
    """X.Y.0: Documentation link, checksums in backticks, an empty Node table, images without a blank line."""
    for name in MINOR_TARS:
        (tmp_path / name).write_bytes(bytes([1, 2, 3]))
    files = document.downloads(gather.tarballs(tmp_path), "https://dl.k8s.io", "v1.31.0")
    images = document.images([("kube-proxy", ["amd64"]), ("kube-apiserver", ["amd64", "arm64"])], "v1.31.0")
    doc = document.build([], files, images)
    section = render_section(doc, "v1.31.0", "v1.30.0", DRAFT)
    assert section == golden("minor-section.md.golden") + GLUE


EMPTY = Document(downloads=(), images=(), cves=(), action_required=(), kinds=KINDS[:1])
NOTES = "## Changes by Kind\n\n### Feature\n\n- A feature.\n"
CLIENT_ONLY = (document.FileGroup("Client Binaries", (document.File("k-client.tar.gz", "https://d/k-client.tar.gz",
                                                                      "ab"),)),)


@pytest.mark.parametrize(
    ("tag", "doc", "expected"),
    [
        pytest.param("v1.30.2", EMPTY, "# v1.30.2\n\n## Changelog since P\n\n" + NOTES, id="patch-no-downloads"),
        pytest.param("v1.31.0-rc.1", EMPTY, "# v1.31.0-rc.1\n\n## Changelog since P\n\n" + NOTES, id="rc-no-downloads"),
        pytest.param("v1.31.0", EMPTY, "# v1.31.0\n\n## Changelog since P\n\n" + NOTES, id="minor-no-downloads"),
        pytest.param(
            "v1.30.2",
            Document(downloads=CLIENT_ONLY, images=(), cves=(), action_required=(), kinds=KINDS[:1]),
            "# v1.30.2\n\n\n## Downloads for v1.30.2\n\n### Client Binaries\n\nfilename | sha512 hash\n"
            "-------- | -----------\n[k-client.tar.gz](https://d/k-client.tar.gz) | ab\n\n"
            "## Changelog since P\n\n" + NOTES,
            id="patch-downloads-without-source-code",
        ),
    ],
)
def test_section_heads(tag: str, doc: Document, expected: str) -> None:
    assert render_section(doc, tag, "P", render.notes_markdown(doc, changelog=True)) == expected + GLUE


@pytest.mark.parametrize(
    ("heading", "line"),
    [
        # sigs.k8s.io/mdtoc testdata/code.md
        pytest.param("## H1 `H1` H1", "- [H1 <code>H1</code> H1](#h1-h1-h1)", id="code-span"),
        pytest.param("## a & b < c", "- [a &amp; b &lt; c](#a--b--c)", id="escaped-text"),
        pytest.param("## *Bad* [link](https://x.example)", '- [<em>Bad</em> <a href="https://x.example">link</a>](#bad-link)',
                     id="emphasis-and-link"),
        pytest.param("## CVE-1: `a_b` \"q\"", "- [CVE-1: <code>a_b</code> &quot;q&quot;](#cve-1-a_b-q)", id="quotes"),
        pytest.param("## ![logo](https://x.example/l.png) v2", '- [<img src="https://x.example/l.png" alt="logo" /> v2]'
                     "(#logo-v2)", id="image-alt-text-in-anchor"),
        # hostile headings: nothing in the TOC becomes markup a page would run
        pytest.param("## <script>alert(1)</script>", "- [&lt;script&gt;alert(1)&lt;/script&gt;](#scriptalert1script)",
                     id="raw-html-escaped"),
        pytest.param("## [x](javascript:alert(1))", "- [[x](javascript:alert(1))](#xjavascriptalert1)",
                     id="script-link-stays-text"),
        pytest.param("## `a](#x) [b`", "- [<code>a](#x) [b</code>](#ax-b)", id="code-span-with-link-syntax"),
    ],
)
def test_toc_link_text_as_mdtoc_renders_it(heading: str, line: str) -> None:
    merged = toc.merge(None, f"# v1.0.1\n\n{heading}\n\n", "v1.0.1", "f")
    assert f"\n  {line}\n" in merged
