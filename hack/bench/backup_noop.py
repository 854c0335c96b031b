"""Benchmark: requests and wall time of `krel backup`'s first run and no-op rerun over N images in real local
registries (two docker-registry processes, production and backup, each behind a counting GCR-style front from
tests/fixtures/gcrfront.py): plain listings with the inventory cache, Google's listing extension, and manifest-driven.

Run: .venv/bin/python hack/bench/backup_noop.py [--repos 50] [--per-repo 10]
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

from releng.promo.backup import BackupOptions, BackupResult, run_backup
from releng.promo.inventory import Registries
from releng.registry import imagetar
from releng.registry.client import RegistryClient
from releng.registry.localserver import start_local_registry

from tests.fixtures.gcrfront import GcrFront, front_for_registry


def _measure(fronts: list[GcrFront], run: Callable[[], BackupResult]) -> tuple[int, int, float]:
    """(requests, copies, seconds) of one run, counted at the fronts."""
    for f in fronts:
        f.reset()
    t0 = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - t0
    assert result.error() is None, result.error()
    return sum(sum(f.reset().values()) for f in fronts), len(result.outcomes), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--per-repo", type=int, default=10)
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="krel-bench-backup-") as tmp_name:
        tmp = Path(tmp_name)
        prod_reg, bak_reg = start_local_registry(tmp / "prod"), start_local_registry(tmp / "bak")
        prod, bak = front_for_registry(prod_reg), front_for_registry(bak_reg)
        try:
            t0 = time.perf_counter()
            dmaps: dict[str, dict[str, list[str]]] = {}
            with RegistryClient(prod_reg.host) as client:
                for r in range(args.repos):
                    for i in range(args.per_repo):
                        tar = imagetar.build_image_tarball(tmp / "img.tar", {"f": f"{r}/{i}\n".encode()}, "amd64")
                        digest = imagetar.push_image_tarball(client, tar, f"prod/img{r:03d}", f"v{i}")
                        dmaps.setdefault(f"img{r:03d}", {})[digest] = [f"v{i}"]
            manifest = tmp / "manifest.yaml"
            lines = ["registries:\n- name: stg.example/s\n  src: true\n", f"- name: {prod.host}/prod\n", "images:\n"]
            for name, dmap in dmaps.items():
                lines.append(f"- name: {name}\n  dmap:\n")
                lines += [f'    "{d}": {json.dumps(t)}\n' for d, t in dmap.items()]
            manifest.write_text("".join(lines))
            images = args.repos * args.per_repo
            print(f"{images} images in {args.repos} repositories, docker-registry x2 "
                  f"(setup {time.perf_counter() - t0:.1f}s)", flush=True)  # fmt: skip
            print(f"  {'':44} {'first run':>28} {'no-op rerun':>22}")
            for label, extension, use_manifest in (
                ("listings, plain registry + inventory cache", False, False),
                ("listings, Google listing extension", True, False),
                ("manifest-driven, plain registry + cache", False, True),
                ("manifest-driven, Google listing extension", True, True),
            ):
                prod.extension = bak.extension = extension
                target = f"{bak.host}/bak{abs(hash(label)) % 10_000}"
                cache = tmp / f"cache-{abs(hash(label))}"

                def run(target: str = target, cache: Path = cache, use: bool = use_manifest) -> BackupResult:
                    with Registries(rate=1_000_000, retries=2) as registries:
                        return run_backup(BackupOptions(f"{prod.host}/prod", target, manifest=manifest if use else None,
                                                        confirm=True, threads=args.threads, cache_dir=cache),
                                          registries)  # fmt: skip

                (r1, c1, s1), (r2, c2, s2) = _measure([prod, bak], run), _measure([prod, bak], run)
                print(f"  {label:44} {r1:>6} req {c1:>4} copies {s1:>6.2f}s {r2:>6} req {c2:>2} copies {s2:>5.2f}s "
                      f"({r2 / args.repos:.2f} req/production repo)", flush=True)  # fmt: skip
        finally:
            prod.stop(), bak.stop(), prod_reg.stop(), bak_reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
