"""hack/demo, the README's first command: a full mock + nomock cycle on this machine, safe to run twice, and what a
newcomer does next with what it leaves behind (a new CI build, a second stage against its registry, a promotion)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from releng import git
from releng.profile import Author
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


def _krel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`krel ARGS` as the demo prints it: the venv's krel, the demo's KREL_HOME and registry."""
    krel = Path(env["KREL_VENV"]) / "bin" / "krel"
    return subprocess.run([str(krel), *args], env=env, capture_output=True, text=True, timeout=300)


def _newcomers_next_steps(env: dict[str, str], home: Path, tmp: Path) -> None:
    """A change lands on release-1.0, CI builds it, the newcomer stages it (mock) and promotes the staged image."""
    registry = env["KREL_LOCAL_REGISTRY"]
    status = _krel(env, "local", "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)[0]["state"] == "running", status.stderr

    work = git.clone(f"file://{home}/demo/upstream.git", tmp / "newcomer", branch="release-1.0")
    (work / "FIX.md").write_text("a fix for the next release candidate\n")
    git.commit_paths(work, ["FIX.md"], "Fix the thing", Author("Newcomer", "newcomer@localhost"))
    git.push(work, "origin", ["release-1.0"], dry_run=False)

    built = _krel(env, "ci-build", "--revision", "release-1.0", "--json")
    assert built.returncode == 0, built.stderr[-2000:]
    ci_version = json.loads(built.stdout)["version"]
    assert (home / "buckets/ci/ci/latest-1.0.txt").read_text().strip() == ci_version

    staged = _krel(env, "stage", "--branch", "release-1.0", "--type", "rc", "--json")
    assert staged.returncode == 0, staged.stderr[-2000:]
    manifest = httpx.get(f"http://{registry}/v2/mock/demo-server/manifests/v1.0.0-rc.1", timeout=10, headers={
        "Accept": "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"})
    assert manifest.status_code == 200, manifest.text
    digest = manifest.headers["Docker-Content-Digest"]

    promotion = tmp / "promotion.yaml"
    promotion.write_text(f"registries:\n- name: {registry}/mock\n  src: true\n- name: {registry}/promoted\n"
                         f"images:\n- name: demo-server\n  dmap:\n    \"{digest}\": [v1.0.0-rc.1]\n")
    dry = _krel(env, "promote", "images", "--manifest", str(promotion))
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert httpx.get(f"http://{registry}/v2/promoted/demo-server/tags/list", timeout=5).status_code == 404
    promoted = _krel(env, "promote", "images", "--manifest", str(promotion), "--confirm")
    assert promoted.returncode == 0, promoted.stderr[-2000:]
    tags = httpx.get(f"http://{registry}/v2/promoted/demo-server/tags/list", timeout=5).json()["tags"]
    # the image's cosign signature (stage signs it) travels with it
    assert sorted(tags) == sorted(["v1.0.0-rc.1", digest.replace(":", "-") + ".sig"])


def test_demo_runs_twice(demo_env: dict[str, str], tmp_path: Path) -> None:
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

    _newcomers_next_steps(demo_env, home, tmp_path)
    snapshot = _tree(home / "buckets/release")  # the newcomer staged in mock: production is as the demo left it

    second = _demo(demo_env)
    assert second.returncode == 0, second.stderr[-3000:]
    again = _tree(home / "buckets/release")
    # Released objects are never rewritten; only the new run's archived logs may appear.
    assert {k: again.get(k) for k in snapshot} == snapshot
    assert all("/logs/" in k or k.startswith("archive/") for k in set(again) - set(snapshot))
