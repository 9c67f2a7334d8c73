"""A warehouse written before a column was added is migrated when it is opened, and loads."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse


def test_a_warehouse_without_source_worksheet_gains_it_and_loads(
    tmp_path: Path, r3_sheet: Path
) -> None:
    path = tmp_path / "old.duckdb"
    with open_warehouse(path):
        pass
    old = duckdb.connect(str(path))  # as the earlier schema left it: no source_worksheet
    for table in ("policies", "measures", "submeasures", "projects", "kpis"):
        old.execute(f"ALTER TABLE {table} DROP COLUMN source_worksheet")
    old.close()

    ctx = load_context()
    with open_warehouse(path) as con:
        assert load_result(con, validate_path(r3_sheet, ctx), ctx, run_id="r").status == "loaded"
        got = con.execute("SELECT count(*), count(source_worksheet) FROM projects").fetchone()
    assert got == (99, 0)  # a text file: every row loaded, no worksheet
