"""Issue #4: the R3 sheet as an Excel workbook gives the same parse, checks and warehouse.

The workbooks are written here from the real text export, cell by cell, the way people leave
them in Excel: purely numeric cells stored as numbers (`1.65`, `1.80`), `207人` as the number
207.0 under the format `0"人"`, `2,398千円` as 2398 under `#,##0"千円"`, percentages as
fractions with a % format (`37.60%` → 0.376 `0.00%`, `88%` → 0.88 `0%`), line breaks typed
inside the 課 cells that hold two departments, one measure line merged across A:G and one
sub-measure label merged down over its continuation rows, blank rows left blank and no
trailing empty cells. Once on one worksheet, once split over four (one per basic policy).
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from ukiha_pipeline.cli import app
from ukiha_pipeline.parsing.worksheets import holds_sheet_data
from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.reading.workbook import cell_text
from ukiha_pipeline.settings import DEFAULT_DEPARTMENTS
from ukiha_pipeline.validation import ValidationResult, load_context, validate_path
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.warehouse import load_result, open_warehouse
from ukiha_pipeline.warehouse.schema import FACT_TABLES

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
LINES: list[str] = R3.read_text(encoding="utf-8").removesuffix("\n").split("\n")
#: (title, first line, last line): split at the policy headings, preamble on the first.
SPLIT = (("方針1", 1, 70), ("方針2", 71, 114), ("方針3", 115, 164), ("方針4", 165, len(LINES)))
ONE = (("PDCAシート", 1, len(LINES)),)
#: Cells typed as numbers under a number format that shows them as in the text export.
FORMATTED: dict[str, tuple[float, str]] = {
    "207人": (207.0, '0"人"'),
    "2,398千円": (2398, '#,##0"千円"'),
    "37.60%": (0.376, "0.00%"),
    "88%": (0.88, "0%"),
}
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
MERGED_MEASURE_LINE = 86  # `2 減災・防災のまちづくりを推進します` + 6 empty cells: A:G
MERGED_LABEL_LINES = (88, 91)  # `①防災力強化事業` and its three continuation rows: A88:A91


def write_r3_workbook(out: Path, layout: tuple[tuple[str, int, int], ...]) -> Path:
    wb = openpyxl.Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for title, first, last in layout:
        ws = wb.create_sheet(title)
        for line in range(first, last + 1):
            row = line - first + 1
            for col, text in enumerate(LINES[line - 1].split("\t"), start=1):
                if not text:
                    continue
                cell = ws.cell(row, col)
                if _NUMBER.fullmatch(text):
                    cell.value = float(text) if "." in text else int(text)  # General format
                elif text in FORMATTED:
                    cell.value, cell.number_format = FORMATTED[text]
                elif col == 2 and " " in text:
                    cell.value = text.replace(" ", "\n")  # Alt+Enter between departments
                else:
                    cell.value = text
        if first <= MERGED_MEASURE_LINE <= last:
            r = MERGED_MEASURE_LINE - first + 1
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=7)
        if first <= MERGED_LABEL_LINES[0] <= last:
            top, bottom = (n - first + 1 for n in MERGED_LABEL_LINES)
            ws.merge_cells(start_row=top, start_column=1, end_row=bottom, end_column=1)
    wb.save(out)
    return out


@dataclass(frozen=True)
class Loaded:
    result: ValidationResult
    tables: dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def ctx() -> RulesContext:
    return load_context()


def _load(path: Path, ctx: RulesContext, wh: Path) -> Loaded:
    result = validate_path(path, ctx)
    with open_warehouse(wh) as con:
        outcome = load_result(con, result, ctx, run_id="run-1")
        assert outcome.status == "loaded"
        tables = {t: con.execute(f"SELECT * FROM {t}").df() for t in FACT_TABLES}
    return Loaded(result, tables)


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, ctx: RulesContext
) -> Iterator[dict[str, Loaded]]:
    tmp = tmp_path_factory.mktemp("xlsx")
    one = write_r3_workbook(tmp / "r3_one.xlsx", ONE)
    split = write_r3_workbook(tmp / "r3_split.xlsx", SPLIT)
    yield {
        "text": _load(R3, ctx, tmp / "text.duckdb"),
        "one": _load(one, ctx, tmp / "one.duckdb"),
        "split": _load(split, ctx, tmp / "split.duckdb"),
    }


def _sorted(df: pd.DataFrame, drop: list[str]) -> pd.DataFrame:
    df = df.drop(columns=drop)
    return df.sort_values(list(df.columns), ignore_index=True, na_position="first")


@pytest.mark.parametrize("form", ["one", "split"])
@pytest.mark.parametrize("table", FACT_TABLES)
def test_fact_tables_equal_the_text_export_apart_from_positions(
    loaded: dict[str, Loaded], form: str, table: str
) -> None:
    """`source_line` is the worksheet row (it restarts on each worksheet of the split book);
    `source_worksheet` names the worksheet."""
    text, book = loaded["text"].tables[table], loaded[form].tables[table]
    assert len(book) == len(text) > 0
    drop = [c for c in ("source_line", "source_worksheet", "raw_target") if c in text.columns]
    pd.testing.assert_frame_equal(_sorted(book, drop), _sorted(text, drop))


@pytest.mark.parametrize("form", ["one", "split"])
def test_worksheet_and_row_lead_back_to_the_cell(
    loaded: dict[str, Loaded], form: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every project and KPI row of a workbook names its worksheet; (worksheet, source_line)
    is the cell the analyst finds the text in. The text export leaves the worksheet NULL."""
    layout = ONE if form == "one" else SPLIT
    book = openpyxl.load_workbook(
        write_r3_workbook(tmp_path_factory.mktemp("wb") / "b.xlsx", layout), read_only=True
    )
    for table, column, col in (("projects", "content", 4), ("kpis", "name", None)):
        rows = loaded[form].tables[table]
        assert set(rows["source_worksheet"]) <= {title for title, _, _ in layout}
        assert loaded["text"].tables[table]["source_worksheet"].isna().all()
        for ws_title, line, value in zip(
            rows["source_worksheet"], rows["source_line"], rows[column], strict=True
        ):
            cells = [c for c in next(book[ws_title].iter_rows(line, line, values_only=True))]
            texts = [" ".join(str(c).split()) for c in cells if c is not None]
            if col is not None:
                assert cells[col - 1] == value
            else:  # a KPI name sits in a label cell (a line break typed where a space was)
                assert any(value in t for t in texts), (ws_title, line, value, texts)
    if form == "split":
        sheets = loaded[form].tables["projects"]["source_worksheet"]
        assert sheets.nunique() == len(SPLIT)


@pytest.mark.parametrize("form", ["one", "split"])
def test_the_only_raw_text_that_differs_is_a_number_in_general_format(
    loaded: dict[str, Loaded], form: str
) -> None:
    """`1.80` stored as the number 1.8 under General reads `1.8`, as Excel shows it; the
    value (1.8) is the same. Every other raw_* column equals the text export's, including
    the formatted cells (`207人`, `2,398千円`, `37.60%`, `88%`)."""
    cols = ["kpi_key", "raw_target"]
    text = loaded["text"].tables["kpis"][cols].set_index("kpi_key")["raw_target"]
    book = loaded[form].tables["kpis"][cols].set_index("kpi_key")["raw_target"]
    differ = text[text.ne(book) & text.notna()]
    assert differ.tolist() == ["1.80"]
    assert book[differ.index].tolist() == ["1.8"]


def test_formatted_numbers_read_like_the_text(loaded: dict[str, Loaded]) -> None:
    kpis = loaded["split"].tables["kpis"].set_index("name")
    assert kpis.loc["自尊感情の向上", "raw_latest"] == "37.60%"
    assert kpis.loc["自尊感情の向上", "latest_value"] == pytest.approx(37.6)
    assert kpis.loc["自尊感情の向上", "latest_unit"] == "%"
    assert kpis.loc["新規就農者数", "raw_latest"] == "207人"
    assert kpis.loc["自主防災組織率", "raw_latest"] == "88%"
    assert kpis.loc["合計特殊出生率", "raw_baseline"] == "1.65"


@pytest.mark.parametrize(
    ("form", "cells"),
    [
        ("text", [None, None, None]),
        ("one", ["PDCAシート!G90", "PDCAシート!G146", "PDCAシート!G147"]),
        ("split", ["方針2!G20", "方針3!G32", "方針3!G33"]),
    ],
)
def test_same_three_warnings_at_the_right_cells(
    loaded: dict[str, Loaded], form: str, cells: list[str | None]
) -> None:
    failures = loaded[form].result.failures
    assert [(f.check, f.severity, f.value) for f in failures] == [
        ("flag_rating_mismatch", "warning", "C"),
        ("flag_rating_mismatch", "warning", "E"),
        ("flag_rating_mismatch", "warning", "E"),
    ]
    assert [f.cell for f in failures] == cells
    assert [f.col for f in failures] == [6, 6, 6]
    # waivers match by row_key: the same failure has the same key in every form
    assert [f.row_key for f in failures] == [f.row_key for f in loaded["text"].result.failures]


def test_split_book_reads_the_worksheets_in_order_with_their_own_rows(tmp_path: Path) -> None:
    grid = read_grid(write_r3_workbook(tmp_path / "s.xlsx", SPLIT))
    starts = [(p.worksheet, p.line) for p in grid.positions if p.line == 1]
    assert starts == [("方針1", 1), ("方針2", 1), ("方針3", 1), ("方針4", 1)]
    assert grid.rows[0] == ()  # line 1 of the text export is blank
    assert grid.notes == ()


def test_cells_read_as_the_text_export_writes_them(tmp_path: Path) -> None:
    grid = read_grid(write_r3_workbook(tmp_path / "o.xlsx", ONE))
    text_rows = [tuple(line.split("\t")) for line in LINES]
    for i, (book, text) in enumerate(zip(grid.rows, text_rows, strict=False)):
        # every row that has a value is as wide as the worksheet (A-G), blank rows are empty
        expected = list(text) + [""] * (7 - len(text)) if any(text) else []
        if i + 1 == 119:
            expected[3] = "1.8"  # General format: see above
        assert list(book) == expected, i + 1
    last_nonblank = max(i for i, line in enumerate(LINES, start=1) if line.strip("\t"))
    assert len(grid.rows) == last_nonblank  # blank rows kept, trailing ones are not rows


def test_cli_text_and_json_name_the_worksheet_and_cell(tmp_path: Path) -> None:
    book = write_r3_workbook(tmp_path / "s.xlsx", SPLIT)
    text = CliRunner().invoke(app, ["validate", str(book)])
    assert text.exit_code == 0, text.output
    assert "方針2!G20 進捗状況 「C」 [flag_rating_mismatch]" in text.output
    as_json = CliRunner().invoke(app, ["validate", str(book), "--format", "json"])
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(r["sheet"], r["line"], r["cell"]) for r in records] == [
        ("方針2", 20, "方針2!G20"),
        ("方針3", 32, "方針3!G32"),
        ("方針3", 33, "方針3!G33"),
    ]


# --- hidden worksheets, formulas, dates --------------------------------------------------


def test_hidden_worksheet_is_ignored_with_a_note(tmp_path: Path, ctx: RulesContext) -> None:
    path = write_r3_workbook(tmp_path / "h.xlsx", ONE)
    wb = openpyxl.load_workbook(path)
    memo = wb.create_sheet("作業用メモ", 0)
    memo["A1"] = "これはシートではありません"
    memo["E3"] = "△"
    memo.sheet_state = "hidden"
    wb.save(path)
    result = validate_path(path, ctx)
    assert [f.cell for f in result.failures] == [
        "PDCAシート!G90",
        "PDCAシート!G146",
        "PDCAシート!G147",
    ]
    assert result.notes == ("非表示のワークシート「作業用メモ」は読み飛ばしました。",)
    assert all(p.worksheet == "PDCAシート" for p in read_grid(path).positions)


def test_hidden_rows_are_read_with_a_note(tmp_path: Path, ctx: RulesContext) -> None:
    """Rows 41-42 and 60 hidden (by hand, a filter or a collapsed group): loaded like the
    others, and the note names them. Row 33 (blank) and row 400 (past the data) are hidden
    too, but hold nothing that is read."""
    path = write_r3_workbook(tmp_path / "rows.xlsx", ONE)
    wb = openpyxl.load_workbook(path)
    ws = wb["PDCAシート"]
    for r in (41, 42, 60, 33, 400):
        ws.row_dimensions[r].hidden = True
    wb.save(path)
    result = validate_path(path, ctx)
    assert [f.cell for f in result.failures] == [
        "PDCAシート!G90",
        "PDCAシート!G146",
        "PDCAシート!G147",
    ]
    assert result.sheet is not None and len(result.sheet.projects) == 99
    assert result.notes == (
        "非表示の行があり、ほかの行と同じく読み込みました: PDCAシート 41〜42行、PDCAシート 60行。"
        "表示して内容を確かめてください (シートに要らない行なら削除してください)。",
    )


def test_formula_without_a_cached_value_is_reported_at_its_cell(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """openpyxl saves formulas without values: the flag cell reads `=…` and fails there."""
    path = write_r3_workbook(tmp_path / "f.xlsx", ONE)
    wb = openpyxl.load_workbook(path)
    ws = wb["PDCAシート"]
    assert ws["E46"].value == "○"
    ws["E46"] = '=IF(TRUE,"○","×")'
    wb.save(path)
    result = validate_path(path, ctx)
    errors = [f for f in result.failures if f.severity == "error"]
    assert [(f.check, f.cell, f.value) for f in errors] == [
        ("flag_invalid", "PDCAシート!E46", '=IF(TRUE,"○","×")')
    ]
    assert any("PDCAシート!E46" in note and "数式" in note for note in result.notes)


def test_formula_with_a_cached_value_reads_the_value(tmp_path: Path) -> None:
    """What Excel saves: `<f>` and `<v>`; the value is used, even the empty string."""
    path = tmp_path / "cached.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "S"
    ws["A1"] = "=1+1"
    ws["B1"] = '=""'
    ws["C1"] = "x"
    wb.save(path)
    _put_cached_values(path, {"A1": ("n", "2"), "B1": ("str", "")})
    grid = read_grid(path)
    assert grid.rows == (("2", "", "x"),)
    assert grid.notes == ()


def _put_cached_values(path: Path, values: dict[str, tuple[str, str]]) -> None:
    """Add `<v>` (and the type) to formula cells, as Excel does when it saves."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, (kind, value) in values.items():
        xml = re.sub(
            rf'<c r="{ref}"([^>]*)><f>(.*?)</f>(<v\s*/>|<v>.*?</v>)?</c>',
            lambda m, r=ref, k=kind, v=value: (
                f'<c r="{r}"{m.group(1)} t="{k}"><f>{m.group(2)}</f><v>{v}</v></c>'
            ),
            xml,
        )
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        (207.0, "General", "207"),
        (207, "General", "207"),
        (1.65, "General", "1.65"),
        (0.1 + 0.2, "General", "0.3"),
        (0.376, "0.00%", "37.60%"),
        (0.376, "0.0%", "37.6%"),
        (0.88, "0%", "88%"),
        (1.8, "0.00", "1.80"),
        (2398, '#,##0"千円"', "2,398千円"),
        (2398000, '#,##0,"千円"', "2,398千円"),
        (207.0, '0"人"', "207人"),
        (0.125, "0.00", "0.13"),  # Excel rounds half away from zero
        (-1.5, "0.0_);(0.0)", "(1.5)"),
        (-1.5, "0.0", "-1.5"),
        (0, '0;-0;"－"', "－"),
        (1234567.891, "#,##0.00", "1,234,567.89"),
        (5, "[$¥-411]#,##0", "¥5"),
        (3, "0.00E+00", "3"),  # scientific: read as General
        (datetime(2021, 4, 1), "yyyy/m/d", "2021-04-01"),
        (datetime(2021, 4, 1, 13, 30), "yyyy/m/d h:mm", "2021-04-01 13:30:00"),
        (date(2021, 4, 1), "General", "2021-04-01"),
        (True, "General", "TRUE"),
        ("行1\n行2\r\n\n行3", "General", "行1 行2 行3"),
        ("A_x000D_\nB", "General", "A B"),
        ("a\tb", "General", "a b"),
        (None, "General", ""),
    ],
)
def test_cell_text(value: object, number_format: str, text: str) -> None:
    assert cell_text(value, number_format) == text


def test_date_cell_reads_as_date_text(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = datetime(2021, 4, 1)
    ws["A1"].number_format = "yyyy/m/d"
    ws["B3"] = "行の\n途中で改行"
    wb.save(path)
    assert read_grid(path).rows == (("2021-04-01", ""), (), ("", "行の 途中で改行"))


def _rewrite_part(path: Path, part: str, edit: Callable[[str], str]) -> None:
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts[part] = edit(parts.get(part, b"").decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


SHARED_STRINGS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
    'uniqueCount="1"><si><t>農林振興課</t><rPh sb="0" eb="2"><t>ノウリン</t></rPh>'
    '<phoneticPr fontId="1"/></si></sst>'
)


def test_furigana_is_not_part_of_the_text(tmp_path: Path) -> None:
    """Japanese Excel keeps the reading of typed kanji (`<rPh>`) in the shared string."""
    path = tmp_path / "ruby.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["B1"] = "placeholder"
    wb.save(path)
    _rewrite_part(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<c r="B1" t="inlineStr">.*?</c>', '<c r="B1" t="s"><v>0</v></c>', xml),
    )
    _rewrite_part(path, "xl/sharedStrings.xml", lambda _: SHARED_STRINGS)
    _rewrite_part(
        path,
        "[Content_Types].xml",
        lambda xml: xml.replace(
            "</Types>",
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        ),
    )
    _rewrite_part(
        path,
        "xl/_rels/workbook.xml.rels",
        lambda xml: xml.replace(
            "</Relationships>",
            '<Relationship Id="rIdSST" Target="sharedStrings.xml" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
            "</Relationships>",
        ),
    )
    assert read_grid(path).rows == (("", "農林振興課"),)


def test_wrong_stored_size_and_styled_empty_cells(tmp_path: Path) -> None:
    """Every cell there is is read, whatever `<dimension>` says; styled empty cells are empty
    and do not widen the rows (A3 reads as wide as row 1, up to G)."""
    path = tmp_path / "dim.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"], ws["G1"] = "a", "g"
    ws["A3"] = "c"
    for col in "HIJ":
        ws[f"{col}1"].fill = openpyxl.styles.PatternFill("solid", start_color="FFFF00")
    ws["A9"].fill = openpyxl.styles.PatternFill("solid", start_color="FFFF00")
    wb.save(path)
    _rewrite_part(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:B1"/>', xml),
    )
    assert read_grid(path).rows == (("a", "", "", "", "", "", "g"), (), ("c", *[""] * 6))


# --- files that are not readable workbooks ------------------------------------------------


def _corrupt(path: Path) -> None:
    ok = write_r3_workbook(path.with_name("ok.xlsx"), ONE).read_bytes()
    path.write_bytes(ok[: len(ok) // 2])


def _damaged_xml(path: Path) -> None:
    write_r3_workbook(path, ONE)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:500]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def _ole(path: Path, encrypted: bool) -> None:
    """An OLE compound file header: what .xls and password-protected .xlsx both are."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    stream = "EncryptedPackage" if encrypted else "Workbook"
    path.write_bytes(header + stream.encode("utf-16-le") + b"\x00" * 1024)


def _csv(path: Path) -> None:
    path.write_text("事業一覧,課,係\n①事業,総務課,総務係\n", encoding="utf-8")


def _not_a_workbook_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")


BAD_INPUTS = {
    "corrupt.xlsx": (_corrupt, "壊れて"),
    "damaged_xml.xlsx": (_damaged_xml, "壊れて"),
    "password.xlsx": (lambda p: _ole(p, encrypted=True), "パスワード"),
    "old.xls": (lambda p: _ole(p, encrypted=False), ".xls"),
    "renamed_csv.xlsx": (_csv, "テキスト"),
    "document.xlsx": (_not_a_workbook_zip, "Excel ブック (.xlsx) ではありません"),
    "empty.xlsx": (lambda p: p.write_bytes(b""), "空"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_unreadable_workbooks_are_one_fatal_failure(
    tmp_path: Path, ctx: RulesContext, name: str
) -> None:
    make, words = BAD_INPUTS[name]
    path = tmp_path / name
    make(path)
    result = validate_path(path, ctx)
    assert [(f.check, f.severity) for f in result.failures] == [("unreadable_file", "fatal")]
    assert words in result.failures[0].message
    assert result.exit_code == 1 and result.sheet is None


@pytest.mark.parametrize("name", ["corrupt.xlsx", "password.xlsx", "renamed_csv.xlsx"])
def test_cli_unreadable_workbook_exits_1_without_traceback(tmp_path: Path, name: str) -> None:
    make, _ = BAD_INPUTS[name]
    path = tmp_path / name
    make(path)
    proc = CliRunner().invoke(app, ["validate", str(path)])
    assert proc.exit_code == 1
    assert proc.exception is None or isinstance(proc.exception, SystemExit)
    assert "[unreadable_file]" in proc.output and "Traceback" not in proc.output


def test_workbook_with_only_empty_visible_worksheets_is_unreadable(
    tmp_path: Path, ctx: RulesContext
) -> None:
    path = tmp_path / "blank.xlsx"
    wb = openpyxl.Workbook()
    hidden = wb.create_sheet("R3")
    hidden["A1"] = "第2期うきは市ルネッサンス戦略 PDCAシート"
    hidden.sheet_state = "hidden"
    wb.save(path)
    result = validate_path(path, ctx)
    assert [f.check for f in result.failures] == ["unreadable_file"]
    assert "「R3」" in result.failures[0].message


def test_tables_keep_their_shape(loaded: dict[str, Loaded]) -> None:
    """Sanity: the loads are the R3 counts of DESIGN §1 in every form."""
    for form in ("text", "one", "split"):
        t = loaded[form].tables
        assert (len(t["policies"]), len(t["measures"]), len(t["submeasures"])) == (4, 13, 44)
        assert (len(t["projects"]), len(t["kpis"])) == (99, 17)


def test_a_cell_merged_down_several_rows_is_named_in_a_note(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """One 課 merged over four project rows reads on the first only, as the text export
    writes it: the three below are 「課」が空です, and the note says why. The workbook's own
    merges (a measure line across A:G, a sub-measure label down column A) give no note."""
    path = write_r3_workbook(tmp_path / "m.xlsx", ONE)
    assert validate_path(path, ctx).notes == ()
    wb = openpyxl.load_workbook(path)
    ws = wb["PDCAシート"]
    assert [ws[f"B{r}"].value for r in (40, 41, 42)] == ["農林振興課"] * 3
    ws.merge_cells("B40:B42")
    wb.save(path)
    result = validate_path(path, ctx)
    assert [(f.check, f.cell) for f in result.failures if f.severity == "error"] == [
        ("missing_required", "PDCAシート!B41"),
        ("missing_required", "PDCAシート!B42"),
    ]
    assert result.notes == (
        "結合されたセルがあります: PDCAシート!B40:B42。値は左上のセルにだけあり、ほかのセルは"
        "空として読みます (「…が空です」と報告されます)。結合を解除し、各行に値を入れてください。",
    )


def test_a_misshapen_workbook_row_is_told_in_columns_not_tabs(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """A workbook has no tabs: 「抜けたタブや余分なタブを直してください」 pointed nowhere."""
    path = write_r3_workbook(tmp_path / "s.xlsx", ONE)
    wb = openpyxl.load_workbook(path)
    wb["PDCAシート"]["H40"] = "余分なセル"
    wb.save(path)
    [f] = [f for f in validate_path(path, ctx).failures if f.check == "malformed_row"]
    assert f.cell == "PDCAシート!A40"
    assert "列 A〜G" in f.hint and "タブ" not in f.hint
    lost_tab = R3.parents[2] / "tests" / "fixtures" / "synthetic" / "malformed_row_lost_tab.txt"
    in_text = [g for g in validate_path(lost_tab, ctx).failures if g.check == "malformed_row"]
    assert in_text and all("タブ" in g.hint for g in in_text)  # a text export keeps the tabs


def _without_cells(path: Path, cells: tuple[str, ...]) -> Path:
    wb = openpyxl.load_workbook(path)
    for ref in cells:
        wb["PDCAシート"][ref] = None
    wb.save(path)
    return path


def test_an_empty_last_cell_reads_as_the_text_exports_trailing_tab(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """G61 (a project's 進捗状況) and G102 (a measure KPI's 時点) left empty: the text export
    keeps the row's 7 cells with a trailing tab, and a workbook row, which has no tab to lose,
    reads the same (it is as wide as the worksheet's last used column)."""
    lines = list(LINES)
    for n in (61, 102):
        cells = lines[n - 1].split("\t")
        assert len(cells) == 7 and cells[6]
        lines[n - 1] = "\t".join([*cells[:6], ""])
    text = tmp_path / "g_empty.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    book = _without_cells(write_r3_workbook(tmp_path / "g_empty.xlsx", ONE), ("G61", "G102"))

    def shown(path: Path) -> list[tuple[int | None, str, int | None, str]]:
        return [(f.line, f.check, f.col, f.severity) for f in validate_path(path, ctx).failures]

    assert shown(book) == shown(text)
    assert shown(text) == [
        (61, "missing_required", 6, "error"),
        (90, "flag_rating_mismatch", 6, "warning"),
        (102, "kpi_as_of_invalid", 6, "warning"),  # the 時点 is empty, said on its cell
        (146, "flag_rating_mismatch", 6, "warning"),
        (147, "flag_rating_mismatch", 6, "warning"),
    ]
    assert read_grid(book).rows[101][6] == ""


# --- worksheets of one file: one fiscal year, and tabs that are no part of the sheet ------


def _text_workbook(path: Path, worksheets: list[tuple[str, list[str]]]) -> Path:
    """Worksheets holding lines as plain text cells, one line per row (added to the workbook
    at `path` when there is one)."""
    wb = openpyxl.load_workbook(path) if path.exists() else openpyxl.Workbook()
    if not path.exists():
        assert wb.active is not None
        wb.remove(wb.active)
    for title, lines in worksheets:
        ws = wb.create_sheet(title)
        for r, line in enumerate(lines, start=1):
            for c, text in enumerate(line.split("\t"), start=1):
                if text:
                    ws.cell(r, c, text)
    wb.save(path)
    return path


R4_LINES = [re.sub(r"R3年度( ?)事業化", r"R4年度\1事業化", line) for line in LINES]


def test_last_years_worksheet_in_this_years_workbook_is_fatal(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """The R4 sheet with last year's R3 sheet left on a tab before it: read as one sheet, it
    loaded 198 projects as FY2021 over the real FY2021 load, and FY2022 never loaded."""
    path = _text_workbook(tmp_path / "R4.xlsx", [("PDCAシート", R4_LINES), ("R3", LINES)])
    wb = openpyxl.load_workbook(path)
    wb.move_sheet("R3", -1)
    wb.save(path)
    result = validate_path(path, ctx)
    assert [(f.check, f.severity) for f in result.failures] == [("unrecognized_layout", "fatal")]
    message = result.failures[0].message
    assert "「R3」は 2021年度（令和3年度）、「PDCAシート」は 2022年度（令和4年度）" in message
    assert "1 つの年度" in message and "別のファイルに移す" in message
    assert result.sheet is None and result.exit_code == 1
    with open_warehouse(tmp_path / "w.duckdb") as con:
        assert load_result(con, validate_path(R3, ctx), ctx, run_id="r3").status == "loaded"
        assert load_result(con, result, ctx, run_id="r4").status != "loaded"
        counts = con.execute(
            "SELECT fiscal_year, count(*) FROM projects GROUP BY ALL ORDER BY 1"
        ).fetchall()
        assert counts == [(2021, 99)]


def test_worksheets_of_one_year_are_one_sheet(tmp_path: Path, ctx: RulesContext) -> None:
    """The R4 sheet split over four tabs, each with its own `R4年度事業化` headers."""
    split = [(title, R4_LINES[first - 1 : last]) for title, first, last in SPLIT]
    path = _text_workbook(tmp_path / "R4_split.xlsx", split)
    result = validate_path(path, ctx)
    assert result.sheet is not None and result.sheet.fiscal_year == 2022
    assert [f.cell for f in result.failures] == ["方針2!G20", "方針3!G32", "方針3!G33"]
    assert result.notes == ()


def test_one_header_typed_with_another_year_is_a_note_not_two_years(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """方針3's first table header (line 122 of three: 122, 138, 153) typed `R3年度事業化` in the
    R4 book: the worksheet is R4 by most of its headers; the header is a note, as it would be
    on one worksheet."""
    lines = list(R4_LINES)
    assert lines[121].split("\t")[4] == "R4年度事業化"
    lines[121] = lines[121].replace("R4年度事業化", "R3年度事業化")
    split = [(title, lines[first - 1 : last]) for title, first, last in SPLIT]
    result = validate_path(_text_workbook(tmp_path / "R4_typo.xlsx", split), ctx)
    assert result.sheet is not None and result.sheet.fiscal_year == 2022
    assert [f.check for f in result.failures] == ["flag_rating_mismatch"] * 3
    assert len(result.notes) == 1 and result.notes[0].startswith("方針3!A8: 事業一覧の見出しが")


def test_a_worksheet_whose_two_headers_name_two_years_is_a_note_not_fatal(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """方針4 has two table headers (lines 172 and 184); the first typed `R4年度事業化` in the R3
    book. The tie went to the first header, so 方針4 counted as FY2022 and the whole file was
    fatal, where the same typo in the text export is a note."""
    lines = list(LINES)
    assert lines[171].split("\t")[4] == "R3年度事業化"
    lines[171] = lines[171].replace("R3年度事業化", "R4年度事業化")
    text = tmp_path / "R3_typo.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    split = [(title, lines[first - 1 : last]) for title, first, last in SPLIT]
    book = validate_path(_text_workbook(tmp_path / "R3_typo.xlsx", split), ctx)
    in_text = validate_path(text, ctx)
    assert book.sheet is not None and book.sheet.fiscal_year == 2021
    assert len(book.sheet.projects) == 99
    assert [f.check for f in book.failures] == [f.check for f in in_text.failures]
    assert [f.check for f in book.failures] == ["flag_rating_mismatch"] * 3
    assert book.notes == (
        "方針4!A8: 事業一覧の見出しが 2022年度（令和4年度） です。最初の見出し (方針1!A34 の "
        "2021年度（令和3年度）) と違います。2021年度（令和3年度） として読みます。",
    )
    assert len(in_text.notes) == 1 and in_text.notes[0].startswith("172行: 事業一覧の見出しが")


def test_worksheets_that_each_name_one_year_still_decide_past_a_mixed_one(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """Last year's R3 tab left before the R4 sheet, and an R4 tab with one header typed R3:
    the mixed tab has no year of its own, the two that agree within themselves still differ."""
    mixed = list(R4_LINES[114:164])  # 方針3: headers at its rows 8, 24, 39
    mixed[7] = mixed[7].replace("R4年度事業化", "R3年度事業化")
    path = _text_workbook(
        tmp_path / "R4_mixed.xlsx",
        [("R3", LINES), ("PDCAシート", R4_LINES[:114]), ("方針3", mixed)],
    )
    result = validate_path(path, ctx)
    assert [(f.check, f.severity) for f in result.failures] == [("unrecognized_layout", "fatal")]
    message = result.failures[0].message
    assert "「R3」は 2021年度（令和3年度）、「PDCAシート」は 2022年度（令和4年度） (" in message
    assert "方針3" not in message


MEMO = ["確認事項", "田中\tKPI 見直し\t5/10", "", "担当\t電話\t1234\t内線"]


def test_a_worksheet_that_is_no_part_of_the_sheet_is_skipped_with_a_note(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """A メモ tab after the sheet: each of its rows was a malformed_row telling the steward to
    put the row's cells in columns A-G."""
    path = _text_workbook(write_r3_workbook(tmp_path / "m.xlsx", ONE), [("メモ", MEMO)])
    result = validate_path(path, ctx)
    assert [f.cell for f in result.failures] == [
        "PDCAシート!G90",
        "PDCAシート!G146",
        "PDCAシート!G147",
    ]
    assert result.notes == (
        "ワークシート「メモ」は読み飛ばしました: 基本方針・施策・取組・事業・KPI のどの行としても"
        "読めず、PDCA シートの一部ではないようです (メモなど)。シートの一部ならほかのワーク"
        "シートと同じ列 A〜G の形にしてください。",
    )
    assert result.exit_code == 0


def test_a_worksheet_with_a_mark_of_the_layout_is_still_reported(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """A tab holding a policy's 概要 / ねらい lines without their heading is part of the sheet
    gone wrong, not a memo: its rows stay malformed_row failures."""
    block = LINES[28:32]  # 概要, 現状値, ねらい, 最新値 of policy 1
    assert block[0].startswith("概要") and block[2].startswith("ねらい")
    path = _text_workbook(write_r3_workbook(tmp_path / "b.xlsx", ONE), [("続き", block)])
    result = validate_path(path, ctx)
    malformed = [f.cell for f in result.failures if f.check == "malformed_row"]
    assert malformed == ["続き!A1", "続き!A2", "続き!A3", "続き!A4"]
    assert result.notes == ()


def _shifted_left(line: str) -> str:
    """A row pasted one column too far left: its empty A cell is gone, 課 stands in A."""
    cells = line.split("\t")
    assert cells[0] == ""
    return "\t".join(cells[1:])


def test_a_worksheet_of_rows_shifted_a_cell_left_is_reported_not_skipped(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """Lines 38-42 (five projects of ①) on a tab of their own, every row one cell to the left:
    the tab was skipped as a メモ with a note, its five projects dropped, exit 0. Each row is a
    malformed_row error, as the same rows are on one worksheet."""
    shifted = [_shifted_left(line) for line in LINES[37:42]]
    split = [("PDCAシート", LINES[:37]), ("続き", shifted), ("続き2", LINES[42:])]
    book = validate_path(_text_workbook(tmp_path / "shift.xlsx", split), ctx)
    one = validate_path(
        _text_workbook(
            tmp_path / "shift_one.xlsx", [("PDCAシート", [*LINES[:37], *shifted, *LINES[42:]])]
        ),
        ctx,
    )
    malformed = [f for f in book.failures if f.check == "malformed_row"]
    assert [(f.cell, f.severity) for f in malformed] == [
        (f"続き!A{r}", "error") for r in range(1, 6)
    ]
    on_one = [(f.cell, f.severity) for f in one.failures if f.check == "malformed_row"]
    assert on_one == [(f"PDCAシート!A{n}", "error") for n in range(38, 43)]
    assert book.notes == () and book.exit_code == 1
    assert book.sheet is not None and len(book.sheet.projects) == 94


@pytest.mark.parametrize(
    "row",
    [
        "進捗\t○",  # a 事業化 flag
        "見直し\tA",  # a rating as the last cell
        "担当\t総務課",  # a department
        "目標\t179人→230人",  # a KPI's baseline→target
    ],
)
def test_a_tab_with_one_cell_like_sheet_data_is_reported(
    tmp_path: Path, ctx: RulesContext, row: str
) -> None:
    """Erring toward reporting: one cell that looks like sheet data keeps the tab's rows
    failures (a memo wrongly reported costs a look; a sheet tab wrongly skipped loses data)."""
    path = _text_workbook(write_r3_workbook(tmp_path / "m.xlsx", ONE), [("メモ", [*MEMO, row])])
    result = validate_path(path, ctx)
    assert result.notes == ()
    assert {f.cell.split("!")[0] for f in result.failures if f.check == "malformed_row"} == {"メモ"}


def test_every_name_of_the_department_master_looks_like_sheet_data() -> None:
    """The rule for a department or section name stands in for the master: it must know all."""
    with DEFAULT_DEPARTMENTS.open(encoding="utf-8", newline="") as fh:
        names = {n for row in csv.DictReader(fh) for n in (row["department"], row["section"]) if n}
    assert names and all(holds_sheet_data(("メモ", name)) for name in names)
