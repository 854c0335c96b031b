"""Promoter manifests: every original fixture, the validation rules as a table, file:line in every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from releng.promo.edges import OverlapError, plan_edges
from releng.promo.manifests import ManifestError, map_registries, parse_manifest, parse_thin_dir

from tests.shared_data import SHARED_DATA, requires_shared_data

pytestmark = requires_shared_data  # the original promoter's fixtures and the real manifests

DATA = SHARED_DATA / "promo-testdata/k8s-container-image-promoter-2021"
INV = DATA / "legacy/dockerregistry/inventory_test"
E2E = DATA / "test-e2e/cip/fixture"
REAL = SHARED_DATA / "k8s-promoter-manifests"

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


VALID = INV / "TestValidateThinManifestsFromDir/valid"


@pytest.mark.parametrize("case", sorted(p.name for p in VALID.iterdir()) if VALID.is_dir() else ["(no data)"])
def test_valid_thin_fixtures_parse_and_plan(case: str) -> None:
    manifests = parse_thin_dir(INV / "TestValidateThinManifestsFromDir/valid" / case)
    assert manifests
    plan_edges(manifests)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "no manifests found in dir"),
        ("malformed-directory-tree-structure", "images/b/images.yaml does not exist"),
        ("malformed-directory-tree-structure-nested", "unexpected manifest path manifests/b/c/promoter-manifest.yaml"),
        ("overlapping-destination-vertices-different-digest", "overlapping edges detected"),
    ],
)
def test_invalid_thin_fixtures_fail_clearly(case: str, message: str) -> None:
    root = INV / "TestValidateThinManifestsFromDir/invalid" / case
    assert sorted(p.name for p in root.parent.iterdir()) == [
        "empty",
        "malformed-directory-tree-structure",
        "malformed-directory-tree-structure-nested",
        "overlapping-destination-vertices-different-digest",
    ]
    with pytest.raises(ManifestError) as exc:
        plan_edges(parse_thin_dir(root))
    assert message in str(exc.value)


def test_overlap_names_both_files_and_lines() -> None:
    root = INV / "TestValidateThinManifestsFromDir/invalid/overlapping-destination-vertices-different-digest"
    with pytest.raises(OverlapError) as exc:
        plan_edges(parse_thin_dir(root))
    text = str(exc.value)
    assert "images/b/images.yaml:4" in text and "images/a/images.yaml:3" in text
    assert "/foo-controller:1.0 (and 2 more destinations)" in text


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "basic-thin",
            {
                "a": ("gcr.io/foo-staging", "foo-controller", A),
                "b": ("gcr.io/bar-staging", "bar-controller", B),
                "c": ("gcr.io/cat-staging", "cat-controller", "sha256:" + "c" * 64),
                "d": ("gcr.io/qux-staging", "qux-controller", "sha256:" + "0" * 64),
            },
        ),
        (
            "multiple-rebases",
            {"a": ("gcr.io/foo-staging", "foo-controller", A), "b": ("gcr.io/bar-staging", "bar-controller", B)},
        ),
        (
            "singleton",
            {
                "a": (
                    "gcr.io/foo-staging",
                    "foo-controller",
                    "sha256:c3d310f4741b3642497da8826e0986db5e02afc9777a2b8e668c8e41034128c1",
                )
            },
        ),
    ],
)
def test_parse_thin_manifests_from_dir(case: str, expected: dict[str, tuple[str, str, str]]) -> None:
    """TestParseThinManifestsFromDir: images come from images/<p>/images.yaml; imagesPath is ignored."""
    manifests = parse_thin_dir(INV / "TestParseThinManifestsFromDir" / case)
    got = {}
    for m in manifests:
        project = Path(m.path).parent.name
        assert m.path.endswith(f"manifests/{project}/promoter-manifest.yaml")
        assert len(m.destinations) == 3 and all(r.service_account == "sa@robot.com" for r in m.registries)
        ((image,),) = [m.images]
        assert image.dmap == {next(iter(image.dmap)): ("1.0",)}
        got[project] = (m.src.name, image.name, next(iter(image.dmap)))
    assert got == expected


def test_parse_thin_empty_dir_fails() -> None:
    with pytest.raises(ManifestError, match="no manifests found in dir"):
        parse_thin_dir(INV / "TestParseThinManifestsFromDir/empty")


def test_real_and_e2e_manifests_parse() -> None:
    (git_sync,) = parse_thin_dir(REAL / "registry.k8s.io")
    assert git_sync.src.name == "gcr.io/k8s-staging-git-sync"
    assert len(git_sync.destinations) == 23 and len(git_sync.images[0].dmap) == 31
    assert len(parse_thin_dir(REAL / "promo-tools-canary")) == 2
    sanity = parse_manifest(E2E / "sanity/promoter-manifest.yaml")
    # Unquoted `1.0` is a YAML float; the raw scalar text is kept, as Go's yaml does for []string.
    assert sanity.images[0].dmap["sha256:b7efc8e6778e8e096d527862365ca8e7f351d1555e11bcf7d230a18b9ba72b34"] == ("1.0",)
    assert sanity.images[0].dmap["sha256:27ba895d293e5e3192b2bb57f0126f923b48d20221bb017e899ca3f5af74f738"] == ()
    assert len(parse_thin_dir(E2E / "recursive-thin")) == 2


REGS = "registries:\n- name: gcr.io/staging\n  src: true\n- name: us.gcr.io/prod\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("registries: [\n", 2, "malformed YAML"),
        ("", 0, "empty manifest"),
        ("- a\n", 1, "manifest must be a mapping"),
        ("images: []\n", 1, "registries: missing"),
        ("registries: []\n", 1, "registries: must be a non-empty list"),
        ("registries:\n- name: gcr.io/a\n- name: gcr.io/b\n", 2, "source registry must be set"),
        ("registries:\n- name: gcr.io/a\n  src: true\n- name: gcr.io/b\n  src: true\n", 5, "more than 1 source"),
        ("registries:\n- src: true\n", 2, "registry: name is required"),
        ("registries:\n- name: gcr.io/a\n  src: true\n- name: gcr.io/a\n", 4, "listed twice"),
        ("registries:\n- name: gcr.io/a\n  src: yes please\n", 3, "src must be true or false"),
        ("registries:\n- name: gcr.io/a\n  src: true\n  servce-account: x\n", 4, "did you mean 'service-account'"),
        ("regstries: []\n", 1, "did you mean 'registries'"),
        (REGS + "images:\n- dmap: {}\n", 6, "image: name is required"),
        (REGS + "images:\n- name: Foo\n  dmap: {'" + A + "': []}\n", 6, "not a valid repository name"),
        (REGS + "images:\n- name: foo\n", 6, "dmap must be a non-empty mapping"),
        (REGS + "images:\n- name: foo\n  dmap: {}\n", 7, "dmap must be a non-empty mapping"),
        (REGS + "images:\n- name: foo\n  dmap:\n    sha256:abc: []\n", 8, "bad digest 'sha256:abc'"),
        (REGS + "images:\n- name: foo\n  dmap:\n    '" + A.upper() + "': []\n", 8, "bad digest"),
        (REGS + "images:\n- name: foo\n  dmap:\n    '" + A + "': ['-bad']\n", 8, "bad tag '-bad'"),
        (REGS + "images:\n- name: foo\n  dmap:\n    '" + A + "': ['" + "x" * 129 + "']\n", 8, "bad tag"),
        (REGS + "images:\n- name: foo\n  dmap:\n    '" + A + "': v1\n", 8, "must be a list"),
        (REGS + "images:\n- name: foo\n  dmap:\n    '" + A + "': []\n    '" + A + "': [v2]\n", 9, "listed twice"),
        (REGS + "images: {}\n", 5, "images must be a list"),
    ],
)
def test_plain_manifest_rules(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "promoter-manifest.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as exc:
        parse_manifest(path)
    where = f"{path}:{line}:" if line else f"{path}:"
    assert any(p.startswith(where) and message in p for p in exc.value.problems), exc.value.problems


def test_every_problem_collected(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(REGS + "images:\n- name: foo\n  dmap:\n    sha256:x: []\n    '" + A + "': ['-y']\n- dmap: {}\n")
    with pytest.raises(ManifestError) as exc:
        parse_manifest(path)
    assert len(exc.value.problems) == 4
    assert str(exc.value).splitlines()[0] == "4 manifest problems:"


def test_valid_plain_manifest_with_tagless_and_flow_style(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(REGS + f'images:\n- name: a/b-c\n  dmap:\n    "{A}": ["1.0", latest, "1.0"]\n    "{B}": []\n')
    m = parse_manifest(path)
    assert m.images[0].dmap == {A: ("1.0", "latest"), B: ()}
    assert [r.name for r in m.destinations] == ["us.gcr.io/prod"]


def test_thin_manifest_may_not_carry_images(tmp_path: Path) -> None:
    (tmp_path / "manifests/p").mkdir(parents=True)
    (tmp_path / "images/p").mkdir(parents=True)
    (tmp_path / "manifests/p/promoter-manifest.yaml").write_text(REGS + "images: []\n")
    (tmp_path / "images/p/images.yaml").write_text(f"- name: foo\n  dmap: {{'{A}': [v1]}}\n")
    with pytest.raises(ManifestError, match=r"promoter-manifest.yaml:5: thin manifest: unknown key 'images'"):
        parse_thin_dir(tmp_path)


def test_thin_counterpart_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "manifests/p").mkdir(parents=True)
    (tmp_path / "images/p/images.yaml").mkdir(parents=True)
    (tmp_path / "manifests/p/promoter-manifest.yaml").write_text(REGS)
    with pytest.raises(ManifestError, match="is not a regular file"):
        parse_thin_dir(tmp_path)


def test_registry_map_longest_prefix() -> None:
    manifests = parse_thin_dir(E2E / "recursive-thin")
    mapped = map_registries(
        manifests,
        {"us.gcr.io/k8s-cip-test-prod": "127.0.0.1:5001/us", "us.gcr.io/k8s-cip-test-prod/golden-foo": "h:1/x"},
    )
    names = {r.name for m in mapped for r in m.registries}
    assert "127.0.0.1:5001/us/golden-bar" in names and "h:1/x" in names
    assert "eu.gcr.io/k8s-cip-test-prod/golden-bar" in names


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab:-[]{}\n #'\"sha256ef0123456789", max_size=120))
def test_any_text_parses_or_raises_manifest_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("prop") / "m.yaml"
    path.write_text(REGS + "images:\n" + text)
    try:
        parse_manifest(path)
    except ManifestError as exc:
        assert all(p.startswith(str(path)) for p in exc.problems)
