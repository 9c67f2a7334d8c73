"""Checking many sheets in one pandera call per model gives, sheet by sheet, exactly the
results of checking each sheet alone (issue #8: one code path, batched for speed)."""

from __future__ import annotations

from pathlib import Path

from ukiha_pipeline.parsing import ParsedSheet
from ukiha_pipeline.reading import Grid
from ukiha_pipeline.validation import check_sheet, check_sheets, load_context
from ukiha_pipeline.validation.run import parse_or_fatal, read_or_fatal

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "synthetic"
R3 = ROOT / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"


def _parsed() -> list[ParsedSheet]:
    ctx = load_context()
    out = []
    for path in [R3, *sorted(FIXTURES.glob("*.txt"))]:
        grid = read_or_fatal(path, ctx)
        if isinstance(grid, Grid):
            sheet = parse_or_fatal(grid, ctx, fiscal_year=2021)
            if isinstance(sheet, ParsedSheet):
                out.append(sheet)
    return out


def test_batch_equals_one_by_one() -> None:
    ctx = load_context()
    sheets = _parsed()
    assert len(sheets) > 10
    batch = check_sheets(sheets + sheets[:2], ctx)  # a sheet twice: still its own result
    alone = [check_sheet(s, ctx) for s in sheets + sheets[:2]]
    assert batch == alone
    assert sum(len(r.failures) for r in batch) > 30  # the fixtures do fail


def test_empty_batch() -> None:
    assert check_sheets([], load_context()) == []
