"""Rows that do not read as written, on variants of the REAL FY2021 (R3) sheet in tmp_path.

A measure line with a note, an unreadable or deleted measure line, a sub-measure whose marker
is lost, a missing table header: no row may be filed under the measure or sub-measure before
it, and each failure says what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.parsing import ParsedSheet, parse_grid
from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.validation.messages import STRUCTURE

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW: list[str] = R3.read_text(encoding="utf-8").split("\n")
#: Measure 3-3 (R3 line 139) and its block: KPI 140, sub-measures 141/143/146/149, the
#: last project 151; measure 3-4 starts at 154 (after the table header at 153).
MEASURE_3_3, KPI_3_3, BLOCK_END = 139, 140, 151


def cells(line: int) -> list[str]:
    return RAW[line - 1].split("\t")


def variant(tmp_path: Path, edits: dict[int, str | None]) -> ParsedSheet:
    """R3 with lines replaced (None: deleted), parsed; lines keep R3's numbering if none
    is deleted."""
    lines = [edits.get(n, text) for n, text in enumerate(RAW, start=1)]
    path = tmp_path / "variant.txt"
    path.write_text("\n".join(x for x in lines if x is not None), encoding="utf-8")
    return parse_grid(read_grid(path))


def line_of(sheet: ParsedSheet, row: int) -> int:
    return sheet.grid.positions[row].line


def filed(sheet: ParsedSheet) -> dict[int, tuple[int, int, int]]:
    """Each project's line → (policy, measure, sub-measure) it was filed under."""
    return {
        line_of(sheet, p.row): (p.policy_no, p.measure_no, p.submeasure_no) for p in sheet.projects
    }


@pytest.fixture(scope="module")
def r3() -> ParsedSheet:
    return parse_grid(read_grid(R3))


def test_the_r3_block_is_as_these_tests_assume(r3: ParsedSheet) -> None:
    assert cells(MEASURE_3_3)[0].startswith("3 うきはっ子")
    assert cells(KPI_3_3)[0] == "KPI 自尊感情の向上"
    assert [cells(n)[0][:1] for n in (141, 143, 146, 149)] == ["①", "②", "③", "④"]
    assert cells(149)[0] == "④豊かな心育成事業"
    assert {filed(r3)[n] for n in range(149, 152)} == {(3, 3, 4)}


# --- a measure line with a note cell ------------------------------------------------------


def test_a_measure_line_with_a_note_cell_is_read_and_the_note_shown(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """The note in its 6th cell made the line a malformed row; its KPI became a second KPI
    of measure 3-2, its ④ and projects (149-151) measure 3-2 ④, with no failure naming them."""
    row = cells(MEASURE_3_3)
    row[5] = "※R4から所管変更"
    sheet = variant(tmp_path, {MEASURE_3_3: "\t".join(row)})
    assert sheet.issues == ()
    assert filed(sheet) == filed(r3)
    assert [(m.policy_no, m.measure_no, m.title) for m in sheet.measures] == [
        (m.policy_no, m.measure_no, m.title) for m in r3.measures
    ]
    [kpi] = [k for k in sheet.kpis if k.name == "自尊感情の向上"]
    assert (kpi.policy_no, kpi.measure_no) == (3, 3)
    assert sheet.notes == (
        f"{MEASURE_3_3}行: 施策 3-3 の見出しの後ろのセルは読みません: ※R4から所管変更",
    )


def test_a_sub_measure_written_with_a_number_is_not_taken_for_a_measure(tmp_path: Path) -> None:
    """`1英語力…` with its project cells: the next row is a project, not a measure's KPI or ①."""
    sheet = variant(tmp_path, {141: RAW[140].replace("①", "1", 1)})
    assert [(m.policy_no, m.measure_no) for m in sheet.measures].count((3, 1)) == 1
    assert {(line_of(sheet, i.row), i.reason) for i in sheet.issues} == {
        (141, "submeasure_marker_unreadable"),
        (142, "after_unreadable_submeasure"),
    }


# --- a measure line that cannot be read, or is gone ---------------------------------------


@pytest.mark.parametrize(
    ("edit", "first_reason", "rest_reason"),
    [
        ("※" + RAW[MEASURE_3_3 - 1], "measure_line_unreadable", "after_unreadable_measure"),
        (RAW[MEASURE_3_3 - 1][2:], "measure_line_unreadable", "after_unreadable_measure"),
        (None, "measure_line_missing", "after_missing_measure"),
    ],
    ids=["a mark before the number", "no number", "deleted"],
)
def test_the_block_of_a_measure_line_that_cannot_be_read_is_kept_out(
    tmp_path: Path, r3: ParsedSheet, edit: str | None, first_reason: str, rest_reason: str
) -> None:
    """Every row of measure 3-3's block is a malformed row naming the line that broke it; none
    is filed under measure 3-2 (the KPI as its second KPI, ④ and its projects as its ④)."""
    sheet = variant(tmp_path, {MEASURE_3_3: edit})
    shift = 1 if edit is None else 0  # lines after a deleted line move up by one
    block = range(MEASURE_3_3 + (1 if edit is None else 0), BLOCK_END + 1)
    kept_out = {line_of(sheet, i.row) + shift: i for i in sheet.issues}
    assert set(kept_out) == set(block)
    first = kept_out[min(block)]
    assert first.reason == first_reason
    for n in block:
        if n != min(block):
            assert kept_out[n].reason == rest_reason
            assert dict(kept_out[n].fields) == {"line": f"{min(block) - shift}行"}
    # every other project as in R3 (measure 3-4 after the block is read again)
    in_r3 = {n + (shift if n >= MEASURE_3_3 else 0): at for n, at in filed(sheet).items()}
    assert in_r3 == {n: where for n, where in filed(r3).items() if n not in block}
    assert [k.name for k in sheet.kpis if (k.policy_no, k.measure_no) == (3, 2)] == [
        k.name for k in r3.kpis if (k.policy_no, k.measure_no) == (3, 2)
    ]


def test_every_new_reason_has_a_message_in_both_languages() -> None:
    reasons = {
        "measure_line_unreadable",
        "after_unreadable_measure",
        "measure_line_missing",
        "after_missing_measure",
        "submeasure_marker_unreadable",
        "after_unreadable_submeasure",
        "table_header_missing",
        "kpi_empty_cell_filled",
    }
    assert reasons <= set(STRUCTURE["ja"]) and reasons <= set(STRUCTURE["en"])


# --- a sub-measure whose marker is lost ---------------------------------------------------


@pytest.mark.parametrize("marker", ["", "1", "(1)", "1."])
def test_the_projects_of_a_sub_measure_without_its_marker_are_kept_out(
    tmp_path: Path, r3: ParsedSheet, marker: str
) -> None:
    """② of measure 3-3 (143) without ②: its rows 144-145 went to ① (141) without a word."""
    sheet = variant(tmp_path, {143: RAW[142].replace("②", marker, 1)})
    assert {(line_of(sheet, i.row), i.reason) for i in sheet.issues} == {
        (143, "submeasure_marker_unreadable"),
        (144, "after_unreadable_submeasure"),
        (145, "after_unreadable_submeasure"),
    }
    expected = {n: where for n, where in filed(r3).items() if n not in (143, 144, 145)}
    assert filed(sheet) == expected
    assert sheet.notes == ()  # ③ after the kept-out row is no gap: ②'s rows are not in ①


# --- the project table's header --------------------------------------------------------------


def test_rows_after_a_missing_table_header_say_the_header_is_missing(tmp_path: Path) -> None:
    assert cells(34)[0] == "事業一覧" and cells(50)[0] == "事業一覧"
    sheet = variant(tmp_path, {34: ""})
    kept_out = {line_of(sheet, i.row): i.reason for i in sheet.issues}
    assert set(kept_out) == set(range(35, 49))  # measure 1-1 up to the next header (50)
    assert set(kept_out.values()) == {"table_header_missing"}
    assert "事業一覧" in STRUCTURE["ja"]["table_header_missing"].hint


def test_a_sheet_without_any_table_header_is_told_that_one_is_missing(tmp_path: Path) -> None:
    headers = {n: "" for n in range(1, len(RAW) + 1) if cells(n)[0] == "事業一覧"}
    with pytest.raises(SheetFatal) as exc:
        variant(tmp_path, headers)
    assert exc.value.check == "unrecognized_layout"
    assert "基本方針の見出しはありますが" in exc.value.message
    assert "事業一覧の表" in exc.value.message and "見つかりません" in exc.value.message

    numbered = [n for n in range(1, len(RAW) + 1) if RAW[n - 1][:2] in ("1)", "2)", "3)", "4)")]
    assert numbered == [13, 17, 21, 25, 27, 71, 115, 165]  # contents and headings
    no_policy: dict[int, str | None] = {n: RAW[n - 1][2:] for n in numbered}
    with pytest.raises(SheetFatal) as exc:
        variant(tmp_path, no_policy)
    assert "事業一覧の表はありますが、基本方針の見出し" in exc.value.message


# --- the first policy heading gone: the table of contents stays contents --------------------


def test_without_the_first_heading_a_contents_line_is_no_policy(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Heading 1 (line 27) deleted: the contents line `4) 時代に…` (25), with policy 1's 概要
    after it, was read as policy 4 with policy 1's block, and the real policy 4's measures were
    malformed rows. A contents line numbered 4 before the heading of 2 is no heading: policy
    1's rows are kept out (before_policy), none is filed under another policy."""
    assert RAW[24].startswith("4) 時代に") and RAW[26].startswith("1)うきはの")
    sheet = variant(tmp_path, {27: None})
    r3_line = {n: n + 1 for n in range(27, len(RAW))}  # lines after 27 moved up by one
    kept_out = {r3_line[line_of(sheet, i.row)]: i.reason for i in sheet.issues}
    block = {n for n in range(28, 71) if RAW[n - 1].strip()}  # up to heading 2 (71)
    assert kept_out == dict.fromkeys(block, "before_policy")
    assert [(p.policy_no, p.title, p.strategy_page) for p in sheet.policies] == [
        (p.policy_no, p.title, p.strategy_page) for p in r3.policies if p.policy_no != 1
    ]
    assert {r3_line[n]: at for n, at in filed(sheet).items()} == {
        n: at for n, at in filed(r3).items() if at[0] != 1
    }
    assert [(m.policy_no, m.measure_no, m.title) for m in sheet.measures] == [
        (m.policy_no, m.measure_no, m.title) for m in r3.measures if m.policy_no != 1
    ]
    assert sheet.notes == ()


def test_without_the_first_heading_contents_lines_with_pages_are_no_policies(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Heading 1 (line 27) cleared and the contents lines (13-25) written with their pages:
    they were read as headings, policy 4 (line 25) taking policy 1's block, and the real
    policies 2-4 were notes of a table twice and malformed rows. The run of heading lines with
    no block between them is the contents: policy 1's rows are kept out, 2-4 read as in R3."""
    pages = {13: 119, 17: 121, 21: 123, 25: 125}
    edits: dict[int, str | None] = {n: f"{RAW[n - 1]}(戦略P{p})" for n, p in pages.items()}
    sheet = variant(tmp_path, {**edits, 27: ""})
    kept_out = {line_of(sheet, i.row): i.reason for i in sheet.issues}
    block = {n for n in range(28, 71) if RAW[n - 1].strip()}  # up to heading 2 (71)
    assert kept_out == dict.fromkeys(block, "before_policy")
    assert [(p.policy_no, p.row) for p in sheet.policies] == [
        (p.policy_no, p.row) for p in r3.policies if p.policy_no != 1
    ]
    assert filed(sheet) == {n: at for n, at in filed(r3).items() if at[0] != 1}
    assert sheet.notes == ()


def test_a_first_heading_without_its_page_is_still_read_after_the_contents(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """The rule above keeps the loose heading: `1)うきは…` without (戦略P119), before the
    heading of 2, is policy 1."""
    sheet = variant(tmp_path, {27: RAW[26].replace("(戦略P119)", "")})
    assert sheet.issues == ()
    assert filed(sheet) == filed(r3)
    assert [p.strategy_page for p in sheet.policies] == [None, 121, 123, 125]


# --- a cell after a policy KPI's value ------------------------------------------------------


def test_a_cell_after_a_policy_kpi_value_is_named_in_a_note(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """`追記メモ` after the 現状値's 時点 (line 30) was dropped without a word. The values are
    read as before; a note names the line and the text it does not read."""
    assert cells(30)[2:] == ["現状値", "2,398千円", "H29年度"]
    sheet = variant(tmp_path, {30: RAW[29] + "\t追記メモ"})
    assert sheet.issues == ()
    assert sheet.kpis == r3.kpis
    assert sheet.notes == ("30行: 基本方針 1 の現状値の行の、ほかのセルは読みません: 追記メモ",)


# --- a sub-measure whose title cell was cleared -------------------------------------------


def test_a_skipped_sub_measure_marker_is_told(tmp_path: Path, r3: ParsedSheet) -> None:
    """② of measure 1-1 (line 43) with its title cell cleared reads as a project row of ①:
    its 4 projects joined ① without a word (only the count of 取組 changed). Its rows cannot
    be told from ①'s, but ③ after ① can: a note names the measure, the gap and ③'s line."""
    assert RAW[42].startswith("②農林業の担い手の育成、支援\t") and RAW[46].startswith("③")
    sheet = variant(tmp_path, {43: RAW[42].replace("②農林業の担い手の育成、支援", "", 1)})
    assert sheet.issues == ()
    assert {n: at for n, at in filed(sheet).items() if at[:2] == (1, 1)} == {
        n: (1, 1, 1 if n < 47 else 3) for n in range(37, 49)
    }
    assert sheet.notes == (
        "47行: 施策 1-1 の取組が ① (37行) の次に ③ です (② がありません)。② の取組名のセル"
        " (1列目) が消えているかもしれません。その場合、① の事業に ② の事業が入っています。",
    )


def test_a_repeated_marker_is_no_gap(tmp_path: Path) -> None:
    """② typed as ① is reported as a repeated marker; ③ after it skips nothing."""
    sheet = variant(tmp_path, {43: RAW[42].replace("②", "①", 1)})
    assert [i.reason for i in sheet.issues] == ["submeasure_number_repeated"]
    assert sheet.notes == ()


# --- the title page and contents before the first heading are no block rows ---------------


def test_a_date_cell_on_the_cover_page_is_no_block_row(tmp_path: Path, r3: ParsedSheet) -> None:
    """A date in column G on line 1 (7 cells) was taken for the start of policy 1's block:
    the title page and the contents were 8 before_policy errors and the title went unread."""
    title = RAW[4].replace("第2期うきは市", "第2期朝倉市")
    sheet = variant(tmp_path, {1: "\t" * 6 + "令和4年5月31日", 5: title})
    assert sheet.issues == ()
    assert (sheet.title, sheet.municipality) == (title.strip(), "朝倉市")
    assert filed(sheet) == filed(r3)


def test_a_title_centred_in_column_c_is_the_title(tmp_path: Path, r3: ParsedSheet) -> None:
    """The title in the 3rd cell: it was not read, and the contents lines were errors."""
    sheet = variant(tmp_path, {5: "\t\t" + RAW[4]})
    assert sheet.issues == ()
    assert sheet.title == r3.title
    assert filed(sheet) == filed(r3)


# --- a later policy heading gone: nothing of that policy is filed under the one before ------

#: Policy 2: its heading (R3 line 71), its 概要 / 現状値 / ねらい / 最新値 (73-76), its rows up
#: to the heading of 3 (115).
HEADING_2, HEADING_3 = 71, 115


def _policy_2_kept_out(
    sheet: ParsedSheet, r3: ParsedSheet, shift: dict[int, int], first: int
) -> dict[int, str]:
    """Assert that all but policy 2 reads as in R3; return R3 line → reason of the failures."""
    assert [p.policy_no for p in sheet.policies] == [1, 3, 4]
    assert [(p.policy_no, p.overview, p.aim) for p in sheet.policies] == [
        (p.policy_no, p.overview, p.aim) for p in r3.policies if p.policy_no != 2
    ]
    assert {shift[n]: at for n, at in filed(sheet).items()} == {
        n: at for n, at in filed(r3).items() if at[0] != 2
    }
    assert [(m.policy_no, m.measure_no, m.title) for m in sheet.measures] == [
        (m.policy_no, m.measure_no, m.title) for m in r3.measures if m.policy_no != 2
    ]
    kpi = [(k.level, k.policy_no, k.measure_no, k.name, k.baseline, k.latest) for k in r3.kpis]
    assert [
        (k.level, k.policy_no, k.measure_no, k.name, k.baseline, k.latest) for k in sheet.kpis
    ] == [k for k in kpi if k[1] != 2]
    kept_out = {shift[line_of(sheet, i.row)]: i.reason for i in sheet.issues}
    block = {
        n
        for n in range(first, HEADING_3)
        if RAW[n - 1].strip() and not RAW[n - 1].startswith("事業一覧\t")
    }
    assert set(kept_out) == block  # every row of policy 2's block, none filed elsewhere
    return kept_out


def test_a_deleted_later_heading_keeps_that_policys_rows_out(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Heading 2 deleted: policy 2's measure 1 line was a `measure_number_repeated` (its
    projects joined measure 1-1: 17), its measure 4 became 1-4, and its 現状値 / 最新値 rows
    were 2 more projects of 1-3 ② (事業 101). Its 概要 row in policy 1's table says the
    heading above it is missing; every row after it up to heading 3 is kept out."""
    sheet = variant(tmp_path, {HEADING_2: None})
    shift = {n: n + (n >= HEADING_2) for n in range(1, len(RAW))}
    kept_out = _policy_2_kept_out(sheet, r3, shift, HEADING_2 + 2)
    assert kept_out.pop(73) == "policy_heading_missing"
    assert set(kept_out.values()) == {"after_policy_heading_missing"}
    assert len(sheet.projects) == 74
    [first] = [i for i in sheet.issues if i.reason == "policy_heading_missing"]
    assert "基本方針の見出しが消えているか" in STRUCTURE["ja"][first.reason].message


def test_a_later_heading_without_its_number_keeps_that_policys_rows_out(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """`地域コミュニティの…(戦略P121)` without `2)`: a table row of unknown shape, then the same
    as a deleted heading."""
    sheet = variant(tmp_path, {HEADING_2: RAW[HEADING_2 - 1].removeprefix("2) ")})
    kept_out = _policy_2_kept_out(sheet, r3, {n: n for n in range(1, len(RAW) + 1)}, HEADING_2)
    assert (kept_out[HEADING_2], kept_out[73]) == ("table_row_shape", "policy_heading_missing")


def test_a_measure_number_restarting_lower_keeps_the_rest_of_the_policy_out(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Heading 2 and its 概要 block deleted: measure `1 空き家…` after measure 1-3 reuses 1
    for another title, lower than 3: a policy heading may be missing above it. It and every
    row up to heading 3 are kept out (measure 4 of policy 2 was filed as 1-4)."""
    assert RAW[78].startswith("1 空き家")
    sheet = variant(tmp_path, dict.fromkeys(range(HEADING_2, 77), None))
    shift = {n: n + 6 * (n >= HEADING_2) for n in range(1, len(RAW))}
    kept_out = _policy_2_kept_out(sheet, r3, shift, 79)
    assert kept_out.pop(79) == "measure_number_restarts"
    assert set(kept_out.values()) == {"after_measure_restart"}
    assert "基本方針の見出しが消えているか" in STRUCTURE["ja"]["measure_number_restarts"].message


def test_a_measure_number_typed_twice_keeps_its_block_out(tmp_path: Path, r3: ParsedSheet) -> None:
    """Measure 3-3 numbered 2 (after 3-2): its KPI, sub-measures and projects were filed under
    measure 3-2. They are kept out, naming the line; measure 3-4 reads as in R3."""
    sheet = variant(tmp_path, {MEASURE_3_3: "2" + RAW[MEASURE_3_3 - 1][1:]})
    kept_out = {line_of(sheet, i.row): i.reason for i in sheet.issues}
    assert kept_out.pop(MEASURE_3_3) == "measure_number_repeated"
    assert kept_out == dict.fromkeys(range(KPI_3_3, BLOCK_END + 1), "after_repeated_measure")
    assert filed(sheet) == {n: at for n, at in filed(r3).items() if at[:2] != (3, 3)}


def test_contents_lines_with_their_pages_are_no_policies(tmp_path: Path, r3: ParsedSheet) -> None:
    """The contents lines (13, 17, 21, 25) written with `(戦略P…)`: each was read as its
    policy's heading (source line 13-25, 概要 / ねらい empty) and the real headings gave four
    「同じ表が二度入っていませんか」 notes. A heading with no block of its own, its number's
    heading coming later, is a contents line."""
    pages = {13: 119, 17: 121, 21: 123, 25: 125}
    assert all(RAW[n - 1].startswith(f"{k})") for k, n in enumerate(pages, start=1))
    sheet = variant(tmp_path, {n: f"{RAW[n - 1]}(戦略P{p})" for n, p in pages.items()})
    assert sheet.policies == r3.policies
    assert (sheet.issues, sheet.notes) == ((), ())
    assert filed(sheet) == filed(r3)


# --- cover lines and the title repeated -----------------------------------------------------


def test_a_kpi_label_alone_on_the_cover_is_no_block_row(tmp_path: Path, r3: ParsedSheet) -> None:
    """`KPI（重要業績評価指標）の見方` above the title started policy 1's block: every line
    before heading 1 was a before_policy error and the title was lost."""
    path = tmp_path / "cover.txt"
    path.write_text("KPI（重要業績評価指標）の見方\n\n" + "\n".join(RAW), encoding="utf-8")
    sheet = parse_grid(read_grid(path))
    assert sheet.issues == ()
    assert sheet.title == r3.title
    assert sheet.notes == ()


def test_the_title_repeated_at_the_top_of_a_page_is_skipped(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """The title again before heading 2 was a malformed row 「セル 1 個」."""
    sheet = variant(tmp_path, {71: RAW[4] + "\n\n" + RAW[70]})
    assert sheet.issues == ()
    assert sheet.notes == ()
    assert len(sheet.projects) == len(r3.projects)


def test_a_workbook_with_the_title_atop_each_policys_tab_reads_clean(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """One tab per policy, each starting with the title: A1 of tabs 2-4 were errors."""
    wb = openpyxl.Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    bounds = [(1, 70), (71, 114), (115, 164), (165, len(RAW))]
    for n, (first, last) in enumerate(bounds, start=1):
        ws = wb.create_sheet(f"基本方針{n}")
        lines = RAW[first - 1 : last] if n == 1 else [RAW[4], "", *RAW[first - 1 : last]]
        for r, line in enumerate(lines, start=1):
            for c, text in enumerate(line.split("\t"), start=1):
                if text:
                    ws.cell(r, c, text)
    path = tmp_path / "tabs.xlsx"
    wb.save(path)
    sheet = parse_grid(read_grid(path))
    assert sheet.issues == ()
    assert sheet.title == r3.title
    assert len(sheet.projects) == len(r3.projects)
    assert len(sheet.policies) == 4


# --- last year's sheet pasted after this year's ----------------------------------------------


def test_last_years_table_pasted_after_this_years_is_fatal(tmp_path: Path) -> None:
    """R3's text then the same with R2年度 headers: both were loaded (事業 198, notes only)."""
    path = tmp_path / "two_years.txt"
    last_year = [line.replace("R3年度", "R2年度") for line in RAW]
    path.write_text("\n".join([*RAW, "", *last_year]), encoding="utf-8")
    with pytest.raises(SheetFatal) as fatal:
        parse_grid(read_grid(path))
    assert fatal.value.check == "unrecognized_layout"
    message = str(fatal.value)
    assert "27行" in message and f"{len(RAW) + 2 + 26}行" in message
    assert "令和3年度" in message and "令和2年度" in message


def test_the_same_years_table_twice_is_still_read_with_notes(tmp_path: Path) -> None:
    path = tmp_path / "twice.txt"
    path.write_text("\n".join([*RAW, "", *RAW]), encoding="utf-8")
    sheet = parse_grid(read_grid(path))
    assert any("同じ表が二度" in n for n in sheet.notes)
