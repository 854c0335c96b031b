"""Startup time: `krel --help` and `krel version` against a bare `python -c "import typer, rich"` (issue 12 target:
within 1.5x). Prints the median of N runs of each; not a test."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = {
    "python -c 'import typer, rich'": [sys.executable, "-c", "import typer, rich"],
    "krel --help": [sys.executable, "-m", "krel", "--help"],
    "krel version": [sys.executable, "-m", "krel", "version"],
    "krel --version": [sys.executable, "-m", "krel", "--version"],
}


def _median_s(argv: list[str], runs: int) -> float:
    env = {**os.environ, "CI": "true", "COLUMNS": "120"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    figures = {name: _median_s(argv, args.runs) for name, argv in CASES.items()}
    base = figures["python -c 'import typer, rich'"]
    for name, seconds in figures.items():
        print(f"{name:34} {seconds * 1000:7.0f} ms  {seconds / base:4.2f}x")


if __name__ == "__main__":
    main()
