"""Bounded loading of untrusted YAML/TOML/JSON and image tarballs: every hostile input is one line naming the file."""

from __future__ import annotations

import io
import json
import resource
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from releng import safeload
from releng.errors import ReleaseError, UsageError
from releng.github.base import GitHubError
from releng.github.replay import ReplayPullRequests
from releng.notes import maps
from releng.profile import load_profile
from releng.promo.manifests import ManifestError, parse_manifest, parse_thin_dir
from releng.registry import imagetar, oci

from tests.shared_data import SHARED_DATA

DATA = SHARED_DATA
DIGEST = "sha256:" + "a" * 64


def _laughs(levels: int = 9, width: int = 9) -> str:
    """The billion-laughs map: each level lists the previous one `width` times (width**levels leaves)."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 30) -> str:
    """Merge keys doubling per level: flattening copies every merged pair, 2**levels of them."""
    lines = ["m0: &m0 {a: 1}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}")
    return "\n".join(lines) + "\n"


def _edge_bomb() -> str:
    """A promoter-manifest-shaped file: 20 image entries alias one 4,500-digest dmap (22 destinations: 2M edges)."""
    dmap = "".join(f'    "sha256:{i:064x}": ["v{i}"]\n' for i in range(4500))
    images = "".join(f"- name: img{i}\n  dmap: *d\n" for i in range(1, 21))
    return f"images:\n- name: img0\n  dmap: &d\n{dmap}{images}"


def _nested_block(levels: int) -> str:
    return "".join(" " * i + "a:\n" for i in range(levels)) + " " * levels + "x\n"


YAML_HOSTILE = {
    "billion-laughs": (_laughs(), "aliases expand to"),
    "laughs-in-a-list-doc": ("---\n" + _laughs(7, 10), "aliases expand to"),
    "merge-key-bomb": (_merge_bomb(), "aliases expand to"),
    "edge-bomb-manifest": (_edge_bomb(), "aliases expand to"),
    "self-alias-seq": ("a: &a [*a]\n", "a cycle"),
    "self-alias-map": ("a: &a {b: *a}\n", "a cycle"),
    "nested-flow-65": ("[" * 65 + "]" * 65 + "\n", "nested deeper than 64 levels"),
    "nested-flow-20000": ("[" * 20000 + "]" * 20000, "not valid YAML"),
    "nested-block-100": (_nested_block(100), "nested deeper than 64 levels"),
    "nested-block-2000": (_nested_block(2000), "not valid YAML"),
    "nested-flow-map-20000": ("{a: " * 20000 + "}" * 20000, "not valid YAML"),
    "nested-with-star-scalar": ('x: "*"\ny: ' + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64 levels"),
    "impossible-date": ("d: 2001-02-30\n", "not valid YAML"),
    "unknown-anchor": ("a: *nowhere\n", "not valid YAML"),
    "nul-byte": ("a: \x00\n", "not valid YAML"),
    "oversize": ("a: " + "x" * 100 + "\n", "larger than 64 bytes"),
}


@pytest.mark.parametrize(("text", "problem"), YAML_HOSTILE.values(), ids=YAML_HOSTILE.keys())
def test_hostile_yaml_is_one_line_naming_the_file(text: str, problem: str) -> None:
    max_bytes = 64 if problem.startswith("larger") else safeload.MAX_BYTES
    with pytest.raises(safeload.InputError) as info:
        safeload.load_yaml_all(text, "maps/evil.yaml", max_bytes=max_bytes)
    message = str(info.value)
    assert message.startswith("maps/evil.yaml") and problem in message and "\n" not in message


def test_alias_bomb_is_refused_before_memory_grows() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(safeload.InputError, match="aliases expand to 490,329,064 nodes from 28 written"):
        safeload.load_yaml_all(_laughs(), "m.yaml")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing was expanded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x [1, 2]\nb: *x\n", [{"a": [1, 2], "b": [1, 2]}]),  # aliases within the budget still load
        ('text: "5 * 3 = 15."\n', [{"text": "5 * 3 = 15."}]),  # a star that is no alias
        ("[" * 63 + "]" * 63 + "\n", None),  # 64 levels: the limit itself
        ("a: 1\n---\nb: 2\n", [{"a": 1}, {"b": 2}]),
        ("", []),
    ],
)
def test_ordinary_yaml_loads(text: str, expected: list[Any] | None) -> None:
    docs = safeload.load_yaml_all(text, "ok.yaml")
    if expected is not None:
        assert docs == expected
    else:
        assert len(docs) == 1


@pytest.mark.parametrize("path", sorted(DATA.glob("release-notes-maps/*.yaml")), ids=lambda p: p.name)
def test_real_maps_load_unchanged(path: Path) -> None:
    import yaml

    text = path.read_text(encoding="utf-8")
    assert safeload.load_yaml_all(text, str(path)) == list(yaml.safe_load_all(text))


JSON_HOSTILE: dict[str, tuple[str | bytes, str]] = {
    "deep-array-100000": ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
    "deep-object-65": ('{"a":' * 65 + "1" + "}" * 65, "nested deeper than 64 levels"),
    "unclosed-deep": ("[" * 100_000, "nested deeper than 64 levels"),
    "not-utf8": (b'{"a": "\xff"}', "not UTF-8 text (bad byte 0xff at offset 7)"),
    "utf16": ('{"a": 1}'.encode("utf-16"), "not UTF-8 text"),
    "huge-int": ("1" * 5000, "not valid JSON"),
    "truncated": ('{"a": [1, 2', "not valid JSON"),
    "oversize": (b"[" + b"0," * 100 + b"0]", "larger than 64 bytes"),
}


@pytest.mark.parametrize(("data", "problem"), JSON_HOSTILE.values(), ids=JSON_HOSTILE.keys())
def test_hostile_json_is_one_line_naming_the_file(data: str | bytes, problem: str) -> None:
    max_bytes = 64 if problem.startswith("larger") else safeload.MAX_BYTES
    with pytest.raises(safeload.InputError) as info:
        safeload.load_json(data, "config.json", max_bytes=max_bytes)
    message = str(info.value)
    assert message.startswith("config.json") and problem in message and "\n" not in message


TOML_HOSTILE = {
    "deep-array-20000": ("a = " + "[" * 20000 + "]" * 20000, "nested deeper than 64 levels"),
    "deep-inline-table": ("a = " + "{b = " * 100 + "1" + "}" * 100, "nested deeper than 64 levels"),
    "dotted-key-20000": (".".join(["k"] * 20000) + " = 1", "more than 64 parts"),
    "dotted-key-65": (".".join(["k"] * 65) + " = 1", "more than 64 parts"),
    "dotted-quoted-spaced": (" . ".join(['"k"'] * 70) + " = 1", "more than 64 parts"),
    "table-header-20000": ("[" + ".".join(["k"] * 20000) + "]\n", "more than 64 parts"),
    "array-of-tables-deep": ("[[" + ".".join(["k"] * 200) + "]]\n", "more than 64 parts"),
    "tables-nested-by-headers": (
        "".join(f"[{'.'.join(['k'] * i)}]\n" for i in range(1, 65)) + "x = [[1]]\n", "nested deeper than 64 levels"
    ),
    "broken": ("[[broken", "not valid TOML"),
}


def test_dotted_keys_up_to_the_limit_load() -> None:
    value = safeload.load_toml(".".join(["k"] * 64) + ' = 1\nurl = "https://dl.k8s.io/a.b.c/d.e"\n', "p.toml")
    assert value["url"] == "https://dl.k8s.io/a.b.c/d.e"


@pytest.mark.parametrize(("text", "problem"), TOML_HOSTILE.values(), ids=TOML_HOSTILE.keys())
def test_hostile_toml_is_one_line(text: str, problem: str) -> None:
    with pytest.raises(safeload.InputError) as info:
        safeload.load_toml(text, "profile p.toml")
    assert str(info.value).startswith("profile p.toml: ") and problem in str(info.value)
    assert "\n" not in str(info.value)


# -- through the loaders krel uses ---------------------------------------------------------------------------

PROFILE_HOSTILE: dict[str, tuple[bytes, str]] = {
    "nested-20000": (("x = " + "[" * 20000 + "]" * 20000).encode(), "nested deeper than 64 levels"),
    "dotted-20000": ((".".join(["k"] * 20000) + " = 1").encode(), "more than 64 parts"),
    "not-utf8": (b'name = "caf\xe9"\n', "not UTF-8 text"),
    "oversize-2MiB": (b"# " + b"x" * (2 << 20) + b"\n", "larger than 1 MiB"),
}


@pytest.mark.parametrize(("content", "problem"), PROFILE_HOSTILE.values(), ids=PROFILE_HOSTILE.keys())
def test_hostile_profile_is_a_usage_error_naming_it(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "evil.toml"
    path.write_bytes(content)
    with pytest.raises(UsageError) as info:
        load_profile(str(path))
    assert str(info.value).startswith(f"profile {path}: ") and problem in str(info.value)
    assert info.value.exit_code == 2


MAP_HOSTILE: dict[str, tuple[bytes, str]] = {
    "billion-laughs": (("pr: 1\nreleasenote:\n  text: Fixed.\n" + _laughs()).encode(), "aliases expand to"),
    "laughs-in-datafields": (
        ("pr: 2\ndatafields:\n  x:\n" + "".join("    " + line + "\n" for line in _laughs().splitlines())).encode(),
        "aliases expand to",
    ),
    "deep-20000": (("pr: 3\ndatafields: " + "{a: " * 20000 + "}" * 20000 + "\n").encode(), "not valid YAML"),
    "deep-100": (("pr: 4\ndatafields: " + "[" * 100 + "]" * 100 + "\n").encode(), "nested deeper than 64 levels"),
    "not-utf8": (b"pr: 5\nreleasenote:\n  text: caf\xe9.\n", "not UTF-8 text"),
}


@pytest.mark.parametrize(("content", "problem"), MAP_HOSTILE.values(), ids=MAP_HOSTILE.keys())
def test_release_notes_validate_reports_hostile_maps(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "evil.yaml"
    path.write_bytes(content)
    checked, problems = maps.validate(tmp_path)
    assert checked == 1 and len(problems) == 1
    assert problems[0].startswith(str(path)) and problem in problems[0] and "\n" not in problems[0]
    with pytest.raises(maps.MapError, match=problem):
        maps.load_maps([tmp_path])


def test_manifest_alias_bomb_keeps_file_line_format(tmp_path: Path) -> None:
    path = tmp_path / "promoter-manifest.yaml"
    path.write_text("registries:\n- {name: gcr.io/src, src: true}\n- name: gcr.io/dst\n" + _edge_bomb())
    with pytest.raises(ManifestError) as info:
        parse_manifest(path)
    expansion = "aliases expand to 283,618 nodes from 13,598 written (100,000 extra allowed)"
    assert info.value.problems == [f"{path}: {expansion}"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("registries: " + "[" * 80 + "]" * 80 + "\n", ":1: nested deeper than 64 levels"),
        ("registries:\n- name: gcr.io/x\n  src: &s [*s]\n", ":3: an alias refers to a node that contains it"),
        ("registries: []\nimages: \x00\n", ": malformed YAML: unacceptable character #x0000"),
    ],
    ids=["deep", "cycle", "nul"],
)
def test_manifest_hostile_yaml_names_file_and_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(content)
    with pytest.raises(ManifestError) as info:
        parse_manifest(path)
    assert info.value.problems[0].startswith(f"{path}{expected}")


def test_thin_manifest_not_utf8_names_the_file(tmp_path: Path) -> None:
    project = tmp_path / "manifests" / "p"
    project.mkdir(parents=True)
    (project / "promoter-manifest.yaml").write_bytes(b"registries:\n- name: gcr.io/\xff\n  src: true\n")
    with pytest.raises(ManifestError, match=r"promoter-manifest\.yaml: not UTF-8 text \(bad byte 0xff at offset 27\)"):
        parse_thin_dir(tmp_path)


@pytest.mark.parametrize("path", sorted(DATA.glob("k8s-promoter-manifests/**/promoter-manifest.yaml")),
                         ids=lambda p: p.parent.name)
def test_real_manifests_still_parse(path: Path) -> None:
    parse_thin_dir(path.parents[2])


REPLAY_HOSTILE: dict[str, tuple[bytes, str]] = {
    "deep-json": (b'{"Result": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested deeper than 64 levels"),
    "not-utf8": (b'{"Result": {"title": "\xff"}}', "not UTF-8 text"),
    "truncated": (b'{"Result": {', "not valid JSON"),
}


@pytest.mark.parametrize(("content", "problem"), REPLAY_HOSTILE.values(), ids=REPLAY_HOSTILE.keys())
def test_hostile_replay_record(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / "GetPullRequest-0.json").write_bytes(content)
    with pytest.raises(GitHubError) as info:
        ReplayPullRequests(tmp_path)
    message = str(info.value)
    assert message.startswith(f"replay file {tmp_path / 'GetPullRequest-0.json'}:") and problem in message


# -- image tarballs ------------------------------------------------------------------------------------------

class _Zeros(io.RawIOBase):
    """n zero bytes, produced as read: a member that compresses ~1000:1 without being held in memory."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.left)
        buffer[:size] = bytes(size)
        self.left -= size
        return size


def _tarball(path: Path, members: dict[str, bytes | int], mode: str = "w:gz") -> Path:
    """A tarball; an int member is that many zero bytes (streamed, so a bomb costs no memory to build)."""
    options = {"compresslevel": 1} if mode.endswith("gz") else {}
    with tarfile.open(path, mode, **options) as tar:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = data if isinstance(data, int) else len(data)
            tar.addfile(info, _Zeros(data) if isinstance(data, int) else io.BytesIO(data))
    return path


def _docker_manifest(config: str = "c.json") -> bytes:
    return json.dumps([{"Config": config, "RepoTags": ["x/y:1"], "Layers": []}]).encode()


TARBALL_HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "gzip-bomb-config": (
        lambda d: _tarball(d / "t.tar.gz", {"manifest.json": _docker_manifest(), "c.json": (64 << 20) + 1}),
        "c.json: larger than 64 MiB",
    ),
    "gzip-bomb-manifest-json": (
        lambda d: _tarball(d / "t.tar.gz", {"manifest.json": (4 << 20) + 1}),
        "manifest.json: larger than 4 MiB",
    ),
    "deep-config-json": (
        lambda d: _tarball(d / "t.tar.gz", {"manifest.json": _docker_manifest(),
                                            "c.json": b"[" * 200_000 + b"]" * 200_000}),
        "c.json: nested deeper than 64 levels",
    ),
    "deep-manifest-json": (
        lambda d: _tarball(d / "t.tar", {"manifest.json": b'[{"Config":' + b"[" * 5000 + b"]" * 5000 + b"}]"}, "w"),
        "manifest.json: nested deeper than 64 levels",
    ),
    "config-not-utf8": (
        lambda d: _tarball(d / "t.tar", {"manifest.json": _docker_manifest(), "c.json": b'{"os": "\xfe"}'}, "w"),
        "c.json: not UTF-8 text",
    ),
    "many-members": (
        lambda d: _tarball(d / "t.tar.gz", {f"e{i}": b"" for i in range(imagetar.MAX_MEMBERS + 1)}),
        f"more than {imagetar.MAX_MEMBERS} entries",
    ),
    "truncated-gzip": (
        lambda d: _truncate(_tarball(d / "t.tar.gz", {"manifest.json": _docker_manifest(), "c.json": 1 << 20})),
        "cannot be read",
    ),
    "not-a-tar": (lambda d: _write(d / "t.tar", b"\x1f\x8b\x08garbage"), "cannot be read as a tar"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# config_digest only hashes the config's bytes, so a config it need not parse is no problem for it.
_HASHED_ONLY = {"deep-config-json", "config-not-utf8"}


@pytest.mark.parametrize(("case", "problem"), [(k, v[1]) for k, v in TARBALL_HOSTILE.items()], ids=TARBALL_HOSTILE)
def test_hostile_image_tarball_is_one_line(tmp_path: Path, case: str, problem: str) -> None:
    path = TARBALL_HOSTILE[case][0](tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    readers = [imagetar.tarball_info] + ([] if case in _HASHED_ONLY else [imagetar.config_digest])
    for read in readers:
        with pytest.raises(ReleaseError) as info:
            read(path)
        message = str(info.value)
        assert message.startswith(f"image tarball {path}") and problem in message and "\n" not in message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: no member inflated whole


def test_ordinary_tarball_still_reads(tmp_path: Path) -> None:
    path = imagetar.build_image_tarball(tmp_path / "i.tar", {"hello": b"hi"}, "arm64", variant="v8")
    info = imagetar.tarball_info(path)
    assert (info.architecture, info.os, info.variant) == ("arm64", "linux", "v8")
    assert imagetar.config_digest(path) is not None
    oci_path = imagetar.build_oci_layout_tarball(tmp_path / "o.tar", {"amd64": {"f": b"x"}})
    assert imagetar.config_digest(oci_path) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"[" * 100_000, "nested deeper than 64 levels"),
        (b'{"a": "\xff"}', "not UTF-8 text"),
        (b" " * ((4 << 20) + 1), "larger than 4 MiB"),
    ],
    ids=["deep", "not-utf8", "oversize"],
)
def test_registry_manifest_json_is_bounded(raw: bytes, problem: str) -> None:
    with pytest.raises(ReleaseError) as info:
        oci.parse_manifest(raw, "127.0.0.1:5000/x@" + DIGEST)
    assert str(info.value).startswith("127.0.0.1:5000/x@") and problem in str(info.value)


# -- property: any text parses or is one InputError, never anything else ---------------------------------------

_STRUCTURE = st.text(alphabet="[]{}:,-&*!|>'\"#\n a1.=\\", max_size=300)


@given(st.one_of(st.text(max_size=300), _STRUCTURE))
@settings(max_examples=300, deadline=None)
def test_any_text_loads_or_raises_input_error(text: str) -> None:
    for load in (safeload.load_yaml_all, safeload.load_json, safeload.load_toml):
        try:
            load(text, "f")  # type: ignore[operator]
        except safeload.InputError as exc:
            assert str(exc).startswith("f") and "\n" not in exc.problem


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_bytes_load_as_json_or_raise_input_error(data: bytes) -> None:
    try:
        safeload.load_json(data, "f")
    except safeload.InputError as exc:
        assert str(exc).startswith("f")
