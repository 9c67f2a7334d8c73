"""`ukiha export --parquet DIR`: every table and view of the warehouse as one Parquet file each.

DuckDB's own `COPY … TO … (FORMAT parquet)`; the Parquet writer is built into the duckdb
wheel, and extension downloads are switched off so that an export never reaches the network.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

import duckdb

from ukiha_pipeline.errors import WarehouseError


def relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(name, 'table' | 'view') of every user table and view, tables first, by name."""
    rows = con.execute(
        """
        SELECT table_name, 'table' FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = 'main'
          AND NOT internal AND NOT temporary
        UNION ALL
        SELECT view_name, 'view' FROM duckdb_views()
        WHERE database_name = current_database() AND schema_name = 'main'
          AND NOT internal AND NOT temporary
        ORDER BY 2, 1
        """
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[Path]:
    """Write `<name>.parquet` for every table and view into `out_dir`; returns the files.

    Each file is written beside its final name and renamed into place, so a reader never
    sees half a file and an export that fails leaves the previous files as they were.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise WarehouseError(f"{out_dir}: フォルダではありません (not a folder)。")
    out_dir.mkdir(parents=True, exist_ok=True)
    with suppress(duckdb.Error):  # never download an extension (older duckdb lacks the setting)
        con.execute("SET autoinstall_known_extensions = false")
    written = []
    for name, _kind in relations(con):
        final = out_dir / f"{name}.parquet"
        partial = out_dir / f".{name}.parquet.partial"
        try:
            con.execute(
                f'COPY (SELECT * FROM "{name}") TO {_literal(str(partial))} (FORMAT parquet)'
            )
        except duckdb.Error as exc:
            partial.unlink(missing_ok=True)
            raise WarehouseError(
                f"{name}: Parquet に書き出せません (cannot export): {str(exc).splitlines()[0]}"
            ) from exc
        os.replace(partial, final)
        written.append(final)
    return written
