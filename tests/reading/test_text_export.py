"""The text export's cells with line breaks typed in them (Alt+Enter), which Excel writes
quoted: `"第1行` newline `第2行"`. One cell, one row; later rows keep their physical lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.reading.text_export import MAX_CELL_LINES, split_lines, split_rows
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.validation.context import RulesContext

ROOT = Path(__file__).resolve().parents[2]
R3 = ROOT / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
R3_LINES: list[str] = R3.read_text(encoding="utf-8").removesuffix("\n").split("\n")
FIXTURES = ROOT / "tests" / "fixtures" / "synthetic"
QUOTED = FIXTURES / "cell_line_breaks_quoted.txt"
VALID = FIXTURES / "valid_excerpt.txt"
JOINED_NOTE = (
    "セルの中の改行 (Alt+Enter) で複数の行にわたるセルを、改行を空白にして 1 つのセルとして"
    "読みました: 13〜14行、15〜16行、17〜19行、20〜21行。"
)


@pytest.fixture(scope="module")
def ctx() -> RulesContext:
    return load_context()


def _variant(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _forms(tmp_path: Path) -> list[Path]:
    """The fixture as committed (UTF-8, CRLF rows, LF inside cells as Excel writes them), with
    LF row ends, and as CP932 with CRLF."""
    data = QUOTED.read_bytes()
    assert b"\r\n" in data and b'"' in data
    lf = data.replace(b"\r\n", b"\n")
    cp932 = data.decode("utf-8").encode("cp932")
    return [
        QUOTED,
        _variant(tmp_path, "lf.txt", lf),
        _variant(tmp_path, "cp932_crlf.txt", cp932),
    ]


def test_quoted_cells_with_line_breaks_are_one_cell(tmp_path: Path) -> None:
    valid = read_grid(VALID)
    for path in _forms(tmp_path):
        grid = read_grid(path)
        assert [p.line for p in grid.positions] == [*range(1, 14), 15, 17, 20], path
        assert grid.notes == (JOINED_NOTE,)
        # the rows before and the cells not edited read as in the excerpt the fixture varies
        assert grid.rows[:12] == valid.rows[:12]
        assert grid.rows[12][5] == "次期作に向けて取り組む農業者の 経営を支援した。"
        assert (
            grid.rows[13][5]
            == '収益性の高い品目への切り替えを支援した。 ("シャインマスカット"など)'
        )
        assert grid.rows[14][1:3] == ("農林振興課 うきはブランド推進課", "農政係 商工振興係")
        assert grid.rows[15][5] == "販売先との 協議を 行った。"  # the tab in the cell: a space
        assert grid.rows[15][3] == '・販売力強化と販路拡大の取組(「"直売所"」を含む)'
        assert [len(r) for r in grid.rows[12:]] == [7, 7, 7, 7]


def test_quoted_cells_validate_and_keep_physical_lines(tmp_path: Path, ctx: RulesContext) -> None:
    """Without reading the quotes, each physical line was a row: malformed_row failures and
    quarantined projects. Read, the fixture is as clean as the excerpt it varies."""
    for path in _forms(tmp_path):
        result = validate_path(path, ctx)
        assert result.failures == (), path
        assert result.sheet is not None
        projects = result.sheet.projects
        assert [p.row for p in projects] == [12, 13, 14, 15]
        assert [result.sheet.grid.positions[p.row].line for p in projects] == [13, 15, 17, 20]


def test_r3_with_a_line_break_in_a_cell_reports_physical_lines(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """The three R3 warnings (lines 90, 146, 147) move one line down after a cell on line 40
    spans two lines, exactly where an editor shows those rows."""
    lines = list(R3_LINES)
    cells = lines[39].split("\t")
    cells[5] = f'"{cells[5][:10]}\n{cells[5][10:]}"'
    lines[39] = "\t".join(cells)
    path = _variant(tmp_path, "r3_break.txt", ("\r\n".join(lines) + "\r\n").encode("cp932"))
    result = validate_path(path, ctx)
    assert [(f.line, f.check) for f in result.failures] == [
        (91, "flag_rating_mismatch"),
        (147, "flag_rating_mismatch"),
        (148, "flag_rating_mismatch"),
    ]
    sheet = result.sheet
    assert sheet is not None and (len(sheet.projects), len(sheet.kpis)) == (99, 17)
    assert result.notes == (
        "セルの中の改行 (Alt+Enter) で複数の行にわたるセルを、改行を空白にして 1 つのセルとして"
        "読みました: 40〜41行。",
    )


def test_the_r3_sheet_reads_exactly_as_split_lines() -> None:
    grid = read_grid(R3)
    assert grid.rows == tuple(tuple(line.split("\t")) for line in R3_LINES)
    assert [p.line for p in grid.positions] == list(range(1, len(R3_LINES) + 1))
    assert grid.notes == ()


def _r3_with(tmp_path: Path, edits: dict[int, str]) -> tuple[Path, list[str]]:
    """R3 with the action cell (F) of the given lines replaced."""
    lines = list(R3_LINES)
    for n, action in edits.items():
        cells = lines[n - 1].split("\t")
        assert len(cells) == 7
        cells[5] = action
        lines[n - 1] = "\t".join(cells)
    path = tmp_path / "r3_edit.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def test_quotes_not_starting_a_field_read_as_written(tmp_path: Path, ctx: RulesContext) -> None:
    """Only a field that starts with `"` is quoted; a quote closed with text after it
    (`"特産品"の開発`, typed by hand) is no quoted field either."""
    path, lines = _r3_with(
        tmp_path,
        {
            40: '「"うきは"ブランド」の発信を行った。',
            41: '支援した"',
            42: '"特産品"の開発を支援した。',
            43: 'a"\tb',  # a tab in the middle of the cell: one more cell, as before
        },
    )
    grid = read_grid(path)
    assert grid.rows == tuple(tuple(line.split("\t")) for line in lines)
    assert grid.notes == ()
    failures = validate_path(path, ctx).failures
    assert [(f.line, f.check) for f in failures] == [
        (43, "malformed_row"),
        (90, "flag_rating_mismatch"),
        (146, "flag_rating_mismatch"),
        (147, "flag_rating_mismatch"),
    ]


def test_a_quote_never_closed_reads_the_lines_as_written(tmp_path: Path, ctx: RulesContext) -> None:
    """A `"` that starts a cell on line 40 and is closed nowhere: the rest of the file is not
    swallowed into that cell; the lines read as they are, with a note."""
    path, lines = _r3_with(tmp_path, {40: '"協議を行った。'})
    grid = read_grid(path)
    assert grid.rows == tuple(tuple(line.split("\t")) for line in lines)
    assert grid.notes == (
        '「"」で始まるセルの閉じる「"」がないため、その行は書かれたまま (「"」も含めて) '
        "読みました: 40行。",
    )
    failures = validate_path(path, ctx).failures
    assert [(f.line, f.check) for f in failures] == [
        (90, "flag_rating_mismatch"),
        (146, "flag_rating_mismatch"),
        (147, "flag_rating_mismatch"),
    ]


def test_a_quote_not_closed_before_a_later_quoted_cell(tmp_path: Path) -> None:
    """Line 40's quote is not closed; the quote that opens line 50's cell (closed on line 51)
    does not close it. Line 40 reads as written, lines 50-51 are one row."""
    path, lines = _r3_with(tmp_path, {40: '"協議を行った。', 50: '"第1行\n第2行"'})
    grid = read_grid(path)
    assert grid.rows[39] == tuple(lines[39].split("\t"))
    assert grid.rows[49][5] == "第1行 第2行"
    assert grid.positions[50].line == 52
    assert len(grid.notes) == 2
    assert grid.notes[0].endswith("50〜51行。") and grid.notes[1].endswith("40行。")


@pytest.mark.parametrize(
    ("text", "rows", "lines"),
    [
        ('"a""b"\t""\t"""x"""\n', [('a"b', "", '"x"')], [1]),  # doubled quotes, empty cell
        ('"a\tb"\tc\n', [("a b", "c")], [1]),  # a tab inside quotes: a space
        ('"a\r\n\r\nb"\tc\r\nd\r\n', [("a b", "c"), ("d",)], [1, 4]),  # CRLF inside, runs
        ('x\t"a\nb"\n', [("x", "a b")], [1]),  # the quoted cell ends the row
        ('x\t"a\nb"', [("x", "a b")], [1]),  # ... and the file, without a last line end
        ('"a"x\ty\n', [('"a"x', "y")], [1]),  # text after the closing quote: as written
        ('x\t"\n', [("x", '"')], [1]),  # a lone quote at the end: not closed, as written
        ('"a\n"b\tc\n', [('"a',), ('"b', "c")], [1, 2]),  # closed by no quote: as written
    ],
)
def test_split_rows(text: str, rows: list[tuple[str, ...]], lines: list[int]) -> None:
    split = split_rows(text)
    assert list(split.rows) == rows
    assert list(split.lines) == lines


def test_a_quoted_cell_spans_at_most_max_cell_lines() -> None:
    body = "\n".join(str(n) for n in range(MAX_CELL_LINES + 5))
    text = f'"{body}"\tx\n'
    split = split_rows(text)
    assert split.unclosed == (1,)
    assert list(split.rows) == [tuple(line.split("\t")) for line in split_lines(text)]
    within = "\n".join(str(n) for n in range(MAX_CELL_LINES))
    assert split_rows(f'"{within}"\tx\n').rows == ((within.replace("\n", " "), "x"),)
