"""Reading stage: a file on disk → a grid of cells with positions (text export or workbook)."""

from __future__ import annotations

from pathlib import Path

from ukiha_pipeline.reading.grid import Grid, RowPosition
from ukiha_pipeline.reading.text_export import decode_text, read_text_grid
from ukiha_pipeline.reading.workbook import is_workbook, read_workbook_grid

__all__ = ["Grid", "RowPosition", "decode_text", "read_grid"]


def read_grid(path: str | Path) -> Grid:
    """Read any supported sheet file; raises SheetFatal(unreadable_file) when it cannot."""
    p = Path(path)
    if is_workbook(p):
        return read_workbook_grid(p)
    return read_text_grid(p)
