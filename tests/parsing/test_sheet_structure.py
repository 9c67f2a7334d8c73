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
        "after_repeated_submeasure",
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
    """② typed as ① is reported as a repeated marker, and the rows after it up to measure
    1-2 are kept out; nothing is told of a gap."""
    sheet = variant(tmp_path, {43: RAW[42].replace("②", "①", 1)})
    assert [(line_of(sheet, i.row), i.reason) for i in sheet.issues] == [
        (43, "submeasure_number_repeated")
    ] + [(n, "after_repeated_submeasure") for n in range(44, 49)]
    assert sheet.notes == ()


def test_a_repeated_first_marker_keeps_the_rest_of_the_measure_out(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Measure 1-2's line and KPI deleted (R3 lines 51-52): its ①②③ repeated 1-1's markers
    (3 errors) while its other rows were filed under 1-1's ①② and ④⑤ without a word. From
    the repeated ① on, every row up to measure 1-3 is kept out, saying the measure line above
    it may be missing."""
    sheet = variant(tmp_path, {51: None, 52: None})
    shift = {n: n + 2 * (n >= 51) for n in range(1, len(RAW))}
    kept_out = {shift[line_of(sheet, i.row)]: i for i in sheet.issues}
    first = kept_out.pop(53)
    assert (first.reason, dict(first.fields)) == (
        "submeasure_number_repeated",
        {"marker": "①", "earlier": "37行"},
    )
    assert "施策の行 (番号と題名) が消えているか" in STRUCTURE["ja"][first.reason].message
    assert {n: i.reason for n, i in kept_out.items()} == dict.fromkeys(
        _table_rows(54, 62), "after_repeated_submeasure"
    )
    assert {shift[n]: at for n, at in filed(sheet).items()} == {
        n: at for n, at in filed(r3).items() if at[:2] != (1, 2)
    }
    assert [(m.policy_no, m.measure_no) for m in sheet.measures] == [
        (m.policy_no, m.measure_no) for m in r3.measures if (m.policy_no, m.measure_no) != (1, 2)
    ]


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


#: Measure 3-2's line (R3), measure 3-4's line, the heading of policy 4
MEASURE_3_2, MEASURE_3_4, HEADING_4 = 131, 154, 165


def _table_rows(first: int, last: int) -> list[int]:
    """R3's lines from `first` to `last` that are table rows (not empty, no table header)."""
    return [
        n
        for n in range(first, last + 1)
        if RAW[n - 1].strip() and not RAW[n - 1].startswith("事業一覧\t")
    ]


def test_a_measure_number_typed_as_the_one_before_keeps_the_rest_of_the_policy_out(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Measure 3-3 numbered 2 (right after 3-2): the number is not higher than the measure
    before, as when a policy heading is lost above it; its block was kept out but 3-4 read on.
    Now every row up to the next policy heading is kept out, none filed under policy 3."""
    sheet = variant(tmp_path, {MEASURE_3_3: "2" + RAW[MEASURE_3_3 - 1][1:]})
    kept_out = {line_of(sheet, i.row): i.reason for i in sheet.issues}
    assert kept_out.pop(MEASURE_3_3) == "measure_number_restarts"
    assert kept_out == dict.fromkeys(_table_rows(KPI_3_3, HEADING_4 - 1), "after_measure_restart")
    assert filed(sheet) == {n: at for n, at in filed(r3).items() if at[:2] not in {(3, 3), (3, 4)}}


def test_a_measure_number_typed_twice_keeps_its_block_out(tmp_path: Path, r3: ParsedSheet) -> None:
    """Measure 3-2 numbered 4, then 3-3, then 3-4 (4 again, higher than 3): 3-4's KPI,
    sub-measures and projects are kept out, naming the line, none filed under the other 4."""
    sheet = variant(tmp_path, {MEASURE_3_2: "4" + RAW[MEASURE_3_2 - 1][1:]})
    kept_out = {line_of(sheet, i.row): i.reason for i in sheet.issues}
    assert kept_out.pop(MEASURE_3_4) == "measure_number_repeated"
    assert kept_out == dict.fromkeys(
        _table_rows(MEASURE_3_4 + 1, HEADING_4 - 1), "after_repeated_measure"
    )
    assert filed(sheet) == {
        n: (3, 4, at[2]) if at[:2] == (3, 2) else at
        for n, at in filed(r3).items()
        if at[:2] != (3, 4)
    }


def test_a_measure_number_used_again_after_itself_keeps_the_rest_of_the_policy_out(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """Policy 1 left with measure 1 (R3 lines 50-69 deleted), then policy 2's heading and 概要
    block lost (71-77): policy 2's `1 空き家…` reused 1 right after 1-1, so only its block was
    kept out and 2-2..2-4 were filed as 1-2..1-4. Like a number restarting lower, every row up
    to heading 3 is kept out now."""
    edits: dict[int, str | None] = dict.fromkeys([*range(50, 70), *range(71, 78)], None)
    sheet = variant(tmp_path, edits)
    shift = {n: n + 20 * (n >= 50) + 7 * (n >= 51) for n in range(1, len(RAW))}
    kept_out = {shift[line_of(sheet, i.row)]: i.reason for i in sheet.issues}
    assert kept_out.pop(79) == "measure_number_restarts"
    assert kept_out == dict.fromkeys(_table_rows(80, HEADING_3 - 1), "after_measure_restart")
    assert [(m.policy_no, m.measure_no) for m in sheet.measures] == [(1, 1)] + [
        (m.policy_no, m.measure_no) for m in r3.measures if m.policy_no > 2
    ]
    assert {shift[n]: at for n, at in filed(sheet).items()} == {
        n: at for n, at in filed(r3).items() if at[:2] == (1, 1) or at[0] > 2
    }


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


# --- measure numbers ------------------------------------------------------------------------

#: Measure 1-2 (R3 line 51), its KPI (52) and its projects (53-62); measure 1-3 at 64.
MEASURE_1_2 = 51


@pytest.mark.parametrize(
    ("line", "number", "title"),
    [
        ("2 5G活用の推進", 2, "5G活用の推進"),
        ("２　５Ｇ活用の推進", 2, "５Ｇ活用の推進"),
        ("2．うきはのブランド力を高めます", 2, "うきはのブランド力を高めます"),
        ("２うきはのブランド力を高めます", 2, "うきはのブランド力を高めます"),
        ("25G活用の推進", 25, "G活用の推進"),
    ],
)
def test_a_measure_title_starting_with_a_digit_keeps_the_number(
    tmp_path: Path, r3: ParsedSheet, line: str, number: int, title: str
) -> None:
    """`2 5G活用の推進` was measure 25: the number was read with the spaces removed."""
    sheet = variant(tmp_path, {MEASURE_1_2: line})
    assert sheet.issues == ()
    assert [(m.policy_no, m.measure_no, m.title) for m in sheet.measures][1] == (1, number, title)
    assert {at for n, at in filed(sheet).items() if 53 <= n <= 62} == {
        (1, number, s) for s in range(1, 6)
    }


#: The table header R3 repeats on each page (line 34)
HEADER = 34


@pytest.mark.parametrize("footer", ["2022/6/30", "2022/06/30 更新 企画財政課", "4月30日", "12:30"])
def test_a_page_footer_mid_table_is_no_measure(
    tmp_path: Path, r3: ParsedSheet, footer: str
) -> None:
    """A footer `2022/6/30` and a repeated header between two projects of 1-1 ① (R3 lines 40
    and 41) was measure 1-2022: the next two projects were errors (no ① before them) and the
    rest of 1-1 was filed under it. Now only the footer's line is a failure."""
    sheet = variant(tmp_path, {41: "\n".join(["", footer, "", RAW[HEADER - 1], RAW[40]])})
    shift = {n: n - 4 * (n > 41) for n in range(1, len(RAW) + 5)}
    assert [(m.policy_no, m.measure_no) for m in sheet.measures] == [
        (m.policy_no, m.measure_no) for m in r3.measures
    ]
    assert {shift[n]: at for n, at in filed(sheet).items()} == filed(r3)
    assert [(line_of(sheet, i.row), i.reason) for i in sheet.issues] == [(42, "table_row_shape")]


def test_a_footer_after_the_last_table_is_no_measure(tmp_path: Path, r3: ParsedSheet) -> None:
    """`2022/06/30 更新 企画財政課` after the last row was measure 4-2022 (with a note that it
    has no KPI): now it is the one row that cannot be placed."""
    sheet = variant(tmp_path, {len(RAW): RAW[-1] + "\n\n2022/06/30 更新 企画財政課"})
    assert len(sheet.measures) == len(r3.measures) == 13
    assert filed(sheet) == filed(r3)
    assert [i.reason for i in sheet.issues] == ["table_row_shape"]
    assert sheet.notes == r3.notes


# --- a measure or sub-measure continued after a page break -----------------------------------


def _page_break_before_41(line: str) -> dict[int, str | None]:
    """A page break between two projects of 1-1 ① (R3 lines 40 and 41): the table header
    again, then `line`; lines after 41 move down by 3 (`line` may end on row 41's cells)."""
    return {41: "\n".join(["", RAW[HEADER - 1], line if "\t" in line else line + "\n" + RAW[40]])}


@pytest.mark.parametrize("mark", ["（続き）", "(続き)", "（つづき）", " 続き", "続き", ""])
def test_a_measure_line_repeated_as_continued_is_the_same_measure(
    tmp_path: Path, r3: ParsedSheet, mark: str
) -> None:
    """`1 農業や…（続き）` after a page break was measure 1 again for another title: 9 errors
    (28 once a reused number kept the rest of the policy out). It is the same measure."""
    sheet = variant(tmp_path, _page_break_before_41(RAW[34].rstrip("\t") + mark))
    shift = {n: n - 3 * (n > 41) for n in range(1, len(RAW) + 4)}
    assert sheet.issues == ()
    assert {shift[n]: at for n, at in filed(sheet).items()} == filed(r3)
    assert {(m.policy_no, m.measure_no, m.title) for m in sheet.measures} == {
        (m.policy_no, m.measure_no, m.title) for m in r3.measures
    }


@pytest.mark.parametrize("mark", ["（続き）", "(続き)", "（つづき）", "続き", ""])
def test_a_submeasure_repeated_as_continued_is_the_same_submeasure(
    tmp_path: Path, r3: ParsedSheet, mark: str
) -> None:
    """`①収益性の…（続き）` with a project after a page break was a repeated ① for another
    title: its project was kept out (then, the rest of the measure). It is the same ①, its
    projects counted on."""
    title = RAW[36].split("\t")[0]
    sheet = variant(tmp_path, _page_break_before_41(title + mark + RAW[40]))
    shift = {n: n - 2 * (n > 41) for n in range(1, len(RAW) + 3)}
    assert sheet.issues == ()
    assert {shift[n]: at for n, at in filed(sheet).items()} == filed(r3)
    seq = [
        p.seq for p in sheet.projects if (p.policy_no, p.measure_no, p.submeasure_no) == (1, 1, 1)
    ]
    assert seq == list(range(1, 7))
    assert {(s.measure_no, s.submeasure_no, s.title) for s in sheet.submeasures} == {
        (s.measure_no, s.submeasure_no, s.title) for s in r3.submeasures
    }


def test_a_continued_mark_on_another_measures_number_is_no_continuation(tmp_path: Path) -> None:
    """`1 農業や…（続き）` after measure 1-2 is measure 1 used again, not measure 1-2 going on."""
    sheet = variant(tmp_path, {62: RAW[61] + "\n" + RAW[34].rstrip("\t") + "（続き）"})
    assert [i.reason for i in sheet.issues][:1] == ["measure_number_restarts"]


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


# --- page footers and a policy heading repeated at a page break -------------------------------


def by_content(sheet: ParsedSheet) -> list[tuple[str, int, int, int]]:
    """Each project's 事業内容 → where it was filed, in sheet order (lines shift on insertion)."""
    return [(p.cells[3], p.policy_no, p.measure_no, p.submeasure_no) for p in sheet.projects]


@pytest.mark.parametrize(("before", "footer"), [(102, "12 / 20"), (58, "3 / 12"), (58, "3／12")])
def test_a_page_number_footer_is_no_measure(
    tmp_path: Path, r3: ParsedSheet, before: int, footer: str
) -> None:
    """`12 / 20` before measure 2-4's KPI made a measure 2-12 that took 2-4's KPI and its 11
    projects, with only a note; now it is one row that cannot be placed."""
    sheet = variant(tmp_path, {before: footer + "\n" + RAW[before - 1]})
    assert by_content(sheet) == by_content(r3)
    assert [(line_of(sheet, i.row), i.reason) for i in sheet.issues] == [
        (before, "table_row_shape")
    ]


@pytest.mark.parametrize(
    ("before", "heading"),
    [
        (183, "4) 時代にあつたうきはの地域づくりと広域的な地域間連携(戦略P125)（続き）"),
        (137, "3)結婚から子育てを経て生涯夢を持ち生活することができるうきは市(戦略P123)(続き)"),
        (144, "3)結婚から子育てを経て生涯夢を持ち生活することができるうきは市(戦略P123)"),
    ],
)
def test_the_current_policys_heading_repeated_at_a_page_break_is_skipped(
    tmp_path: Path, r3: ParsedSheet, before: int, heading: str
) -> None:
    """It became a measure 4-4 「時代に…」, or a second policy 3 whose rows had no table
    header (8 errors), or took measure 3-3's number so that 3-3 and 3-4 were quarantined."""
    sheet = variant(tmp_path, {before: heading + "\n" + RAW[before - 1]})
    assert (sheet.issues, sheet.notes) == ((), ())
    assert by_content(sheet) == by_content(r3)
    assert len(sheet.measures) == 13 and len(sheet.policies) == 4


@pytest.mark.parametrize(
    ("line", "old", "new", "said"),
    [
        (51, "2 ", "4 ", "51行: 施策 1-1 の次が 施策 1-4 です (1-2 がありません)"),
        (63, "3 ", "4 ", "63行: 施策 1-2 の次が 施策 1-4 です (1-3 がありません)"),
        (71, "2)", "5)", "71行: 基本方針 5 が 基本方針 1 (27行) の次です"),
    ],
)
def test_a_number_that_skips_is_told(
    tmp_path: Path, line: int, old: str, new: str, said: str
) -> None:
    """A measure or policy number typed wrong (2 as 4, 2) as 5)) loaded without a word."""
    assert RAW[line - 1].startswith(old)
    sheet = variant(tmp_path, {line: new + RAW[line - 1][len(old) :]})
    assert sheet.issues == ()
    assert any(n.startswith(said) for n in sheet.notes), sheet.notes


@pytest.mark.parametrize("heading", ["④豊かな心育成事業（続き）\t\t\t\t\t\t", "④豊かな心育成事業"])
def test_a_submeasure_heading_alone_again_after_a_page_break_is_no_project(
    tmp_path: Path, r3: ParsedSheet, heading: str
) -> None:
    """It was a project of its own: 6 missing_required (or a 1-cell row) and 事業 100."""
    assert RAW[148].startswith("④豊かな心育成事業")
    sheet = variant(tmp_path, {152: heading + "\n" + RAW[151]})
    assert (sheet.issues, sheet.notes) == ((), ())
    assert by_content(sheet) == by_content(r3)


@pytest.mark.parametrize(("line", "old", "new"), [(36, "KPI\t", "KPI：\t"), (52, "KPI ", "KPI：")])
def test_a_kpi_label_with_a_colon_is_the_label(
    tmp_path: Path, r3: ParsedSheet, line: int, old: str, new: str
) -> None:
    """`KPI：` read every cell one place to the left (課「新規就農者数」, 現状値「農政係」)."""
    assert RAW[line - 1].startswith(old)
    sheet = variant(tmp_path, {line: new + RAW[line - 1][len(old) :]})
    assert sheet.issues == ()
    assert [(k.name, k.departments, k.latest) for k in sheet.kpis] == [
        (k.name, k.departments, k.latest) for k in r3.kpis
    ]


@pytest.mark.parametrize("ditto", ["〃", "同上"])
def test_a_ditto_mark_in_a_continuation_rows_first_cell_is_a_continuation(
    tmp_path: Path, r3: ParsedSheet, ditto: str
) -> None:
    """It was read as a sub-measure whose marker is lost, and the rows after it kept out."""
    assert RAW[37].startswith("\t")
    sheet = variant(tmp_path, {38: ditto + RAW[37]})
    assert sheet.issues == ()
    assert by_content(sheet) == by_content(r3)


def test_a_policy_kpi_name_written_with_its_label_in_one_cell_is_read(
    tmp_path: Path, r3: ParsedSheet
) -> None:
    """`KPI 市民一人当たり…` in one cell of the 概要 line (the measure KPIs' second layout) was
    a note and a missing KPI名 reported on the heading's line 27."""
    assert "\tKPI\t" in RAW[28]
    sheet = variant(tmp_path, {29: RAW[28].replace("\tKPI\t", "\tKPI ")})
    assert (sheet.issues, sheet.notes) == ((), ())
    assert sheet.kpis[0].name == r3.kpis[0].name == "市民一人当たりの年間所得額"


def test_a_missing_policy_kpi_name_is_told_on_the_overview_line(tmp_path: Path) -> None:
    from ukiha_pipeline.validation import load_context, validate_path

    cells = RAW[28].split("\t")
    cells[2:4] = ["", ""]
    path = tmp_path / "no_name.txt"
    path.write_text("\n".join([*RAW[:28], "\t".join(cells), *RAW[29:]]), encoding="utf-8")
    [f] = [f for f in validate_path(path, load_context()).failures if f.column == "KPI名"]
    assert (f.line, f.check) == (29, "missing_required")
