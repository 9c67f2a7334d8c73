"""Open the warehouse (waiting a bounded time for its lock) and load one sheet per transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from ukiha_pipeline.errors import WarehouseError
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.result import ValidationResult
from ukiha_pipeline.warehouse.keys import rekey_municipality
from ukiha_pipeline.warehouse.schema import (
    CURRENT_COMMENTS_SQL,
    FACT_TABLES,
    comment_sql,
    create_sql,
)
from ukiha_pipeline.warehouse.tables import build_tables, failures_frame

DEFAULT_LOCK_TIMEOUT_S = 30.0


def connect(
    path: Path, *, read_only: bool = False, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; another process holding it is waited for up to `lock_timeout_s`."""
    if read_only and not path.exists():
        raise WarehouseError(
            f"{path}: 倉庫 (warehouse) がありません。先に `ukiha ingest` を実行してください。"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise WarehouseError(
                    f"{path}: 倉庫を開けません (別の処理が使用中の可能性があります): {exc}"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"{path}: 倉庫を開けません: {exc}") from exc
    if not read_only:
        try:
            con.execute("BEGIN")  # one transaction: the statements cost one commit
            for stmt in create_sql():
                con.execute(stmt)
            # the data dictionary: only comments that differ (views lose theirs when replaced)
            current = {(r, c): m for r, c, m in con.execute(CURRENT_COMMENTS_SQL).fetchall()}
            for stmt in comment_sql(current):
                con.execute(stmt)
            con.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            con.close()
            raise
    return con


@contextmanager
def open_warehouse(
    path: Path, *, read_only: bool = False, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class LoadOutcome:
    source_file: str
    status: str  # 'loaded' | 'unchanged' | 'fatal'
    municipality: str | None
    fiscal_year: int | None
    n_projects: int
    n_kpis: int
    n_quarantined: int
    n_errors: int
    n_warnings: int


def _insert(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    if df.empty:
        return
    # No unregister in a `finally`: after a failed INSERT the transaction is aborted and any
    # further statement would replace the real error; the next register() overwrites the view.
    con.register("_stage", df)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _stage")
    con.unregister("_stage")


def load_result(
    con: duckdb.DuckDBPyConnection,
    result: ValidationResult,
    ctx: RulesContext,
    *,
    run_id: str,
    flow_run_id: str | None = None,
    now: datetime | None = None,
) -> LoadOutcome:
    """One transaction per sheet: replace its (municipality, fiscal year), record failures.

    In the same transaction every fiscal year of the municipality is re-keyed (`keys.py`), so
    project and KPI keys depend on the set of sheets loaded, not on the order.
    Identical content already current is left alone (loading a file twice = loading it once).
    A fatal sheet loads nothing; its failures are recorded and the previous load stays.
    """
    now = now or datetime.now(UTC)
    sheet = result.sheet
    if sheet is None:
        con.execute("BEGIN")
        try:
            _insert(
                con,
                "validation_failures",
                failures_frame(result, run_id=run_id, recorded_at=now, municipality=None),
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"{result.source_file}: 検証結果を書けません: {exc}") from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return LoadOutcome(
            result.source_file, "fatal", None, None, 0, 0, 0, result.n_errors, result.n_warnings
        )

    current = con.execute(
        "SELECT status FROM sheets WHERE source_sha256 = ?", [result.sha256]
    ).fetchone()
    if current is not None and current[0] == "current":
        n = con.execute(
            "SELECT n_projects, n_kpis, n_quarantined FROM sheets WHERE source_sha256 = ?",
            [result.sha256],
        ).fetchone()
        assert n is not None
        return LoadOutcome(
            result.source_file,
            "unchanged",
            sheet.municipality,
            sheet.fiscal_year,
            n[0],
            n[1],
            n[2],
            result.n_errors,
            result.n_warnings,
        )

    tables = build_tables(result, ctx, run_id=run_id, recorded_at=now)
    key = [tables.municipality, tables.fiscal_year]
    con.execute("BEGIN")
    try:
        for table in FACT_TABLES:
            con.execute(f"DELETE FROM {table} WHERE municipality = ? AND fiscal_year = ?", key)
            _insert(con, table, tables.frames[table])
        con.execute("DELETE FROM quarantine WHERE municipality = ? AND fiscal_year = ?", key)
        _insert(con, "quarantine", tables.frames["quarantine"])
        _insert(
            con,
            "validation_failures",
            failures_frame(
                result, run_id=run_id, recorded_at=now, municipality=tables.municipality
            ),
        )
        con.execute(
            "UPDATE sheets SET status = 'superseded' WHERE municipality = ? AND fiscal_year = ?",
            key,
        )
        con.execute("DELETE FROM sheets WHERE source_sha256 = ?", [result.sha256])
        _insert(
            con,
            "sheets",
            pd.DataFrame(
                [
                    {
                        "sheet_id": (result.sha256 or "")[:16],
                        "municipality": tables.municipality,
                        "fiscal_year": tables.fiscal_year,
                        "source_file": result.source_file,
                        "source_sha256": result.sha256,
                        "ingested_at": now,
                        "run_id": run_id,
                        "flow_run_id": flow_run_id,
                        "status": "current",
                        "n_projects": tables.n_projects,
                        "n_kpis": tables.n_kpis,
                        "n_quarantined": tables.n_quarantined,
                        "n_errors": result.n_errors,
                        "n_warnings": result.n_warnings,
                    }
                ]
            ),
        )
        # keys are a function of the set of sheets of the municipality: re-key all its years
        rekey_municipality(con, tables.municipality, ctx, run_now=now, insert=_insert)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise WarehouseError(
            f"{result.source_file}: 倉庫への書き込みに失敗しました: {exc}"
        ) from exc
    except BaseException:  # anything else (even KeyboardInterrupt) must not leave it open
        con.execute("ROLLBACK")
        raise
    return LoadOutcome(
        result.source_file,
        "loaded",
        tables.municipality,
        tables.fiscal_year,
        tables.n_projects,
        tables.n_kpis,
        tables.n_quarantined,
        result.n_errors,
        result.n_warnings,
    )
