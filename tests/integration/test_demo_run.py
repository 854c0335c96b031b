"""hack/demo, the README's first command: a full mock + nomock cycle on this machine, and safe to run twice."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from releng.registry.localserver import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "KREL_HOME": str(tmp_path / "krel-home"), "CI": "true",
           "KREL_VENV": str(Path(sys.executable).parent.parent), "KREL_LOCAL_REGISTRY": f"127.0.0.1:{free_port()}"}
    yield env
    subprocess.run([sys.executable, "-m", "krel", "local", "down"], env=env, capture_output=True, timeout=60)


def _demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "hack/demo")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def test_demo_runs_twice(demo_env: dict[str, str]) -> None:
    home = Path(demo_env["KREL_HOME"])
    registry = demo_env["KREL_LOCAL_REGISTRY"]
    first = _demo(demo_env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "demo finished" in first.stdout
    release = home / "buckets/release/release"
    assert (release / "v1.0.0-rc.0/announcement.html").is_file()
    assert (release / "latest-1.0.txt").read_text() == "v1.0.0-rc.0"
    assert (home / "buckets/mock/release/v1.0.0-rc.0/release-notes.html").is_file()
    snapshot = _tree(home / "buckets/release")
    # The registry the notes name stays up for the next commands, and the next commands are printed runnable.
    assert registry in (release / "v1.0.0-rc.0/release-notes.html").read_text()
    tags = httpx.get(f"http://{registry}/v2/staging/demo-server/tags/list", timeout=5).json()["tags"]
    assert "v1.0.0-rc.0" in tags
    assert f"KREL_LOCAL_REGISTRY={registry}" in first.stdout and "krel local down" in first.stdout

    second = _demo(demo_env)
    assert second.returncode == 0, second.stderr[-3000:]
    again = _tree(home / "buckets/release")
    # Released objects are never rewritten; only the new run's archived logs may appear.
    assert {k: again.get(k) for k in snapshot} == snapshot
    assert all("/logs/" in k or k.startswith("archive/") for k in set(again) - set(snapshot))
