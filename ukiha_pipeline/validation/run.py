"""Run the pandera models over a parsed sheet and turn their failure cases into Failures."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

import pandas as pd
import pandera.pandas as pa

from schemas.models import MODELS
from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.parsing import ParseHints, parse_grid
from ukiha_pipeline.parsing.model import PROJECT_WIDTH, ParsedSheet, ProjectRec
from ukiha_pipeline.reading import Grid, read_grid
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.frames import (
    PROJECT_CELLS,
    VALUE_LABELS,
    content_key,
    stage_sheets,
)
from ukiha_pipeline.validation.messages import (
    BASELINE_TARGET_HINT,
    KPI_SHAPE_HINT,
    SHAPE_HINT,
    SUGGESTION,
    as_of_detail,
    cell_count_detail,
    flag_detail,
    render,
    render_structure,
)
from ukiha_pipeline.validation.reference import Waiver
from ukiha_pipeline.validation.result import Failure, ValidationResult

#: For dataframe-level checks (reported once per column by pandera): the column they concern.
DF_CHECK_COLUMN: dict[tuple[str, str], str] = {
    ("project", "flag_rating_mismatch"): "rating",
    ("assignment", "unknown_department"): "name",
    ("assignment", "unknown_section"): "name",
    ("assignment", "section_department_mismatch"): "name",
    ("kpi", "malformed_row"): "name",
    ("kpi_value", "kpi_value_not_numeric"): "raw",
    ("kpi_value", "kpi_as_of_invalid"): "raw_year",
}


def fatal_failure(exc: SheetFatal, ctx: RulesContext, lang: str = "ja") -> Failure:
    message, hint = render(exc.check, lang, detail=exc.message)
    return Failure(
        exc.source_file,
        exc.line,
        None,
        "sheet",
        None,
        exc.check,
        ctx.rules.severity_of(exc.check),
        exc.value,
        message,
        hint,
    )


def validate_path(
    path: str | Path,
    ctx: RulesContext,
    *,
    lang: str = "ja",
    **hints: Unpack[ParseHints],
) -> ValidationResult:
    """Read, parse and check one file. Never raises for a bad sheet: fatal is a Failure.
    (The one-file case of `validate_paths`.)"""
    return validate_paths([path], ctx, lang=lang, **hints)[0]


def validate_paths(
    paths: Sequence[str | Path],
    ctx: RulesContext,
    *,
    lang: str = "ja",
    **hints: Unpack[ParseHints],
) -> list[ValidationResult]:
    """`validate_path` for many files, the parsed sheets checked together (`check_sheets`)."""
    staged: list[ParsedSheet | ValidationResult] = []
    for path in paths:
        grid = read_or_fatal(path, ctx, lang=lang)
        staged.append(
            grid
            if isinstance(grid, ValidationResult)
            else parse_or_fatal(grid, ctx, lang=lang, **hints)
        )
    checked = iter(check_sheets([s for s in staged if isinstance(s, ParsedSheet)], ctx, lang=lang))
    return [s if isinstance(s, ValidationResult) else next(checked) for s in staged]


def validate_grid(
    grid: Grid,
    ctx: RulesContext,
    *,
    lang: str = "ja",
    **hints: Unpack[ParseHints],
) -> ValidationResult:
    sheet = parse_or_fatal(grid, ctx, lang=lang, **hints)
    if isinstance(sheet, ValidationResult):
        return sheet
    return check_sheet(sheet, ctx, lang=lang)


def read_or_fatal(
    path: str | Path, ctx: RulesContext, *, lang: str = "ja"
) -> Grid | ValidationResult:
    """The grid, or the fatal result (unreadable_file) that a bad file is."""
    try:
        return read_grid(path)
    except SheetFatal as exc:
        return ValidationResult(str(path), None, None, (fatal_failure(exc, ctx, lang),))


def parse_or_fatal(
    grid: Grid,
    ctx: RulesContext,
    *,
    lang: str = "ja",
    **hints: Unpack[ParseHints],
) -> ParsedSheet | ValidationResult:
    """The parsed sheet, or the fatal result (unrecognized_layout, fiscal_year_missing)."""
    try:
        return parse_grid(grid, **hints)
    except SheetFatal as exc:
        return ValidationResult(
            grid.source_file, grid.sha256, None, (fatal_failure(exc, ctx, lang),), notes=grid.notes
        )


def check_sheet(sheet: ParsedSheet, ctx: RulesContext, *, lang: str = "ja") -> ValidationResult:
    """Check one parsed sheet (the batch of one of `check_sheets`: one code path)."""
    return check_sheets([sheet], ctx, lang=lang)[0]


def check_sheets(
    sheets: Sequence[ParsedSheet], ctx: RulesContext, *, lang: str = "ja"
) -> list[ValidationResult]:
    """Check many parsed sheets with one pandera call per model; one result per sheet.

    The staged frames of all sheets are concatenated (a `sheet` column holds each row's
    position in `sheets`), each model validates them once, and the failure cases are split
    back to their sheets. A check judges one row at a time, so this gives exactly the
    failures that checking each sheet alone would.
    """
    builders = [_FailureBuilder(sheet, ctx, lang) for sheet in sheets]
    for sheet, builder in zip(sheets, builders, strict=True):
        for issue in sheet.issues:
            detail, hint = render_structure(issue.reason, lang, **dict(issue.fields))
            builder.add(
                issue.entity,
                issue.check,
                issue.row,
                0,  # a row the parser could not place: its first cell (`PDCAシート!A17`)
                None,
                issue.value,
                issue.record,
                hint=hint,
                detail=detail,
            )
    staged = stage_sheets(sheets)
    for entity in MODELS:
        if not staged.rows[entity]:
            continue
        df = staged.frame(entity)
        cases = _failure_cases(entity, df, ctx)
        # the failing rows taken at once (one `iloc` per failure costs more than the checks)
        failing = df.take([idx for idx, _, _ in cases]).to_dict("records")
        for (_, check, column), row in zip(cases, failing, strict=True):
            i = int(row["sheet"])
            if row["record"] in staged.malformed[i] and check != "malformed_row":
                continue  # local damage: a misshapen row reports its shape only
            builders[i].from_frame(entity, check, column, row)
    return [_result(b) for b in builders]


def _result(builder: _FailureBuilder) -> ValidationResult:
    sheet, ctx = builder.sheet, builder.ctx
    failures, unmatched = apply_waivers(builder.failures, ctx.waivers, sheet.fiscal_year)
    failures = sorted(failures, key=lambda f: f.sort_key)
    # a waived error loads its row, except a misshapen row: its cells cannot be placed
    quarantined = frozenset(
        f.record
        for f in failures
        if f.severity in ("error", "fatal")
        and f.record
        and (f.waived is None or f.check == "malformed_row")
    )
    notes = (
        sheet.grid.notes
        + sheet.notes
        + tuple(
            f"免除 (waiver) が何にも当たりません: {w.fiscal_year} {w.check} {w.row_key} ({w.who}: {w.why})"
            for w in unmatched
        )
    )
    return ValidationResult(
        sheet.grid.source_file, sheet.grid.sha256, sheet, tuple(failures), quarantined, notes
    )


def apply_waivers(
    failures: list[Failure], waivers: tuple[Waiver, ...], fiscal_year: int
) -> tuple[list[Failure], list[Waiver]]:
    """Mark failures a steward accepted; return the year's waivers that matched nothing."""
    by_key = {(w.fiscal_year, w.check, w.row_key): w for w in waivers}
    used: set[tuple[int, str, str]] = set()
    out = []
    for f in failures:
        key = (fiscal_year, f.check, f.row_key or "")
        w = by_key.get(key)
        if w is None:
            out.append(f)
            continue
        used.add(key)
        out.append(replace(f, waived=f"{w.why} ({w.who})"))
    unmatched = [w for k, w in by_key.items() if k[0] == fiscal_year and k not in used]
    return out, unmatched


def _failure_cases(entity: str, df: pd.DataFrame, ctx: RulesContext) -> list[tuple[int, str, str]]:
    """(index, check, column) of each failing row, once per row and check (lazy validation)."""
    if df.empty:
        return []
    df.attrs["context"] = ctx
    try:
        MODELS[entity].validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    if cases["index"].isna().any():
        bad = cases[cases["index"].isna()].iloc[0]
        raise RuntimeError(f"schema problem in {entity}: {bad.to_dict()}")
    checks = cases["check"].astype(str)
    columns = [
        DF_CHECK_COLUMN.get((entity, c), str(col))
        for c, col in zip(checks, cases["column"], strict=True)
    ]
    keys = pd.DataFrame(
        {"index": cases["index"].astype("int64"), "check": checks, "column": columns}
    )
    # a dataframe-level check lists each failing row once per column: once per row and check
    keys = keys.drop_duplicates()
    return list(zip(keys["index"].tolist(), keys["check"], keys["column"], strict=True))


def row_key(
    sheet: ParsedSheet,
    record: str,
    column: str | None,
    projects: Mapping[int, ProjectRec] | None = None,
) -> str:
    """A key for a failure's place that survives edits elsewhere in the sheet.

    Lines move when rows are added above; the key is built from what identifies the record
    (the project's text, the KPI's level and name, or the raw row) and the column. A project
    row of the table's 7 cells (a trailing tab does not count, as for the parser) is known by
    its 事業内容; a misshapen one by its whole text. `projects`: the sheet's projects by grid
    row, when the caller has them (else they are looked up).
    """
    kind, _, num = record.partition(":")
    if kind == "project":
        row = int(num)
        if projects is None:
            projects = {p.row: p for p in sheet.projects}
        project = projects.get(row)
        text = (
            project.cells[3]
            if project is not None and project.n_cells == PROJECT_WIDTH
            else sheet.grid.raw_text(row)
        )
        identity = f"project|{content_key(text)}"
    elif kind == "kpi":
        k = sheet.kpis[int(num)]
        identity = f"kpi|{k.level}|{content_key(k.name)}"
    else:
        identity = f"row|{content_key(sheet.grid.raw_text(int(num)))}"
    digest = hashlib.sha1(f"{identity}|{column or ''}".encode()).hexdigest()
    return digest[:12]


class _FailureBuilder:
    def __init__(self, sheet: ParsedSheet, ctx: RulesContext, lang: str) -> None:
        self.sheet, self.ctx, self.lang = sheet, ctx, lang
        self.failures: list[Failure] = []
        self.allowed = "/".join(ctx.rules.ratings)
        self.projects = {p.row: p for p in sheet.projects}

    def add(
        self,
        entity: str,
        check: str,
        row: int,
        col: int | None,
        column: str | None,
        value: str,
        record: str,
        hint: str | None = None,
        key_column: str | None = None,
        **fields: object,
    ) -> None:
        """One failure; `hint`, when given, says what to do instead of the check's own.
        `key_column`: the column its row_key is built with when it is not `column` (a key
        must not change with the language or with which cell the failure is shown on)."""
        pos = self.sheet.grid.positions[row]
        message, hint_of_check = render(
            check,
            self.lang,
            value=value,
            column=column or "",
            fiscal_year=self.sheet.fiscal_year,
            allowed=self.allowed,
            **fields,
        )
        self.failures.append(
            Failure(
                source_file=self.sheet.grid.source_file,
                line=pos.line,
                fiscal_year=self.sheet.fiscal_year,
                entity=entity,
                column=column,
                check=check,
                severity=self.ctx.rules.severity_of(check),
                value=value,
                message=message,
                hint=self._in_workbook_terms(hint or hint_of_check, pos.worksheet),
                worksheet=pos.worksheet,
                cell=pos.cell(col) if col is not None else None,
                col=col,
                record=record,
                row_text=self.sheet.grid.raw_text(row),
                row_key=row_key(self.sheet, record, key_column or column, self.projects),
            )
        )

    def _in_workbook_terms(self, hint: str, worksheet: str | None) -> str:
        """A workbook has no tabs: its misshapen rows are told about columns A-G."""
        if worksheet is None:
            return hint
        for hints in (SHAPE_HINT, KPI_SHAPE_HINT):
            wording = hints.get(self.lang, hints["ja"])
            if hint == wording["text"]:
                return wording["workbook"]
        return hint

    def from_frame(self, entity: str, check: str, column: str, row: Mapping[Hashable, Any]) -> None:
        grid_row = int(row["row"])
        raw_cells = self.sheet.grid.rows[grid_row]
        record = str(row["record"])
        fields: dict[str, str] = {}
        hint: str | None = None  # what to do, when the check's own hint would mislead
        key_column: str | None = None  # the row_key's column, when not the label shown
        if entity == "project":
            label, col = PROJECT_CELLS.get(column, (None, None))
            if check == "malformed_row":
                label, col = None, 0
                value = self.sheet.grid.raw_text(grid_row)
                fields["detail"] = cell_count_detail(int(row["n_cells"]), self.lang)
            else:
                value = raw_cells[col] if col is not None and col < len(raw_cells) else ""
            if check == "flag_rating_mismatch":
                fields["flag"] = str(row["flag"])
                allowed = "/".join(self.ctx.rules.flag_rating.get(str(row["flag"]), ()))
                fields["detail"] = flag_detail(str(row["flag"]), allowed, self.lang)
            if check == "duplicate_project":
                label, col = PROJECT_CELLS["content"]
                value = str(row["content"])
                fields["detail"] = str(int(row["duplicate_of"]))
        elif entity == "assignment":
            kind = str(row["kind"])
            label, col = ("課" if kind == "department" else "係"), int(row["col"])
            value = str(row["name"])
            if check in ("unknown_department", "unknown_section"):
                best = self.ctx.master.closest(
                    value, self.sheet.fiscal_year, section=check == "unknown_section"
                )
                fields["suggestion"] = SUGGESTION[self.lang].format(name=best) if best else ""
            if check == "section_department_mismatch":
                fields["detail"] = "、".join(str(row["row_departments"]).split("\t"))
        elif entity == "kpi":
            label, col = "KPI", int(row["col"])
            value = str(row["name"])
            if check == "malformed_row":
                value = self.sheet.grid.raw_text(grid_row)
                fields["detail"] = cell_count_detail(int(row["n_cells"]), self.lang, kpi=True)
                hint = KPI_SHAPE_HINT.get(self.lang, KPI_SHAPE_HINT["ja"])["text"]
            if check == "kpi_unit_mismatch":  # on the value whose unit is the odd one
                key_column = label  # the KPI's, as before: whichever value is the odd one
                fields["detail"] = str(row["units"])
                grid_row, col = int(row["odd_row"]), int(row["odd_col"])
                label, value = VALUE_LABELS[str(row["odd_which"])], str(row["odd_raw"])
            if check == "missing_required":
                label = "KPI名"
        else:  # kpi_value
            label, col = VALUE_LABELS[str(row["which"])], int(row["col"])
            value = str(row["raw"])
            kpi = self.sheet.kpis[int(record.partition(":")[2])]
            if check == "missing_required" and row["which"] == "target" and kpi.level == "measure":
                # a measure KPI's target shares the baseline's cell (`179人→230人`): the cell is
                # not empty, its arrow and target are missing
                value = raw_cells[col] if col < len(raw_cells) else ""
                hint = BASELINE_TARGET_HINT[self.lang]
            if check == "kpi_as_of_invalid":  # the cell to edit is the value's as-of year
                col, value = int(row["year_col"]), str(row["raw_year"])
                fields["detail"] = as_of_detail(value, self.lang)
                label = f"{label}の時点"  # the sheet's words in both languages, as 進捗状況
        self.add(
            entity if entity != "assignment" else record.split(":")[0],
            check,
            grid_row,
            col,
            label,
            value,
            record,
            hint=hint,
            key_column=key_column,
            **fields,
        )
