"""`table_frame` builds each column for its SQL type: DuckDB must read it exactly as it read
`pd.DataFrame(list_of_dicts)` (the frames before), NULLs, empty frames and all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ukiha_pipeline.validation import ValidationResult
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.warehouse import load_results, open_warehouse
from ukiha_pipeline.warehouse.keys import (
    _KPI_FIELDS,
    _PROJECT_FIELDS,
    LoadedRows,
    _kpi_item,
    _project_item,
    _rows,
)
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS, TABLE_TYPES, create_sql
from ukiha_pipeline.warehouse.tables import build_rows, failures_rows, table_frame

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _loaded(table: str, df: pd.DataFrame) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    for stmt in create_sql():
        con.execute(stmt)
    if not df.empty:
        con.register("_stage", df)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _stage")
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def _same_as_dicts(table: str, rows: Sequence[tuple[object, ...]]) -> None:
    dicts = [dict(zip(TABLE_COLUMNS[table], r, strict=True)) for r in rows]
    before = pd.DataFrame(dicts, columns=list(TABLE_COLUMNS[table]))
    assert _loaded(table, table_frame(table, rows)) == _loaded(table, before)


def test_types_follow_the_ddl() -> None:
    for table, columns in TABLE_COLUMNS.items():
        assert tuple(TABLE_TYPES[table]) == columns
    assert TABLE_TYPES["kpis"]["baseline_value"] == "DOUBLE"
    assert TABLE_TYPES["projects"]["commercialized"] == "BOOLEAN"
    assert TABLE_TYPES["sheets"]["ingested_at"] == "TIMESTAMPTZ"


def test_sheet_rows_load_as_before(
    year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    for result in year_results.values():
        tables = build_rows(result, multi_ctx, run_id="r", recorded_at=NOW)
        tables.rows["validation_failures"] = failures_rows(
            result, run_id="r", recorded_at=NOW, municipality=tables.municipality
        )
        for table, rows in tables.rows.items():
            assert all(len(r) == len(TABLE_COLUMNS[table]) for r in rows), table
            _same_as_dicts(table, rows)


@pytest.mark.parametrize(
    "values",
    [
        [None, None],  # a nullable INTEGER and a DOUBLE all NULL
        [3, None],
        [None, 2.5],
        [7, 1.25],
    ],
)
def test_nulls_load_as_before(values: list[object]) -> None:
    rows: list[tuple[object, ...]] = []
    for i, v in enumerate(values):
        row: list[object] = ["m", 2021, f"k{i}", "measure", 1, v, "name", None]
        for _ in range(3):
            row += [
                v if isinstance(v, float) else None,
                None,
                None,
                v if isinstance(v, int) else None,
                None,
                None,
            ]
        row += [None] * 6 + [10 + i, None]
        rows.append(tuple(row))
    _same_as_dicts("kpis", rows)


@pytest.mark.parametrize("flags", [[True, False], [None, True], [None, None]])
def test_booleans_and_timestamps_load_as_before(flags: list[bool | None]) -> None:
    rows = [
        ("m", 2021, f"k{i}", 1, 1, 1, i, "c", f, "A", None, "○", "A", 5 + i, None)
        for i, f in enumerate(flags)
    ]
    _same_as_dicts("projects", rows)
    jst = timezone(timedelta(hours=9))
    sheets = [
        ("s1", "m", 2021, "f", "sha1", NOW, "r", None, "current", 1, 2, 0, 0, 1),
        ("s2", "m", 2022, "g", "sha2", NOW.astimezone(jst), "r", "fr", "current", 3, 4, 5, 6, 7),
    ]
    _same_as_dicts("sheets", sheets)


def test_empty_and_malformed_rows() -> None:
    assert table_frame("projects", []).empty
    assert list(table_frame("projects", []).columns) == list(TABLE_COLUMNS["projects"])
    with pytest.raises(ValueError, match="rows must have"):
        table_frame("project_departments", [("m", 2021, "k", "d")])


def test_rekey_takes_the_loaded_rows_as_the_warehouse_has_them(
    tmp_path: Path, year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    """Rows just written, passed to re-keying, give the Items reading them back would."""
    with open_warehouse(tmp_path / "w.duckdb") as con:
        load_results(con, list(year_results.values()), multi_ctx, run_id="r", now=NOW)
        (mun,) = {r.sheet.municipality for r in year_results.values() if r.sheet is not None}
        written = {
            t: con.execute(
                f"SELECT * FROM {t} WHERE fiscal_year IN (2022, 2024) ORDER BY source_line DESC"
            ).fetchall()
            for t in ("projects", "kpis")
        }
        loaded = LoadedRows([(mun, 2022), (mun, 2024), (mun, 2024)], **written)
        assert written["projects"] and written["kpis"]
        # as rekey_municipalities reads them: rows per municipality, then Items
        for table, fields, item in (
            ("projects", _PROJECT_FIELDS, _project_item),
            ("kpis", _KPI_FIELDS, _kpi_item),
        ):
            read_back, taken = (
                sorted(map(item, _rows(con, table, fields, [mun], given)[mun]), key=repr)
                for given in (None, loaded)
            )
            assert taken == read_back
            assert len(read_back) > len(written[table])
