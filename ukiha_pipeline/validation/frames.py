"""Staged frames (one per pandera model) built from a parsed sheet. No judging happens here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from ukiha_pipeline.normalize import (
    normalize_flag,
    normalize_rating,
    parse_quantity,
    split_baseline_target,
    split_names,
)
from ukiha_pipeline.normalize.text import clean_cell
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


def kpi_values(k: KpiRec) -> KpiValues:
    if k.level == "policy":
        return KpiValues(
            None,
            {"baseline": k.baseline, "target": k.target, "latest": k.latest},
            {"baseline": k.baseline_row, "target": k.target_row, "latest": k.latest_row},
            {"baseline": 3, "target": 3, "latest": 3},
            {"baseline": k.baseline_year, "target": k.target_year, "latest": k.latest_year},
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
]
VALUE_COLUMNS = ["record", "row", "line", "fiscal_year", "which", "raw", "value", "col"]

#: entity (a key of schemas.models.MODELS) → the columns of its staged frame
STAGED_COLUMNS = {
    "project": PROJECT_COLUMNS,
    "assignment": ASSIGNMENT_COLUMNS,
    "kpi": KPI_COLUMNS,
    "kpi_value": VALUE_COLUMNS,
}

Rows = list[dict[str, object]]


def project_frame(sheet: ParsedSheet) -> pd.DataFrame:
    return staged_frame(project_rows(sheet), PROJECT_COLUMNS)


def project_rows(sheet: ParsedSheet) -> Rows:
    """The rows of the project frame (frames of many sheets are built from their rows at once)."""
    pos = sheet.grid.positions
    rows = []
    seen: dict[tuple[int, int, int, str], int] = {}
    for p in sheet.projects:
        cells = [clean_cell(c) for c in p.cells]
        line = pos[p.row].line
        dup_of: float | None = None
        if p.n_cells == 7:
            key = (p.policy_no, p.measure_no, p.submeasure_no, content_key(cells[3]))
            if key in seen:
                dup_of = float(seen[key])
            else:
                seen[key] = line
        rows.append(
            {
                "record": f"project:{p.row}",
                "row": p.row,
                "line": line,
                "fiscal_year": sheet.fiscal_year,
                "n_cells": p.n_cells,
                "departments": cells[1],
                "sections": cells[2],
                "content": cells[3],
                "flag": normalize_flag(cells[4]) if cells[4] else "",
                "rating": normalize_rating(cells[6]) if cells[6] else "",
                "action": cells[5],
                "duplicate_of": dup_of,
                "raw_flag": p.cells[4],
                "raw_rating": p.cells[6],
            }
        )
    return rows


def assignment_frame(sheet: ParsedSheet, malformed: set[str]) -> pd.DataFrame:
    return staged_frame(assignment_rows(sheet, malformed), ASSIGNMENT_COLUMNS)


def assignment_rows(sheet: ParsedSheet, malformed: set[str]) -> Rows:
    pos = sheet.grid.positions
    rows: Rows = []
    sources = [(f"project:{p.row}", p.row, p.cells[1], p.cells[2], 1, 2) for p in sheet.projects]
    for i, k in enumerate(sheet.kpis):
        if k.level == "measure":
            d_col, s_col = (2, 3) if k.layout == "kpi_tab" else (1, 2)
            sources.append((f"kpi:{i}", k.row, k.departments, k.sections, d_col, s_col))
    for record, row, dept_cell, sect_cell, d_col, s_col in sources:
        if record in malformed:
            continue
        depts = split_names(dept_cell)
        for kind, names, col in (
            ("department", depts, d_col),
            ("section", split_names(sect_cell), s_col),
        ):
            for name in names:
                rows.append(
                    {
                        "record": record,
                        "row": row,
                        "line": pos[row].line,
                        "fiscal_year": sheet.fiscal_year,
                        "kind": kind,
                        "name": name,
                        "row_departments": "\t".join(depts),
                        "col": col,
                    }
                )
    return rows


def kpi_frames(sheet: ParsedSheet) -> tuple[pd.DataFrame, pd.DataFrame]:
    kpis, values = kpi_rows(sheet)
    return staged_frame(kpis, KPI_COLUMNS), staged_frame(values, VALUE_COLUMNS)


def kpi_rows(sheet: ParsedSheet) -> tuple[Rows, Rows]:
    """The rows of the KPI frame and of the KPI value frame."""
    pos = sheet.grid.positions
    kpis: Rows = []
    values: Rows = []
    for i, k in enumerate(sheet.kpis):
        record = f"kpi:{i}"
        v = kpi_values(k)
        units = set()
        for which in ("baseline", "target", "latest"):
            q = parse_quantity(v.raw[which]) if v.raw[which] else None
            if q is not None and q.unit:
                units.add(q.unit)
            values.append(
                {
                    "record": record,
                    "row": v.rows[which],
                    "line": pos[v.rows[which]].line,
                    "fiscal_year": sheet.fiscal_year,
                    "which": which,
                    "raw": v.raw[which],
                    "value": q.value if q else None,
                    "col": v.cols[which],
                }
            )
        kpis.append(
            {
                "record": record,
                "row": k.row,
                "line": pos[k.row].line,
                "fiscal_year": sheet.fiscal_year,
                "n_cells": k.n_cells,
                "level": k.level,
                "name": k.name,
                "n_units": len(units),
                "units": " / ".join(sorted(units)),
                "col": 1 if k.layout == "kpi_tab" else (3 if k.level == "policy" else 0),
            }
        )
    return kpis, values


def staged_frame(rows: Rows, columns: list[str]) -> pd.DataFrame:
    """A staged frame with the dtypes the models expect (int64, str, float64)."""
    df = pd.DataFrame(rows, columns=columns)
    for col in ("row", "line", "fiscal_year", "n_cells", "n_units", "col"):
        if col in df:
            df[col] = df[col].astype("int64")
    for col in df.columns:
        if df[col].dtype == object and col not in ("value", "duplicate_of"):
            df[col] = df[col].fillna("").astype(str)
    for col in ("duplicate_of", "value"):
        if col in df:
            df[col] = df[col].astype("float64")
    return df
