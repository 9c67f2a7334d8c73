"""Warehouse stage: DuckDB DDL (schema.py), table shaping (tables.py), loading (load.py)."""

from ukiha_pipeline.warehouse.load import (
    LoadOutcome,
    connect,
    is_lock_error,
    load_result,
    load_results,
    open_warehouse,
    record_restored,
)
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS, create_all_sql

__all__ = [
    "TABLE_COLUMNS",
    "LoadOutcome",
    "connect",
    "create_all_sql",
    "is_lock_error",
    "load_result",
    "load_results",
    "open_warehouse",
    "record_restored",
]
