"""Issue #8: loading a batch of sheets in one transaction (`load_results`) leaves the
warehouse exactly as loading them one by one (`load_result`) would, apart from load metadata,
and a batch that fails leaves nothing of itself behind."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.synthetic.generate import SheetYear, other_municipality
from tests.warehouse.test_multi_year import snapshot
from ukiha_pipeline.errors import WarehouseError
from ukiha_pipeline.validation import RulesContext, ValidationResult, validate_path
from ukiha_pipeline.warehouse import load as load_module
from ukiha_pipeline.warehouse import load_result, load_results, open_warehouse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "synthetic"


@pytest.fixture(scope="module")
def batch(
    tmp_path_factory: pytest.TempPathFactory,
    synthetic_dir: Path,
    sheet_years: list[SheetYear],
    year_results: dict[int, ValidationResult],
    multi_ctx: RulesContext,
) -> list[ValidationResult]:
    """Five years of うきは市, the same years of a second municipality, a fatal sheet, a sheet
    given twice, and a second version of a year (which supersedes the first)."""
    d = tmp_path_factory.mktemp("batch")
    other = []
    for y in sheet_years[:3]:
        path = d / f"miyako_{y.file_name}"
        text = (synthetic_dir / y.file_name).read_text(encoding="utf-8")
        path.write_text(other_municipality(text), encoding="utf-8")
        other.append(validate_path(path, multi_ctx))
    fatal = validate_path(FIXTURES / "empty.txt", multi_ctx)
    assert fatal.sheet is None
    years = [year_results[fy] for fy in sorted(year_results)]
    second_version = replace(years[1], sha256="0" * 64, source_file="v2.txt")
    return [years[2], other[0], *years[:2], fatal, other[1], years[2], *years[3:],
            second_version, other[2], years[0]]  # fmt: skip


def test_batch_equals_one_by_one(
    tmp_path: Path, batch: list[ValidationResult], multi_ctx: RulesContext
) -> None:
    with open_warehouse(tmp_path / "one.duckdb") as con:
        one = [load_result(con, r, multi_ctx, run_id=f"run-{i}") for i, r in enumerate(batch)]
        expected = snapshot(con)
    with open_warehouse(tmp_path / "batch.duckdb") as con:
        together = load_results(con, batch, multi_ctx, run_id="run-batch")
        got = snapshot(con)
    assert together == one
    assert [o.status for o in together].count("unchanged") == 2
    assert got == expected
    # and a second batch over a loaded warehouse: nothing changes but what changed
    with open_warehouse(tmp_path / "batch.duckdb") as con:
        again = load_results(con, batch[::-1], multi_ctx, run_id="run-again")
        assert {o.status for o in again} >= {"unchanged", "loaded"}


def test_failed_batch_leaves_nothing(
    tmp_path: Path,
    batch: list[ValidationResult],
    multi_ctx: RulesContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with open_warehouse(tmp_path / "w.duckdb") as con:
        load_results(con, batch[:2], multi_ctx, run_id="run-1")
        before = snapshot(con)
        real_insert = load_module._insert

        def failing_insert(c: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
            if table == "sheets":
                raise duckdb.Error("simulated failure while writing sheets")
            real_insert(c, table, df)

        monkeypatch.setattr(load_module, "_insert", failing_insert)
        with pytest.raises(WarehouseError, match="simulated failure"):
            load_results(con, batch, multi_ctx, run_id="run-2")
        assert snapshot(con) == before
        monkeypatch.setattr(load_module, "_insert", real_insert)
        assert len(load_results(con, batch, multi_ctx, run_id="run-3")) == len(batch)
