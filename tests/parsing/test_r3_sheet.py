"""Acceptance on the REAL FY2021 (R3) sheet, `data/raw/ukiha_pdca_R3_FY2021.txt`.

Every expectation below was checked by reading the file itself. Where practical the test also
derives the expectation from the raw text (`RAW`, split on LF and TAB, no library code) so a
parser change cannot silently move both sides. Synthetic variants (fiscal-year header edits) are
written to tmp_path; the real file is never modified.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.parsing import CIRCLED, ParsedSheet, parse_grid
from ukiha_pipeline.reading import read_grid

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW: list[str] = R3.read_text(encoding="utf-8").split("\n")

POLICIES = [
    (1, "うきはの資源活用と新たな雇用の創出", 119, 27),
    (2, "地域コミュニティの再生と都市部からの人の呼び込み", 121, 71),
    (3, "結婚から子育てを経て生涯夢を持ち生活することができるうきは市", 123, 115),
    (4, "時代にあつたうきはの地域づくりと広域的な地域間連携", 125, 165),
]
#: Lines of the `n 施策` rows per policy (35..185), read off the sheet.
MEASURE_LINES = {1: [35, 51, 63], 2: [79, 86, 97, 101], 3: [123, 131, 139, 154], 4: [173, 185]}
#: Measure KPI lines written `KPI name` in one cell (the others are `KPI<TAB>name`).
KPI_SPACE_LINES = [52, 64, 140, 155, 186]
KPI_TAB_LINES = [36, 80, 87, 98, 102, 124, 132, 174]
NOT_CARRIED_OUT_LINES = [84, 90, 100, 136, 163, 177, 178]


def cells(line: int) -> list[str]:
    """The raw cells of a 1-based line of the file."""
    return RAW[line - 1].split("\t")


def raw_project_lines() -> list[int]:
    """Project rows found without the parser: 7 cells, a rating A-E last, not a header."""
    out = []
    for n in range(1, len(RAW) + 1):
        c = cells(n)
        if len(c) == 7 and c[0] != "事業一覧" and c[6].strip() in {"A", "B", "C", "D", "E"}:
            out.append(n)
    return out


@pytest.fixture(scope="module")
def sheet() -> ParsedSheet:
    return parse_grid(read_grid(R3))


def line_of(sheet: ParsedSheet, row: int) -> int:
    return sheet.grid.positions[row].line


def write_variant(tmp_path: Path, edits: dict[int, str], name: str = "variant.txt") -> Path:
    lines = list(RAW)
    for n, text in edits.items():
        lines[n - 1] = text
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- the sheet as a whole -----------------------------------------------------------------


def test_file_is_the_expected_export() -> None:
    assert len(RAW) == 196
    assert "第2期うきは市ルネッサンス戦略" in RAW[4]
    assert "令和3年度～令和7年度" in RAW[2]
    assert cells(34)[4] == "R3年度事業化"


def test_municipality_from_title(sheet: ParsedSheet) -> None:
    assert sheet.municipality == "うきは市"
    assert "第2期うきは市ルネッサンス戦略" in sheet.title


def test_fiscal_year_from_project_table_header(sheet: ParsedSheet) -> None:
    assert sheet.fiscal_year == 2021
    assert sheet.fiscal_year_row is not None
    assert line_of(sheet, sheet.fiscal_year_row) == 34


def test_fiscal_year_follows_header_not_strategy_period(tmp_path: Path) -> None:
    """Line 3 (令和3年度～令和7年度) is repeated every year; only the header names the year."""
    headers = [n for n in range(1, len(RAW) + 1) if cells(n)[0] == "事業一覧"]
    assert headers == [34, 50, 78, 96, 122, 138, 153, 172, 184]
    edits = {n: RAW[n - 1].replace("R3年度", "R4年度") for n in headers}
    parsed = parse_grid(read_grid(write_variant(tmp_path, edits)))
    assert parsed.fiscal_year == 2022
    assert parsed.fiscal_year_row is not None
    assert line_of(parsed, parsed.fiscal_year_row) == 34

    period_only = {3: " 令和4年度～令和8年度(5年間)"}
    parsed = parse_grid(read_grid(write_variant(tmp_path, period_only, "period.txt")))
    assert parsed.fiscal_year == 2021


def test_no_year_in_header_is_fatal_unless_given(tmp_path: Path) -> None:
    headers = [n for n in range(1, len(RAW) + 1) if cells(n)[0] == "事業一覧"]
    edits = {n: RAW[n - 1].replace("R3年度 ", "").replace("R3年度", "") for n in headers}
    path = write_variant(tmp_path, edits)
    with pytest.raises(SheetFatal) as exc:
        parse_grid(read_grid(path))
    assert exc.value.check == "fiscal_year_missing"
    assert parse_grid(read_grid(path), fiscal_year=2021).fiscal_year == 2021


def test_no_structural_issues(sheet: ParsedSheet) -> None:
    assert sheet.issues == ()
    assert sheet.notes == ()


def test_what_the_steward_should_know_is_a_note(tmp_path: Path) -> None:
    """Nothing fails, but the year or a KPI may not be what the steward thinks."""
    header = cells(50)
    assert header[4] == "R3年度 事業化"
    other_year = write_variant(
        tmp_path, {50: "\t".join([*header[:4], "R4年度 事業化", *header[5:]])}
    )
    assert parse_grid(read_grid(other_year)).notes == (
        "50行: 事業一覧の見出しが 2022年度（令和4年度） です。最初の見出し (34行 の "
        "2021年度（令和3年度）) と違います。2021年度（令和3年度） として読みます。",
    )
    assert parse_grid(read_grid(R3), fiscal_year=2022).notes == (
        "事業一覧の見出しは 34行 の 2021年度（令和3年度） ですが、指定された年度 (--fiscal-year) の "
        "2022年度（令和4年度） として読みます。",
    )
    assert cells(36)[:2] == ["KPI", "新規就農者数"]
    lines = list(RAW)
    del lines[35]
    (tmp_path / "no_kpi.txt").write_text("\n".join(lines), encoding="utf-8")
    assert parse_grid(read_grid(tmp_path / "no_kpi.txt")).notes == (
        "35行: 施策 1-1 に KPI の行がありません。",
    )
    # the sheet pasted twice (last year's grid left below this year's)
    (tmp_path / "twice.txt").write_text("\n".join(RAW[26:] + RAW[26:]), encoding="utf-8")
    twice = parse_grid(read_grid(tmp_path / "twice.txt"), fiscal_year=2021)
    n = len(RAW) - 26
    assert twice.notes[:4] == tuple(
        f"{line + n}行: 基本方針 {no} は {line}行 にもあります。同じ表が二度入っていませんか "
        "(別のワークシートに前年度の表が残っている、貼り付けが重なったなど)。"
        for no, line in [(1, 1), (2, 45), (3, 89), (4, 139)]
    )


# --- policies and the table of contents ---------------------------------------------------


def test_four_policies_with_titles_pages_and_lines(sheet: ParsedSheet) -> None:
    got = [(p.policy_no, p.title, p.strategy_page, line_of(sheet, p.row)) for p in sheet.policies]
    assert got == POLICIES
    for no, title, page, line in POLICIES:
        assert RAW[line - 1].startswith(f"{no})")
        assert title in RAW[line - 1]
        assert RAW[line - 1].endswith(f"(戦略P{page})")


def test_table_of_contents_gives_no_policy(sheet: ParsedSheet) -> None:
    policy_lines = [line_of(sheet, p.row) for p in sheet.policies]
    assert not [n for n in policy_lines if 13 <= n <= 25]
    # The table of contents repeats exactly the four titles (lines 13, 17, 21, 25).
    for (no, title, _, _), toc_line in zip(POLICIES, [13, 17, 21, 25], strict=True):
        assert RAW[toc_line - 1] == f"{no}) {title}"


def _heading(no: int) -> str:
    return RAW[POLICIES[no - 1][3] - 1]


@pytest.mark.parametrize(
    ("no", "written", "page", "note"),
    [
        (1, "1)うきはの資源活用と新たな雇用の創出", None, "「(戦略P…)」がありません"),
        (2, _heading(2).replace("(戦略P121)", ""), None, "「(戦略P…)」がありません"),
        (2, _heading(2).replace("2)", "2．"), 121, None),
        (2, _heading(2).replace("P121)", "P121～122)"), 121, None),
        (1, _heading(1) + "\t備考", 119, "見出しの後ろのセルは読みません: 備考"),
    ],
    ids=["no page", "no page, policy 2", "2．", "page range", "a note cell"],
)
def test_a_loosely_written_policy_heading_is_still_a_heading(
    tmp_path: Path, no: int, written: str, page: int | None, note: str | None
) -> None:
    """The policy's 概要 row after it tells it from the table of contents. Such a heading was
    read as nothing (policy 1: its 27 projects gone, exit 0) or as a measure of the policy
    before it (policy 2 filed under 1)."""
    line = POLICIES[no - 1][3]
    variant = parse_grid(read_grid(write_variant(tmp_path, {line: written})))
    assert [p.policy_no for p in variant.policies] == [1, 2, 3, 4]
    got = variant.policies[no - 1]
    assert (got.title, got.strategy_page) == (POLICIES[no - 1][1], page)
    assert [line_of(variant, p.row) for p in variant.projects] == raw_project_lines()
    assert len(variant.measures) == 13 and variant.issues == ()
    if note is None:
        assert variant.notes == ()
    else:
        [said] = variant.notes
        assert said.startswith(f"{line}行: 基本方針 {no} ") and note in said


def test_rows_of_a_policy_whose_heading_cannot_be_read_are_each_reported(tmp_path: Path) -> None:
    """Without its number the first heading is not one: the rows up to the second heading are
    each a malformed row (quarantined, raw), where they used to vanish without a word."""
    variant = parse_grid(read_grid(write_variant(tmp_path, {27: POLICIES[0][1]})))
    assert [p.policy_no for p in variant.policies] == [2, 3, 4]
    kept_out = {line_of(variant, i.row) for i in variant.issues}
    loaded = {line_of(variant, p.row) for p in variant.projects}
    policy_1 = [n for n in raw_project_lines() if n < POLICIES[1][3]]
    assert len(policy_1) == 27 and set(policy_1) <= kept_out
    assert sorted(loaded | set(policy_1)) == raw_project_lines()
    assert {i.reason for i in variant.issues} == {"before_policy"}
    assert min(kept_out) == 29  # 概要, the first row of the policy's block


def test_policy_overview_and_aim(sheet: ParsedSheet) -> None:
    for p in sheet.policies:
        assert p.overview and p.aim
    assert sheet.policies[0].overview.startswith("うきは市に存在する多様な資源を活かして")
    assert cells(29)[1] == sheet.policies[0].overview
    assert cells(31)[1] == sheet.policies[0].aim


# --- measures, sub-measures, projects -----------------------------------------------------


def test_thirteen_measures_numbered_per_policy(sheet: ParsedSheet) -> None:
    assert len(sheet.measures) == 13
    by_policy: dict[int, list[int]] = {}
    for m in sheet.measures:
        by_policy.setdefault(m.policy_no, []).append(line_of(sheet, m.row))
        text = cells(line_of(sheet, m.row))[0]
        assert text == f"{m.measure_no} {m.title}"
    assert by_policy == MEASURE_LINES
    for p in range(1, 5):
        numbers = [m.measure_no for m in sheet.measures if m.policy_no == p]
        assert numbers == list(range(1, len(numbers) + 1))
    assert sheet.measures[0].title == "農業やうきはの水、テロワールを伝承する"


def test_forty_four_submeasures(sheet: ParsedSheet) -> None:
    raw_lines = [n for n in range(1, len(RAW) + 1) if RAW[n - 1][:1] and RAW[n - 1][0] in CIRCLED]
    assert len(raw_lines) == 44
    assert len(sheet.submeasures) == 44
    assert [line_of(sheet, s.row) for s in sheet.submeasures] == raw_lines
    for s in sheet.submeasures:
        first = cells(line_of(sheet, s.row))[0]
        assert first == CIRCLED[s.submeasure_no - 1] + s.title
    first = sheet.submeasures[0]
    assert (first.policy_no, first.measure_no, first.submeasure_no) == (1, 1, 1)
    assert first.title == "収益性の高い農業への転換等の支援"


def test_ninety_nine_projects_keep_their_lines(sheet: ParsedSheet) -> None:
    expected = raw_project_lines()
    assert len(expected) == 99
    got = [line_of(sheet, p.row) for p in sheet.projects]
    assert got == expected
    assert got[0] == 37
    assert got[-1] == 196
    for p in sheet.projects:
        assert p.n_cells == 7
        assert list(p.cells) == cells(line_of(sheet, p.row))


def test_projects_sit_in_their_submeasure(sheet: ParsedSheet) -> None:
    subs = {(s.policy_no, s.measure_no, s.submeasure_no) for s in sheet.submeasures}
    for p in sheet.projects:
        assert (p.policy_no, p.measure_no, p.submeasure_no) in subs
    # Line 149 ④豊かな心育成事業 starts sub-measure 3-3-4; lines 150 and 151 continue it.
    by_line = {line_of(sheet, p.row): p for p in sheet.projects}
    assert [
        (by_line[n].policy_no, by_line[n].measure_no, by_line[n].submeasure_no, by_line[n].seq)
        for n in (149, 150, 151)
    ] == [(3, 3, 4, 1), (3, 3, 4, 2), (3, 3, 4, 3)]
    assert by_line[196].cells[3] == "・情報化アドバイザーの活用"


def test_ratings(sheet: ParsedSheet) -> None:
    ratings = Counter(p.cells[6].strip() for p in sheet.projects)
    assert ratings == {"A": 48, "B": 22, "C": 18, "D": 3, "E": 8}
    assert ratings == Counter(cells(n)[6] for n in raw_project_lines())


def test_seven_projects_not_carried_out(sheet: ParsedSheet) -> None:
    flags = Counter(p.cells[4].strip() for p in sheet.projects)
    assert flags == {"○": 92, "×": 7}
    crossed = [line_of(sheet, p.row) for p in sheet.projects if p.cells[4].strip() == "×"]
    assert crossed == NOT_CARRIED_OUT_LINES
    assert crossed == [n for n in raw_project_lines() if cells(n)[4] == "×"]


# --- KPIs ---------------------------------------------------------------------------------


def test_seventeen_kpis(sheet: ParsedSheet) -> None:
    levels = Counter(k.level for k in sheet.kpis)
    assert levels == {"policy": 4, "measure": 13}
    assert [k.policy_no for k in sheet.kpis if k.level == "policy"] == [1, 2, 3, 4]
    measure_kpis = [(k.policy_no, k.measure_no) for k in sheet.kpis if k.level == "measure"]
    measures = [(m.policy_no, m.measure_no) for m in sheet.measures]
    assert measure_kpis == measures  # one KPI right after every measure line


def test_policy_kpi_lines(sheet: ParsedSheet) -> None:
    policy_kpis = [k for k in sheet.kpis if k.level == "policy"]
    assert [k.layout for k in policy_kpis] == ["policy"] * 4
    got = [
        (
            line_of(sheet, k.row),
            line_of(sheet, k.baseline_row),
            line_of(sheet, k.target_row),
            line_of(sheet, k.latest_row),
        )
        for k in policy_kpis
    ]
    assert got == [(29, 30, 31, 32), (73, 74, 75, 76), (117, 118, 119, 120), (167, 168, 169, 170)]
    for k in policy_kpis:
        assert cells(line_of(sheet, k.row))[2:4] == ["KPI", k.name]
        assert cells(line_of(sheet, k.baseline_row))[2:5] == ["現状値", k.baseline, k.baseline_year]
        assert cells(line_of(sheet, k.target_row))[2:5] == ["目標値", k.target, k.target_year]
        assert cells(line_of(sheet, k.latest_row))[2:5] == ["最新値", k.latest, k.latest_year]
    first = policy_kpis[0]
    assert (first.name, first.baseline, first.baseline_year) == (
        "市民一人当たりの年間所得額",
        "2,398千円",
        "H29年度",
    )
    assert (policy_kpis[2].baseline_year, policy_kpis[2].target_year) == (
        "平成25～29年",
        "令和3～7年",
    )


def test_kpi_layouts_both_appear(sheet: ParsedSheet) -> None:
    measure_kpis = [k for k in sheet.kpis if k.level == "measure"]
    assert {k.layout for k in measure_kpis} == {"kpi_tab", "kpi_space"}
    space = [line_of(sheet, k.row) for k in measure_kpis if k.layout == "kpi_space"]
    tab = [line_of(sheet, k.row) for k in measure_kpis if k.layout == "kpi_tab"]
    assert space == KPI_SPACE_LINES
    assert tab == KPI_TAB_LINES
    assert space == [n for n in range(1, len(RAW) + 1) if cells(n)[0].startswith("KPI ")]
    assert tab == [n for n in range(1, len(RAW) + 1) if cells(n)[0] == "KPI"]


def test_measure_kpi_cells(sheet: ParsedSheet) -> None:
    by_line = {line_of(sheet, k.row): k for k in sheet.kpis if k.level == "measure"}
    for n, k in by_line.items():
        c = cells(n)
        if k.layout == "kpi_tab":
            assert [
                k.name,
                k.departments,
                k.sections,
                k.baseline_target,
                k.latest,
                k.latest_year,
            ] == c[1:7]
        else:
            assert c[0] == f"KPI {k.name}"
            assert c[4] == ""
            assert [k.departments, k.sections, k.baseline_target, k.latest, k.latest_year] == [
                c[1],
                c[2],
                c[3],
                c[5],
                c[6],
            ]
    tab = by_line[36]
    assert (tab.name, tab.baseline_target, tab.latest, tab.latest_year) == (
        "新規就農者数",
        "平成22年度以降累計 179人→230人",
        "207人",
        "令和3年度",
    )
    space = by_line[52]
    assert (space.name, space.baseline_target, space.latest) == (
        "観光入込客数",
        "240万人→250万人",
        "190万人",
    )
    defined = by_line[140]
    assert defined.name == "自尊感情の向上"
    assert "中学3年生" in defined.baseline_target
    assert defined.baseline_target.endswith("35.9%→40.0%")
    multi = by_line[186]
    assert (multi.departments, multi.sections) == ("総務課 市民生活課", "情報政策係 住民係")
