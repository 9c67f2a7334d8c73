"""Wall time of `ukiha validate` on the R3 sheet against the bare import floor.

Runs the two commands interleaved (floor, validate, floor, validate, ...) so that machine noise
hits both alike, and prints medians and their ratio. Target (issue #3): ratio <= 1.3.

    .venv/bin/python benchmarks/validate_vs_floor.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHEET = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
# the floor skips the exit's garbage collection as `ukiha` does (gc.freeze at exit)
FLOOR = [
    sys.executable,
    "-c",
    "import atexit, gc; atexit.register(gc.freeze); import pandas, pandera, duckdb",
]
VALIDATE = [sys.executable, "-m", "ukiha_pipeline.cli", "validate", str(SHEET)]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    wall(FLOOR), wall(VALIDATE)  # warm the file cache
    floor, validate = [], []
    for _ in range(args.runs):
        floor.append(wall(FLOOR))
        validate.append(wall(VALIDATE))
    f, v = statistics.median(floor), statistics.median(validate)
    print(f"runs                 {args.runs} (interleaved)")
    print(f"import floor         median {f:.3f} s  (min {min(floor):.3f}, max {max(floor):.3f})")
    print(
        f"ukiha validate (R3)  median {v:.3f} s  (min {min(validate):.3f}, max {max(validate):.3f})"
    )
    print(f"ratio                {v / f:.2f}x  (target <= 1.30x)")


if __name__ == "__main__":
    main()
