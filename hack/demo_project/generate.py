#!/usr/bin/env python3
"""Create the krel demo project under KREL_HOME: a git repo with a bare upstream, merged PRs recorded in krel's
replay format, and the CI build marker `krel stage` reads. Re-running it keeps an existing project untouched.

Usage: generate.py KREL_HOME   (prints the build version as JSON with the paths)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTHOR = {"GIT_AUTHOR_NAME": "Demo Dev", "GIT_AUTHOR_EMAIL": "dev@localhost",
          "GIT_COMMITTER_NAME": "Demo Dev", "GIT_COMMITTER_EMAIL": "dev@localhost"}

# (PR number, branch, author, kind, sig, release note or None, file, content)
PULL_REQUESTS = [
    (101, "server-flag", "alice", "feature", "node", "Add the `--listen` flag to demo-server.", "cmd/server.txt",
     "listen flag\n"),
    (102, "fix-crash", "bob", "bug", "api-machinery", "Fix a crash of democtl when the config file is empty.",
     "cmd/ctl.txt", "empty config handled\n"),
    (103, "docs", "carol", "documentation", "docs", None, "docs/usage.md", "# Usage\n\nRun demo-server.\n"),
    (104, "deprecate-v1", "dave", "deprecation", "api-machinery",
     "The v1 config format is deprecated; use v2.", "cmd/config.txt", "v2 config\n"),
    (105, "cleanup", "erin", "cleanup", "release", "NONE", "hack/tidy.txt", "tidy\n"),
]
FIRST_TAG = "v1.0.0-alpha.0"
DATE = "2026-11-01T12:00:00Z"
MERGED_AT = "2026-11-0{}T12:00:00Z"


@dataclass(frozen=True)
class DemoProject:
    home: str
    upstream: str  # bare repository (the profile's upstream.url points here)
    work: str  # developer clone used to build the history
    replay: str  # recorded PR data for the notes step
    build_version: str  # what CI "built" at the head of master
    ci_bucket: str


def _git(repo: Path, *args: str) -> str:
    # Fixed dates make every generated commit sha (and so the build version) the same on every machine.
    env = {**os.environ, **AUTHOR, "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE}
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"demo: git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def _pr_record(number: int, branch: str, author: str, kind: str, sig: str, note: str | None, sha: str,
               day: int) -> dict[str, object]:
    note_block = f"```release-note\n{note}\n```" if note is not None else "```release-note\nNONE\n```"
    labels = [f"kind/{kind}", f"sig/{sig}", "lgtm", "approved"]
    labels.append("release-note" if note not in (None, "NONE") else "release-note-none")
    return {
        "Result": {
            "number": number,
            "title": f"{kind.title()}: {branch.replace('-', ' ')}",
            "body": f"#### What this PR does\n\n{branch}\n\n#### Release note\n\n{note_block}\n",
            "state": "closed",
            "labels": [{"name": name} for name in labels],
            "user": {"login": author, "html_url": f"https://github.com/{author}"},
            "html_url": f"https://github.com/demo/demo/pull/{number}",
            "merge_commit_sha": sha,
            "merged_at": MERGED_AT.format(day),
            "updated_at": MERGED_AT.format(day),
            "base": {"ref": "master"},
            "head": {"ref": branch, "label": f"{author}:{branch}"},
        },
        "LastPage": 0,
    }


def _describe_to_build_version(describe: str) -> str:
    """k/k hack/lib/version.sh: v1.0.0-alpha.0-5-g<sha14> -> v1.0.0-alpha.0.5+<sha14>."""
    base, count, sha = describe.rsplit("-", 2)
    return f"{base}.{count}+{sha.removeprefix('g')}"


def create(home: Path) -> DemoProject:
    """Create (or find) the demo project; returns its paths and the CI build version."""
    demo = home / "demo"
    upstream, work, replay = demo / "upstream.git", demo / "work", demo / "replay"
    ci_bucket = home / "buckets" / "ci"
    state = demo / "project.json"
    if state.exists():
        return DemoProject(**json.loads(state.read_text()))
    shutil.rmtree(demo, ignore_errors=True)
    work.mkdir(parents=True)
    _git(work, "init", "--quiet", "--initial-branch=master")
    (work / "cmd").mkdir()
    shutil.copy(HERE / "build.sh", work / "build.sh")
    shutil.copy(HERE / "make_image.py", work / "make_image.py")
    shutil.copy(HERE / "tool.sh.in", work / "cmd" / "tool.sh.in")
    (work / ".gitignore").write_text("_output/\n")
    (work / "README.md").write_text("# demo\n\nA tiny project released with krel.\n")
    _git(work, "add", "-A")
    _git(work, "commit", "--quiet", "-m", "Initial commit")
    _git(work, "tag", "-a", FIRST_TAG, "-m", f"Demo alpha release {FIRST_TAG}")
    replay.mkdir()
    for seq, (number, branch, author, kind, sig, note, path, content) in enumerate(PULL_REQUESTS, 1):
        _git(work, "checkout", "--quiet", "-b", branch)
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(content)
        _git(work, "add", path)
        _git(work, "commit", "--quiet", "-m", f"{kind}: {branch}")
        _git(work, "checkout", "--quiet", "master")
        _git(work, "merge", "--quiet", "--no-ff", branch, "-m",
             f"Merge pull request #{number} from {author}/{branch}")
        _git(work, "branch", "--quiet", "-d", branch)
        sha = _git(work, "rev-parse", "HEAD")
        record = _pr_record(number, branch, author, kind, sig, note, sha, seq)
        (replay / f"GetPullRequest-{seq}.json").write_text(json.dumps(record, indent=1) + "\n")
    subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(upstream)], check=True)
    _git(work, "remote", "add", "origin", f"file://{upstream}")
    build_version = _describe_to_build_version(_git(work, "describe", "--tags", "--match", "v*", "--abbrev=14"))
    marker_dir = ci_bucket / "ci"
    marker_dir.mkdir(parents=True, exist_ok=True)
    for name in ("latest.txt", "latest-1.txt", "latest-1.0.txt"):
        (marker_dir / name).write_text(build_version)
    project = DemoProject(str(home), f"file://{upstream}", str(work), str(replay), build_version,
                          f"file://{ci_bucket}")
    state.write_text(json.dumps(asdict(project), indent=2) + "\n")
    return project


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(json.dumps(asdict(create(Path(sys.argv[1]).resolve())), indent=2))
