"""`ukiha sql`: an analyst's query on the read-only warehouse, and its rows as text.

The values are DuckDB's own Python values (not a pandas frame): a HUGEINT sum stays an integer,
a DOUBLE keeps every digit, a DATE stays a date, and NULL is written as NULL (table), an empty
field (CSV) or null (JSON).
"""

from __future__ import annotations

import csv
import io
import json
import math
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from ukiha_pipeline.errors import UkihaError, UsageError

#: Statements that write files outside the warehouse: refused, as every write is.
_WRITES_FILES = {duckdb.StatementType.COPY, duckdb.StatementType.EXPORT}


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> QueryResult:
    """Run `query` (one or more statements; the last one's rows are the result)."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise UkihaError(f"SQL エラー: {_first_line(exc)}") from exc
    if not statements:
        raise UsageError('SQL が空です。例: ukiha sql "SELECT * FROM sheets"')
    if any(s.type in _WRITES_FILES for s in statements):
        raise UkihaError(
            "倉庫は読み取り専用で開いています。COPY / EXPORT でファイルを書くことはできません: "
            "CSV・JSON は --format csv / json で、Parquet は `ukiha export --parquet DIR` で"
            "出力してください。"
        )
    try:
        cursor = con.execute(query)
        columns = tuple(d[0] for d in cursor.description or ())
        rows = cursor.fetchall() if columns else []
    except duckdb.Error as exc:
        msg = _first_line(exc)
        if "read-only" in msg.lower() or "read only" in msg.lower():
            raise UkihaError(
                f"倉庫は読み取り専用で開いています。書き込みはできません: {msg}"
            ) from exc
        raise UkihaError(f"SQL エラー: {msg}") from exc
    return QueryResult(columns, rows)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def as_table(result: QueryResult) -> str:
    """Columns padded to their widest value (by display width: CJK counts 2), NULL as NULL."""
    if not result.rows:
        return "(0 rows)\n"
    cells = [list(result.columns)] + [[_text(v, "NULL") for v in row] for row in result.rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(result.columns))]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in result.rows)
        for i in range(len(result.columns))
    ]
    lines = []
    for r in cells:
        padded = [
            " " * (w - _width(c)) + c if right else c + " " * (w - _width(c))
            for c, w, right in zip(r, widths, numeric, strict=True)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines) + "\n"


def as_csv(result: QueryResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([_text(v, "") for v in row] for row in result.rows)
    return out.getvalue()


def as_json_lines(result: QueryResult) -> Iterator[str]:
    """One object per row; dates and times in ISO 8601, decimals and non-finite floats as text
    (JSON has no exact decimals, NaN or infinity)."""
    for row in result.rows:
        yield json.dumps(
            dict(zip(result.columns, map(_json_value, row), strict=True)), ensure_ascii=False
        )


def _text(value: object, null: str) -> str:
    if value is None:
        return null
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def _json_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | timedelta):
        return str(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def _width(text: str) -> int:
    """Terminal columns: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
