"""A validated sheet → one DataFrame per warehouse table (shapes from `schema.TABLE_COLUMNS`)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter

import numpy as np
import pandas as pd

from ukiha_pipeline.normalize import (
    normalize_flag,
    normalize_rating,
    parse_as_of,
    parse_quantity,
    split_names,
)
from ukiha_pipeline.normalize.text import clean_cell
from ukiha_pipeline.parsing.model import ParsedSheet
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.frames import content_key, kpi_values
from ukiha_pipeline.validation.result import ValidationResult
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS, TABLE_TYPES

#: 事業化 flag → commercialized; any other flag is loaded as NULL (a waived flag_invalid).
COMMERCIALIZED = {"○": True, "×": False}


@lru_cache(maxsize=1 << 16)  # each load keys a project again, and re-keying does once more
def stable_key(*parts: str) -> str:
    """A short hash of the parts: the same text in another year gives the same key."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


#: A table's rows, each a tuple of its values in `schema.TABLE_COLUMNS` order.
Rows = list[tuple[object, ...]]


@dataclass(frozen=True)
class SheetRows:
    """Everything one sheet puts into the warehouse, as rows per table name: the rows of many
    sheets make one frame per table (a batch load inserts each table once, `table_frame`)."""

    municipality: str
    fiscal_year: int
    rows: dict[str, Rows]
    n_projects: int
    n_kpis: int
    n_quarantined: int


def table_frame(table: str, rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Rows (tuples in `schema.TABLE_COLUMNS` order) as the frame of a warehouse table.

    Each column is built for its SQL type (`schema.TABLE_TYPES`) instead of pandas guessing
    every column from a list of dicts; NULL is None in the rows, as before.
    """
    columns = TABLE_COLUMNS[table]
    if set(map(len, rows)) - {len(columns)}:
        raise ValueError(f"{table}: rows must have {len(columns)} values ({columns})")
    types = TABLE_TYPES[table]
    # column by column (not zip(*rows): an iterator per row for the garbage collector to walk)
    return pd.DataFrame(
        {c: _column(types[c], list(map(itemgetter(i), rows))) for i, c in enumerate(columns)},
        copy=False,
    )


def _column(sql_type: str, values: list[object]) -> object:
    """One column's values as an array the DuckDB pandas scan reads as `pd.DataFrame(rows)`
    would have given it (same values, same NULLs), without pandas inferring each column.

    INTEGER: int64, or float64 with NaN for NULL (what pandas infers for ints and None);
    DOUBLE: float64 (None → NaN → NULL); VARCHAR: object (DuckDB reads str and None).
    Anything else (BOOLEAN, TIMESTAMPTZ, or values of an unexpected type) is inferred by pandas
    column by column, as before.
    """
    if values:
        if sql_type == "INTEGER":
            ints = np.array(values)
            if ints.dtype.kind in "if":
                return ints
        elif sql_type == "DOUBLE":
            with suppress(TypeError, ValueError):
                return np.array(values, dtype=np.float64)
        elif sql_type == "VARCHAR":
            strings = np.empty(len(values), dtype=object)
            strings[:] = values
            return pd.Series(strings, dtype=object, copy=False)
    return pd.Series(values, dtype=object if not values else None)


def _first_per_number(rows: Rows, n_numbers: int) -> Rows:
    """One row per (policy, measure, sub-measure) number: the first (a repeated heading).

    The numbers are the `n_numbers` values after municipality and fiscal year.
    """
    seen: set[tuple[object, ...]] = set()
    out = []
    for row in rows:
        key = row[2 : 2 + n_numbers]
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def build_rows(
    result: ValidationResult, ctx: RulesContext, *, run_id: str, recorded_at: datetime
) -> SheetRows:
    sheet = result.sheet
    assert sheet is not None, "a fatal sheet has no tables"
    mun, fy = sheet.municipality, sheet.fiscal_year
    quarantined = result.quarantined
    pos = sheet.grid.positions
    # rows are tuples in `schema.TABLE_COLUMNS` order (tests/warehouse/test_tables.py)
    frames: dict[str, Rows] = {
        "policies": _first_per_number(
            [
                (
                    mun,
                    fy,
                    p.policy_no,
                    p.title,
                    p.strategy_page,
                    p.overview or None,
                    p.aim or None,
                    pos[p.row].line,
                    pos[p.row].worksheet,
                )
                for p in sheet.policies
            ],
            1,
        ),
        "measures": _first_per_number(
            [
                (
                    mun,
                    fy,
                    m.policy_no,
                    m.measure_no,
                    m.title,
                    pos[m.row].line,
                    pos[m.row].worksheet,
                )
                for m in sheet.measures
            ],
            2,
        ),
        "submeasures": _first_per_number(
            [
                (
                    mun,
                    fy,
                    s.policy_no,
                    s.measure_no,
                    s.submeasure_no,
                    s.title,
                    pos[s.row].line,
                    pos[s.row].worksheet,
                )
                for s in sheet.submeasures
            ],
            3,
        ),
    }
    projects: Rows = []
    project_depts: Rows = []
    key_count: Counter[str] = Counter()
    grid_rows = sheet.grid.rows
    rating_ok = ctx.rating_ok
    for p in sheet.projects:
        if f"project:{p.row}" in quarantined:
            continue
        raw = p.cells  # only the cells used, cleaned as `clean_cells` would
        content, action = clean_cell(raw[3]), clean_cell(raw[5])
        # provisional: load_result re-keys the municipality across years (keys.py)
        key = _unique(stable_key(mun, content_key(content)), key_count)
        grid_row = grid_rows[p.row]
        flag, rating = normalize_flag(grid_row[4]), normalize_rating(grid_row[6])
        at = pos[p.row]
        projects.append(
            (
                mun,
                fy,
                key,
                p.policy_no,
                p.measure_no,
                p.submeasure_no,
                p.seq,
                content,
                # an invalid flag or rating is here only when a steward waived its error
                COMMERCIALIZED.get(flag),
                rating if rating_ok(rating) else None,
                action or None,
                raw[4],
                raw[6],
                at.line,
                at.worksheet,
            )
        )
        for dept, sect in pair_departments(clean_cell(raw[1]), clean_cell(raw[2]), ctx, fy):
            project_depts.append((mun, fy, key, dept, sect))
    frames["projects"] = projects
    frames["project_departments"] = project_depts

    kpis: Rows = []
    kpi_depts: Rows = []
    for i, k in enumerate(sheet.kpis):
        if f"kpi:{i}" in quarantined:
            continue
        v = kpi_values(k)
        key = _unique(stable_key(mun, k.level, content_key(k.name)), key_count)
        row: list[object] = [mun, fy, key, k.level, k.policy_no, k.measure_no, k.name, v.definition]
        for which in _VALUES:
            q = parse_quantity(v.raw[which])
            as_of = parse_as_of(v.raw_years[which]) if v.raw_years[which] else None
            row += ((q.value, q.unit, q.note) if q else (None, None, None)) + (
                (as_of.year, as_of.kind, as_of.range_text) if as_of else (None, None, None)
            )
        row += [v.raw[which] or None for which in _VALUES]
        row += [v.raw_years[which] or None for which in _VALUES]
        at = pos[k.row]
        row += (at.line, at.worksheet)
        kpis.append(tuple(row))
        for dept, sect in pair_departments(k.departments, k.sections, ctx, fy):
            kpi_depts.append((mun, fy, key, dept, sect))
    frames["kpis"] = kpis
    frames["kpi_departments"] = kpi_depts

    frames["quarantine"] = quarantine_rows(result, run_id=run_id, recorded_at=recorded_at)
    return SheetRows(mun, fy, frames, len(projects), len(kpis), len(frames["quarantine"]))


_VALUES = ("baseline", "target", "latest")


def _unique(key: str, seen: Counter[str]) -> str:
    """The second occurrence of a key in one sheet (a duplicated row) gets `#2`, and so on."""
    seen[key] += 1
    return key if seen[key] == 1 else f"{key}#{seen[key]}"


@lru_cache(maxsize=1 << 14)  # the same 課 and 係 cells come back on every sheet and year
def pair_departments(
    dept_cell: str, sect_cell: str, ctx: RulesContext, fiscal_year: int
) -> tuple[tuple[str, str | None], ...]:
    """Pair each 係 with the 課 of the row it belongs to (cells are not positionally paired).

    A section that belongs to none of the row's departments stays with the first one (and
    was reported as section_department_mismatch); a department with no section gets NULL.
    (Cached per context: a RulesContext is read-only and compared by identity.)
    """
    depts, sects = split_names(dept_cell), split_names(sect_cell)
    if not depts:
        return ()
    pairs: list[tuple[str, str | None]] = []
    for s in sects:
        owners = [d for d in depts if ctx.section_belongs(s, (d,), fiscal_year)]
        pairs.append((owners[0] if owners else depts[0], s))
    with_section = {d for d, _ in pairs}
    pairs += [(d, None) for d in depts if d not in with_section]
    return tuple(dict.fromkeys(pairs))


def quarantine_rows(result: ValidationResult, *, run_id: str, recorded_at: datetime) -> Rows:
    sheet = result.sheet
    if sheet is None:
        return []
    reasons: dict[str, list[str]] = {}
    lines: dict[str, int | None] = {}
    worksheets: dict[str, str | None] = {}
    entities: dict[str, str] = {}
    for f in result.failures:
        if f.record in result.quarantined and f.severity in ("error", "fatal"):
            reasons.setdefault(f.record, []).append(f"{f.check}: {f.message}")
            lines.setdefault(f.record, f.line)
            worksheets.setdefault(f.record, f.worksheet)
            entities.setdefault(f.record, f.entity)
    at: dict[tuple[int | None, str | None], int] = {
        (pos.line, pos.worksheet): i for i, pos in enumerate(sheet.grid.positions)
    }
    rows: Rows = []
    for record in sorted(reasons, key=lambda r: lines[r] or 0):
        rows.append(
            (
                run_id,
                result.source_file,
                result.sha256,
                sheet.municipality,
                sheet.fiscal_year,
                entities[record],
                lines[record],
                _raw(sheet, record, at.get((lines[record], worksheets[record]))),
                " | ".join(dict.fromkeys(reasons[record])),
                recorded_at,
            )
        )
    return rows


def _raw(sheet: ParsedSheet, record: str, row: int | None) -> str:
    """The text of the row at the quarantine row's `line` (a policy KPI's failure is on its
    現状値 / 目標値 / 最新値 line, not on the 概要 line that names it); without that line, the
    record's rows."""
    if row is not None:
        return sheet.grid.raw_text(row)
    kind, _, num = record.partition(":")
    if kind == "kpi":
        k = sheet.kpis[int(num)]
        rows = sorted({k.row, k.baseline_row, k.target_row, k.latest_row})
        return "\n".join(sheet.grid.raw_text(r) for r in rows)
    return sheet.grid.raw_text(int(num))


def failures_rows(
    result: ValidationResult, *, run_id: str, recorded_at: datetime, municipality: str | None
) -> Rows:
    return [
        (
            run_id,
            f.source_file,
            result.sha256,
            f.worksheet,
            f.line,
            municipality,
            f.fiscal_year,
            f.entity,
            f.column,
            f.check,
            f.severity,
            f.value,
            f.message,
            f.hint,
            f.row_text or None,
            recorded_at,
            f.row_key,
            f.waived,
        )
        for f in result.failures
    ]
