"""The benchmark script still runs end to end (its figures are not asserted: speed is measured
there, never in tests). A quick run: no Prefect section, N = 10 only."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.ukiha_process import REPO


def test_pipeline_benchmark_runs_and_prints_every_section() -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "benchmarks/pipeline.py", "--max-n", "10", "--skip-prefect"),
            *("--floor-runs", "1", "--repeat", "1"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for stage in ("read", "parse", "validate", "load", "report"):
        assert re.search(rf"^{stage} +[\d.]+ ms$", out, re.MULTILINE), stage
    assert re.search(r"ratio \d+\.\d\dx \(target <= 1\.30x\)", out)
    # 10 synthetic sheets of the R3 sheet's 99 projects each, all loaded
    assert re.search(r"^\| 10 \| 990 \|", out, re.MULTILINE)
    assert re.search(r"^N=10: 24 pages, \d+ great-tables tables x", out, re.MULTILINE)
