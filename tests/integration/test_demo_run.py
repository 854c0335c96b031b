"""hack/demo, the README's first command: a full mock + nomock cycle on this machine, and safe to run twice."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KREL_HOME": str(home), "CI": "true", "KREL_VENV": str(Path(sys.executable).parent.parent)}
    env.pop("KREL_LOCAL_REGISTRY", None)
    return subprocess.run([str(ROOT / "hack/demo")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def test_demo_runs_twice(tmp_path: Path) -> None:
    home = tmp_path / "krel-home"
    first = _demo(home)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "demo finished" in first.stdout
    release = home / "buckets/release/release"
    assert (release / "v1.0.0-rc.0/announcement.html").is_file()
    assert (release / "latest-1.0.txt").read_text() == "v1.0.0-rc.0"
    assert (home / "buckets/mock/release/v1.0.0-rc.0/release-notes.html").is_file()
    snapshot = _tree(home / "buckets/release")

    second = _demo(home)
    assert second.returncode == 0, second.stderr[-3000:]
    again = _tree(home / "buckets/release")
    # Released objects are never rewritten; only the new run's archived logs may appear.
    assert {k: again.get(k) for k in snapshot} == snapshot
    assert all("/logs/" in k or k.startswith("archive/") for k in set(again) - set(snapshot))
