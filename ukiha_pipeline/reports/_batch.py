"""Read the rows of many pages at once: one query per section for a batch of pages, split per
page.

A section's query selects its page key first (e.g. `municipality, fiscal_year`), keeps the
rows of the batch's keys with filters DuckDB can push into its views (`list_contains($m,
municipality)`; a join with a table of keys is not pushed and computes a view over the whole
warehouse), and orders by the key first, then as a query for one page would. `rows_by_key`
splits the result so that each page gets exactly its own rows in that order: what a page
shows never depends on the other pages of its batch (rows of keys nobody asked for, which
such filters may let through, are ignored).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import duckdb
import pandas as pd

Row = tuple[Any, ...]


def rows_by_key(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object], width: int
) -> tuple[list[str], dict[Hashable, list[Row]]]:
    """Run `sql`; return the names of the columns after the key and each key's rows.

    The first `width` columns are the key (a single value when `width` is 1, else a tuple).
    """
    result = con.execute(sql, dict(params))
    names = [d[0] for d in result.description or []][width:]
    out: dict[Hashable, list[Row]] = {}
    for row in result.fetchall():
        key = row[0] if width == 1 else tuple(row[:width])
        out.setdefault(key, []).append(tuple(row[width:]))
    return names, out


def frames_by_key(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object], width: int
) -> tuple[pd.DataFrame, dict[Hashable, pd.DataFrame]]:
    """`rows_by_key` as one DataFrame per key, and the empty frame for keys without rows."""
    names, rows = rows_by_key(con, sql, params, width)
    empty = pd.DataFrame(columns=names)
    return empty, {key: pd.DataFrame.from_records(r, columns=names) for key, r in rows.items()}
