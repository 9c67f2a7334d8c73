"""Load the REAL FY2021 (R3) sheet into a temporary warehouse and check it by SQL (DESIGN §4).

Every expected value was checked against `data/raw/ukiha_pdca_R3_FY2021.txt` (line numbers in
the comments). Counts that can be derived from the raw text without the library are derived.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import TABLE_COLUMNS, load_result, open_warehouse

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW: list[str] = R3.read_text(encoding="utf-8").split("\n")
CITY = "うきは市"


def raw_project_cells() -> list[list[str]]:
    rows = [line.split("\t") for line in RAW]
    return [c for c in rows if len(c) == 7 and c[0] != "事業一覧" and c[6] in set("ABCDE")]


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    ctx = load_context()
    result = validate_path(R3, ctx)
    path = tmp_path_factory.mktemp("wh") / "w.duckdb"
    with open_warehouse(path) as c:
        outcome = load_result(c, result, ctx, run_id="run-1")
        assert outcome.status == "loaded"
        assert (outcome.municipality, outcome.fiscal_year) == (CITY, 2021)
        assert (outcome.n_projects, outcome.n_kpis, outcome.n_quarantined) == (99, 17, 0)
        assert (outcome.n_errors, outcome.n_warnings) == (0, 3)
        yield c


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def kpi(con: duckdb.DuckDBPyConnection, name_like: str) -> dict[str, Any]:
    rows = con.execute("SELECT * FROM kpis WHERE name LIKE ?", [name_like]).fetchall()
    assert len(rows) == 1, name_like
    cols = [d[0] for d in con.description or []]
    return dict(zip(cols, rows[0], strict=True))


@pytest.mark.parametrize(
    ("table", "n"),
    [
        ("sheets", 1),
        ("policies", 4),
        ("measures", 13),
        ("submeasures", 44),
        ("projects", 99),
        ("kpis", 17),
        ("quarantine", 0),
    ],
)
def test_table_counts(con: duckdb.DuckDBPyConnection, table: str, n: int) -> None:
    assert one(con, f"SELECT count(*) FROM {table}") == n


def test_sheet_row(con: duckdb.DuckDBPyConnection) -> None:
    row = one(
        con,
        "SELECT municipality, fiscal_year, source_file, status, n_projects, n_kpis, "
        "n_quarantined, n_errors, n_warnings, run_id FROM sheets",
    )
    assert row == (CITY, 2021, str(R3), "current", 99, 17, 0, 0, 3, "run-1")


def test_kpi_levels(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT level, count(*) FROM kpis GROUP BY level ORDER BY level").fetchall()
    assert rows == [("measure", 13), ("policy", 4)]
    assert (
        one(con, "SELECT count(*) FROM kpis WHERE level = 'policy' AND measure_no IS NOT NULL") == 0
    )


def test_every_row_carries_the_municipality(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in TABLE_COLUMNS.items():
        assert "municipality" in columns, table
        n, bad = one(
            con,
            f"SELECT count(*), count(*) FILTER (WHERE municipality IS DISTINCT "
            f"FROM ?) FROM {table}",
            [CITY],
        )
        assert bad == 0, table
        assert n > 0 or table in ("quarantine", "restored_files"), table
    assert one(con, "SELECT count(*) FROM projects WHERE fiscal_year <> 2021") == 0


def test_policy_titles_and_pages(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT policy_no, strategy_page, source_line FROM policies ORDER BY policy_no"
    ).fetchall()
    assert rows == [(1, 119, 27), (2, 121, 71), (3, 123, 115), (4, 125, 165)]


def test_project_source_lines(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT min(source_line), max(source_line) FROM projects") == (37, 196)
    assert one(con, "SELECT count(DISTINCT project_key) FROM projects") == 99


# --- departments and sections -------------------------------------------------------------


def test_thirteen_departments_on_project_rows(con: duckdb.DuckDBPyConnection) -> None:
    got = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT d.department FROM project_departments d "
            "JOIN projects p USING (municipality, fiscal_year, project_key)"
        ).fetchall()
    }
    expected = {name for c in raw_project_cells() for name in c[1].split()}
    assert len(expected) == 13
    assert got == expected


def test_twenty_two_department_section_pairs(con: duckdb.DuckDBPyConnection) -> None:
    pairs = con.execute(
        "SELECT DISTINCT department, section FROM project_departments WHERE section IS NOT NULL"
    ).fetchall()
    assert len(pairs) == 22
    sections = {s for _, s in pairs}
    assert sections == {name for c in raw_project_cells() for name in c[2].split()}
    assert len(sections) == 22  # each section under exactly one department
    # Every project row names at least one department.
    assert (
        one(
            con,
            "SELECT count(*) FROM projects p WHERE NOT EXISTS (SELECT 1 FROM "
            "project_departments d WHERE d.project_key = p.project_key)",
        )
        == 0
    )


def test_sections_are_paired_by_ownership_not_position(con: duckdb.DuckDBPyConnection) -> None:
    # Line 149: `福祉事務所 生涯学習課` with `保育所係 社会教育係 スポーツ文化振興係`.
    owners = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT department FROM project_departments WHERE section = 'スポーツ文化振興係'"
        ).fetchall()
    }
    assert owners == {"生涯学習課"}
    rows = con.execute(
        "SELECT d.department, d.section FROM project_departments d JOIN projects p "
        "USING (municipality, fiscal_year, project_key) WHERE p.source_line = 149 "
        "ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("生涯学習課", "スポーツ文化振興係"),
        ("生涯学習課", "社会教育係"),
        ("福祉事務所", "保育所係"),
    ]
    # Line 191: three departments, four sections; 福祉係 only occurs on such rows.
    rows = con.execute(
        "SELECT d.department, d.section FROM project_departments d JOIN projects p "
        "USING (municipality, fiscal_year, project_key) WHERE p.source_line = 191 "
        "ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("市民協働推進課", "コミュニティ支援係"),
        ("市民協働推進課", "消防防災係"),
        ("生涯学習課", "社会教育係"),
        ("福祉事務所", "福祉係"),
    ]


def test_kpi_departments(con: duckdb.DuckDBPyConnection) -> None:
    # 住環境建設課 occurs only on the KPI line 80 (建設管理係).
    rows = con.execute(
        "SELECT department, section FROM kpi_departments d JOIN kpis k "
        "USING (municipality, fiscal_year, kpi_key) WHERE k.source_line = 80"
    ).fetchall()
    assert rows == [("住環境建設課", "建設管理係")]
    assert (
        one(con, "SELECT count(*) FROM project_departments WHERE department = '住環境建設課'") == 0
    )


# --- ratings, flags, failures -------------------------------------------------------------


def test_ratings_and_flags(con: duckdb.DuckDBPyConnection) -> None:
    ratings = dict(con.execute("SELECT rating, count(*) FROM projects GROUP BY rating").fetchall())
    assert ratings == {"A": 48, "B": 22, "C": 18, "D": 3, "E": 8}
    lines = [
        r[0]
        for r in con.execute(
            "SELECT source_line FROM projects WHERE NOT commercialized ORDER BY source_line"
        ).fetchall()
    ]
    assert lines == [84, 90, 100, 136, 163, 177, 178]
    assert one(con, "SELECT count(*) FROM projects WHERE commercialized") == 92


def test_validation_failures_are_the_three_warnings(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        'SELECT line, "check", severity, entity, run_id, fiscal_year, source_file '
        "FROM validation_failures ORDER BY line"
    ).fetchall()
    assert rows == [
        (n, "flag_rating_mismatch", "warning", "project", "run-1", 2021, str(R3))
        for n in (90, 146, 147)
    ]
    values = [
        r[0] for r in con.execute("SELECT value FROM validation_failures ORDER BY line").fetchall()
    ]
    assert values == ["C", "E", "E"]  # line 90 is ×/C, lines 146-147 are ○/E


# --- KPI values ---------------------------------------------------------------------------


def test_kpi_new_farmers(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "新規就農者数")  # line 36: 平成22年度以降累計 179人→230人 | 207人 | 令和3年度
    assert (k["latest_value"], k["latest_unit"]) == (207, "人")
    assert (k["baseline_value"], k["target_value"]) == (179, 230)
    assert (k["latest_year"], k["latest_year_kind"]) == (2021, "fiscal")
    assert k["definition"] == "平成22年度以降累計"
    assert k["raw_latest"] == "207人"
    assert (k["level"], k["policy_no"], k["measure_no"], k["source_line"]) == ("measure", 1, 1, 36)


def test_kpi_tourists_multiplier(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "観光入込客数")  # line 52: 240万人→250万人 | | 190万人
    assert (k["baseline_value"], k["baseline_unit"]) == (2_400_000, "人")
    assert (k["target_value"], k["target_unit"]) == (2_500_000, "人")
    assert (k["latest_value"], k["latest_unit"]) == (1_900_000, "人")
    assert k["raw_baseline"] == "240万人"


def test_kpi_income_policy_level(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "市民一人当たりの年間所得額")  # lines 29-32
    assert (k["baseline_value"], k["baseline_unit"]) == (2_398_000, "円")
    assert (k["baseline_year"], k["baseline_year_kind"]) == (2017, "fiscal")  # H29年度
    assert (k["target_value"], k["target_year"]) == (2_600_000, 2025)  # R7年度
    assert (k["latest_value"], k["latest_year"]) == (2_439_000, 2019)  # R元年度
    assert k["raw_baseline"] == "2,398千円"
    assert (k["level"], k["policy_no"], k["measure_no"]) == ("policy", 1, None)
    assert k["source_line"] == 29


def test_kpi_self_esteem_definition(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "自尊感情の向上")  # line 140: definition then 35.9%→40.0%, latest 37.60%
    assert k["target_value"] == pytest.approx(40.0)
    assert k["target_unit"] == "%"
    assert k["baseline_value"] == pytest.approx(35.9)
    assert k["latest_value"] == pytest.approx(37.6)
    assert "中学3年生" in k["definition"]
    assert "35.9" not in k["definition"]


def test_kpi_community_bus(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "コミュニティバス等の利用者数")  # line 98: ... 11,027人→14,000人 | 10,006人
    assert (k["latest_value"], k["latest_unit"]) == (10_006, "人")
    assert (k["baseline_value"], k["target_value"]) == (11_027, 14_000)


def test_kpi_waiting_children_progress(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "保育所入所待機児童数")  # line 124: 5人→0人 | 0人 (a falling target)
    assert (k["baseline_value"], k["target_value"], k["latest_value"]) == (5, 0, 0)
    expected = (k["latest_value"] - k["baseline_value"]) / (k["target_value"] - k["baseline_value"])
    progress = one(con, "SELECT progress FROM v_kpi_progress WHERE kpi_key = ?", [k["kpi_key"]])
    assert progress == pytest.approx(expected)
    assert progress == pytest.approx(1.0)


def test_kpi_birth_rate_year_range(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "合計特殊出生率")  # lines 117-120: 1.65 平成25～29年 / 1.80 令和3～7年
    assert (k["latest_value"], k["latest_unit"]) == (pytest.approx(1.65), None)
    assert (k["latest_year"], k["latest_year_kind"], k["latest_year_range"]) == (
        2017,
        "calendar",
        "平成25～29年",
    )
    assert (k["target_year"], k["target_year_kind"], k["target_year_range"]) == (
        2025,
        "calendar",
        "令和3～7年",
    )


def test_kpi_regional_cooperation_note(con: duckdb.DuckDBPyConnection) -> None:
    k = kpi(con, "広域的連携事業%")  # lines 167-170
    assert (k["latest_value"], k["latest_unit"]) == (37, "件")
    assert k["latest_note"] == "うち人的交流を伴うもの14件"
    assert k["baseline_note"] == "うち人的交流を伴うもの19件"
    assert k["target_note"] == "うち人的交流を伴うもの30件"
    assert (k["latest_year"], k["latest_year_kind"]) == (2021, "calendar")  # 令和3年


def test_quarantine_raw_is_the_text_of_the_line_it_names(tmp_path: Path) -> None:
    """A policy KPI's value failure is on its 現状値 line (30), but `raw` held the KPI's rows
    from its 概要 line (29) on. Variant of R3 (written here): the policy KPI's baseline on line
    30, a measure KPI's latest value on line 36 and a project's rating on line 90 made invalid."""
    lines = [line.split("\t") for line in RAW]
    lines[29][3] = "約2,400千円"  # line 30: 現状値
    lines[35][5] = "約207人"  # line 36: the measure KPI 新規就農者数
    lines[89][6] = "F"  # line 90: a project's rating
    sheet = tmp_path / "bad_values.txt"
    sheet.write_text("\n".join("\t".join(cells) for cells in lines), encoding="utf-8")
    ctx = load_context()
    with open_warehouse(tmp_path / "w.duckdb") as c:
        assert load_result(c, validate_path(sheet, ctx), ctx, run_id="r").n_quarantined == 3
        rows = c.execute("SELECT line, raw FROM quarantine ORDER BY line").fetchall()
    assert rows == [(n, "\t".join(lines[n - 1])) for n in (30, 36, 90)]
