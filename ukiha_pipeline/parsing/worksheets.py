"""A workbook's worksheets as parts of one sheet: one fiscal year per file, and worksheets
that hold no part of the sheet (a メモ tab) skipped with a note.

The grid carries the worksheet of each row (`RowPosition.worksheet`; None in a text export,
where none of this applies). The parser finds the structure; this module decides what the
worksheets it was found on come to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.normalize.text import (
    FLAGS,
    RATINGS,
    clean_cell,
    clean_cells,
    normalize_flag,
    normalize_rating,
    split_names,
)
from ukiha_pipeline.normalize.values import parse_quantity, split_baseline_target
from ukiha_pipeline.reading.grid import Grid


def worksheet_rows(grid: Grid) -> dict[str, list[int]]:
    """Worksheet title → its rows' indices in the grid, in workbook order ({} for text)."""
    rows: dict[str, list[int]] = {}
    for i, pos in enumerate(grid.positions):
        if pos.worksheet is not None:
            rows.setdefault(pos.worksheet, []).append(i)
    return rows


def require_one_fiscal_year(grid: Grid, header_years: Mapping[int, int]) -> None:
    """Raise SheetFatal(unrecognized_layout) when worksheets' project tables name different
    fiscal years (`R3年度事業化` on one, `R4年度事業化` on another): last year's sheet left in
    the file would be loaded as this year's, or replace the wrong year. `header_years`: row of
    each table header that names a year → that year. A worksheet has a year only when all its
    headers name that one; a worksheet whose headers name more than one (a header typed with
    another year, whichever way the count falls) has none here and is left to the parser's
    note on the header, as on a single worksheet."""
    years: dict[str, set[int]] = {}
    for i in sorted(header_years):
        worksheet = grid.positions[i].worksheet
        if worksheet is not None:
            years.setdefault(worksheet, set()).add(header_years[i])
    year_of = {ws: next(iter(named)) for ws, named in years.items() if len(named) == 1}
    if len(set(year_of.values())) <= 1:
        return
    each = "、".join(f"「{ws}」は {fiscal_year_label(fy)}" for ws, fy in year_of.items())
    raise SheetFatal(
        "unrecognized_layout",
        f"ブックに年度の違うワークシートがあります: {each} (事業一覧の見出しの年度)。"
        "1 つのファイルには 1 つの年度のシートだけを入れてください (前年度のワークシートは"
        "別のファイルに移すか、削除してください)。",
        source_file=grid.source_file,
    )


def sheetless_worksheets(
    grid: Grid,
    issue_rows: Collection[int],
    placed_rows: Collection[int],
    after: int,
    has_marker: Callable[[int], bool],
) -> list[str]:
    """Worksheets after row `after` (the first policy heading) that hold no part of the sheet:
    every row with text is one the parser could not place (`issue_rows`), none is a record
    (`placed_rows`), none bears a mark of the layout (`has_marker`: a 概要 line, a table
    header) and no cell looks like sheet data (`holds_sheet_data`). A メモ tab after the
    sheet: its cells are not sheet data, and reporting each of its rows as a misshapen table
    row would tell the steward to fix what is not broken. Anything more like the sheet is
    reported: a tab wrongly skipped loses its projects, a memo wrongly reported costs a look."""
    skipped = []
    for title, rows in worksheet_rows(grid).items():
        with_text = [i for i in rows if any(clean_cell(c) for c in grid.rows[i])]
        if (
            with_text
            and with_text[0] > after
            and all(i in issue_rows and i not in placed_rows for i in with_text)
            and not any(has_marker(i) or holds_sheet_data(grid.rows[i]) for i in with_text)
        ):
            skipped.append(title)
    return skipped


#: A department or section name as the sheet writes one (`農林振興課`, `農政係`, `福祉事務所`,
#: a …室): every name of the department master (schemas/departments.csv) ends so, which a test
#: holds to. The master itself is not consulted: a 課 renamed this year is still sheet data.
_DEPARTMENT_LIKE = re.compile(r"\S{2,11}[課係室所]")


def holds_sheet_data(raw: Sequence[str]) -> bool:
    """A row with a cell only sheet data has, wherever it stands (a row shifted a cell left is
    still one): a 事業化 flag (○/×), a rating (A-E) as its last cell, a department or section
    name, or a KPI's `baseline→target` (`179人→230人`)."""
    cells = [c for c in clean_cells(raw) if c]
    if not cells:
        return False
    return (
        normalize_rating(cells[-1]) in RATINGS
        or any(normalize_flag(c) in FLAGS for c in cells)
        or any(_DEPARTMENT_LIKE.fullmatch(n) for c in cells for n in split_names(c))
        or any(_is_kpi_value(c) for c in cells)
    )


def _is_kpi_value(cell: str) -> bool:
    """`179人→230人`, `平成27年度以降 93名→186名`: a target that is a quantity after one arrow."""
    parts = split_baseline_target(cell)
    return parts is not None and parse_quantity(parts.raw_target) is not None


def sheetless_note(title: str) -> str:
    return (
        f"ワークシート「{title}」は読み飛ばしました: 基本方針・施策・取組・事業・KPI の"
        "どの行としても読めず、PDCA シートの一部ではないようです (メモなど)。シートの一部なら"
        "ほかのワークシートと同じ列 A〜G の形にしてください。"
    )
