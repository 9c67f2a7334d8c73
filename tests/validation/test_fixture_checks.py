"""Validation of the SYNTHETIC fixture sheets in tests/fixtures/synthetic/ (DESIGN §3).

Each fixture is named for its one quirk. For each, the full sorted list of
(line, check, severity) is written out by hand below and must match exactly.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import pytest

from ukiha_pipeline.normalize import normalize_flag, normalize_rating
from ukiha_pipeline.validation import RulesContext, load_context, validate_path
from ukiha_pipeline.validation.result import ValidationResult
from ukiha_pipeline.validation.run import row_key

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "synthetic"
R3_SHEET = ROOT / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RULES = ROOT / "schemas" / "rules.toml"
NOT_FIXTURES = {"README.md", "make_encoded.py"}

E, W, F = "error", "warning", "fatal"

#: fixture file → every failure it must give, as (line, check, severity), sorted.
EXPECTED: dict[str, list[tuple[int | None, str, str]]] = {
    "valid_excerpt.txt": [],
    "flag_invalid.txt": [
        (14, "flag_invalid", E),
        (16, "flag_invalid", E),
    ],
    "rating_invalid.txt": [
        (14, "rating_invalid", E),
        (16, "rating_invalid", E),
    ],
    "missing_required.txt": [
        (8, "missing_required", E),  # policy KPI 最新値
        (12, "missing_required", E),  # measure KPI latest
        (13, "missing_required", E),  # flag
        (14, "missing_required", E),  # rating
        (15, "missing_required", E),  # 係
        (16, "missing_required", E),  # 事業内容
    ],
    "unknown_department.txt": [(14, "unknown_department", E)],
    "unknown_section.txt": [(14, "unknown_section", E)],
    "section_department_mismatch.txt": [
        (12, "section_department_mismatch", W),  # KPI line
        (14, "section_department_mismatch", W),
        (15, "section_department_mismatch", W),  # multi-department row
    ],
    "kpi_value_not_numeric.txt": [
        (8, "kpi_value_not_numeric", E),  # 未集計 (policy 最新値)
        (12, "kpi_value_not_numeric", E),  # 集計中 (measure latest)
        (18, "kpi_value_not_numeric", E),  # － (measure baseline, KPI name layout)
    ],
    "kpi_unit_mismatch.txt": [(12, "kpi_unit_mismatch", W)],
    "kpi_as_of_invalid.txt": [
        (6, "kpi_as_of_invalid", W),  # policy 現状値 without its year
        (8, "kpi_as_of_invalid", W),  # policy 最新値 as of 集計中
        (12, "kpi_as_of_invalid", W),  # measure KPI as of a date, not a year
    ],
    "kpi_unit_missing.txt": [
        (12, "kpi_unit_mismatch", W)
    ],  # 179人→230人, latest 207  # line 18: 93名→100人, 95名 is fine
    "duplicate_project.txt": [
        (14, "duplicate_project", W),
        (16, "duplicate_project", W),
    ],
    "malformed_row_lost_tab.txt": [
        (12, "malformed_row", E),  # KPI row, 6 cells
        (14, "malformed_row", E),  # project row, 6 cells
    ],
    "malformed_row_extra_tab.txt": [
        (14, "malformed_row", E),
        (15, "malformed_row", E),
    ],
    "malformed_row_measure_line_missing.txt": [
        (11, "malformed_row", E),  # the measure KPI, before any measure
        (12, "malformed_row", E),  # the 取組 ①
        (13, "malformed_row", E),  # its three projects
        (14, "malformed_row", E),
        (15, "malformed_row", E),
    ],
    "measure_number_repeated.txt": [
        (17, "malformed_row", E),  # a second measure 1 (another title)
        (18, "malformed_row", E),  # its ① and project: not filed under the first measure 1
    ],
    "submeasure_number_repeated.txt": [(17, "malformed_row", E)],  # a second ① in measure 1
    "policy_heading_without_page.txt": [],  # read, with a note
    "measure_line_with_note.txt": [],  # measure 2's line with a note cell: read, with a note
    "measure_line_unreadable.txt": [
        (17, "malformed_row", E),  # `※うきはの…`: measure 2's line without its number
        (18, "malformed_row", E),  # its KPI,
        (19, "malformed_row", E),  # its ① and
        (20, "malformed_row", E),  # its second project: none filed under measure 1
    ],
    "flag_rating_mismatch.txt": [
        (14, "flag_rating_mismatch", W),  # × with C
        (16, "flag_rating_mismatch", W),  # ○ with E
    ],
    "lookalikes_accepted.txt": [],
    "kpi_two_layouts.txt": [],
    "kpi_empty_cell_filled.txt": [(18, "malformed_row", E)],  # 200万人 where 5th cell is empty
    "header_variants.txt": [],
    "several_defects.txt": [
        (12, "kpi_value_not_numeric", E),
        (13, "flag_invalid", E),
        (13, "rating_invalid", E),
        (14, "unknown_department", E),
        (15, "flag_rating_mismatch", W),
        (16, "duplicate_project", W),
        (17, "malformed_row", E),  # a row the table has no place for
        (18, "malformed_row", E),  # lost tab
    ],
    "empty.txt": [(None, "unreadable_file", F)],
    "binary_nul_bytes.bin": [(None, "unreadable_file", F)],
    "not_a_pdca_sheet.txt": [(None, "unrecognized_layout", F)],
    "fiscal_year_missing.txt": [(None, "fiscal_year_missing", F)],
    "encoding_cp932_crlf.txt": [],
    "cell_line_breaks_quoted.txt": [],  # Alt+Enter cells quoted by Excel: one cell each
    "encoding_utf8_bom.txt": [],
    "utf8_damaged_byte.txt": [(14, "unreadable_file", F)],  # the damaged line
}

FATAL = sorted(name for name, exp in EXPECTED.items() if any(s == F for _, _, s in exp))


def _sort_key(t: tuple[int | None, str, str]) -> tuple[int, str, str]:
    return (t[0] or 0, t[1], t[2])


@functools.cache
def _context() -> RulesContext:
    return load_context()


@functools.cache
def result(name: str) -> ValidationResult:
    return validate_path(FIXTURES / name, _context())


def triples(r: ValidationResult) -> list[tuple[int | None, str, str]]:
    return sorted(((f.line, f.check, f.severity) for f in r.failures), key=_sort_key)


def test_every_fixture_file_has_an_expectation() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if p.is_file()} - NOT_FIXTURES
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_failures(name: str) -> None:
    assert triples(result(name)) == sorted(EXPECTED[name], key=_sort_key)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exit_code(name: str) -> None:
    has_error = any(s in (E, F) for _, _, s in EXPECTED[name])
    assert result(name).exit_code == (1 if has_error else 0)


#: Found when loading the warehouse, not by validating a sheet (tests/warehouse/test_keys.py).
WAREHOUSE_CHECKS = {"ambiguous_key_match"}
#: Checks of ours beyond DESIGN §3's 14 ids (README, What gets checked).
ADDED_CHECKS = {"kpi_as_of_invalid"}


def test_every_check_id_is_triggered_by_some_fixture() -> None:
    ids = set(tomllib.loads(RULES.read_text(encoding="utf-8"))["severity"])
    assert ids >= WAREHOUSE_CHECKS
    ids -= WAREHOUSE_CHECKS
    assert len(ids - ADDED_CHECKS) == 14 and ids >= ADDED_CHECKS
    triggered = {f.check for name in EXPECTED for f in result(name).failures}
    assert triggered == ids


@pytest.mark.parametrize("name", FATAL)
def test_fatal_sheet_is_one_failure_and_exit_1(name: str) -> None:
    r = result(name)
    assert r.exit_code == 1
    assert len(r.failures) == 1
    assert r.failures[0].severity == F
    assert r.sheet is None
    assert r.failures[0].message


def test_unknown_department_suggests_the_closest_name() -> None:
    (f,) = result("unknown_department.txt").failures
    assert f.value == "農林新興課"
    assert f.column == "課"
    assert "「農林振興課」ではありませんか" in f.message


def test_unknown_section_suggests_the_closest_name() -> None:
    (f,) = result("unknown_section.txt").failures
    assert f.value == "農生係"
    assert "「農政係」ではありませんか" in f.message


def _records(r: ValidationResult) -> set[str]:
    """Every record of the sheet that can be loaded or kept out: projects, KPIs, and rows
    the parser could not place."""
    sheet = r.sheet
    assert sheet is not None
    return (
        {f"project:{p.row}" for p in sheet.projects}
        | {f"kpi:{i}" for i in range(len(sheet.kpis))}
        | {issue.record for issue in sheet.issues}
    )


NOT_FATAL = sorted(name for name in EXPECTED if name not in FATAL)


@pytest.mark.parametrize("name", NOT_FATAL)
def test_a_row_is_one_record(name: str) -> None:
    """A row is a project, a KPI or a row the parser could not place: never two of them (a
    row both a KPI and an unplaced row would be loaded and quarantined at once). A failure the
    parser finds on a project row keeps that project out instead (`issue.record`)."""
    sheet = result(name).sheet
    assert sheet is not None
    rows = (
        [p.row for p in sheet.projects]
        + [k.row for k in sheet.kpis]
        + [issue.row for issue in sheet.issues if issue.record == f"record:{issue.row}"]
    )
    assert len(rows) == len(set(rows))


def test_several_defects_every_row_read_is_loaded_or_quarantined() -> None:
    r = result("several_defects.txt")
    records = _records(r)
    # Rows read: policy KPI (lines 5-8), measure KPI (12), projects on 13-16, 18, 19, and the
    # unplaceable row on 17.
    assert len(records) == 9
    assert r.quarantined <= records
    loaded = records - r.quarantined
    assert len(loaded) + len(r.quarantined) == 9
    # Kept out: the KPI with 集計中 (12), projects 13 and 14 (errors), rows 17 and 18
    # (malformed). Warnings (15, 16) load.
    quarantined_lines = sorted(f.line for f in r.failures if f.record in r.quarantined)
    assert sorted(set(quarantined_lines)) == [12, 13, 14, 17, 18]
    assert len(r.quarantined) == 5
    assert r.n_warnings == 2


@pytest.mark.parametrize(
    ("name", "bad_lines", "project_lines"),
    [
        ("malformed_row_lost_tab.txt", {12, 14}, [13, 14, 15, 16]),
        ("malformed_row_extra_tab.txt", {14, 15}, [13, 14, 15, 16]),
    ],
)
def test_neighbours_of_a_malformed_row_still_parse(
    name: str, bad_lines: set[int], project_lines: list[int]
) -> None:
    r = result(name)
    sheet = r.sheet
    assert sheet is not None
    lines = [sheet.grid.positions[p.row].line for p in sheet.projects]
    assert lines == project_lines
    # Only the misshapen rows are kept out, and each reports its shape only.
    assert {f.line for f in r.failures} == bad_lines
    assert len(r.quarantined) == len(bad_lines)
    for p in sheet.projects:
        line = sheet.grid.positions[p.row].line
        if line not in bad_lines:
            assert p.n_cells == 7
            assert normalize_flag(p.cells[4]) == "○"
            assert f"project:{p.row}" not in r.quarantined


def test_lookalikes_are_normalised_not_reported() -> None:
    r = result("lookalikes_accepted.txt")
    sheet = r.sheet
    assert sheet is not None and r.failures == ()
    assert [normalize_flag(p.cells[4]) for p in sheet.projects] == ["○", "○", "×", "×"]
    assert [normalize_rating(p.cells[6]) for p in sheet.projects] == ["A", "B", "E", "E"]
    # The original text is kept for display.
    assert [p.cells[4] for p in sheet.projects] == ["〇", "◯", "✕", " x "]
    assert [m.measure_no for m in sheet.measures] == [1]
    assert sheet.projects[-1].n_cells == 7  # a trailing tab does not make a row malformed


def test_a_value_in_the_cell_the_kpi_name_layout_leaves_empty_is_reported() -> None:
    """`KPI name…` rows leave their 5th cell empty (the latest is in the 6th): `200万人` typed
    there was read nowhere, with no failure. Now the KPI row is a malformed row saying that the
    cell stays empty, and the KPI is quarantined (its raw row keeps 200万人)."""
    r = result("kpi_empty_cell_filled.txt")
    sheet = r.sheet
    assert sheet is not None
    [f] = r.failures
    assert (f.line, f.check, f.col) == (18, "malformed_row", 0)
    assert "「200万人」" in f.message and "5列目は空のまま" in f.hint
    [kpi] = [i for i, k in enumerate(sheet.kpis) if k.name == "観光入込客数"]
    assert r.quarantined == frozenset({f"kpi:{kpi}"}) == frozenset({f.record})
    assert "200万人" in f.row_text


def test_a_kpi_name_row_a_tab_short_is_reported_once(tmp_path: Path) -> None:
    """Line 52 with its empty 5th cell gone (190万人 in the 5th): a row of 6 cells, reported
    once, by its cell count, not a second time for the 5th cell."""
    lines = R3_SHEET.read_text(encoding="utf-8").split("\n")
    assert lines[51].split("\t")[4:6] == ["", "190万人"]
    lines[51] = lines[51].replace("\t\t190万人", "\t190万人")
    (tmp_path / "short.txt").write_text("\n".join(lines), encoding="utf-8")
    r = validate_path(tmp_path / "short.txt", _context())
    [f] = [f for f in r.failures if f.severity == E]
    assert (f.line, f.check) == (52, "malformed_row") and "6 個" in f.message


def test_kpi_two_layouts_are_both_read() -> None:
    r = result("kpi_two_layouts.txt")
    sheet = r.sheet
    assert sheet is not None and r.failures == ()
    measure_kpis = [k for k in sheet.kpis if k.level == "measure"]
    assert [
        (k.layout, k.name, k.departments, k.sections, k.latest, k.latest_year) for k in measure_kpis
    ] == [
        ("kpi_tab", "新規就農者数", "農林振興課", "農政係", "207人", "令和3年度"),
        (
            "kpi_space",
            "観光入込客数",
            "うきはブランド推進課",
            "ブランド戦略係",
            "190万人",
            "令和3年度",
        ),
    ]
    assert [k.baseline_target for k in measure_kpis] == [
        "平成22年度以降累計 179人→230人",
        "240万人→250万人",
    ]
    assert [(k.measure_no, k.policy_no) for k in measure_kpis] == [(1, 1), (2, 1)]


def test_header_variants_all_open_a_table() -> None:
    r = result("header_variants.txt")
    sheet = r.sheet
    assert sheet is not None and r.failures == ()
    assert sheet.fiscal_year == 2021
    assert sheet.fiscal_year_row is not None
    assert sheet.grid.positions[sheet.fiscal_year_row].line == 10  # `R3年度 事業化`
    assert len(sheet.projects) == 6
    assert [m.measure_no for m in sheet.measures] == [1, 2]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("encoding_cp932_crlf.txt", "cp932"), ("encoding_utf8_bom.txt", "utf-8 (BOM)")],
)
def test_encoded_copies_parse_like_the_utf8_original(name: str, encoding: str) -> None:
    original, r = result("valid_excerpt.txt"), result(name)
    assert original.sheet is not None and r.sheet is not None
    assert r.sheet.grid.encoding == encoding
    assert r.sheet.grid.rows == original.sheet.grid.rows
    assert (
        r.sheet.title == original.sheet.title == "地方創生 第2期うきは市ルネッサンス戦略 PDCAシート"
    )
    assert r.sheet.municipality == "うきは市"
    assert r.sheet.fiscal_year == 2021
    assert r.sheet.projects == original.sheet.projects
    assert r.sheet.kpis == original.sheet.kpis


def test_damaged_utf8_is_refused_not_read_as_mojibake() -> None:
    (f,) = result("utf8_damaged_byte.txt").failures
    assert f.check == "unreadable_file"
    assert "UTF-8" in f.message and "バイト位置" in f.message
    # the line named in the message is the failure's line; the byte position is no value
    assert f.line == 14 and "(行 14)" in f.message and f.value == ""


def test_fiscal_year_is_not_taken_from_the_strategy_period() -> None:
    # fiscal_year_missing.txt repeats 令和3年度～令和7年度 on line 2, as every year's sheet does.
    (f,) = result("fiscal_year_missing.txt").failures
    assert f.check == "fiscal_year_missing"
    r = validate_path(FIXTURES / "fiscal_year_missing.txt", _context(), fiscal_year=2021)
    assert r.failures == ()
    assert r.sheet is not None and r.sheet.fiscal_year == 2021


def test_failures_point_at_the_cell_to_edit() -> None:
    by_check = {f.check: f for f in result("several_defects.txt").failures}
    assert (by_check["flag_invalid"].column, by_check["flag_invalid"].value) == ("事業化", "△")
    assert (by_check["rating_invalid"].column, by_check["rating_invalid"].value) == (
        "進捗状況",
        "F",
    )
    assert by_check["kpi_value_not_numeric"].value == "集計中"
    assert by_check["duplicate_project"].value == "・産地形成による作物栽培支援"
    assert "13" in by_check["duplicate_project"].message  # first occurrence
    for f in result("several_defects.txt").failures:
        assert f.fiscal_year == 2021
        assert f.entity in {"project", "kpi", "kpi_value"}
        assert f.message and f.hint


def test_a_trailing_tab_keeps_the_row_keys(tmp_path: Path) -> None:
    """A trailing tab is normalised silently, so it must not change the failures' row keys (a
    waiver or the history would lose them); nor may editing the rating, which the keys of
    misshapen rows, made from the whole row, would follow."""
    lines = (FIXTURES / "flag_rating_mismatch.txt").read_text(encoding="utf-8").split("\n")
    tabbed = [line + "\t" if line.count("\t") == 6 else line for line in lines]
    assert tabbed != lines
    (tmp_path / "tabbed.txt").write_text("\n".join(tabbed), encoding="utf-8")
    keys = {f.line: f.row_key for f in result("flag_rating_mismatch.txt").failures}
    with_tabs = validate_path(tmp_path / "tabbed.txt", _context())
    assert {f.line: f.row_key for f in with_tabs.failures} == keys
    assert len(keys) == 2


def test_a_policy_heading_without_its_page_is_read_with_a_note() -> None:
    r = result("policy_heading_without_page.txt")
    assert r.sheet is not None
    [policy] = r.sheet.policies
    assert (policy.policy_no, policy.title, policy.strategy_page) == (
        1,
        "うきはの資源活用と新たな雇用の創出",
        None,
    )
    assert len(r.sheet.projects) == 4
    assert r.notes == (
        "4行: 基本方針 1 の見出しに「(戦略P…)」がありません。戦略のページは空のまま読み込みます。",
    )


@pytest.mark.parametrize(
    ("name", "quarantined", "says"),
    [
        (
            "measure_number_repeated.txt",
            {"record:16", "record:17"},
            "施策の番号 1 は 11行 の別の施策で使われていて、前の施策 1-1 より大きい番号ではありません",
        ),
        (
            "submeasure_number_repeated.txt",
            {"record:16"},
            "取組の記号 ① は同じ施策の 13行 の別の取組",
        ),
    ],
)
def test_a_number_used_twice_is_named_with_the_first_use(
    name: str, quarantined: set[str], says: str
) -> None:
    """A measure or sub-measure number typed twice merged two of them without a word. Now the
    second is reported where it is, naming the first; a repeated ① row is kept out with the
    rows after it up to the next measure, and so is a measure number used again with its block
    (its ① and project, not filed under the first 1)."""
    r = result(name)
    f = r.failures[0]
    assert says in f.message and "確かめてください" in f.hint and "タブ" not in f.hint
    assert r.quarantined == frozenset(quarantined)


def test_an_unreadable_as_of_year_names_its_cell() -> None:
    """The failure points at the 時点 cell (not the value's), with what is written there."""
    r = result("kpi_as_of_invalid.txt")
    got = [(f.line, f.col, f.column, f.value, f.message) for f in r.failures]
    assert got == [
        (6, 4, "現状値の時点", "", "KPI の現状値の時点が空です。"),
        (8, 4, "最新値の時点", "集計中", "KPI の最新値の時点「集計中」が年度として読めません。"),
        (
            12,
            6,
            "最新値の時点",
            "2022/3/31",
            "KPI の最新値の時点「2022/3/31」が年度として読めません。",
        ),
    ]


def test_a_policy_kpi_unit_mismatch_is_on_the_odd_value_line(tmp_path: Path) -> None:
    """DESIGN §4: a policy KPI's failure is on the line of the value concerned. It was on the
    KPI's name line (29), far from the 最新値 「2,439人」 on line 32."""
    lines = R3_SHEET.read_text(encoding="utf-8").split("\n")
    assert lines[31].split("\t")[2:4] == ["最新値", "2,439千円"]
    lines[31] = lines[31].replace("2,439千円", "2,439人")
    (tmp_path / "unit.txt").write_text("\n".join(lines), encoding="utf-8")
    r = validate_path(tmp_path / "unit.txt", _context())
    [f] = [f for f in r.failures if f.check == "kpi_unit_mismatch"]
    assert (f.line, f.col, f.column, f.value) == (32, 3, "最新値", "2,439人")
    assert "(人 / 円)" in f.message


def test_row_keys_do_not_depend_on_the_language_or_the_cell_shown() -> None:
    """Waivers and history match failures by row_key. The as-of failure's key changed with
    --lang (its column label went into it); the unit mismatch's key changed when it moved to
    the odd value's cell, and would change with whichever value is the odd one."""
    ja = result("kpi_as_of_invalid.txt").failures
    en = validate_path(FIXTURES / "kpi_as_of_invalid.txt", _context(), lang="en").failures
    assert [f.row_key for f in ja] == [f.row_key for f in en]
    r = result("kpi_unit_mismatch.txt")
    [unit] = r.failures
    assert r.sheet is not None and unit.record is not None and unit.column == "目標値"
    assert unit.row_key == row_key(r.sheet, unit.record, "KPI")  # the KPI's key, as before


def test_half_width_katakana_names_the_master_department(tmp_path: Path) -> None:
    """うきはﾌﾞﾗﾝﾄﾞ推進課 is うきはブランド推進課 after NFKC: no unknown_department whose
    suggestion looks exactly like what was typed, and the row is not quarantined."""
    lines = R3_SHEET.read_text(encoding="utf-8").split("\n")
    assert lines[38].split("\t")[1] == "農林振興課 うきはブランド推進課"  # line 39
    lines[38] = lines[38].replace("うきはブランド推進課", "うきはﾌﾞﾗﾝﾄﾞ推進課", 1)
    lines[51] = lines[51].replace("ブランド戦略係", "ﾌﾞﾗﾝﾄﾞ戦略係", 1)  # line 52, a KPI
    (tmp_path / "half_width.txt").write_text("\n".join(lines), encoding="utf-8")
    r = validate_path(tmp_path / "half_width.txt", _context())
    assert [(f.line, f.check) for f in r.failures if f.severity == E] == []
    assert len([f for f in r.failures if f.severity == W]) == 3


def test_invisible_characters_around_a_value_are_dropped(tmp_path: Path) -> None:
    """`A` + U+200B looked like A in the message (「A​」は A/B/C/D/E のどれでもありません)."""
    zwsp, joiner = "\u200b", "\u2060"
    lines = (FIXTURES / "valid_excerpt.txt").read_text(encoding="utf-8").split("\n")
    cells = lines[13].split("\t")  # line 14: 農林振興課, rating A
    cells[1], cells[6] = cells[1] + zwsp, joiner + cells[6] + zwsp
    lines[13] = "\t".join(cells)
    (tmp_path / "invisible.txt").write_text("\n".join(lines), encoding="utf-8")
    r = validate_path(tmp_path / "invisible.txt", _context())
    assert r.failures == ()
    assert r.sheet is not None and normalize_rating(r.sheet.projects[1].cells[6]) == "A"


def test_a_measure_kpi_without_its_arrow_says_how_to_write_the_target(tmp_path: Path) -> None:
    """`81%` for `81%→95%`: the cell is not empty, its arrow and target are missing."""
    lines = (FIXTURES / "valid_excerpt.txt").read_text(encoding="utf-8").split("\n")
    cells = lines[11].split("\t")  # line 12, the measure KPI: 平成22年度以降累計 179人→230人
    cells[4] = "179人"
    lines[11] = "\t".join(cells)
    (tmp_path / "no_arrow.txt").write_text("\n".join(lines), encoding="utf-8")
    [f] = validate_path(tmp_path / "no_arrow.txt", _context()).failures
    assert (f.line, f.check, f.column, f.value) == (12, "missing_required", "目標値", "179人")
    assert "「現状値→目標値」" in f.hint


def test_a_kpi_row_of_the_wrong_width_is_told_about_kpi_cells() -> None:
    """Not the project row's 7 cells (`事業の行は7つ`): the KPI row's own."""
    by_line = {f.line: f for f in result("malformed_row_lost_tab.txt").failures}
    assert "KPI の行は7つ" in by_line[12].hint
    assert "事業の行" not in by_line[12].hint
    assert "事業の行は7つ" in by_line[14].hint  # the project row keeps the project wording


def test_a_kpi_row_of_the_wrong_width_in_a_workbook_is_told_in_columns(tmp_path: Path) -> None:
    """A workbook has no tabs to speak of: a KPI row (12) and a project row (14) with a cell
    in column H are told about their columns A-G. (A cell short is no shape error there: cells
    have positions, so an empty G reads as the text export's trailing tab.)"""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    text = (FIXTURES / "valid_excerpt.txt").read_text(encoding="utf-8")
    for r, line in enumerate(text.removesuffix("\n").split("\n"), start=1):
        for c, cell in enumerate(line.split("\t"), start=1):
            if cell:
                ws.cell(r, c).value = cell
    ws.cell(12, 8).value = ws.cell(14, 8).value = "メモ"
    wb.save(tmp_path / "extra_cell.xlsx")
    failures = validate_path(tmp_path / "extra_cell.xlsx", _context()).failures
    assert [(f.line, f.check) for f in failures] == [(12, "malformed_row"), (14, "malformed_row")]
    by_line = {f.line: f for f in failures}
    assert "KPI の行のセルが列 A〜G" in by_line[12].hint and "タブ" not in by_line[12].hint
    assert "列 A〜G の 7 つ (事業の行)" in by_line[14].hint


def test_a_note_on_a_measure_line_keeps_its_block_under_it() -> None:
    """The note in the measure line's 6th cell is shown, and measure 2 keeps its KPI (line 18)
    and its projects (19, 20): none is filed under measure 1."""
    r = result("measure_line_with_note.txt")
    assert r.sheet is not None
    assert [(m.measure_no, m.title) for m in r.sheet.measures] == [
        (1, "農業やうきはの水、テロワールを伝承する"),
        (2, "うきはのブランド力を高めます"),
    ]
    line = {id(x): r.sheet.grid.positions[x.row].line for x in r.sheet.projects}
    assert [(line[id(p)], p.measure_no, p.submeasure_no) for p in r.sheet.projects][-2:] == [
        (19, 2, 1),
        (20, 2, 1),
    ]
    [kpi] = [k for k in r.sheet.kpis if k.name == "観光入込客数"]
    assert (kpi.measure_no, r.sheet.grid.positions[kpi.row].line) == (2, 18)
    assert "17行: 施策 1-2 の見出しの後ろのセルは読みません: ※R4から所管変更" in r.notes


def test_the_rows_of_an_unreadable_measure_line_name_it() -> None:
    r = result("measure_line_unreadable.txt")
    assert r.sheet is not None
    assert [m.measure_no for m in r.sheet.measures] == [1]
    assert {r.sheet.grid.positions[p.row].line for p in r.sheet.projects} == {13, 14, 15, 16}
    assert [k.name for k in r.sheet.kpis if k.level == "measure"] == ["新規就農者数"]
    by_line = {f.line: f for f in r.failures}
    assert "施策の行" in by_line[17].message and "読めません" in by_line[17].message
    for line in (18, 19, 20):
        assert "17行 の施策の行が読めない" in by_line[line].message
        assert "前の施策のものとしては読みません" in by_line[line].hint
    assert {f.record for f in r.failures} <= r.quarantined
