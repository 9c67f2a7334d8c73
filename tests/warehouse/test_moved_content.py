"""Content already loaded under one fiscal year that reads as another year now (the parser's
reading improved, loaded again with --force; simulated here with `fiscal_year=`): it moves, and
nothing of it stays behind in the first year.

It used to be called unchanged (the loader matched the content hash alone) and, with --force,
left the first year's facts without a sheet row.

When the run's own override (`--fiscal-year`, `--municipality`) is what moves it, the load is
refused instead: `ukiha ingest data/raw --fiscal-year R4` over a folder holding the R3 and R4
sheets moved R3's content to FY2022, over the real R4 sheet, and emptied FY2021 (exit 0)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ukiha_pipeline.errors import WarehouseError
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"


def per_year(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[int, int]]]:
    return {
        table: con.execute(
            f"SELECT fiscal_year, count(*) FROM {table} GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        for table in ("projects", "kpis", "policies", "project_departments")
    }


@pytest.mark.parametrize("force", [False, True])
def test_content_loaded_under_another_year_moves_there(tmp_path: Path, force: bool) -> None:
    ctx = load_context()
    with open_warehouse(tmp_path / "w.duckdb") as con:
        assert load_result(con, validate_path(R3, ctx), ctx, run_id="r1").status == "loaded"
        in_2021 = per_year(con)
        assert in_2021["projects"] == [(2021, 99)]
        moved = load_result(
            con, validate_path(R3, ctx, fiscal_year=2022), ctx, run_id="r2", force=force
        )
        assert (moved.status, moved.fiscal_year, moved.n_projects) == ("loaded", 2022, 99)
        assert per_year(con) == {
            table: [(2022, n) for _, n in counts] for table, counts in in_2021.items()
        }
        assert con.execute("SELECT fiscal_year, status FROM sheets").fetchall() == [
            (2022, "current")
        ]
        # and back: the content is current for 2022, not for 2021
        back = load_result(con, validate_path(R3, ctx), ctx, run_id="r3")
        assert (back.status, back.fiscal_year) == ("loaded", 2021)
        assert per_year(con) == in_2021
        # the same again is unchanged, as before
        again = load_result(con, validate_path(R3, ctx), ctx, run_id="r4")
        assert again.status == "unchanged"


@pytest.mark.parametrize(("fiscal_year", "municipality"), [(2022, None), (None, "福岡市")])
def test_an_override_that_would_empty_another_year_is_refused(
    tmp_path: Path, fiscal_year: int | None, municipality: str | None
) -> None:
    ctx = load_context()
    given = {"fiscal_year": fiscal_year, "municipality": municipality}
    with open_warehouse(tmp_path / "w.duckdb") as con:
        load_result(con, validate_path(R3, ctx), ctx, run_id="r1")
        before = per_year(con), con.execute("SELECT * FROM sheets").fetchall()
        with pytest.raises(WarehouseError) as info:
            load_result(con, validate_path(R3, ctx, **given), ctx, run_id="r2", overridden=True)
        assert str(info.value).startswith(
            f"{R3}: この内容は 2021年度（令和3年度）・うきは市 の現在"
        )
        assert (per_year(con), con.execute("SELECT * FROM sheets").fetchall()) == before
        # content never loaded before loads under the override, beside the first
        copy = tmp_path / "R3_copy.txt"
        copy.write_text(R3.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        new = load_result(con, validate_path(copy, ctx, **given), ctx, run_id="r3", overridden=True)
        assert new.status == "loaded"
        assert con.execute(
            "SELECT municipality, fiscal_year, count(*) FROM projects GROUP BY ALL ORDER BY ALL"
        ).fetchall() == sorted(
            [("うきは市", 2021, 99), (municipality or "うきは市", fiscal_year or 2021, 99)]
        )
