"""`ukiha report` re-renders from the warehouse, with the rating legend of the rules file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ukiha_process import REPO, ukiha
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse

RULES = REPO / "schemas" / "rules.toml"


def test_report_uses_the_configured_legend_and_force_rewrites(
    tmp_path: Path, r3_sheet: Path
) -> None:
    ctx = load_context()
    wh = tmp_path / "w.duckdb"
    with open_warehouse(wh) as con:
        load_result(con, validate_path(r3_sheet, ctx), ctx, run_id="t")
    rules = tmp_path / "rules.toml"  # another city's wording of the same ratings
    rules.write_text(
        RULES.read_text(encoding="utf-8").replace('ja = "順調"', 'ja = "計画どおり"'),
        encoding="utf-8",
    )
    out = tmp_path / "reports"

    def report(*extra: str) -> subprocess.CompletedProcess[str]:
        return ukiha(
            "report", "--warehouse", str(wh), "--out", str(out), *extra,
            env={"UKIHA_RULES": str(rules)},
        )  # fmt: skip

    first = report()
    assert first.returncode == 0, first.stderr
    annual = out / "annual_2021.html"
    assert "計画どおり" in annual.read_text(encoding="utf-8")
    mtime = annual.stat().st_mtime_ns
    assert report().returncode == 0
    assert annual.stat().st_mtime_ns == mtime  # unchanged data: the page is not rewritten
    assert report("--force").returncode == 0
    assert annual.stat().st_mtime_ns != mtime
