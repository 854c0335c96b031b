"""Benchmark: copy 200 small distinct images (2 blobs each) between two local registries with copy_image on a
thread pool, against `skopeo copy --preserve-digests` of the same images one after another.

Run: .venv/bin/python hack/bench/registry_copy.py [--images 200] [--threads 16]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import start_local_registry
from releng.registry.ratelimit import TokenBucket


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="krel-bench-copy-") as tmp:
        root = Path(tmp)
        registries = [start_local_registry(root / name) for name in ("staging", "prod-krel", "prod-skopeo")]
        try:
            return _run(*(r.host for r in registries), root, args)
        finally:
            for registry in registries:
                registry.stop()


def _run(staging: str, prod: str, prod_skopeo: str, root: Path, args: argparse.Namespace) -> int:
    names = [f"img{i:03d}" for i in range(args.images)]
    with RegistryClient(staging) as src:

        def push(name: str) -> str:
            payload = {"app/data.txt": f"{name} payload\n".encode() * 64}
            tar = imagetar.build_image_tarball(root / f"{name}.tar", payload, "amd64", repo_tag=f"x/{name}:v1")
            return imagetar.push_image_tarball(src, tar, f"staging/{name}", "v1")

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            digests = dict(zip(names, pool.map(push, names), strict=True))
        print(f"setup: {len(names)} images pushed to staging in {time.perf_counter() - t0:.1f}s")

    bucket = TokenBucket(rate=50_000, burst=1_000)
    with RegistryClient(staging, rate_limiter=bucket) as src, RegistryClient(prod, rate_limiter=bucket) as dst:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(
                lambda n: copy_image(src, f"staging/{n}", digests[n], dst, f"prod/{n}", ["v1"]), names))
        ours = time.perf_counter() - t0
        for name in names:
            head = dst.head_manifest(f"prod/{name}", "v1")
            assert head is not None and head.digest == digests[name], f"{name}: digest not preserved"
    assert all(r.manifests_copied == 1 and r.blobs_copied == 2 for r in results)

    t0 = time.perf_counter()
    for name in names:
        subprocess.run(
            ["skopeo", "copy", "-q", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
             f"docker://{staging}/staging/{name}@{digests[name]}", f"docker://{prod_skopeo}/prod/{name}:v1"],
            check=True, capture_output=True,
        )
    theirs = time.perf_counter() - t0

    print(f"copy_image: {len(names)} images, {args.threads} threads: {ours:.2f}s ({len(names) / ours:.0f} images/s)")
    print(f"skopeo copy --preserve-digests, one after another: {theirs:.2f}s")
    print(f"ratio: {theirs / ours:.1f}x (target >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
