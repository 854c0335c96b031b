"""files' guard against hostile trees: no write, read or delete through a symlink, no path out of its base."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from releng.announce import compose
from releng.announce.compose import Announcement
from releng.announce.message import Message
from releng.announce.outbox import OutboxMailer
from releng.files import UnsafePathError, check_writable, read_if_exists, remove, safe_name, write_atomic


def _tree(root: Path) -> dict[str, str]:
    """Every entry under root as text or '-> target' for links (links never followed)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else path.read_text() if path.is_file() else "<dir>"
    return out


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    victim = tmp_path / "outside"
    victim.mkdir()
    (victim / "target.txt").write_text("precious\n")
    return victim


# (name, how to plant the link under base, the path written relative to base)
LINKS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "final-link-to-file": (lambda b, o: os.symlink(o / "target.txt", b / "out.txt"), "out.txt"),
    "final-link-dangling": (lambda b, o: os.symlink(o / "new.txt", b / "out.txt"), "out.txt"),
    "final-link-to-dir": (lambda b, o: os.symlink(o, b / "out.txt"), "out.txt"),
    "final-link-relative": (lambda b, o: os.symlink(os.path.relpath(o / "target.txt", b), b / "out.txt"), "out.txt"),
    "dir-link": (lambda b, o: os.symlink(o, b / "sub"), "sub/target.txt"),
    "dir-link-new-file": (lambda b, o: os.symlink(o, b / "sub"), "sub/new.txt"),
    "dir-link-deeper": (lambda b, o: (b / "a").mkdir() or os.symlink(o, b / "a" / "b"), "a/b/target.txt"),
    "dir-link-then-missing-dirs": (lambda b, o: os.symlink(o, b / "sub"), "sub/x/y/new.txt"),
    "dir-link-relative": (lambda b, o: os.symlink(os.path.relpath(o, b), b / "sub"), "sub/target.txt"),
    "dir-link-to-self-loop": (lambda b, o: os.symlink("loop", b / "loop"), "loop/x.txt"),
    "file-in-the-way-of-dir-link": (lambda b, o: os.symlink(o / "target.txt", b / "sub"), "sub/x.txt"),
}


@pytest.mark.parametrize("exclusive", [False, True], ids=["replace", "exclusive"])
@pytest.mark.parametrize(("plant", "rel"), LINKS.values(), ids=LINKS.keys())
def test_write_atomic_never_writes_through_a_link(
    tmp_path: Path, outside: Path, plant: Callable[[Path, Path], None], rel: str, exclusive: bool
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    plant(base, outside)
    before_outside, before_base = _tree(outside), _tree(base)
    with pytest.raises((UnsafePathError, OSError)) as info:
        write_atomic(base / rel, "attacker-chosen\n", base=base, exclusive=exclusive)
    if not (rel == "loop/x.txt" or rel.startswith("sub/x")):
        assert isinstance(info.value, UnsafePathError) and "symbolic link" in str(info.value)
    assert _tree(outside) == before_outside
    assert _tree(base) == before_base  # no temp file, no directory left behind


@pytest.mark.parametrize(("plant", "rel"), LINKS.values(), ids=LINKS.keys())
def test_check_read_and_remove_refuse_links_on_the_way(
    tmp_path: Path, outside: Path, plant: Callable[[Path, Path], None], rel: str
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    plant(base, outside)
    before = _tree(outside)
    final_link = "/" not in rel
    if final_link:
        with pytest.raises(UnsafePathError):
            check_writable(base / rel, base=base)
        with pytest.raises((UnsafePathError, OSError)):
            read_if_exists(base / rel, base=base)
        assert remove(base / rel, base=base)  # the link itself goes, never its target
        assert not (base / rel).is_symlink()
    else:
        for call in (check_writable, read_if_exists, remove):
            with pytest.raises((UnsafePathError, OSError)):
                call(base / rel, base=base)
    assert _tree(outside) == before


ESCAPES = {
    "dotdot": "../outside/target.txt",
    "dotdot-inside": "a/../../outside/target.txt",
    "dotdot-last": "a/..",
    "the-base-itself": "",
}


@pytest.mark.parametrize("rel", ESCAPES.values(), ids=ESCAPES.keys())
def test_paths_that_leave_the_base_are_refused(tmp_path: Path, outside: Path, rel: str) -> None:
    base = tmp_path / "base"
    base.mkdir()
    path = Path(str(base) + "/" + rel) if rel else base
    for call in (lambda: write_atomic(path, "x", base=base), lambda: read_if_exists(path, base=base),
                 lambda: remove(path, base=base), lambda: check_writable(path, base=base)):
        with pytest.raises(UnsafePathError, match="not a plain path inside"):
            call()
    assert _tree(outside) == {"target.txt": "precious\n"} and _tree(base) == {}


def test_absolute_path_elsewhere_is_refused(tmp_path: Path, outside: Path) -> None:
    with pytest.raises(UnsafePathError, match="not a plain path inside"):
        write_atomic(outside / "target.txt", "x", base=tmp_path / "base")
    assert (outside / "target.txt").read_text() == "precious\n"


def test_the_base_itself_may_be_reached_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "home")  # e.g. KREL_HOME on a symlinked volume: the caller's choice
    write_atomic(tmp_path / "home" / "cache" / "x.json", "{}", base=tmp_path / "home")
    assert (real / "cache" / "x.json").read_text() == "{}"
    assert read_if_exists(tmp_path / "home" / "cache" / "x.json", base=tmp_path / "home") == b"{}"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/abs", "nul\0"], ids=["empty", "dot", "dotdot", "slash",
                                                                            "absolute", "nul"])
def test_safe_name_refuses_non_components(name: str) -> None:
    with pytest.raises(UnsafePathError, match="one plain path component"):
        safe_name(name, "name")


ANNOUNCE_LINKS = {
    "announcement-html-link": "announcement.html",
    "subject-link": "announcement-subject.txt",
}


@pytest.mark.parametrize("name", ANNOUNCE_LINKS.values(), ids=ANNOUNCE_LINKS.keys())
def test_announce_build_refuses_a_linked_output_and_writes_neither(tmp_path: Path, outside: Path, name: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(outside / "target.txt", work / name)
    announcement = Announcement(kind="release", tag="v1.0.0", subject="s", html="<p>attacker</p>")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        compose.write_announcement(announcement, work)
    assert _tree(outside) == {"target.txt": "precious\n"}
    assert sorted(p.name for p in work.iterdir()) == [name]  # the other file was not written either


def test_announce_build_into_a_fresh_dir(tmp_path: Path) -> None:
    announcement = Announcement(kind="release", tag="v1.0.0", subject="subject", html="<p>x</p>")
    html, subject = compose.write_announcement(announcement, tmp_path / "new" / "dir")
    assert html.read_text() == "<p>x</p>" and subject.read_text() == "subject"


def test_outbox_writes_inside_its_directory_only(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    message = Message(sender_name="A", sender_email="a@example.test", recipients=("b@example.test",),
                      subject="../../../etc/passwd", html="<p>x</p>")
    OutboxMailer(str(box)).send(message)
    written = list(box.iterdir())
    assert len(written) == 1 and written[0].suffix == ".eml" and list(tmp_path.iterdir()) == [box]
