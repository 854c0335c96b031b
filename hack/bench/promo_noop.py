"""Benchmark: requests and wall time of a promotion's inventory read, first run and no-op rerun, before (no cache,
no listing extension: a HEAD per tag) and after (the inventory cache; Google's tags/list extension).

Two layouts, requests counted at a GCR-style front (tests/fixtures/gcrfront.py):
- local: real docker-registry processes (staging + production), 8 repositories x 4 registries, 40 digests;
- kubernetes: a synthetic Kubernetes-shaped layout (200 projects x 23 registries: one staging + 22 mirrors) served
  from memory by the front, with or without the extension.

Run: .venv/bin/python hack/bench/promo_noop.py [--projects 200] [--images 2] [--digests 5] [--skip-local]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.fixtures.gcrfront

from releng.promo.inventory import Registries
from releng.promo.promote import PromoteOptions, promote_images
from releng.registry import imagetar, oci
from releng.registry.client import RegistryClient
from releng.registry.localserver import start_local_registry

from tests.fixtures.gcrfront import GcrFront, Memory, front_for_memory, front_for_registry

MIRRORS = 22


def _thin(root: Path, project: str, registries: list[str], images: dict[str, dict[str, list[str]]]) -> None:
    (root / "manifests" / project).mkdir(parents=True)
    (root / "images" / project).mkdir(parents=True)
    regs = "".join(f"- name: {r}\n" + ("  src: true\n" if i == 0 else "") for i, r in enumerate(registries))
    (root / "manifests" / project / "promoter-manifest.yaml").write_text("registries:\n" + regs)
    lines = []
    for name, dmap in images.items():
        lines.append(f"- name: {name}\n  dmap:\n")
        lines += [f"    {json.dumps(d)}: {json.dumps(t)}\n" for d, t in dmap.items()]
    (root / "images" / project / "images.yaml").write_text("".join(lines))


def _measure(fronts: list[GcrFront], run: Callable[[], object]) -> tuple[int, int, float]:
    """(requests, HEADs, seconds) of one run, counted at the fronts."""
    for f in fronts:
        f.reset()
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    counts = sum((f.reset() for f in fronts), start=type(fronts[0].counts)())
    return sum(counts.values()), counts["HEAD manifest"], seconds


def _scenarios(fronts: list[GcrFront], tree: Path, tmp: Path, repos: int, threads: int) -> None:
    def promote(cache: Path | None) -> Callable[[], object]:
        def run() -> object:
            with Registries(rate=1_000_000, retries=2) as registries:
                result = promote_images(PromoteOptions(thin_manifest_dir=tree, threads=threads, cache_dir=cache),
                                        registries)  # fmt: skip
            assert result.delta is not None and not result.delta.copies, "the bench layout should be promoted"
            return result

        return run

    rows = []
    print(f"  {'':34} {'first run':>30} {'no-op rerun':>30}", flush=True)
    for label, extension, cache in (
        ("before: HEAD per tag, no cache", False, None),
        ("after: inventory cache", False, tmp / f"cache-{id(fronts)}-plain"),
        ("after: Google listing extension", True, None),
        ("after: extension + cache", True, tmp / f"cache-{id(fronts)}-google"),
    ):
        for f in fronts:
            f.extension = extension
        first = _measure(fronts, promote(cache))
        rerun = _measure(fronts, promote(cache))
        rows.append((label, first, rerun))
        (r1, h1, s1), (r2, h2, s2) = first, rerun
        print(f"  {label:34} {r1:>8} req {h1:>7} HEAD {s1:>6.2f}s {r2:>8} req {h2:>7} HEAD {s2:>6.2f}s", flush=True)
    print(f"  repositories read per run: {repos}; target: no-op rerun <= 1 request per repository "
          f"({'met' if all(r[2][0] <= repos for r in rows[1:]) else 'NOT met'})")


def local(args: argparse.Namespace, tmp: Path) -> None:
    """8 repositories x 4 registries, 40 digests, on real registries behind fronts (extension switchable)."""
    stg_reg = start_local_registry(tmp / "stg")
    prod_reg = start_local_registry(tmp / "prod")
    stg, prod = front_for_registry(stg_reg), front_for_registry(prod_reg)
    try:
        images: dict[str, dict[str, list[str]]] = {}
        with RegistryClient(stg_reg.host) as client:
            for i in range(8):
                dmap: dict[str, list[str]] = {}
                for j in range(5):
                    tar = imagetar.build_image_tarball(tmp / f"i{i}-{j}.tar", {"f": f"{i}/{j}\n".encode()}, "amd64")
                    dmap[imagetar.push_image_tarball(client, tar, f"stg/img{i}", f"v{j}")] = [f"v{j}"]
                images[f"img{i}"] = dmap
        tree = tmp / "local-tree"
        _thin(tree, "local", [f"{stg.host}/stg", *(f"{prod.host}/r{k}" for k in range(4))], images)
        with Registries(rate=1_000_000) as registries:
            done = promote_images(PromoteOptions(thin_manifest_dir=tree, confirm=True, threads=8), registries)
        assert done.error() is None
        print(f"local: 40 digests in 8 repositories x 4 registries ({done.edges} edges), docker-registry")
        _scenarios([stg, prod], tree, tmp, repos=8 * 5, threads=args.threads)
    finally:
        stg.stop()
        prod.stop()
        stg_reg.stop()
        prod_reg.stop()


def kubernetes(args: argparse.Namespace, tmp: Path) -> None:
    """A synthetic layout shaped like registry.k8s.io, every edge already promoted, served from memory."""
    memory = Memory()
    projects: dict[str, dict[str, dict[str, list[str]]]] = {}
    for p in range(args.projects):
        project = f"proj{p:03d}"
        projects[project] = {f"img{i}": _image(memory, project, i, args.digests) for i in range(args.images)}
    front = front_for_memory(memory)
    tree = tmp / "k8s-tree"
    for project, images in projects.items():
        names = [f"{front.host}/k8s-staging-{project}", *(f"{front.host}/r{m:02d}/{project}" for m in range(MIRRORS))]
        _thin(tree, project, names, images)
    repos = args.projects * args.images * (1 + MIRRORS)
    print(f"kubernetes-shaped (synthetic): {args.projects} projects x {1 + MIRRORS} registries, "
          f"{args.projects * args.images * args.digests} digests (2-arch indexes), {repos} repositories")
    try:
        _scenarios([front], tree, tmp, repos=repos, threads=args.threads)
    finally:
        front.stop()


def _image(memory: Memory, project: str, image: int, digests: int) -> dict[str, list[str]]:
    """One image's digests (each a 2-arch index, tagged v1.N.0) in its staging repository and every mirror."""
    dmap: dict[str, list[str]] = {}
    for d in range(digests):
        children = [
            json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": {}, "layers": [],
                        "annotations": {"x": f"{project}/{image}/{d}/{arch}"}}).encode()
            for arch in ("amd64", "arm64")
        ]
        refs = [{"mediaType": oci.OCI_MANIFEST, "digest": oci.sha256_digest(c), "size": len(c)} for c in children]
        index = json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": refs}).encode()
        tag = f"v1.{d}.0"
        for repo in [f"k8s-staging-{project}/img{image}", *(f"r{m:02d}/{project}/img{image}" for m in range(MIRRORS))]:
            for c in children:
                memory.put(repo, c, oci.OCI_MANIFEST)
            dmap[memory.put(repo, index, oci.OCI_INDEX, tag)] = [tag]
    return dmap


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--digests", type=int, default=5)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="krel-bench-noop-") as tmp:
        if not args.skip_local:
            local(args, Path(tmp))
        kubernetes(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
