"""Staged frames (one per pandera model) built from a parsed sheet. No judging happens here."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from ukiha_pipeline.normalize import (
    normalize_flag,
    normalize_rating,
    parse_as_of,
    parse_quantity,
    split_baseline_target,
    split_names,
)
from ukiha_pipeline.normalize.text import clean_cells
from ukiha_pipeline.parsing.model import KpiRec, ParsedSheet

#: staged column → (Japanese column label, 0-based cell index in a project row)
PROJECT_CELLS: dict[str, tuple[str, int]] = {
    "departments": ("課", 1),
    "sections": ("係", 2),
    "content": ("事業内容", 3),
    "flag": ("事業化", 4),
    "action": ("具体的な取組内容", 5),
    "rating": ("進捗状況", 6),
}
VALUE_LABELS = {"baseline": "現状値", "target": "目標値", "latest": "最新値"}


_NOT_CONTENT = re.compile(r"[\s・、。,.()「」『』]")


@lru_cache(maxsize=1 << 16)  # the same project texts come back every year and every run
def content_key(text: str) -> str:
    """Project text for matching: NFKC, no spaces, no bullet or punctuation."""
    return _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class KpiValues:
    """A KPI's three values as written, with the cell each sits in."""

    definition: str | None
    raw: dict[str, str]
    rows: dict[str, int]
    cols: dict[str, int]
    raw_years: dict[str, str]
    #: the column of each value's as-of year (時点); a value without one is not in it
    year_cols: dict[str, int]


#: How a value without a unit is named among the units of a kpi_unit_mismatch (`人 / 単位なし`).
UNITLESS = "単位なし"


def kpi_values(k: KpiRec) -> KpiValues:
    if k.level == "policy":
        return KpiValues(
            None,
            {"baseline": k.baseline, "target": k.target, "latest": k.latest},
            {"baseline": k.baseline_row, "target": k.target_row, "latest": k.latest_row},
            {"baseline": 3, "target": 3, "latest": 3},
            {"baseline": k.baseline_year, "target": k.target_year, "latest": k.latest_year},
            {"baseline": 4, "target": 4, "latest": 4},
        )
    bt_col = 4 if k.layout == "kpi_tab" else 3
    split = split_baseline_target(k.baseline_target)
    if split is None:
        definition, base, target = None, k.baseline_target, ""
    else:
        definition, base, target = split.definition, split.raw_baseline, split.raw_target
    return KpiValues(
        definition,
        {"baseline": base, "target": target, "latest": k.latest},
        {"baseline": k.row, "target": k.row, "latest": k.row},
        {"baseline": bt_col, "target": bt_col, "latest": 5},
        {"baseline": "", "target": "", "latest": k.latest_year},
        {"latest": 6},  # a measure KPI's baseline and target have no as-of year of their own
    )


PROJECT_COLUMNS = [
    "record",
    "row",
    "line",
    "fiscal_year",
    "n_cells",
    "departments",
    "sections",
    "content",
    "flag",
    "rating",
    "action",
    "duplicate_of",
    "raw_flag",
    "raw_rating",
]
ASSIGNMENT_COLUMNS = [
    "record",
    "row",
    "line",
    "fiscal_year",
    "kind",
    "name",
    "row_departments",
    "col",
]
KPI_COLUMNS = [
    "record",
    "row",
    "line",
    "fiscal_year",
    "n_cells",
    "level",
    "name",
    "n_units",
    "units",
    "col",
    # the value whose unit differs from the others' (the latest when all three differ):
    # where a kpi_unit_mismatch is reported (DESIGN §4: on the line of the value concerned)
    "odd_which",
    "odd_row",
    "odd_col",
    "odd_raw",
]
VALUE_COLUMNS = [
    "record",
    "row",
    "line",
    "fiscal_year",
    "which",
    "raw",
    "value",
    "col",
    "raw_year",  # the value's as-of year (時点) as written
    "year_col",  # its column, -1 for a value without one (a measure KPI's baseline, target)
    "year_ok",  # 1: readable (parse_as_of) or not expected, 0: empty or unreadable
]

#: entity (a key of schemas.models.MODELS) → the columns of its staged frame
STAGED_COLUMNS = {
    "project": PROJECT_COLUMNS,
    "assignment": ASSIGNMENT_COLUMNS,
    "kpi": KPI_COLUMNS,
    "kpi_value": VALUE_COLUMNS,
}

#: a staged row: its values in the order of its entity's columns, then the `sheet` column
Row = tuple[object, ...]
INT_COLUMNS = frozenset(
    (
        *("row", "line", "fiscal_year", "n_cells", "n_units", "col", "sheet"),
        *("year_col", "year_ok", "odd_row", "odd_col"),
    )
)
FLOAT_COLUMNS = frozenset(("duplicate_of", "value"))


@dataclass(frozen=True)
class StagedSheets:
    """The staged rows of many sheets, entity by entity (`STAGED_COLUMNS` plus `sheet`, each
    row's position in the batch), and each sheet's misshapen records."""

    rows: dict[str, list[Row]]
    malformed: list[set[str]]

    def frame(self, entity: str) -> pd.DataFrame:
        return staged_frame(self.rows[entity], [*STAGED_COLUMNS[entity], "sheet"])


def stage_sheets(sheets: Sequence[ParsedSheet]) -> StagedSheets:
    """The rows of the staged frames of all sheets (one frame per entity is built at once).

    A misshapen record (a project or measure KPI row without 7 cells) is staged as a project
    or KPI, for malformed_row, but none of its assignments or values are.
    """
    staged = StagedSheets({entity: [] for entity in STAGED_COLUMNS}, [])
    for i, sheet in enumerate(sheets):
        bad = _stage_projects(staged.rows["project"], sheet, i)
        bad |= _stage_kpis(staged.rows["kpi"], staged.rows["kpi_value"], sheet, i)
        _stage_assignments(staged.rows["assignment"], sheet, i, bad)
        staged.malformed.append(bad)
    return staged


def _stage_projects(out: list[Row], sheet: ParsedSheet, sheet_no: int) -> set[str]:
    """Append the sheet's project rows (`PROJECT_COLUMNS` order); return its misshapen ones."""
    pos = sheet.grid.positions
    fy = sheet.fiscal_year
    seen: dict[tuple[int, int, int, str], int] = {}
    bad: set[str] = set()
    for p in sheet.projects:
        cells = clean_cells(p.cells)
        line = pos[p.row].line
        record = f"project:{p.row}"
        dup_of: float | None = None
        if p.n_cells == 7:
            key = (p.policy_no, p.measure_no, p.submeasure_no, content_key(cells[3]))
            if key in seen:
                dup_of = float(seen[key])
            else:
                seen[key] = line
        else:
            bad.add(record)
        out.append(
            (
                record,
                p.row,
                line,
                fy,
                p.n_cells,
                cells[1],  # departments
                cells[2],  # sections
                cells[3],  # content
                normalize_flag(cells[4]) if cells[4] else "",
                normalize_rating(cells[6]) if cells[6] else "",
                cells[5],  # action
                dup_of,
                p.cells[4],  # raw_flag
                p.cells[6],  # raw_rating
                sheet_no,
            )
        )
    return bad


def _stage_assignments(out: list[Row], sheet: ParsedSheet, sheet_no: int, bad: set[str]) -> None:
    """Append one row per 課 and 係 named on a well-formed project or measure KPI row."""
    pos = sheet.grid.positions
    fy = sheet.fiscal_year
    sources = [(f"project:{p.row}", p.row, p.cells[1], p.cells[2], 1, 2) for p in sheet.projects]
    for i, k in enumerate(sheet.kpis):
        if k.level == "measure":
            d_col, s_col = (2, 3) if k.layout == "kpi_tab" else (1, 2)
            sources.append((f"kpi:{i}", k.row, k.departments, k.sections, d_col, s_col))
    for record, row, dept_cell, sect_cell, d_col, s_col in sources:
        if record in bad:
            continue
        line = pos[row].line
        depts = split_names(dept_cell)
        row_departments = "\t".join(depts)
        for name in depts:
            out.append(
                (record, row, line, fy, "department", name, row_departments, d_col, sheet_no)
            )
        for name in split_names(sect_cell):
            out.append((record, row, line, fy, "section", name, row_departments, s_col, sheet_no))


def _stage_kpis(kpis: list[Row], values: list[Row], sheet: ParsedSheet, sheet_no: int) -> set[str]:
    """Append the sheet's KPI rows and the value rows of its well-formed KPIs; return the
    misshapen ones (a measure KPI row without 7 cells)."""
    pos = sheet.grid.positions
    fy = sheet.fiscal_year
    bad: set[str] = set()
    for i, k in enumerate(sheet.kpis):
        record = f"kpi:{i}"
        misshapen = k.level == "measure" and k.n_cells != 7
        if misshapen:
            bad.add(record)
        v = kpi_values(k)
        units = set()
        unitless = False  # a number without a unit: a mismatch when the others have one
        unit_of: dict[str, str] = {}  # which → its unit (UNITLESS for a bare number)
        for which in ("baseline", "target", "latest"):
            raw = v.raw[which]
            q = parse_quantity(raw) if raw else None
            if q is not None and q.unit:
                units.add(q.unit)
            elif q is not None:
                unitless = True
            if q is not None:
                unit_of[which] = q.unit or UNITLESS
            if not misshapen:
                row = v.rows[which]
                value = q.value if q else None
                year, year_col = v.raw_years[which], v.year_cols.get(which, -1)
                year_ok = year_col < 0 or (bool(year) and parse_as_of(year) is not None)
                line, col, ok = pos[row].line, v.cols[which], int(year_ok)
                values.append(
                    (record, row, line, fy, which, raw, value, col, year, year_col, ok, sheet_no)
                )
        col = 1 if k.layout == "kpi_tab" else (3 if k.level == "policy" else 0)
        if unitless and units:
            units.add(UNITLESS)
        units_text = " / ".join(sorted(units))
        odd = _odd_unit(unit_of) if len(units) > 1 else None
        kpis.append(
            (
                record,
                k.row,
                pos[k.row].line,
                fy,
                k.n_cells,
                k.level,
                k.name,
                len(units),
                units_text,
                col,
                odd or "",
                v.rows[odd] if odd else k.row,
                v.cols[odd] if odd else col,
                v.raw[odd] if odd else "",
                sheet_no,
            )
        )
    return bad


def _odd_unit(unit_of: dict[str, str]) -> str:
    """Which value's unit the others do not share: the rarest unit's value, the latest first."""
    tally = Counter(unit_of.values())
    return min(reversed(list(unit_of)), key=lambda which: tally[unit_of[which]])


def staged_frame(rows: Sequence[Row], columns: list[str]) -> pd.DataFrame:
    """A staged frame with the dtypes the models expect (int64, str, float64)."""
    data: dict[str, Any] = {}
    for j, col in enumerate(columns):
        # column by column: zip(*rows) would make one iterator per row (and wake the GC)
        values = list(map(itemgetter(j), rows))
        if col in INT_COLUMNS:
            data[col] = np.array(values, dtype=np.int64)
        elif col in FLOAT_COLUMNS:
            data[col] = np.array(values, dtype=np.float64)  # None is NaN
        else:
            data[col] = pd.array(["" if v is None else v for v in values], dtype="str")
    return pd.DataFrame(data, columns=columns)
