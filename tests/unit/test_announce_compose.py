"""Announcement text: krel's exact wording for the kubernetes profile, profile-driven wording otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from releng.announce import compose
from releng.errors import ReleaseError, UsageError
from releng.profile import Profile, load_profile

# krel pkg/announce releaseAnnouncement / branchAnnouncement with its arguments filled in.
KREL_RELEASE = """Kubernetes Community,
<p>
Kubernetes <b>v1.30.2</b> has been built and pushed using Golang version <b>1.22.4</b>.
<p>
The release notes have been updated in
<a href="https://git.k8s.io/kubernetes/CHANGELOG/CHANGELOG-1.30.md">CHANGELOG-1.30.md</a>, with a pointer to them on
<a href="https://github.com/kubernetes/kubernetes/releases/tag/v1.30.2">GitHub</a>:
<p>
<hr>
<h1>v1.30.2</h1>
<hr>
<p><br>
Contributors, the
<a href="https://git.k8s.io/kubernetes/CHANGELOG/CHANGELOG-1.30.md">CHANGELOG-1.30.md</a> has been bootstrapped with
v1.30.2 release notes and you may edit now as needed.
<p><br><br>
Published by your
<a href="https://git.k8s.io/website/content/en/releases/release-managers.md">Kubernetes Release
Managers</a>.
"""

KREL_BRANCH = """Kubernetes Community,
<p>
Kubernetes' release-1.31 branch has been created.
<p>
The release owner will be sending updates on how to interact with this branch
shortly. The <a href="https://git.k8s.io/community/contributors/devel/sig-release/cherry-picks.md">Cherrypick
Guide</A> has some general guidance on how things will proceed.
<p>
Announced by your
<a href="https://git.k8s.io/website/content/en/releases/release-managers.md">Kubernetes Release
Managers</A>.
"""


@pytest.fixture
def k8s() -> Profile:
    return load_profile("kubernetes")


@pytest.fixture
def local(tmp_path: Path) -> Profile:
    return load_profile("local", {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})


def test_release_text_is_krels(k8s: Profile) -> None:
    a = compose.build_announcement(k8s, "v1.30.2", go_version="1.22.4", changelog_html="<h1>v1.30.2</h1>\n")
    assert a.html == KREL_RELEASE
    assert a.subject == "Kubernetes v1.30.2 is live!"
    assert a.kind == "release"


def test_branch_text_is_krels(k8s: Profile) -> None:
    a = compose.build_branch_announcement(k8s, "v1.31.0-rc.0", "release-1.31")
    assert a.html == KREL_BRANCH
    assert a.subject == "Kubernetes release-1.31 branch has been created"


def test_local_profile_uses_its_product_and_links(local: Profile, tmp_path: Path) -> None:
    a = compose.build_announcement(local, "v0.3.0-rc.1", go_version="1.23.0")
    assert a.subject == "Demo v0.3.0-rc.1 is live!"
    assert "Demo <b>v0.3.0-rc.1</b>" in a.html
    assert f'file://{tmp_path}/demo/work/CHANGELOG/CHANGELOG-0.3.md">CHANGELOG-0.3.md</a>' in a.html
    assert "Published by your\nDemo Release Managers.\n" in a.html
    assert "git.k8s.io/sig-release" not in a.html
    b = compose.build_branch_announcement(local, "v0.3.0-rc.0", "release-0.3")
    assert "Demo's release-0.3 branch has been created." in b.html


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("go version go1.22.4 linux/amd64\n", "1.22.4"),
        ("go version go1.21 darwin/arm64", "1.21"),
        ("go version devel go1.24-abcdef linux/amd64", "1.24"),
    ],
)
def test_go_version_parsing(output: str, version: str) -> None:
    assert compose.parse_go_version(output) == version
    assert compose.detect_go_version(lambda argv: output) == version


def test_go_version_garbage_is_one_line_error() -> None:
    with pytest.raises(ReleaseError, match="cannot find a Go version"):
        compose.parse_go_version("command not found")


def test_missing_go_binary_suggests_the_flag() -> None:
    with pytest.raises(UsageError, match="--go-version"):
        compose.detect_go_version(lambda argv: compose._run(["krel-no-such-go-binary", "version"]))


@pytest.mark.parametrize("tag", ["1.30.0", "v1.30", "latest", "v1.30.0-foo"])
def test_bad_tag_is_usage_error(k8s: Profile, tag: str) -> None:
    with pytest.raises(UsageError):
        compose.build_announcement(k8s, tag, go_version="1.22.4")


@pytest.mark.parametrize("branch", ["master", "release-1", "1.30", "release-1.30.1"])
def test_bad_branch_is_usage_error(k8s: Profile, branch: str) -> None:
    with pytest.raises(UsageError, match=r"release-X\.Y"):
        compose.build_branch_announcement(k8s, "v1.30.0", branch)


def test_write_announcement_files(k8s: Profile, tmp_path: Path) -> None:
    a = compose.build_announcement(k8s, "v1.30.2", go_version="1.22.4")
    html, subject = compose.write_announcement(a, tmp_path / "out")
    assert html.read_text() == a.html
    assert subject.read_text() == "Kubernetes v1.30.2 is live!"
    assert (html.name, subject.name) == ("announcement.html", "announcement-subject.txt")
