"""A validated sheet → one DataFrame per warehouse table (shapes from `schema.TABLE_COLUMNS`)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import pandas as pd

from ukiha_pipeline.normalize import (
    normalize_flag,
    normalize_rating,
    parse_as_of,
    parse_quantity,
    split_names,
)
from ukiha_pipeline.normalize.text import clean_cells
from ukiha_pipeline.parsing.model import ParsedSheet
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.frames import content_key, kpi_values
from ukiha_pipeline.validation.result import ValidationResult
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS

#: 事業化 flag → commercialized; any other flag is loaded as NULL (a waived flag_invalid).
COMMERCIALIZED = {"○": True, "×": False}


@lru_cache(maxsize=1 << 16)  # each load keys a project again, and re-keying does once more
def stable_key(*parts: str) -> str:
    """A short hash of the parts: the same text in another year gives the same key."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


Rows = list[dict[str, object]]


@dataclass(frozen=True)
class SheetTables:
    """Everything one sheet puts into the warehouse, keyed by table name."""

    municipality: str
    fiscal_year: int
    frames: dict[str, pd.DataFrame]
    n_projects: int
    n_kpis: int
    n_quarantined: int


@dataclass(frozen=True)
class SheetRows:
    """The rows of `SheetTables` before they become frames: the rows of many sheets make
    one frame per table (a batch load inserts each table once)."""

    municipality: str
    fiscal_year: int
    rows: dict[str, Rows]
    n_projects: int
    n_kpis: int
    n_quarantined: int


def table_frame(table: str, rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Rows as the frame of a warehouse table (its columns in `schema.TABLE_COLUMNS` order)."""
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS[table]))


def build_tables(
    result: ValidationResult, ctx: RulesContext, *, run_id: str, recorded_at: datetime
) -> SheetTables:
    r = build_rows(result, ctx, run_id=run_id, recorded_at=recorded_at)
    return SheetTables(
        r.municipality,
        r.fiscal_year,
        {table: table_frame(table, rows) for table, rows in r.rows.items()},
        r.n_projects,
        r.n_kpis,
        r.n_quarantined,
    )


_NUMBERS = ("policy_no", "measure_no", "submeasure_no")


def _first_per_number(rows: Rows) -> Rows:
    """One row per (policy, measure, sub-measure) number: the first (a repeated heading)."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for row in rows:
        key = tuple(row[k] for k in _NUMBERS if k in row)
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
    keep = lambda record: record not in result.quarantined  # noqa: E731
    base = {"municipality": mun, "fiscal_year": fy}
    pos = sheet.grid.positions

    frames: dict[str, Rows] = {
        "policies": _first_per_number(
            [
                {
                    **base,
                    "policy_no": p.policy_no,
                    "title": p.title,
                    "strategy_page": p.strategy_page,
                    "overview": p.overview or None,
                    "aim": p.aim or None,
                    "source_line": pos[p.row].line,
                    "source_worksheet": pos[p.row].worksheet,
                }
                for p in sheet.policies
            ],
        ),
        "measures": _first_per_number(
            [
                {
                    **base,
                    "policy_no": m.policy_no,
                    "measure_no": m.measure_no,
                    "title": m.title,
                    "source_line": pos[m.row].line,
                    "source_worksheet": pos[m.row].worksheet,
                }
                for m in sheet.measures
            ],
        ),
        "submeasures": _first_per_number(
            [
                {
                    **base,
                    "policy_no": s.policy_no,
                    "measure_no": s.measure_no,
                    "submeasure_no": s.submeasure_no,
                    "title": s.title,
                    "source_line": pos[s.row].line,
                    "source_worksheet": pos[s.row].worksheet,
                }
                for s in sheet.submeasures
            ],
        ),
    }
    projects: Rows = []
    project_depts: Rows = []
    key_count: Counter[str] = Counter()
    for p in sheet.projects:
        if not keep(f"project:{p.row}"):
            continue
        cells = clean_cells(p.cells)
        # provisional: load_result re-keys the municipality across years (keys.py)
        key = _unique(stable_key(mun, content_key(cells[3])), key_count)
        flag, rating = _flag(result, p.row), _rating(result, p.row)
        projects.append(
            {
                **base,
                "project_key": key,
                "policy_no": p.policy_no,
                "measure_no": p.measure_no,
                "submeasure_no": p.submeasure_no,
                "seq": p.seq,
                "content": cells[3],
                # an invalid flag or rating is here only when a steward waived its error
                "commercialized": COMMERCIALIZED.get(flag),
                "rating": rating if ctx.rating_ok(rating) else None,
                "action": cells[5] or None,
                "raw_flag": p.cells[4],
                "raw_rating": p.cells[6],
                "source_line": pos[p.row].line,
                "source_worksheet": pos[p.row].worksheet,
            }
        )
        for dept, sect in pair_departments(cells[1], cells[2], ctx, fy):
            project_depts.append({**base, "project_key": key, "department": dept, "section": sect})
    frames["projects"] = projects
    frames["project_departments"] = project_depts

    kpis: Rows = []
    kpi_depts: Rows = []
    for i, k in enumerate(sheet.kpis):
        if not keep(f"kpi:{i}"):
            continue
        v = kpi_values(k)
        key = _unique(stable_key(mun, k.level, content_key(k.name)), key_count)
        row: dict[str, object] = {
            **base,
            "kpi_key": key,
            "level": k.level,
            "policy_no": k.policy_no,
            "measure_no": k.measure_no,
            "name": k.name,
            "definition": v.definition,
            "source_line": pos[k.row].line,
            "source_worksheet": pos[k.row].worksheet,
        }
        for which in ("baseline", "target", "latest"):
            q = parse_quantity(v.raw[which])
            as_of = parse_as_of(v.raw_years[which]) if v.raw_years[which] else None
            row |= {
                f"{which}_value": q.value if q else None,
                f"{which}_unit": q.unit if q else None,
                f"{which}_note": q.note if q else None,
                f"{which}_year": as_of.year if as_of else None,
                f"{which}_year_kind": as_of.kind if as_of else None,
                f"{which}_year_range": as_of.range_text if as_of else None,
                f"raw_{which}": v.raw[which] or None,
                f"raw_{which}_year": v.raw_years[which] or None,
            }
        kpis.append(row)
        for dept, sect in pair_departments(k.departments, k.sections, ctx, fy):
            kpi_depts.append({**base, "kpi_key": key, "department": dept, "section": sect})
    frames["kpis"] = kpis
    frames["kpi_departments"] = kpi_depts

    frames["quarantine"] = quarantine_rows(result, run_id=run_id, recorded_at=recorded_at)
    return SheetRows(mun, fy, frames, len(projects), len(kpis), len(frames["quarantine"]))


def _unique(key: str, seen: Counter[str]) -> str:
    """The second occurrence of a key in one sheet (a duplicated row) gets `#2`, and so on."""
    seen[key] += 1
    return key if seen[key] == 1 else f"{key}#{seen[key]}"


def _flag(result: ValidationResult, row: int) -> str:
    assert result.sheet is not None
    return normalize_flag(result.sheet.grid.rows[row][4])


def _rating(result: ValidationResult, row: int) -> str:
    assert result.sheet is not None
    return normalize_rating(result.sheet.grid.rows[row][6])


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


def quarantine_frame(
    result: ValidationResult, *, run_id: str, recorded_at: datetime
) -> pd.DataFrame:
    """One row per record kept out of the fact tables, with its raw text and reasons."""
    return table_frame(
        "quarantine", quarantine_rows(result, run_id=run_id, recorded_at=recorded_at)
    )


def quarantine_rows(result: ValidationResult, *, run_id: str, recorded_at: datetime) -> Rows:
    sheet = result.sheet
    if sheet is None:
        return []
    reasons: dict[str, list[str]] = {}
    lines: dict[str, int | None] = {}
    entities: dict[str, str] = {}
    for f in result.failures:
        if f.record in result.quarantined and f.severity in ("error", "fatal"):
            reasons.setdefault(f.record, []).append(f"{f.check}: {f.message}")
            lines.setdefault(f.record, f.line)
            entities.setdefault(f.record, f.entity)
    rows: Rows = []
    for record in sorted(reasons, key=lambda r: lines[r] or 0):
        rows.append(
            {
                "run_id": run_id,
                "source_file": result.source_file,
                "source_sha256": result.sha256,
                "municipality": sheet.municipality,
                "fiscal_year": sheet.fiscal_year,
                "entity": entities[record],
                "line": lines[record],
                "raw": _raw(sheet, record),
                "reason": " | ".join(dict.fromkeys(reasons[record])),
                "recorded_at": recorded_at,
            }
        )
    return rows


def _raw(sheet: ParsedSheet, record: str) -> str:
    kind, _, num = record.partition(":")
    if kind == "kpi":
        k = sheet.kpis[int(num)]
        rows = sorted({k.row, k.baseline_row, k.target_row, k.latest_row})
        return "\n".join(sheet.grid.raw_text(r) for r in rows)
    return sheet.grid.raw_text(int(num))


def failures_frame(
    result: ValidationResult, *, run_id: str, recorded_at: datetime, municipality: str | None
) -> pd.DataFrame:
    return table_frame(
        "validation_failures",
        failures_rows(result, run_id=run_id, recorded_at=recorded_at, municipality=municipality),
    )


def failures_rows(
    result: ValidationResult, *, run_id: str, recorded_at: datetime, municipality: str | None
) -> Rows:
    return [
        {
            "run_id": run_id,
            "source_file": f.source_file,
            "source_sha256": result.sha256,
            "worksheet": f.worksheet,
            "line": f.line,
            "municipality": municipality,
            "fiscal_year": f.fiscal_year,
            "entity": f.entity,
            "column": f.column,
            "check": f.check,
            "severity": f.severity,
            "value": f.value,
            "message": f.message,
            "hint": f.hint,
            "row_text": f.row_text or None,
            "recorded_at": recorded_at,
            "row_key": f.row_key,
            "waived": f.waived,
        }
        for f in result.failures
    ]
