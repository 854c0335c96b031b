"""Benchmark 1 of issue 7: plan a Kubernetes-sized promotion (parse + edges + overlap check + delta), no network.

Generates a thin-manifest tree shaped like registry.k8s.io's (46,000 digests over 200 projects, 22 destinations each,
~1,000,000 edges) and a matching production inventory as JSON data, then times krel's grouped planner and a naive
one-tuple-per-edge planner, each in its own process so peak RSS (getrusage) is its own.

Usage: .venv/bin/python hack/bench/promo_plan.py [--projects 200] [--digests 46000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REGIONS = [
    "asia-east1", "asia-south1", "asia-northeast1", "asia-northeast2", "australia-southeast1", "europe-north1",
    "europe-southwest1", "europe-west1", "europe-west2", "europe-west4", "europe-west8", "europe-west9",
    "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2",
    "us-west3", "us-west4",
]  # fmt: skip


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def generate(root: Path, projects: int, digests: int) -> dict[str, int]:
    """Write the thin tree under root/tree and the production inventory to root/inventory.json."""
    tree = root / "tree"
    inventory: dict[str, dict[str, list[str]]] = {}
    per_project = digests // projects
    counts = {"digests": 0, "edges": 0, "to_copy": 0}
    for p in range(projects):
        name = f"k8s-staging-proj{p:03d}"
        src = f"gcr.io/{name}"
        dsts = [f"{r}-docker.pkg.dev/k8s-artifacts-prod/images/proj{p:03d}" for r in REGIONS]
        (tree / "manifests" / name).mkdir(parents=True)
        (tree / "images" / name).mkdir(parents=True)
        regs = [f"- name: {src}\n  src: true\n"] + [
            f"- name: {d}\n  service-account: k8s-infra-gcr-promoter@k8s-artifacts-prod.iam.gserviceaccount.com\n"
            for d in dsts
        ]
        (tree / "manifests" / name / "promoter-manifest.yaml").write_text("registries:\n" + "".join(regs))
        lines: list[str] = []
        images = 5
        for i in range(images):
            image = f"component-{i}"
            lines.append(f"- name: {image}\n  dmap:\n")
            for k in range(per_project // images):
                digest = _digest(p, i, k)
                # k8s.io shape: one tag per digest, some with two, a few tag-less (multi-arch children).
                tags = [f"v1.{k}.0"] + ([f"v1.{k}"] if k % 10 == 0 else []) if k % 20 != 7 else []
                lines.append(f'    "{digest}": [{", ".join(json.dumps(t) for t in tags)}]\n')
                counts["digests"] += 1
                counts["edges"] += max(len(tags), 1) * len(dsts)
                inventory.setdefault(f"{src}/{image}", {})[digest] = tags
                # 1% of digests are new: staged but not yet in production.
                if k % 100 == 3:
                    counts["to_copy"] += len(dsts)
                    continue
                for d in dsts:
                    inventory.setdefault(f"{d}/{image}", {})[digest] = tags
        (tree / "images" / name / "images.yaml").write_text("".join(lines))
    (root / "inventory.json").write_text(json.dumps(inventory))
    return counts


def _rss_mib() -> float:
    """Peak RSS of this process so far (getrusage)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_grouped(root: Path) -> dict[str, Any]:
    from releng.promo.delta import compute_delta
    from releng.promo.edges import check_overlaps, count_edges, to_edge_groups
    from releng.promo.manifests import parse_thin_dir

    inventory = json.loads((root / "inventory.json").read_text())
    base_rss = _current_rss_mib()
    t0 = time.perf_counter()
    manifests = parse_thin_dir(root / "tree")
    t1 = time.perf_counter()
    groups = to_edge_groups(manifests)
    check_overlaps(groups)
    t2 = time.perf_counter()
    delta = compute_delta(groups, inventory)
    t3 = time.perf_counter()
    return {
        "edges": count_edges(groups),
        "groups": len(groups),
        "copies": sum(len(c.tags) or 1 for c in delta.copies),
        "already_promoted": delta.already_promoted,
        "parse_s": t1 - t0,
        "edges_overlap_s": t2 - t1,
        "delta_s": t3 - t2,
        "wall_s": t3 - t0,
        "inventory_rss_mib": base_rss,
        "plan_rss_mib": _current_rss_mib() - base_rss,
        "peak_rss_mib": _rss_mib(),
    }


def run_naive(root: Path) -> dict[str, Any]:
    """One tuple per edge, a dict per destination tag, a per-edge delta: the shape to avoid."""
    from releng.promo.manifests import parse_thin_dir

    inventory = json.loads((root / "inventory.json").read_text())
    base_rss = _current_rss_mib()
    t0 = time.perf_counter()
    manifests = parse_thin_dir(root / "tree")
    t1 = time.perf_counter()
    edges: set[tuple[str, str, str, str, str]] = set()
    for m in manifests:
        for img in m.images:
            for digest, tags in img.dmap.items():
                for dst in m.destinations:
                    for tag in tags or ("",):
                        edges.add((m.src.name, img.name, digest, tag, dst.name))
    claims: dict[str, str] = {}
    for _src, image, digest, tag, dst in edges:
        if tag and claims.setdefault(f"{dst}/{image}:{tag}", digest) != digest:
            raise SystemExit("overlap")
    t2 = time.perf_counter()
    copies = moves = done = 0
    for src, image, digest, tag, dst in edges:
        dst_inv = inventory.get(f"{dst}/{image}", {})
        if digest in dst_inv and (not tag or tag in dst_inv[digest]):
            done += 1
        elif any(tag in ts for d, ts in dst_inv.items() if d != digest) if tag else False:
            moves += 1
        elif digest in inventory.get(f"{src}/{image}", {}):
            copies += 1
    t3 = time.perf_counter()
    return {
        "edges": len(edges),
        "copies": copies,
        "already_promoted": done,
        "parse_s": t1 - t0,
        "edges_overlap_s": t2 - t1,
        "delta_s": t3 - t2,
        "wall_s": t3 - t0,
        "inventory_rss_mib": base_rss,
        "plan_rss_mib": _current_rss_mib() - base_rss,
        "peak_rss_mib": _rss_mib(),
    }


def _child(variant: str, root: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--keep", str(root)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--digests", type=int, default=46_000)
    parser.add_argument("--keep", type=Path, help="use (and keep) this directory for the generated data")
    parser.add_argument("--child", choices=["grouped", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
    if args.child:
        print(json.dumps((run_grouped if args.child == "grouped" else run_naive)(args.keep)))
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="promo-bench-"))
    try:
        if not (root / "inventory.json").exists():
            t = time.perf_counter()
            counts = generate(root, args.projects, args.digests)
            print(f"generated {counts['digests']} digests, {counts['edges']} edges, {counts['to_copy']} to copy "
                  f"in {time.perf_counter() - t:.1f} s under {root}")  # fmt: skip
        results = {v: _child(v, root) for v in ("grouped", "naive")}
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    for variant, r in results.items():
        print(
            f"{variant:8s} edges={r['edges']:>9,} copies={r['copies']:>6,} parse={r['parse_s']:.2f}s "
            f"edges+overlap={r['edges_overlap_s']:.2f}s delta={r['delta_s']:.2f}s wall={r['wall_s']:.2f}s "
            f"peak_rss={r['peak_rss_mib']:.0f} MiB (RSS with inventory loaded {r['inventory_rss_mib']:.0f} MiB, "
            f"+{r['plan_rss_mib']:.0f} MiB for the plan)"
        )
    g, n = results["grouped"], results["naive"]
    print(f"grouped vs naive: {n['wall_s'] / g['wall_s']:.1f}x faster, peak RSS {g['peak_rss_mib']:.0f} vs "
          f"{n['peak_rss_mib']:.0f} MiB; targets wall <= 2 s, peak RSS <= 512 MiB: "
          f"{'MET' if g['wall_s'] <= 2 and g['peak_rss_mib'] <= 512 else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
