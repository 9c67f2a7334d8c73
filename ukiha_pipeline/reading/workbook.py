"""Excel workbooks (.xlsx) holding the same grid as the text export: one row per line."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.reading.grid import Grid, RowPosition

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls and password-protected .xlsx


def is_workbook(path: Path) -> bool:
    """By extension or by content: a zip or OLE container is never a text export."""
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in (_ZIP_MAGIC, _OLE_MAGIC)


def _cell_text(value: object, number_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and "%" in number_format:
        return f"{value * 100:g}%"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_workbook_grid(path: Path) -> Grid:
    source = str(path)

    def unreadable(message: str) -> SheetFatal:
        return SheetFatal("unreadable_file", message, source_file=source)

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(f"ファイルを開けません: {exc.strerror or exc}") from exc
    if data.startswith(_OLE_MAGIC):
        raise unreadable(
            "古い .xls 形式か、パスワード付きのブックです。パスワードを外し .xlsx で保存し直してください。"
        )
    if not data.startswith(_ZIP_MAGIC):
        raise unreadable("拡張子は Excel ですが中身が Excel ブックではありません。")
    import openpyxl  # imported here: the text path stays light

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise unreadable(f"Excel ブックが壊れていて読めません: {exc}") from exc
    rows: list[tuple[str, ...]] = []
    positions: list[RowPosition] = []
    notes: list[str] = []
    try:
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                notes.append(f"非表示のワークシート「{ws.title}」は読み飛ばしました。")
                continue
            for r, row in enumerate(ws.iter_rows(), start=1):
                cells = [_cell_text(c.value, getattr(c, "number_format", "") or "") for c in row]
                while cells and cells[-1] == "":
                    cells.pop()
                rows.append(tuple(c.replace("\r\n", " ").replace("\n", " ") for c in cells))
                positions.append(RowPosition(r, ws.title))
    finally:
        wb.close()
    return Grid(
        source,
        hashlib.sha256(data).hexdigest(),
        "xlsx",
        tuple(rows),
        tuple(positions),
        tuple(notes),
    )
