"""The kubernetes profile holds krel's links and addresses as krel has them today (kubernetes/release HEAD, 2026),
and the fast-forward guard's profile fields refuse what is not a repository or a title pattern."""

from __future__ import annotations

import operator
from pathlib import Path

import pytest
from releng.errors import UsageError
from releng.profile import BUILTIN_DIR, load_profile

K8S = load_profile("kubernetes")
TEST_BUCKET = "5d7373bbdcb8270361b96548387bf2a9ad0d48758c35"  # release.go TestBucket
PROD_BUCKET = "767373bbdcb8270361b96548387bf2a9ad0d48758c35"  # release.go ProductionBucket

KREL = {
    # key: (where in the profile, krel's value)
    "ci-bucket": ("ci_bucket", "gs://k8s-release-dev"),
    "mock-bucket": ("mock.bucket", f"gs://{TEST_BUCKET}"),
    "nomock-bucket": ("nomock.bucket", f"gs://{PROD_BUCKET}"),
    "mock-download-url": ("mock.download_url", f"https://storage.googleapis.com/{TEST_BUCKET}"),
    "nomock-download-url": ("nomock.download_url", "https://dl.k8s.io"),
    "nomock-release-url": ("nomock.release_url", "https://dl.k8s.io"),
    "mock-project": ("mock.gcb_project", "k8s-release"),
    "nomock-project": ("nomock.gcb_project", "k8s-release"),
    "mock-registry": ("mock.registry", "gcr.io/k8s-staging-kubernetes/mock"),
    "nomock-registry": ("nomock.registry", "gcr.io/k8s-staging-kubernetes"),
    "nomock-validate-registry": ("nomock.validate_registry", "registry.k8s.io"),
    "mock-mail": ("mock.mail_to", ("kubernetes-announce-test@googlegroups.com",)),
    "nomock-mail": ("nomock.mail_to", ("kubernetes-announce@googlegroups.com", "dev@kubernetes.io")),
    "mock-fastly": ("mock.fastly_service", "dl.k8s.dev"),
    "nomock-fastly": ("nomock.fastly_service", "dl.k8s.io"),
    "release-managers": ("links.release_managers", "https://git.k8s.io/website/content/en/releases/release-managers.md"),
    "cherry-picks": ("links.cherry_picks", "https://git.k8s.io/community/contributors/devel/sig-release/cherry-picks.md"),
    "announce-list": ("links.announce_list", "https://groups.google.com/g/kubernetes-announce"),
    "github-release": ("links.github_release", "https://github.com/kubernetes/kubernetes/releases/tag/{tag}"),
    "private-pool": ("gcb.private_pool", "projects/k8s-release/locations/us-central1/workerPools/c3-highcpu-44"),
    "builder-image": ("gcb.builder_image", "gcr.io/k8s-staging-releng/k8s-cloud-builder"),
    "cut-issue-repo": ("upstream.cut_issue_repo", "kubernetes/sig-release"),
    "cut-issue-title": ("upstream.cut_issue_title", "Cut {version} release"),
}


@pytest.mark.parametrize(("path", "value"), list(KREL.values()), ids=list(KREL))
def test_kubernetes_profile_value_is_krels(path: str, value: object) -> None:
    assert operator.attrgetter(path)(K8S) == value


def test_every_value_names_its_source_in_krel() -> None:
    """Each link or address line of the built-in profile carries a comment (or the comment line above it)."""
    lines = (BUILTIN_DIR / "kubernetes.toml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "://" in line and "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line.split('"', 2)[-1] or lines[i - 1].lstrip().startswith("#"), line


def test_mock_release_download_url_follows_url_prefix_for_bucket() -> None:
    assert K8S.mock.release_download_url() == f"https://storage.googleapis.com/{TEST_BUCKET}/release"
    assert K8S.nomock.release_download_url().startswith("https://dl.k8s.io")


def _with(tmp_path: Path, field: str, value: str) -> Path:
    text = (BUILTIN_DIR / "kubernetes.toml").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(f"{field} = "))
    path = tmp_path / "k.toml"
    path.write_text(text.replace(line, f"{field} = {value}"), encoding="utf-8")
    return path


# Hostile values for the guard's fields: refused on load with one line naming file and key.
HOSTILE_REPO = {
    "no-slash": '"sig-release"',
    "three-parts": '"kubernetes/sig-release/extra"',
    "path-traversal": '"../../etc"',
    "dot-repo": '"kubernetes/.."',
    "url": '"https://github.com/kubernetes/sig-release"',
    "query": '"kubernetes/sig-release?state=all"',
    "owner-hyphen-first": '"-kubernetes/sig-release"',
    "option-repo": '"kubernetes/--upload-pack"',
    "newline": '"kubernetes/sig-release\\nX"',
    "not-a-string": "42",
}
HOSTILE_TITLE = {
    "no-placeholder": '"Cut release"',
    "two-placeholders": '"Cut {version} {version}"',
    "other-placeholder": '"Cut {version} {branch}"',
    "format-spec": '"Cut {version!r} release"',
    "newline": '"Cut {version}\\nrelease"',
    "empty": '""',
    "bidi-control": '"Cut {version} \\u202e release"',
}


@pytest.mark.parametrize("value", list(HOSTILE_REPO.values()), ids=list(HOSTILE_REPO))
def test_hostile_cut_issue_repo_is_refused(tmp_path: Path, value: str) -> None:
    path = _with(tmp_path, "cut_issue_repo", value)
    with pytest.raises(UsageError) as caught:
        load_profile(str(path))
    message = str(caught.value)
    assert str(path) in message and "upstream.cut_issue_repo" in message and "\n" not in message


@pytest.mark.parametrize("value", list(HOSTILE_TITLE.values()), ids=list(HOSTILE_TITLE))
def test_hostile_cut_issue_title_is_refused(tmp_path: Path, value: str) -> None:
    path = _with(tmp_path, "cut_issue_title", value)
    with pytest.raises(UsageError) as caught:
        load_profile(str(path))
    message = str(caught.value)
    assert str(path) in message and "upstream.cut_issue_title" in message and "\n" not in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("cut_issue_repo", '""', ""),  # no guard (the local profile's default)
        ("cut_issue_repo", '"my-org/release.team_1"', "my-org/release.team_1"),
        ("cut_issue_title", '"Release {version} cut"', "Release {version} cut"),
    ],
)
def test_benign_twins_load(tmp_path: Path, field: str, value: str, expected: str) -> None:
    assert getattr(load_profile(str(_with(tmp_path, field, value))).upstream, field) == expected
