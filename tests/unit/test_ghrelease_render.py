"""The GitHub release body and flags, rendered without any network."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.announce import ghrelease
from releng.errors import UsageError
from releng.profile import load_profile


@pytest.mark.parametrize(
    ("tag", "prerelease"),
    [
        ("v1.30.0", False),
        ("v1.30.2", False),
        ("v1.31.0-rc.0", True),
        ("v1.31.0-alpha.1", True),
        ("v1.31.0-beta.2", True),
    ],
)
def test_prerelease_iff_pre_release_part(tag: str, prerelease: bool) -> None:
    assert ghrelease.is_prerelease(tag) is prerelease
    k8s = load_profile("kubernetes")
    result = ghrelease.update_github_release(k8s, k8s.targets(False), tag)
    assert (result.prerelease, result.make_latest, result.name) == (prerelease, not prerelease, tag)


def test_kubernetes_body_is_krels_page() -> None:
    body = ghrelease.render_release_page(load_profile("kubernetes"), "v1.30.2")
    cl = "https://git.k8s.io/kubernetes/CHANGELOG/CHANGELOG-1.30.md"
    assert body.strip() == (
        f"See [kubernetes-announce@](https://groups.google.com/g/kubernetes-announce). "
        f"Additional binary downloads are linked in the [CHANGELOG]({cl}).\n\n"
        f"See [the CHANGELOG]({cl}) for more details."
    )


def test_assets_table_lists_both_digests(tmp_path: Path) -> None:
    files = []
    for name in ("a.tar.gz", "b.tar.gz"):
        (tmp_path / name).write_bytes(name.encode())
        files.append(ghrelease.hash_asset(tmp_path / name))
    body = ghrelease.render_release_page(load_profile("kubernetes"), "v1.30.2", files, notes="Line one.")
    lines = body.splitlines()
    start = lines.index("| file | sha256 | sha512 |")
    rows = lines[start + 2 : start + 4]
    assert rows == [f"| `{f.name}` | `{f.sha256}` | `{f.sha512}` |" for f in files]
    assert "### Release Notes\n\nLine one.\n" in body


def test_missing_asset_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot be read"):
        ghrelease.hash_asset(tmp_path / "nope.tar.gz")


def test_local_profile_without_announce_list(tmp_path: Path) -> None:
    local = load_profile("local", {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})
    body = ghrelease.render_release_page(local, "v0.3.0")
    assert body.lstrip().startswith("Additional binary downloads are linked in the [CHANGELOG](file://")
