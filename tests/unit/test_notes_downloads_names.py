from pathlib import Path

from releng.notes.document import downloads
from releng.notes.gather import tarballs


def test_download_tables_work_for_any_product_name(tmp_path: Path) -> None:
    for name in ["demo-src.tar.gz", "demo.tar.gz", "demo-client-linux-amd64.tar.gz", "demo-server-linux-arm64.tar.gz",
                 "demo-node-linux-amd64.tar.gz", "demo-manifests.tar.gz", "demo-test-linux.tar.gz", "notes.txt"]:
        (tmp_path / name).write_bytes(name.encode())
    groups = downloads(tarballs(tmp_path), "https://dl.example/release", "v1.0.0")
    assert [(g.title, [f.name for f in g.files]) for g in groups] == [
        ("Source Code", ["demo.tar.gz", "demo-src.tar.gz"]),
        ("Client Binaries", ["demo-client-linux-amd64.tar.gz"]),
        ("Server Binaries", ["demo-server-linux-arm64.tar.gz"]),
        ("Node Binaries", ["demo-node-linux-amd64.tar.gz"]),
    ]
    assert groups[0].files[0].url == "https://dl.example/release/v1.0.0/demo.tar.gz"
    assert all(len(f.sha512) == 128 for g in groups for f in g.files)


def test_html_renders_file_links_but_not_script_links() -> None:
    from releng.notes.render import html

    page = html("[a](file:///b/v1/a.tar.gz) [x](javascript:alert(1)) [y](JavaScript:alert(1))", "t")
    assert '<a href="file:///b/v1/a.tar.gz">a</a>' in page
    assert "javascript:" not in page.lower().replace("[x](javascript:", "").replace("[y](javascript:", "")
    assert 'href="javascript' not in page.lower()
