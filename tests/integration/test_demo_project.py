"""The demo project generator and its build script: deterministic, krel's layout, replayable PR data."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from releng import git
from releng.github.replay import ReplayPullRequests
from releng.registry.imagetar import tarball_info

from tests.fixtures.releaseflow import flow_generator


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    generate = flow_generator()
    first = generate.create(tmp_path / "a")
    assert generate.create(tmp_path / "a") == first  # a second run keeps the project
    second = generate.create(tmp_path / "b")
    assert first.build_version == second.build_version  # fixed dates: same shas everywhere
    upstream = Path(first.upstream.removeprefix("file://"))
    assert set(git.ls_remote_heads(str(upstream))) == {"master"}
    head = git.rev_parse(upstream, "master")
    assert first.build_version.endswith("+" + head[:14])
    assert (tmp_path / "a/buckets/ci/ci/latest-1.0.txt").read_text() == first.build_version

    prs = ReplayPullRequests(Path(first.replay)).get([101, 102, 103, 104, 105])
    assert prs[101].labels[:2] == ("kind/feature", "sig/node")
    merges = git.first_parent_commits(upstream, "master", "v1.0.0-alpha.0")
    assert [c.pr for c in merges] == [105, 104, 103, 102, 101]
    assert {c.sha for c in merges} == {pr.merge_commit_sha for pr in prs.values()}


def test_build_script_writes_krel_layout_reproducibly(tmp_path: Path) -> None:
    project = flow_generator().create(tmp_path / "home")
    work = Path(project.work)
    env = {**os.environ, "KREL_VERSION": "v1.0.0-alpha.1"}
    trees = []
    for _ in range(2):
        subprocess.run(["sh", "build.sh"], cwd=work, env=env, check=True, capture_output=True)
        trees.append(_tree(work / "_output"))
    assert trees[0] == trees[1]
    assert {"release-tars/demo.tar.gz", "release-tars/demo-server-linux-arm64.tar.gz", "bin/linux/amd64/democtl",
            "release-images/arm64/demo-server.tar"} <= set(trees[0])
    info = tarball_info(work / "_output/release-images/arm64/demo-server.tar")
    assert (info.architecture, info.repo_tags) == ("arm64", ("demo-server-arm64:v1.0.0-alpha.1",))
    out = subprocess.run(["sh", str(work / "_output/bin/linux/amd64/democtl")], capture_output=True, text=True)
    assert out.stdout.strip() == "democtl v1.0.0-alpha.1 linux/amd64"
