"""Benchmark: read an inventory of 10,000 tags (tags/list + HEAD of every tag) from a local registry with
RegistryClient (16 threads, shared token bucket) against a loop of `skopeo inspect` over a 200-tag sample, scaled.
Also prints the CPU each request costs the client and the registry: on a 2-core machine they share the cores, so
the ratio moves with the machine's load (skopeo's cost is mostly its fixed start-up, ours is CPU).

Run: .venv/bin/python hack/bench/registry_inventory.py [--tags 10000] [--repos 20] [--sample 200] [--threads 16]
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="krel-bench-inv-") as tmp:
        registry = start_local_registry(Path(tmp) / "reg")
        try:
            return _run(registry.host, Path(tmp), args, registry.process.pid)
        finally:
            registry.stop()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc): where the time of a request goes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(host: str, tmp: Path, args: argparse.Namespace, registry_pid: int) -> int:
    repos = [f"bench/img{r:03d}" for r in range(args.repos)]
    per_repo = args.tags // len(repos)
    with RegistryClient(host) as client:
        tar = imagetar.build_image_tarball(tmp / "img.tar", {"f": b"inventory bench\n"}, "amd64")
        digest = imagetar.push_image_tarball(client, tar, repos[0], "seed")
        raw, media_type, _ = client.get_manifest(repos[0], digest)
        t0 = time.perf_counter()

        def fill(repo: str) -> None:
            if repo != repos[0]:
                copy_image(client, repos[0], digest, client, repo)
            for i in range(per_repo):
                client.put_manifest(repo, f"v{i}", raw, media_type)

        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(fill, repos))
        print(f"setup: {per_repo * len(repos)} tags in {len(repos)} repositories pushed in "
              f"{time.perf_counter() - t0:.1f}s (manifest PUTs)")

    bucket = TokenBucket(rate=50_000, burst=1_000)
    with RegistryClient(host, rate_limiter=bucket) as client:
        t0, cpu0, served0 = time.perf_counter(), time.process_time(), _cpu_seconds(registry_pid)
        with ThreadPoolExecutor(args.threads) as pool:
            tag_lists = dict(zip(repos, pool.map(client.list_tags, repos), strict=True))
            refs = [(repo, tag) for repo, tags in tag_lists.items() for tag in tags]
            heads = list(pool.map(lambda rt: client.head_manifest(*rt), refs))
        ours = time.perf_counter() - t0
        cpu, served = time.process_time() - cpu0, _cpu_seconds(registry_pid) - served0
    assert all(h is not None and h.digest == digest for h in heads), "inventory read back a wrong digest"
    total = len(refs)

    sample = refs[:: max(1, total // args.sample)][: args.sample]
    t0 = time.perf_counter()
    for repo, tag in sample:
        out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{host}/{repo}:{tag}"],
                             check=True, capture_output=True, text=True)
        assert digest in out.stdout
    skopeo_sample = time.perf_counter() - t0
    skopeo_scaled = skopeo_sample * total / len(sample)

    print(f"RegistryClient: {total} tags (list + HEAD each), {args.threads} threads: {ours:.2f}s "
          f"({total / ours:,.0f} tags/s); CPU per request: client {cpu / total * 1e3:.2f} ms, registry "
          f"{served / total * 1e3:.2f} ms (both on this machine's cores; load {os.getloadavg()[0]:.1f})")
    print(f"CPU split of the inventory: client {cpu:.1f}s ({cpu / (cpu + served):.0%}), registry {served:.1f}s "
          f"({served / (cpu + served):.0%}); together {(cpu + served) / ours:.2f} of the machine's cores")
    print(f"skopeo inspect: {len(sample)} tags in {skopeo_sample:.2f}s -> {skopeo_scaled:.1f}s scaled to {total}")
    print(f"ratio: {skopeo_scaled / ours:.1f}x (target >= 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
