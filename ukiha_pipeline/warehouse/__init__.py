"""Warehouse stage: DuckDB DDL (schema.py), table shaping (tables.py), loading (load.py)."""

from ukiha_pipeline.warehouse.load import (
    LoadOutcome,
    connect,
    load_result,
    load_results,
    open_warehouse,
)
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS, create_all_sql

__all__ = [
    "TABLE_COLUMNS",
    "LoadOutcome",
    "connect",
    "create_all_sql",
    "load_result",
    "load_results",
    "open_warehouse",
]
