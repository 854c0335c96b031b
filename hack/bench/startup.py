"""Startup time: `krel --help`, `krel version` and `krel --version` against a bare `python -c "import typer, rich"`
(issue 12 target: within 1.5x). Prints the median of N runs of each; not a test.

The cases run round-robin (one run of each, N times) so a machine whose load changes during the bench slows every
case alike; beside the wall time it prints the CPU time of the child (user + system), which a busy machine
inflates far less. Ratios are against the bare import, for each column.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BARE = "python -c 'import typer, rich'"
CASES = {
    BARE: [sys.executable, "-c", "import typer, rich"],
    "krel --help": [sys.executable, "-m", "krel", "--help"],
    "krel version": [sys.executable, "-m", "krel", "version"],
    "krel --version": [sys.executable, "-m", "krel", "--version"],
}


def _run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run (the child's user + system time, its git subprocess included)."""
    env = {**os.environ, "CI": "true", "COLUMNS": "120"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    walls: dict[str, list[float]] = {name: [] for name in CASES}
    cpus: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, argv in CASES.items():
            wall, cpu = _run_once(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    wall_base, cpu_base = statistics.median(walls[BARE]), statistics.median(cpus[BARE])
    print(f"{'median of ' + str(args.runs):34} {'wall':>10} {'ratio':>6}  {'cpu':>10} {'ratio':>6}")
    for name in CASES:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:34} {wall * 1000:7.0f} ms {wall / wall_base:5.2f}x  {cpu * 1000:7.0f} ms {cpu / cpu_base:5.2f}x")


if __name__ == "__main__":
    main()
