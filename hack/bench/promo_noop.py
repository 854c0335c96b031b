"""Benchmark: requests and wall time of a promotion's inventory read, first run and no-op rerun, before (no cache,
no listing extension: a HEAD per tag) and after (the inventory cache; Google's tags/list extension).

Two layouts, requests counted at a GCR-style front (tests/fixtures/gcrfront.py):
- local: real docker-registry processes (staging + production), 8 repositories x 4 registries, 40 digests;
- kubernetes: a synthetic Kubernetes-shaped layout (200 projects x 23 registries: one staging + 22 mirrors) served
  from memory by the front, with or without the extension.

The kubernetes layout's front runs in a child process, so the figures are the promoter's own (wall and CPU);
the before mode reads a sample of projects (--before-sample) and is scaled to the whole layout.

Run: .venv/bin/python hack/bench/promo_noop.py [--projects 200] [--images 2] [--digests 5] [--before-sample 20]
     [--skip-local]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.fixtures.gcrfront

from releng.promo.inventory import Registries
from releng.promo.promote import PromoteOptions, promote_images
from releng.registry import imagetar, oci
from releng.registry.client import RegistryClient
from releng.registry.localserver import start_local_registry

from tests.fixtures.gcrfront import Memory, front_for_memory, front_for_registry

MIRRORS = 22


class Front(Protocol):
    """What a run is measured at: a GcrFront here, or one in a child process."""

    extension: bool

    def reset(self) -> Counter[str]: ...


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


def _measure(fronts: list[Front], run: Callable[[], object]) -> tuple[int, int, float, float]:
    """(requests, HEADs, wall seconds, this process's CPU seconds) of one run, counted at the fronts."""
    for f in fronts:
        f.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    counts: Counter[str] = sum((f.reset() for f in fronts), start=Counter())
    return sum(counts.values()), counts["HEAD manifest"], seconds, cpu


def _scenarios(fronts: list[Front], tree: Path, tmp: Path, repos: int, threads: int,
               before: tuple[Path, float] | None = None) -> None:
    """Each mode's first run and no-op rerun. `before`: (a sample tree, scale) to run the before mode on a sample
    of the projects and scale its figures to the whole layout (its cost is linear in the repositories read)."""

    def promote(cache: Path | None, where: Path) -> Callable[[], object]:
        def run() -> object:
            with Registries(rate=1_000_000, retries=2, max_connections=max(threads, 4)) as registries:
                result = promote_images(PromoteOptions(thin_manifest_dir=where, threads=threads, cache_dir=cache),
                                        registries)  # fmt: skip
            assert result.delta is not None and not result.delta.copies, "the bench layout should be promoted"
            return result

        return run

    rows = []
    print(f"  {'':40} {'first run':>40} {'no-op rerun':>40}", flush=True)
    for label, extension, cache in (
        ("before: HEAD per tag, no cache", False, None),
        ("after: inventory cache", False, tmp / f"cache-{id(fronts)}-plain"),
        ("after: Google listing extension", True, None),
        ("after: extension + cache", True, tmp / f"cache-{id(fronts)}-google"),
    ):
        for f in fronts:
            f.extension = extension
        where, scale = (before[0], before[1]) if before is not None and label.startswith("before") else (tree, 1.0)
        first = _scaled(_measure(fronts, promote(cache, where)), scale)
        rerun = _scaled(_measure(fronts, promote(cache, where)), scale)
        if scale != 1.0:
            label = f"{label} (x{scale:g} sample)"
        rows.append((label, first, rerun))
        print(f"  {label:40} {_cell(first):>40} {_cell(rerun):>40}", flush=True)
    print(f"  repositories read per run: {repos}; target: no-op rerun <= 1 request per repository "
          f"({'met' if all(r[2][0] <= repos for r in rows[1:]) else 'NOT met'}); cpu = the promoter's own "
          "CPU time (process time; the front runs elsewhere)")


def _scaled(figures: tuple[int, int, float, float], scale: float) -> tuple[int, int, float, float]:
    requests, heads, seconds, cpu = figures
    return round(requests * scale), round(heads * scale), seconds * scale, cpu * scale


def _cell(figures: tuple[int, int, float, float]) -> str:
    requests, heads, seconds, cpu = figures
    return f"{requests:>7} req {heads:>6} HEAD {seconds:>7.2f}s cpu {cpu:>6.1f}s"


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
    """A synthetic layout shaped like registry.k8s.io, every edge already promoted, served from memory by a front
    in a child process (its own interpreter and GIL: the promoter's time is then its own, not the front's)."""
    memory = Memory()
    projects: dict[str, dict[str, dict[str, list[str]]]] = {}
    for p in range(args.projects):
        project = f"proj{p:03d}"
        projects[project] = {f"img{i}": _image(memory, project, i, args.digests) for i in range(args.images)}
    front = ForkedFront(memory)
    repos = args.projects * args.images * (1 + MIRRORS)
    print(f"kubernetes-shaped (synthetic): {args.projects} projects x {1 + MIRRORS} registries, "
          f"{args.projects * args.images * args.digests} digests (2-arch indexes), {repos} repositories")
    try:
        tree = tmp / "k8s-tree"
        for project, images in projects.items():
            names = [f"{front.host}/k8s-staging-{project}",
                     *(f"{front.host}/r{m:02d}/{project}" for m in range(MIRRORS))]
            _thin(tree, project, names, images)
        # "Before" sends a HEAD per tag and a GET per index: on a sample of projects, scaled to the whole layout.
        sample = min(args.before_sample, args.projects)
        before_tree = tmp / "k8s-before"
        for project in list(projects)[:sample]:
            for part in ("manifests", "images"):
                shutil.copytree(tree / part / project, before_tree / part / project)
        _scenarios([front], tree, tmp, repos=repos, threads=args.threads,
                   before=(before_tree, args.projects / sample) if sample < args.projects else None)
    finally:
        front.stop()


class ForkedFront:
    """front_for_memory in a forked child; the parent asks it for counts and switches through a pipe."""

    def __init__(self, memory: Memory) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(memory, child), daemon=True)
        self._process.start()
        self.host: str = self._conn.recv()
        self.counts: Counter[str] = Counter()

    def _ask(self, *message: object) -> object:
        self._conn.send(message)
        return self._conn.recv()

    @property
    def extension(self) -> bool:
        return bool(self._ask("get-extension"))

    @extension.setter
    def extension(self, value: bool) -> None:
        self._ask("extension", value)

    def reset(self) -> Counter[str]:
        return Counter(self._ask("reset"))  # type: ignore[arg-type]

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(10)


def _serve(memory: Memory, conn: Connection) -> None:
    front = front_for_memory(memory)
    conn.send(front.host)
    while True:
        command, *rest = conn.recv()
        if command == "reset":
            conn.send(dict(front.reset()))
        elif command == "extension":
            front.extension = bool(rest[0])
            conn.send(None)
        elif command == "get-extension":
            conn.send(front.extension)
        else:
            front.stop()
            conn.send(None)
            return


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
    parser.add_argument("--before-sample", type=int, default=20,
                        help="projects the before mode (a HEAD per tag) reads in the kubernetes layout, scaled up")
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="krel-bench-noop-") as tmp:
        if not args.skip_local:
            local(args, Path(tmp))
        kubernetes(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
