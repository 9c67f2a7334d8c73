"""The grid a reader hands to the parser: rows of cells, each row with its source position."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAKS = re.compile(r"(?:\r\n|[\r\n\v\f\u2028\u2029])+")
#: Items named one by one in a reader's note (cells, rows) before 「ほか N 個」.
MAX_LISTED = 10


def one_line(text: str) -> str:
    """A cell's text as the grid holds it: line breaks typed in the cell (Alt+Enter) joined
    by one space, a tab a space (a row's cells are joined by tabs in `Grid.raw_text`)."""
    return _LINE_BREAKS.sub(" ", text).replace("\t", " ")


def listed(items: list[str]) -> str:
    """Cells or rows for a note: the first MAX_LISTED by name, then how many more."""
    more = f" ほか {len(items) - MAX_LISTED} 個" if len(items) > MAX_LISTED else ""
    return "、".join(items[:MAX_LISTED]) + more


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
