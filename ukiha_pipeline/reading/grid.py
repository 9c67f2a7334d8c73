"""The grid a reader hands to the parser: rows of cells, each row with its source position."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowPosition:
    """Where a row is in its file: the 1-based line of a text file, or worksheet and row."""

    line: int
    worksheet: str | None = None

    def cell(self, column_index: int) -> str | None:
        """Excel address (`PDCAシート!G46`) of a 0-based column, for workbooks only."""
        if self.worksheet is None:
            return None
        letters = ""
        n = column_index + 1
        while n:
            n, rem = divmod(n - 1, 26)
            letters = chr(65 + rem) + letters
        return f"{self.worksheet}!{letters}{self.line}"


@dataclass(frozen=True)
class Grid:
    source_file: str
    sha256: str
    encoding: str
    rows: tuple[tuple[str, ...], ...]
    positions: tuple[RowPosition, ...]
    notes: tuple[str, ...] = ()

    def raw_text(self, index: int) -> str:
        """The row as one tab-separated line, as it would read in the text export."""
        return "\t".join(self.rows[index])
