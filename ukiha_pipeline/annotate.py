"""Annotated copy of a sheet for the data steward: `ukiha validate SHEET --annotate OUT.xlsx`.

The copy is a workbook: the sheet's own workbook (formulas, formats and other worksheets
kept as openpyxl can keep them), or, for a text export, a new workbook with one worksheet
holding the grid as text (one line per row, one tab-separated field per cell, so the cell
of line 46, column G is G46). In it:

- every cell a failure points at is filled by severity (error and fatal light red, warning
  yellow; grey when every failure on the cell was waived) and carries a comment with the
  Japanese message, what to do, and the waiver's reason when there is one. A failure on a
  whole row (no column) marks the row's first cell; a failure with no row (a fatal sheet)
  is only listed;
- a first worksheet 「検証結果」 lists every failure in the order `ukiha validate` prints
  them, each with a link to its cell, followed by the notes of the run.

The source file is only read, never written: the copy is saved next to a temporary name and
renamed into place. openpyxl is imported inside the functions, so that `ukiha validate`
without `--annotate` does not pay for it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ukiha_pipeline.errors import ReportError, SheetFatal, UsageError
from ukiha_pipeline.reading.grid import Grid
from ukiha_pipeline.validation.result import Failure, ValidationResult

SUMMARY_TITLE = "検証結果"
#: Fill colours (ARGB without alpha) by what a cell's failures come to.
FILLS: dict[str, str] = {
    "fatal": "FFC7CE",
    "error": "FFC7CE",
    "warning": "FFEB9C",
    "waived": "D9D9D9",
}
SEVERITY_JA = {"fatal": "致命的", "error": "エラー", "warning": "警告"}
SUMMARY_COLUMNS: tuple[tuple[str, int], ...] = (
    ("重要度", 10),
    ("場所", 22),
    ("行", 6),
    ("列", 12),
    ("チェック", 26),
    ("値", 30),
    ("内容", 60),
    ("対処", 60),
    ("免除", 30),
)
#: Column widths of a text export turned into a workbook (label, 課, 係, 事業内容, flag, …).
TEXT_WIDTHS = (30, 16, 18, 40, 10, 50, 10)
MAX_CELL_CHARS = 32767  # Excel's limit for one cell
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def annotate_path(result: ValidationResult, out: Path) -> Path:
    """`write_annotated` for a result of `validate_path`, finding the grid it was read from."""
    grid = result.sheet.grid if result.sheet is not None else None
    if grid is None:
        from ukiha_pipeline.reading import read_grid

        try:
            grid = read_grid(result.source_file)
        except SheetFatal as exc:
            raise ReportError(
                f"{result.source_file}: 読めないシートには注釈付きのコピーを作れません ({exc.message})"
            ) from exc
    return write_annotated(result, grid, out)


def write_annotated(result: ValidationResult, grid: Grid, out: Path) -> Path:
    """Write the annotated copy of the sheet `grid` was read from to `out` (an .xlsx file).

    Raises UsageError when `out` is not an .xlsx path or is the source itself, and
    ReportError when the source changed since it was read or the copy cannot be written.
    """
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise UsageError(f"{out}: 注釈付きのコピーは .xlsx で保存します (例: {out.stem}.xlsx)。")
    source = Path(grid.source_file)
    if source.exists() and out.exists() and out.resolve() == source.resolve():
        raise UsageError(f"{out}: 元のシートには書き込みません。別のファイル名を指定してください。")
    if grid.encoding == "xlsx":
        wb = _copy_of_workbook(source, grid)
        default_title = None
    else:
        wb, default_title = _workbook_of_text(grid)
    for cell, failures in _by_cell(result.failures, default_title).items():
        _mark(wb, cell, failures)
    _summary(wb, result, default_title)
    _save(wb, out)
    return out


def _copy_of_workbook(source: Path, grid: Grid) -> Any:
    import warnings

    import openpyxl

    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ReportError(f"{source}: ブックを開けません: {exc.strerror or exc}") from exc
    if hashlib.sha256(data).hexdigest() != grid.sha256:
        raise ReportError(
            f"{source}: 検証の後でファイルが変わりました。もう一度検証してから注釈を付けてください。"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(io.BytesIO(data))
    except Exception as exc:  # the read-only reader managed; the full one may not
        raise ReportError(
            f"{source}: 注釈付きのコピーを作るためにブックを開けません ({type(exc).__name__}: {exc})"
        ) from exc


def _text_title(grid: Grid) -> str:
    title = _BAD_TITLE.sub("_", Path(grid.source_file).stem).strip("'")[:31]
    return title if title and title != SUMMARY_TITLE else "シート"


def _workbook_of_text(grid: Grid) -> tuple[Any, str]:
    import openpyxl
    from openpyxl.utils import get_column_letter

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _text_title(grid)
    for cells, pos in zip(grid.rows, grid.positions, strict=True):
        for j, text in enumerate(cells):
            if not text:
                continue
            cell = ws.cell(pos.line, j + 1)
            cell.value = _clean(text)
            cell.data_type = "s"  # text as written: never a formula, number or date
    for j, width in enumerate(TEXT_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    return wb, ws.title


def _clean(text: str) -> str:
    """Text Excel can hold: no control characters, at most the length of one cell."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)[:MAX_CELL_CHARS]


def _place(f: Failure, default_title: str | None) -> tuple[str, int, int] | None:
    """(worksheet title, 1-based row, 1-based column) of the cell a failure marks."""
    title = f.worksheet or default_title
    if title is None or f.line is None:
        return None
    return title, f.line, (f.col or 0) + 1


def _by_cell(
    failures: Iterable[Failure], default_title: str | None
) -> dict[tuple[str, int, int], list[Failure]]:
    cells: dict[tuple[str, int, int], list[Failure]] = {}
    for f in failures:
        place = _place(f, default_title)
        if place is not None:
            cells.setdefault(place, []).append(f)
    return cells


def _outcome(failures: list[Failure]) -> str:
    """What a cell's failures come to: the worst one not waived, or `waived`."""
    live = {f.severity for f in failures if f.waived is None}
    for severity in ("fatal", "error", "warning"):
        if severity in live:
            return severity
    return "waived"


def _fill(colour: str) -> Any:
    from openpyxl.styles import PatternFill

    return PatternFill(fill_type="solid", start_color=colour, end_color=colour)


def _comment_text(f: Failure) -> str:
    head = f"[{SEVERITY_JA.get(f.severity, f.severity)}] {f.check}"
    if f.waived is not None:
        head += " (免除済み)"
    text = f"{head}\n{f.message}"
    if f.hint:
        text += f"\n→ {f.hint}"
    if f.waived is not None:
        text += f"\n免除: {f.waived}"
    return text


def _target_cell(ws: Any, row: int, col: int) -> Any:
    """The cell to mark: a cell inside a merged range gives way to the range's first cell."""
    from openpyxl.cell.cell import MergedCell

    cell = ws.cell(row, col)
    if isinstance(cell, MergedCell):
        for rng in ws.merged_cells.ranges:
            if cell.coordinate in rng:
                return ws.cell(rng.min_row, rng.min_col)
    return cell


def _mark(wb: Any, place: tuple[str, int, int], failures: list[Failure]) -> None:
    from openpyxl.comments import Comment

    title, row, col = place
    if title not in wb.sheetnames:
        return
    cell = _target_cell(wb[title], row, col)
    cell.fill = _fill(FILLS[_outcome(failures)])
    text = "\n\n".join(_comment_text(f) for f in failures)
    if cell.comment is not None and cell.comment.text:
        text = f"{cell.comment.text}\n\n---\n{text}"
    cell.comment = Comment(_clean(text), "ukiha validate", height=180, width=360)


def _summary(wb: Any, result: ValidationResult, default_title: str | None) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.hyperlink import Hyperlink

    title = SUMMARY_TITLE
    n = 2
    while title in wb.sheetnames:  # annotating an annotated copy
        title = f"{SUMMARY_TITLE} ({n})"
        n += 1
    for ws in wb.worksheets:
        ws.sheet_view.tabSelected = False
    ws = wb.create_sheet(title, 0)
    wb.active = 0
    ws.sheet_view.tabSelected = True
    for j, (label, width) in enumerate(SUMMARY_COLUMNS, start=1):
        ws.cell(1, j, label).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "A2"
    row = 1
    for f in result.failures:
        row += 1
        place = _place(f, default_title)
        outcome = _outcome([f])
        severity = ws.cell(row, 1, SEVERITY_JA.get(f.severity, f.severity))
        severity.fill = _fill(FILLS[outcome])
        if place is not None and place[0] in wb.sheetnames:
            sheet_title, line, col = place
            address = f"{get_column_letter(col)}{line}"
            link = ws.cell(row, 2, f"{sheet_title}!{address}")
            link.hyperlink = Hyperlink(
                ref=link.coordinate, location=f"{quote_sheetname(sheet_title)}!{address}"
            )
            link.style = "Hyperlink"
        else:
            ws.cell(row, 2, "-")
        values = (f.line, f.column, f.check, f.value, f.message, f.hint, f.waived)
        for j, value in enumerate(values, start=3):
            if value is None or value == "":
                continue
            cell = ws.cell(row, j, value if isinstance(value, int) else _clean(str(value)))
            if isinstance(value, str):
                cell.data_type = "s"
    if result.failures:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(SUMMARY_COLUMNS))}{row}"
    else:
        ws.cell(2, 1, "失敗はありません。")
    if result.notes:
        row += 2
        ws.cell(row, 1, "メモ").font = Font(bold=True)
        for note in result.notes:
            row += 1
            ws.cell(row, 1, _clean(note)).data_type = "s"


def _save(wb: Any, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise ReportError(f"{out}: 注釈付きのコピーを書けません: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
