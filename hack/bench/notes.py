"""Release-notes benchmark: 3,000 first-parent commits / 2,000 PRs against a local GitHub stub.

Prints requests and wall time for REST, GraphQL and a cached GraphQL rerun, and the render time for 2,000 notes.
Run: .venv/bin/python hack/bench/notes.py
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from releng import github
from releng.notes import document, gather, render

from tests.fixtures.github import start_stub

COMMITS, PRS = 3000, 2000
KINDS = ["bug", "feature", "cleanup", "api-change", "documentation", "regression", "flake", "deprecation"]
SIGS = ["node", "api-machinery", "network", "storage", "cli", "apps", "scheduling", "release", "testing"]
TEMPLATE = (
    "<!--  Thanks for sending a pull request!  Here are some tips for you: ... -->\r\n\r\n"
    "#### What type of PR is this?\r\n\r\n/kind {kind}\r\n\r\n#### What this PR does / why we need it:\r\n\r\n"
    "{why}\r\n\r\n#### Which issue(s) this PR fixes:\r\n\r\nFixes #{issue}\r\n\r\n"
    "#### Does this PR introduce a user-facing change?\r\n```release-note\r\n{note}\r\n```\r\n\r\n"
    "#### Additional documentation e.g., KEPs (Kubernetes Enhancement Proposals), usage docs, etc.:\r\n\r\n"
    "```docs\r\n\r\n```\r\n"
)


def pull_request(n: int) -> dict[str, Any]:
    kind, sig = KINDS[n % len(KINDS)], SIGS[n % len(SIGS)]
    note = f"Component {n % 97} now handles case {n} correctly (detail {n * 7 % 1000})."
    labels = [f"kind/{kind}", f"sig/{sig}", f"area/a{n % 13}", "lgtm", "approved", "cncf-cla: yes"]
    if n % 9 == 0:
        labels.append(f"sig/{SIGS[(n + 3) % len(SIGS)]}")
    if n % 50 == 0:
        labels.append("release-note-action-required")
    return {
        "number": n,
        "title": f"Change {n}",
        "body": TEMPLATE.format(kind=kind, why="Because. " * 20, issue=n + 100000, note=note),
        "html_url": f"https://github.com/kubernetes/kubernetes/pull/{n}",
        "labels": [{"name": name} for name in labels],
        "user": {"login": f"dev{n % 300}", "html_url": f"https://github.com/dev{n % 300}"},
        "merge_commit_sha": f"{n:040x}",
        "base": {"ref": "master"},
        "head": {"ref": f"topic-{n}", "label": f"dev{n % 300}:topic-{n}"},
        "updated_at": "2024-01-01T00:00:00Z",
        "merged_at": "2024-01-01T00:00:00Z",
    }


def build_repo(path: Path) -> None:
    """3,000 first-parent commits after v1.0.0, 2,000 of them PR merges, written with git fast-import."""
    subprocess.run(["git", "init", "-q", "--initial-branch=master", str(path)], check=True)
    lines = []
    mark = 0

    def commit(message: str, parents: list[int], content: str) -> int:
        nonlocal mark
        mark += 1
        data = message.encode()
        lines.append("commit refs/heads/master")
        lines.append(f"mark :{mark}")
        lines.append("committer Dev <dev@example.test> 1700000000 +0000")
        lines.append(f"data {len(data)}")
        lines.append(message)
        for i, parent in enumerate(p for p in parents if p > 0):
            lines.append(f"{'from' if i == 0 else 'merge'} :{parent}")
        lines.append(f"M 644 inline file-{mark % 50}.txt")
        lines.append(f"data {len(content)}")
        lines.append(content)
        return mark

    head = commit("initial", [], "0")
    lines.append(f"reset refs/tags/v1.0.0\nfrom :{head}")
    pr = 0
    for i in range(COMMITS):
        if pr < PRS and i % 3 != 2:
            pr += 1
            side = commit(f"change for #{pr}", [head], str(i))
            head = commit(f"Merge pull request #{pr} from dev:topic-{pr}\n\nChange {pr}", [head, side], str(i))
        else:
            head = commit(f"Direct commit {i}", [head], str(i))
    stream = "\n".join(lines) + "\n"
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=stream.encode(), check=True)


def run(label: str, prs: github.PullRequests, repo: Path, stub_count: Any) -> gather.Gathered:
    before = stub_count()
    start = time.perf_counter()
    result = gather.gather(repo, "v1.0.0", "master", prs)
    elapsed = time.perf_counter() - start
    print(f"{label:<22} requests={stub_count() - before:>5}  wall={elapsed:6.2f} s  notes={len(result.notes)}")
    return result


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = root / "repo"
        t = time.perf_counter()
        build_repo(repo)
        walk = subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--first-parent", "--count", "v1.0.0..master"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        print(f"repository: {walk} first-parent commits, {PRS} PRs (built in {time.perf_counter() - t:.1f} s)")
        stub = start_stub({n: pull_request(n) for n in range(1, PRS + 1)})
        try:
            token, url = "ghp_bench", stub.url
            run("REST (10 parallel)", github.open_pull_requests("k", "k", token, api_url=url, source="rest"), repo,
                stub.count)
            run("GraphQL", github.open_pull_requests("k", "k", token, api_url=url), repo, stub.count)
            cache = root / "cache"
            run("GraphQL, cold cache", github.open_pull_requests("k", "k", token, api_url=url, cache_dir=cache), repo,
                stub.count)
            result = run("GraphQL, cached rerun",
                         github.open_pull_requests("k", "k", token, api_url=url, cache_dir=cache), repo, stub.count)
        finally:
            stub.server.stop()
        notes = list(result.notes)
        start = time.perf_counter()
        doc = document.build(notes)
        md = render.markdown(doc, "v1.1.0")
        js = render.notes_json(notes)
        page = render.html(md, "v1.1.0")
        elapsed = time.perf_counter() - start
        print(
            f"render {len(notes)} notes: markdown {len(md) // 1024} KiB + JSON {len(js) // 1024} KiB + "
            f"HTML {len(page) // 1024} KiB in {elapsed:.3f} s"
        )


if __name__ == "__main__":
    main()
