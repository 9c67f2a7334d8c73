"""Excel workbooks (.xlsx) holding the same grid as the text export: one row per line.

Reader: openpyxl in read-only mode with cached values (`data_only=True`), imported only
when a workbook is read. python-calamine is faster (benchmarks/xlsx_readers.py on the R3
workbook: ~1.5 ms against ~13 ms to read, ~1 ms against ~85-130 ms to import) but gives no
number formats, so a percentage stored as 0.376 under `0.00%` cannot be told from the
number 0.376, and it reads a formula saved without a value as an empty cell. Faithfulness
decides: a wrong KPI value costs more than 0.1 s of a validate run.

What a cell reads as (the text the same cell would have in the text export):

- text as typed; line breaks inside a cell (Alt+Enter) are joined with one space, a tab
  becomes a space, and Excel's `_x000D_` escapes are undone;
- numbers through their number format, the way Excel shows them: `0.00%` shows 0.376 as
  `37.60%`, `#,##0"千円"` shows 2398 as `2,398千円`, `0.00` shows 1.8 as `1.80`; with the
  General format an integer-valued number reads `207` (never `207.0`) and others with up
  to 15 significant digits (`1.65`). Formats this module does not understand (fractions,
  scientific, conditions) read as General;
- dates as `2021-04-01` (with ` 13:30:00` when there is a time), booleans `TRUE`/`FALSE`,
  error values as shown (`#DIV/0!`);
- merged cells: the value belongs to the first (top-left) cell, the others read empty,
  exactly as the text export writes them, and a note names a range merged down several rows
  of columns B-G (a steward who merged one 課 over six rows sees it on all six, and would not
  understand 「課」が空です);
- formulas: the value Excel saved with the file. A formula saved *without* a value (written
  by a program that does not calculate, or saved with manual calculation) reads as its
  formula text, `=SUM(B2:B4)`, and a note names the cell. Reading it as empty would hide
  it; the formula text cannot pass the checks of the cells that matter (flag, rating,
  KPI values, 課, 係), so validation reports it as a failure at that cell
  (e.g. `[flag_invalid] PDCAシート!E46 「=IF(...)」`); in free-text cells the note is what
  reports it. The fix is the same either way: open the file in Excel and save it again.

A row that has a value reads as wide as its worksheet (the last column any row uses), the
way the text export keeps a row's trailing empty cells as tabs: a workbook has no tab to
lose, so an empty G cell is an empty 進捗状況, not a row of six cells.

Worksheets are read in workbook order (the whole sheet on one worksheet, or split over
several, e.g. one per basic policy); hidden worksheets are skipped with a note. Hidden
rows are read like the others (nothing in them is lost), with a note naming them. Row numbers
are the worksheet's own, so failures point at `worksheet!cell`.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.reading.grid import Grid, RowPosition, listed, one_line
from ukiha_pipeline.settings import MAX_SHEET_BYTES

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls and password-protected .xlsx
#: Uncompressed size above which a workbook is refused (a PDCA sheet unzips to well under 1 MB).
MAX_WORKBOOK_UNZIPPED = 4 * MAX_SHEET_BYTES

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def is_workbook(path: Path) -> bool:
    """By extension or by content: a zip or OLE container is never a text export."""
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head.startswith(_ZIP_MAGIC) or head == _OLE_MAGIC


# --- cell values -> text ------------------------------------------------------------------


def _general(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _sections(fmt: str) -> list[str]:
    """A number format split on `;` outside quotes."""
    out, cur, quoted, escaped = [], "", False, False
    for ch in fmt:
        if escaped:
            cur, escaped = cur + ch, False
        elif ch == "\\":
            cur, escaped = cur + ch, True
        elif ch == '"':
            cur, quoted = cur + ch, not quoted
        elif ch == ";" and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _tokens(section: str) -> list[tuple[str, str]] | None:
    """('lit', text), ('pct', '%') and ('num', placeholders) tokens; None: read as General."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(section)
    while i < n:
        ch = section[i]
        if ch == '"':
            end = section.find('"', i + 1)
            end = n if end < 0 else end
            tokens.append(("lit", section[i + 1 : end]))
            i = end + 1
        elif ch == "\\" and i + 1 < n:
            tokens.append(("lit", section[i + 1]))
            i += 2
        elif ch in "_*" and i + 1 < n:  # padding and fill: no visible text of their own
            i += 2
        elif ch == "[":
            end = section.find("]", i)
            if end < 0 or section[i + 1 : i + 2] in ("<", ">", "="):
                return None  # conditional sections: read as General
            if section[i + 1 : i + 2] == "$":  # currency and locale: `[$¥-411]` shows ¥
                tokens.append(("lit", section[i + 2 : end].split("-", 1)[0]))
            i = end + 1  # colours: no text
        elif ch in "0#?,.":
            j = i
            while j < n and section[j] in "0#?,.":
                j += 1
            tokens.append(("num", section[i:j]))
            i = j
        elif ch.lower() in "eymdhsgab/@":
            return None  # scientific, fractions, dates and eras, the text placeholder
        else:  # `%` (scales by 100), spaces, signs and any other character show as themselves
            tokens.append(("pct" if ch == "%" else "lit", ch))
            i += 1
    if sum(1 for kind, _ in tokens if kind == "num") > 1:
        return None
    return tokens


def _format_number(value: float | int, number_format: str) -> str:
    """The number as Excel shows it under the format (a useful subset; General otherwise)."""
    fmt = (number_format or "General").strip()
    if fmt.lower() in ("general", "@", ""):
        return _general(value)
    sections = _sections(fmt)
    negative = value < 0
    section = sections[1] if negative and len(sections) > 1 else sections[0]
    if value == 0 and len(sections) > 2:
        section = sections[2]
    tokens = _tokens(section)
    if tokens is None:
        return _general(value)
    placeholders = next((text for kind, text in tokens if kind == "num"), None)
    if placeholders is None:  # a section of text only, e.g. `"－"` for zero
        return "".join(text for _, text in tokens)
    try:
        number = abs(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    except InvalidOperation:
        return _general(value)
    number *= Decimal(100) ** sum(1 for kind, _ in tokens if kind == "pct")
    scale = len(placeholders) - len(placeholders.rstrip(","))
    number /= Decimal(1000) ** scale
    body = placeholders.rstrip(",")
    int_part, _, frac_part = body.partition(".")
    max_dec = sum(1 for c in frac_part if c in "0#?")
    min_dec = frac_part.count("0")
    rounded = number.quantize(Decimal(1).scaleb(-max_dec), rounding=ROUND_HALF_UP)
    shown = f"{rounded:,.{max_dec}f}" if "," in int_part else f"{rounded:.{max_dec}f}"
    if max_dec > min_dec:
        whole, _, frac = shown.partition(".")
        frac = frac.rstrip("0").ljust(min_dec, "0")
        shown = f"{whole}.{frac}" if frac else whole
    if negative and len(sections) == 1 and rounded != 0:
        shown = "-" + shown
    return "".join(shown if kind == "num" else text for kind, text in tokens)


def cell_text(value: Any, number_format: str = "General") -> str:
    """What a cell reads as: the text the same cell would have in the text export."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _format_number(value, number_format)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    text = str(value)
    if "_x" in text:
        text = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)
    return one_line(text)


# --- formulas saved without a value -----------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _formulas_without_value(xml: bytes) -> dict[tuple[int, int], str]:
    """(row, column) → `=formula` of the cells that have a formula but no saved value.

    openpyxl's read-only reader cannot tell those from cells whose formula gave the empty
    string (both read None), so the worksheet XML is scanned for them, and only when it has
    any formula at all.
    """
    if not _FORMULA_TAG.search(xml):
        return {}
    from openpyxl.utils.cell import coordinate_to_tuple

    found: dict[tuple[int, int], str] = {}
    shared: dict[str, str] = {}
    row_no, col_no = 0, 0
    for event, el in ET.iterparse(io.BytesIO(xml), events=("start", "end")):
        tag = _local(el.tag)
        if event == "start":
            if tag == "row":
                row_no = int(el.get("r") or row_no + 1)
                col_no = 0
            continue
        if tag != "c":
            continue
        ref = el.get("r")
        row, col = coordinate_to_tuple(ref) if ref else (row_no, col_no + 1)
        col_no = col
        formula = value = None
        for child in el:
            kind = _local(child.tag)
            if kind == "f":
                formula = child
            elif kind in ("v", "is"):
                value = child
        if formula is not None:
            text = formula.text or ""
            if formula.get("t") == "shared" and formula.get("si") is not None:
                if text:
                    shared[formula.get("si", "")] = text
                else:
                    text = shared.get(formula.get("si", ""), "")
            # openpyxl and other writers that do not calculate leave `<v/>` empty: only a
            # string result (t="str") can be the empty string
            if value is None or (not (value.text or "") and el.get("t") not in ("str", "s")):
                found[(row, col)] = "=" + text
        el.clear()
    return found


_MERGED = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^>]*?ref=\"([A-Z]+[0-9]+:[A-Z]+[0-9]+)\""
)


def _merged_down_table_cells(xml: bytes) -> list[str]:
    """The worksheet's merged ranges (openpyxl's read-only reader does not give them) that
    run down several rows over columns B-G, where each project row needs its own 課, 係,
    事業内容, flag, action and rating: a steward who merged one 課 over six rows sees it on
    all six. (A measure line merged across A:G, or a sub-measure label down column A, whose
    other cells are empty anyway, is left alone.)"""
    from openpyxl.utils.cell import range_boundaries

    found = []
    for ref in (m.decode() for m in _MERGED.findall(xml)):
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        if max_row > min_row and max_col >= 2 and min_col <= 7:
            found.append(ref)
    return found


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\s([^>]*)>")
_ROW_NUMBER = re.compile(rb"\br=\"([0-9]+)\"")
_HIDDEN = re.compile(rb"\bhidden=\"(?:1|true)\"")


def _hidden_rows(xml: bytes) -> list[int]:
    """The worksheet's hidden rows (`<row r="41" hidden="1">`: hidden by hand, by a filter or
    in a collapsed group), which openpyxl's read-only reader does not give."""
    found = []
    for attrs in _ROW_TAG.findall(xml):
        number = _ROW_NUMBER.search(attrs)
        if number and _HIDDEN.search(attrs):
            found.append(int(number.group(1)))
    return found


def _row_ranges(title: str, rows: list[int]) -> list[str]:
    """Rows for a note, consecutive ones as one range: `PDCAシート 41〜42行`."""
    ranges: list[list[int]] = []
    for r in sorted(rows):
        if ranges and r == ranges[-1][1] + 1:
            ranges[-1][1] = r
        else:
            ranges.append([r, r])
    return [f"{title} {a}行" if a == b else f"{title} {a}〜{b}行" for a, b in ranges]


# --- the reader ---------------------------------------------------------------------------


def _looks_like(data: bytes) -> str:
    head = data[:2048]
    if head.lstrip().lower().startswith((b"<html", b"<!doctype", b"<?xml", b"<table")):
        return "HTML か XML のファイルです"
    if b"\x00" not in head and (b"\t" in head or b"," in head or b"\n" in head):
        return "テキスト (CSV やタブ区切り) のファイルです。テキストの書き出しなら拡張子を .txt にしてください"
    return "Excel ブックの形式ではありません"


def read_workbook_grid(path: Path) -> Grid:
    """Read every visible worksheet, in order, as rows of cell text; see the module docstring.

    Raises SheetFatal(unreadable_file) for anything that is not a readable .xlsx workbook:
    an old .xls, a password-protected workbook (both OLE containers), a .xlsb, another file
    renamed .xlsx, a damaged zip or damaged XML.
    """
    source = str(path)

    def unreadable(message: str) -> SheetFatal:
        return SheetFatal("unreadable_file", message, source_file=source)

    try:
        size = path.stat().st_size
        if size > MAX_SHEET_BYTES:
            raise unreadable(f"ファイルが大きすぎます ({size} バイト)。PDCA シートではありません。")
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(f"ファイルを開けません: {exc.strerror or exc}") from exc
    if not data:
        raise unreadable("ファイルが空です。正しいシートを保存し直してください。")
    if data.startswith(_OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise unreadable(
                "パスワード付きの Excel ブックです。パスワードを外して .xlsx で保存し直してください。"
            )
        raise unreadable(
            "古い Excel 形式 (.xls) のブックです。Excel で開き .xlsx 形式で保存し直してください。"
        )
    if not data.startswith(_ZIP_MAGIC):
        raise unreadable(
            f"拡張子は Excel ですが中身が Excel ブックではありません ({_looks_like(data)})。"
        )

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        if sum(i.file_size for i in archive.infolist()) > MAX_WORKBOOK_UNZIPPED:
            raise unreadable("展開すると大きすぎるブックです。PDCA シートではありません。")
    except zipfile.BadZipFile as exc:
        raise unreadable(
            f"Excel ブックが壊れていて読めません (zip として読めません: {exc})。"
        ) from exc
    if "xl/workbook.bin" in names:
        raise unreadable(
            "Excel バイナリブック (.xlsb) は読めません。.xlsx で保存し直してください。"
        )
    if "xl/workbook.xml" not in names:
        raise unreadable("zip ファイルですが Excel ブック (.xlsx) ではありません。")

    rows: list[tuple[str, ...]] = []
    positions: list[RowPosition] = []
    notes: list[str] = []
    try:
        _read_worksheets(archive, data, rows, positions, notes)
    except SheetFatal:
        raise
    except Exception as exc:  # any damage inside the package: never a traceback
        raise unreadable(
            f"Excel ブックが壊れていて読めません ({type(exc).__name__}: {exc})。"
            "Excel で開けるか確かめ、保存し直してください。"
        ) from exc
    if not any(any(cells) for cells in rows):
        raise unreadable("ブックの表示されているワークシートに文字がありません。" + "".join(notes))
    return Grid(
        source,
        hashlib.sha256(data).hexdigest(),
        "xlsx",
        tuple(rows),
        tuple(positions),
        tuple(notes),
    )


def _read_worksheets(
    archive: zipfile.ZipFile,
    data: bytes,
    rows: list[tuple[str, ...]],
    positions: list[RowPosition],
    notes: list[str],
) -> None:
    import warnings

    import openpyxl  # imported here: the text path stays light

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unsupported extensions, dates out of range
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            _read_visible(wb, archive, rows, positions, notes)
        finally:
            wb.close()


def _read_visible(
    wb: Any,
    archive: zipfile.ZipFile,
    rows: list[tuple[str, ...]],
    positions: list[RowPosition],
    notes: list[str],
) -> None:
    uncached: list[str] = []
    merged: list[str] = []
    hidden: list[str] = []
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            notes.append(f"非表示のワークシート「{ws.title}」は読み飛ばしました。")
            continue
        member = getattr(ws, "_worksheet_path", None)
        xml = archive.read(member) if member else b""
        pending = _formulas_without_value(xml) if xml else {}
        merged += [f"{ws.title}!{ref}" for ref in _merged_down_table_cells(xml)]
        sheet_rows = _worksheet_rows(ws, pending, uncached)
        read = [r for r in _hidden_rows(xml) if r <= len(sheet_rows) and sheet_rows[r - 1]]
        hidden += _row_ranges(ws.title, read)
        rows.extend(sheet_rows)
        positions.extend(RowPosition(r, ws.title) for r in range(1, len(sheet_rows) + 1))
    if hidden:
        notes.append(
            f"非表示の行があり、ほかの行と同じく読み込みました: {listed(hidden)}。"
            "表示して内容を確かめてください (シートに要らない行なら削除してください)。"
        )
    if merged:
        notes.append(
            f"結合されたセルがあります: {listed(merged)}。値は左上のセルにだけあり、ほかのセルは"
            "空として読みます (「…が空です」と報告されます)。結合を解除し、各行に値を入れてください。"
        )
    if uncached:
        notes.append(
            f"数式に計算済みの値が保存されていないセルがあり、数式のまま読みました: "
            f"{listed(uncached)}。Excel で開いて保存し直してください。"
        )


def _worksheet_rows(
    ws: Any, pending: dict[tuple[int, int], str], uncached: list[str]
) -> list[tuple[str, ...]]:
    """The worksheet's rows as cell text, every row that has a value as wide as the widest
    (its last used column): a workbook has no tabs to lose, so a row whose last cells are
    empty reads as the text export writes it, with its trailing empty cells. Blank rows are
    empty, and blank rows at the end (styled but empty) are not rows."""
    from openpyxl.utils.cell import get_column_letter

    ws.reset_dimensions()  # the stored size may be wrong: read every cell there is
    sheet_rows: list[tuple[str, ...]] = []
    for r, row in enumerate(ws.iter_rows(), start=1):
        cells = []
        for c, cell in enumerate(row, start=1):
            formula = pending.get((r, c)) if pending else None
            if formula is not None:
                cells.append(formula)
                uncached.append(f"{ws.title}!{get_column_letter(c)}{r} ({formula})")
            elif cell.value is None:
                cells.append("")
            else:
                cells.append(cell_text(cell.value, cell.number_format))
        while cells and cells[-1] == "":
            cells.pop()  # styled empty cells: the width is decided below
        sheet_rows.append(tuple(cells))
    while sheet_rows and not sheet_rows[-1]:
        sheet_rows.pop()  # styled but empty rows at the end
    width = max(map(len, sheet_rows), default=0)
    return [cells + ("",) * (width - len(cells)) if cells else () for cells in sheet_rows]
