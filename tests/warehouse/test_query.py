"""`ukiha sql`'s query and output (warehouse/query.py): DuckDB's values as they are."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ukiha_pipeline.errors import UkihaError, UsageError
from ukiha_pipeline.warehouse.query import as_csv, as_json_lines, as_table, run_query

VALUES = (
    "SELECT sum(x) AS total, 0.20297029702970298::DOUBLE AS share, DATE '2024-04-01' AS d, "
    "1.50::DECIMAL(4, 2) AS m, NULL::INTEGER AS missing, 'うきは市' AS municipality "
    "FROM range(50) t(x)"
)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return duckdb.connect(str(path), read_only=True)


def test_values_keep_their_type_and_digits(con: duckdb.DuckDBPyConnection) -> None:
    result = run_query(con, VALUES)
    assert result.columns == ("total", "share", "d", "m", "missing", "municipality")
    # a HUGEINT sum was 1225.0 through pandas; JSON cut the double to 10 decimals
    assert json.loads(next(as_json_lines(result))) == {
        "total": 1225,
        "share": 0.20297029702970298,
        "d": "2024-04-01",
        "m": "1.50",
        "missing": None,
        "municipality": "うきは市",
    }
    assert as_csv(result).splitlines() == [
        "total,share,d,m,missing,municipality",
        "1225,0.20297029702970298,2024-04-01,1.50,,うきは市",
    ]
    header, row = as_table(result).splitlines()
    assert header.split() == list(result.columns)
    assert row.split() == ["1225", "0.20297029702970298", "2024-04-01", "1.50", "NULL", "うきは市"]


def test_the_table_aligns_japanese_text_by_display_width(con: duckdb.DuckDBPyConnection) -> None:
    table = as_table(run_query(con, "SELECT * FROM (VALUES ('うきは市', 1), ('a', 22)) t(m, n)"))
    assert table.splitlines() == ["m          n", "うきは市   1", "a         22"]


def test_no_rows_and_several_statements(con: duckdb.DuckDBPyConnection) -> None:
    assert as_table(run_query(con, "SELECT 1 AS a WHERE false")) == "(0 rows)\n"
    assert run_query(con, "SELECT 1 AS a; SELECT 2 AS b").rows == [(2,)]


@pytest.mark.parametrize("query", ["", "   ", " ; "])
def test_an_empty_query_is_a_usage_error(con: duckdb.DuckDBPyConnection, query: str) -> None:
    with pytest.raises(UsageError, match="SQL が空です"):
        run_query(con, query)


@pytest.mark.parametrize(
    "query", ["COPY (SELECT 1) TO '{out}'", "EXPORT DATABASE '{out}'"], ids=["copy", "export"]
)
def test_statements_that_write_files_are_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, query: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(UkihaError, match=r"読み取り専用.*ukiha export"):
        run_query(con, query.format(out=out))
    assert not out.exists()


def test_sql_errors_are_one_line(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(
        UkihaError, match=r'^SQL エラー: Parser Error: syntax error at or near "SELEC"$'
    ):
        run_query(con, "SELEC 1")
    with pytest.raises(
        UkihaError, match=r"^倉庫は読み取り専用で開いています。書き込みはできません"
    ):
        run_query(con, "CREATE TABLE t (a INTEGER)")
