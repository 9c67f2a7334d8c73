"""The steward's annotated copy: `ukiha validate SHEET --annotate OUT.xlsx` (issue #4)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from ukiha_pipeline.annotate import FILLS, SUMMARY_TITLE, annotate_path, write_annotated
from ukiha_pipeline.cli import app
from ukiha_pipeline.errors import ReportError, UsageError
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.reference import Waiver

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "synthetic"
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
DEFECTS = FIXTURES / "several_defects.txt"
TITLE = "PDCAシート"
#: several_defects.txt: (cell, check, severity) of every failure, by hand from the file.
EXPECTED = {
    ("F12", "kpi_value_not_numeric", "error"),  # 最新値 集計中
    ("E13", "flag_invalid", "error"),  # △
    ("G13", "rating_invalid", "error"),  # F
    ("B14", "unknown_department", "error"),  # 農林新興課
    ("A17", "malformed_row", "error"),  # 備考:… a row the table has no place for
    ("A18", "malformed_row", "error"),  # a tab missing: 6 cells
    ("G15", "flag_rating_mismatch", "warning"),  # × with C
    ("D16", "duplicate_project", "warning"),  # same project as line 13
}
#: The same cells typed into a workbook (`defects_workbook`). Line 18's lost tab cannot be
#: lost in a workbook: its cells sit in B-F, so E18 holds `○協議…` and G18 is empty.
EXPECTED_IN_WORKBOOK = EXPECTED - {("A18", "malformed_row", "error")} | {
    ("E18", "flag_invalid", "error"),
    ("G18", "missing_required", "error"),
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def defects_workbook(out: Path) -> Path:
    """several_defects.txt typed into a workbook, one text line per row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TITLE
    for r, line in enumerate(DEFECTS.read_text(encoding="utf-8").splitlines(), start=1):
        for c, text in enumerate(line.split("\t"), start=1):
            if text:
                ws.cell(r, c, text)
    ws["H1"] = "=1+1"  # a formula the copy must keep as a formula
    wb.save(out)
    return out


@pytest.fixture(scope="module")
def ctx() -> RulesContext:
    return load_context()


def fill_of(cell: openpyxl.cell.cell.Cell) -> str | None:
    if cell.fill is None or cell.fill.fill_type != "solid":
        return None
    return str(cell.fill.start_color.rgb)[-6:]


def marked(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, tuple[str | None, str]]:
    """coordinate → (fill colour, comment text) of every cell with a fill or a comment."""
    out = {}
    for row in ws.iter_rows():
        for cell in row:
            if fill_of(cell) or cell.comment:
                out[cell.coordinate] = (fill_of(cell), cell.comment.text if cell.comment else "")
    return out


def summary_rows(wb: openpyxl.Workbook) -> list[tuple[object, ...]]:
    """The failure rows: from row 2 to the first empty row (the notes come after it)."""
    rows = []
    for row in wb[SUMMARY_TITLE].iter_rows(min_row=2):
        if not row[0].value:
            break
        rows.append(tuple(c.value for c in row))
    return rows


def test_workbook_defects_are_reported_at_their_cells(tmp_path: Path, ctx: RulesContext) -> None:
    result = validate_path(defects_workbook(tmp_path / "d.xlsx"), ctx)
    got = {(f.cell, f.check, f.severity) for f in result.failures}
    assert got == {(f"{TITLE}!{cell}", check, sev) for cell, check, sev in EXPECTED_IN_WORKBOOK}
    assert all(f.worksheet == TITLE for f in result.failures)


def test_annotated_copy_marks_exactly_the_failing_cells(tmp_path: Path, ctx: RulesContext) -> None:
    source = defects_workbook(tmp_path / "d.xlsx")
    before = sha(source)
    result = validate_path(source, ctx)
    assert result.sheet is not None
    out = write_annotated(result, result.sheet.grid, tmp_path / "out" / "annotated.xlsx")

    assert sha(source) == before  # the original is never modified
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [SUMMARY_TITLE, TITLE]
    assert wb.active is not None and wb.active.title == SUMMARY_TITLE
    ws = wb[TITLE]
    cells = marked(ws)
    assert set(cells) == {cell for cell, _, _ in EXPECTED_IN_WORKBOOK}
    by_cell = {cell: (check, sev) for cell, check, sev in EXPECTED_IN_WORKBOOK}
    for coordinate, (colour, comment) in cells.items():
        check, severity = by_cell[coordinate]
        assert colour == FILLS[severity], coordinate
        f = next(f for f in result.failures if f.cell == f"{TITLE}!{coordinate}")
        assert check in comment and f.message in comment and f.hint in comment
    # the data is untouched apart from the marks, formulas stay formulas
    assert ws["E13"].value == "△" and ws["G13"].value == "F"
    assert ws["H1"].value == "=1+1"


def test_summary_lists_every_failure_with_a_link_to_its_cell(
    tmp_path: Path, ctx: RulesContext
) -> None:
    result = validate_path(defects_workbook(tmp_path / "d.xlsx"), ctx)
    assert result.sheet is not None
    out = write_annotated(result, result.sheet.grid, tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb[SUMMARY_TITLE]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["重要度", "場所", "行", "列", "チェック"]
    rows = summary_rows(wb)
    assert [(r[1], r[4]) for r in rows] == [(f.cell, f.check) for f in result.failures]
    for i, f in enumerate(result.failures, start=2):
        link = ws.cell(i, 2).hyperlink
        assert link is not None
        sheet, _, address = link.location.rpartition("!")
        assert (sheet.strip("'"), address) == (f.worksheet, f.cell.split("!")[1])
        assert ws.cell(i, 7).value == f.message and ws.cell(i, 8).value == f.hint
    assert ws.freeze_panes == "A2"


def test_waived_failure_is_grey(tmp_path: Path, ctx: RulesContext) -> None:
    source = defects_workbook(tmp_path / "d.xlsx")
    first = validate_path(source, ctx)
    mismatch = next(f for f in first.failures if f.check == "flag_rating_mismatch")
    assert mismatch.row_key is not None
    waiver = Waiver(2021, "flag_rating_mismatch", mismatch.row_key, "担当者", "確認済み")
    result = validate_path(source, replace(ctx, waivers=(waiver,)))
    assert result.sheet is not None
    out = write_annotated(result, result.sheet.grid, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(out)
    colour, comment = marked(wb[TITLE])["G15"]
    assert colour == FILLS["waived"]
    assert "確認済み" in comment
    waived_row = next(r for r in summary_rows(wb) if r[4] == "flag_rating_mismatch")
    assert waived_row[8] == "確認済み (担当者)"


def test_text_sheet_becomes_a_workbook_with_the_same_marks(
    tmp_path: Path, ctx: RulesContext
) -> None:
    before = sha(DEFECTS)
    result = validate_path(DEFECTS, ctx)
    assert result.sheet is not None
    assert all(f.cell is None and f.col is not None for f in result.failures)
    out = write_annotated(result, result.sheet.grid, tmp_path / "t.xlsx")
    assert sha(DEFECTS) == before
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [SUMMARY_TITLE, "several_defects"]
    ws = wb["several_defects"]
    assert set(marked(ws)) == {cell for cell, _, _ in EXPECTED}
    # every text line is a row, every field a text cell
    for r, line in enumerate(DEFECTS.read_text(encoding="utf-8").splitlines(), start=1):
        for c, text in enumerate(line.split("\t"), start=1):
            assert (ws.cell(r, c).value or "") == text, (r, c)
            if text:
                assert ws.cell(r, c).data_type == "s"
    links = [ws_row[1].hyperlink.location for ws_row in wb[SUMMARY_TITLE].iter_rows(min_row=2)]
    assert "'several_defects'!E13" in links or "several_defects!E13" in links


def test_split_workbook_links_point_at_the_right_worksheet(
    tmp_path: Path, ctx: RulesContext
) -> None:
    source = tmp_path / "r3.xlsx"
    lines = R3.read_text(encoding="utf-8").removesuffix("\n").split("\n")
    wb = openpyxl.Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for n, (first, last) in enumerate(((1, 70), (71, 114), (115, 164), (165, len(lines))), 1):
        ws = wb.create_sheet(f"方針{n}")
        for line in range(first, last + 1):
            for c, text in enumerate(lines[line - 1].split("\t"), start=1):
                if text:
                    ws.cell(line - first + 1, c, text)
    wb.save(source)
    result = validate_path(source, ctx)
    out = annotate_path(result, tmp_path / "r3_annotated.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [SUMMARY_TITLE, "方針1", "方針2", "方針3", "方針4"]
    assert set(marked(wb["方針2"])) == {"G20"}
    assert set(marked(wb["方針3"])) == {"G32", "G33"}
    assert not marked(wb["方針1"]) and not marked(wb["方針4"])
    assert all(c == FILLS["warning"] for c, _ in marked(wb["方針3"]).values())
    locations = [r[1].hyperlink.location for r in wb[SUMMARY_TITLE].iter_rows(min_row=2)]
    assert [loc.replace("'", "") for loc in locations] == ["方針2!G20", "方針3!G32", "方針3!G33"]


def test_notes_are_listed_under_the_failures(tmp_path: Path, ctx: RulesContext) -> None:
    source = defects_workbook(tmp_path / "d.xlsx")
    wb = openpyxl.load_workbook(source)
    wb.create_sheet("メモ").sheet_state = "hidden"
    wb.save(source)
    result = validate_path(source, ctx)
    assert result.sheet is not None
    out = write_annotated(result, result.sheet.grid, tmp_path / "n.xlsx")
    values = [c.value for c in openpyxl.load_workbook(out)[SUMMARY_TITLE]["A"]]
    assert "メモ" in values
    assert "非表示のワークシート「メモ」は読み飛ばしました。" in values


def test_fatal_sheet_copy_lists_the_failure_without_a_cell(
    tmp_path: Path, ctx: RulesContext
) -> None:
    result = validate_path(FIXTURES / "not_a_pdca_sheet.txt", ctx)
    assert [f.check for f in result.failures] == ["unrecognized_layout"]
    out = annotate_path(result, tmp_path / "fatal.xlsx")
    rows = summary_rows(openpyxl.load_workbook(out))
    assert [(r[1], r[4]) for r in rows] == [("-", "unrecognized_layout")]


def test_unreadable_sheet_cannot_be_annotated(tmp_path: Path, ctx: RulesContext) -> None:
    bad = tmp_path / "old.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    result = validate_path(bad, ctx)
    with pytest.raises(ReportError, match="読めないシート"):
        annotate_path(result, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_refuses_to_overwrite_the_source_or_write_another_format(
    tmp_path: Path, ctx: RulesContext
) -> None:
    source = defects_workbook(tmp_path / "d.xlsx")
    before = sha(source)
    result = validate_path(source, ctx)
    assert result.sheet is not None
    with pytest.raises(UsageError):
        write_annotated(result, result.sheet.grid, source)
    with pytest.raises(UsageError):
        write_annotated(result, result.sheet.grid, tmp_path / "copy.txt")
    assert sha(source) == before


def test_source_changed_since_validation_is_refused(tmp_path: Path, ctx: RulesContext) -> None:
    source = defects_workbook(tmp_path / "d.xlsx")
    result = validate_path(source, ctx)
    assert result.sheet is not None
    wb = openpyxl.load_workbook(source)
    wb[TITLE]["A1"] = "edited"
    wb.save(source)
    with pytest.raises(ReportError, match="変わりました"):
        write_annotated(result, result.sheet.grid, tmp_path / "a.xlsx")


def test_cli_annotate(tmp_path: Path) -> None:
    source = defects_workbook(tmp_path / "d.xlsx")
    before = sha(source)
    out = tmp_path / "annotated.xlsx"
    proc = CliRunner().invoke(app, ["validate", str(source), "--annotate", str(out)])
    assert proc.exit_code == 1  # the sheet has errors; the copy is written all the same
    assert f"{TITLE}!E13 事業化 「△」 [flag_invalid]" in proc.stdout
    assert str(out) in proc.stderr
    assert sha(source) == before
    marks = set(marked(openpyxl.load_workbook(out)[TITLE]))
    assert marks == {c for c, _, _ in EXPECTED_IN_WORKBOOK}


def test_cli_annotate_needs_one_sheet_and_an_xlsx_name(tmp_path: Path) -> None:
    two = [str(DEFECTS), str(FIXTURES / "valid_excerpt.txt")]
    proc = CliRunner().invoke(app, ["validate", *two, "--annotate", str(tmp_path / "a.xlsx")])
    assert isinstance(proc.exception, UsageError)
    # the same file named twice is one sheet (`discover`): annotated, not refused
    proc = CliRunner().invoke(
        app, ["validate", str(DEFECTS), str(DEFECTS), "--annotate", str(tmp_path / "a.xlsx")]
    )
    assert proc.exit_code == 1 and (tmp_path / "a.xlsx").exists()
    proc = CliRunner().invoke(app, ["validate", str(DEFECTS), "--annotate", str(tmp_path / "a")])
    assert isinstance(proc.exception, UsageError)


def test_validate_without_annotate_does_not_import_openpyxl() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ukiha_pipeline.validation import load_context, validate_path\n"
        f"validate_path({str(DEFECTS)!r}, load_context())\n"
        "import ukiha_pipeline.annotate\n"
        "print('openpyxl' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert proc.stdout.strip() == "False"


def test_cli_annotate_is_written_when_the_output_reader_stops_early(tmp_path: Path) -> None:
    """`ukiha validate SHEET --annotate OUT.xlsx | head -1`: the copy is written before the
    failures are printed, so a reader that closes the pipe at once does not lose it."""
    import subprocess

    from tests.ukiha_process import ukiha_argv, ukiha_env

    out = tmp_path / "a.xlsx"
    proc = subprocess.Popen(
        ukiha_argv("validate", str(DEFECTS), "--annotate", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ukiha_env(),
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` after its line: the next write gets EPIPE
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "内部エラー" not in stderr
    ws = openpyxl.load_workbook(out)["several_defects"]
    assert set(marked(ws)) == {c for c, _, _ in EXPECTED}
