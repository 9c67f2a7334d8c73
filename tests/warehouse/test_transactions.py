"""Loading is one transaction per sheet that replaces the municipality's fiscal year (DESIGN §4).

Starts from the REAL FY2021 sheet; the modified sheets are SYNTHETIC variants of it written to
tmp_path (one rating changed, one invalid rating `F`), plus an empty file for the fatal case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import ukiha_pipeline.warehouse.load as load_module
from ukiha_pipeline.errors import WarehouseError
from ukiha_pipeline.validation import RulesContext, ValidationResult, load_context, validate_path
from ukiha_pipeline.warehouse import TABLE_COLUMNS, load_result, open_warehouse
from ukiha_pipeline.warehouse.schema import FACT_TABLES

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW: list[str] = R3.read_text(encoding="utf-8").split("\n")
CITY = "うきは市"
ALL_TABLES = tuple(TABLE_COLUMNS)
FACTS = (*FACT_TABLES, "quarantine")
VIEWS = ("v_kpi_progress", "v_rating_summary", "v_project_history", "v_department_summary")

Snapshot = dict[str, list[tuple[object, ...]]]


@pytest.fixture(scope="module")
def ctx() -> RulesContext:
    return load_context()


@pytest.fixture(scope="module")
def original(ctx: RulesContext) -> ValidationResult:
    return validate_path(R3, ctx)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(tmp_path / "w.duckdb") as c:
        yield c


def snapshot(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = ALL_TABLES) -> Snapshot:
    """Full contents of each table, in a stable order."""
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def set_rating(lines: list[str], line: int, rating: str) -> None:
    c = lines[line - 1].split("\t")
    assert len(c) == 7
    c[6] = rating
    lines[line - 1] = "\t".join(c)


def variant(tmp_path: Path, ctx: RulesContext) -> ValidationResult:
    """SYNTHETIC: line 37 rated B instead of A, line 38 rated F (rating_invalid, quarantined)."""
    lines = list(RAW)
    set_rating(lines, 37, "B")
    set_rating(lines, 38, "F")
    path = tmp_path / "ukiha_pdca_R3_FY2021_edited.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = validate_path(path, ctx)
    assert result.sheet is not None
    assert result.sheet.fiscal_year == 2021
    return result


def count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return int(row[0])


def test_loading_the_same_file_twice_changes_nothing(
    con: duckdb.DuckDBPyConnection, ctx: RulesContext, original: ValidationResult
) -> None:
    first = load_result(con, original, ctx, run_id="run-1")
    assert first.status == "loaded"
    before = snapshot(con)
    again = load_result(con, validate_path(R3, ctx), ctx, run_id="run-2")
    assert again.status == "unchanged"
    assert (again.n_projects, again.n_kpis, again.n_quarantined) == (99, 17, 0)
    assert snapshot(con) == before
    assert count(con, "SELECT count(*) FROM sheets") == 1
    assert count(con, "SELECT count(*) FROM validation_failures WHERE run_id = 'run-2'") == 0


def test_modified_sheet_replaces_the_fiscal_year(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, ctx: RulesContext, original: ValidationResult
) -> None:
    load_result(con, original, ctx, run_id="run-1")
    first_facts = snapshot(con, FACTS)
    edited = variant(tmp_path, ctx)
    outcome = load_result(con, edited, ctx, run_id="run-2")
    assert outcome.status == "loaded"
    assert (outcome.n_projects, outcome.n_quarantined, outcome.n_errors) == (98, 1, 1)

    # 98 loaded + 1 quarantined = the 99 project rows read.
    assert count(con, "SELECT count(*) FROM projects") == 98
    assert count(con, "SELECT count(*) FROM quarantine") == 1
    entity, line, raw, reason, run_id = con.execute(
        "SELECT entity, line, raw, reason, run_id FROM quarantine"
    ).fetchall()[0]
    assert (entity, line, run_id) == ("project", 38, "run-2")
    assert raw.split("\t")[3] == "・新品種栽培等に対する支援や複合的農業経営への転換の推進"
    assert raw.endswith("\tF")
    assert "rating_invalid" in reason
    assert count(con, "SELECT count(*) FROM projects WHERE source_line = 38") == 0
    assert con.execute("SELECT rating FROM projects WHERE source_line = 37").fetchall() == [("B",)]
    ratings = dict(con.execute("SELECT rating, count(*) FROM projects GROUP BY ALL").fetchall())
    assert ratings == {"A": 46, "B": 23, "C": 18, "D": 3, "E": 8}
    # Other tables of the year were replaced too, not appended to.
    for table, n in [("policies", 4), ("measures", 13), ("submeasures", 44), ("kpis", 17)]:
        assert count(con, f"SELECT count(*) FROM {table}") == n, table

    sheets = con.execute(
        "SELECT source_file, status, n_projects, n_quarantined FROM sheets ORDER BY ingested_at"
    ).fetchall()
    assert sheets == [(str(R3), "superseded", 99, 0), (edited.source_file, "current", 98, 1)]
    failures = con.execute(
        'SELECT line, "check", severity FROM validation_failures '
        "WHERE run_id = 'run-2' ORDER BY line"
    ).fetchall()
    assert failures == [
        (38, "rating_invalid", "error"),
        (90, "flag_rating_mismatch", "warning"),
        (146, "flag_rating_mismatch", "warning"),
        (147, "flag_rating_mismatch", "warning"),
    ]

    # Re-loading the original makes it current again and restores the first load's facts;
    # quarantine keeps the replaced version's row (its sheet superseded), none of the current
    back = load_result(con, validate_path(R3, ctx), ctx, run_id="run-3")
    assert back.status == "loaded"
    assert snapshot(con, FACT_TABLES) == {t: first_facts[t] for t in FACT_TABLES}
    assert con.execute(
        "SELECT q.line, s.status FROM quarantine q JOIN sheets s USING (source_sha256)"
    ).fetchall() == [(38, "superseded")]
    sheets = dict(con.execute("SELECT source_file, status FROM sheets").fetchall())
    assert sheets == {str(R3): "current", edited.source_file: "superseded"}
    assert count(con, "SELECT count(*) FROM sheets WHERE status = 'current'") == 1
    runs = con.execute(
        "SELECT run_id, count(*) FROM validation_failures GROUP BY ALL ORDER BY run_id"
    ).fetchall()
    assert runs == [("run-1", 3), ("run-2", 4), ("run-3", 3)]


def test_fatal_sheet_loads_nothing_but_records_its_failure(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, ctx: RulesContext, original: ValidationResult
) -> None:
    load_result(con, original, ctx, run_id="run-1")
    before = snapshot(con, (*FACTS, "sheets"))
    empty = tmp_path / "ukiha_pdca_R4_FY2022.txt"
    empty.write_bytes(b"")
    result = validate_path(empty, ctx)
    assert result.sheet is None
    outcome = load_result(con, result, ctx, run_id="run-2")
    assert outcome.status == "fatal"
    assert (outcome.n_projects, outcome.n_kpis, outcome.fiscal_year) == (0, 0, None)
    assert snapshot(con, (*FACTS, "sheets")) == before
    rows = con.execute(
        'SELECT source_file, "check", severity, line FROM validation_failures '
        "WHERE run_id = 'run-2'"
    ).fetchall()
    assert rows == [(str(empty), "unreadable_file", "fatal", None)]
    assert count(con, "SELECT count(*) FROM validation_failures WHERE run_id = 'run-1'") == 3


def test_a_check_the_rules_make_fatal_stops_the_sheet(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, ctx: RulesContext, original: ValidationResult
) -> None:
    """DESIGN §3: `fatal` stops that sheet, whichever check the rules file makes fatal. With
    rating_invalid = "fatal", the edited sheet (a rating F) was loaded over the good one."""
    load_result(con, original, ctx, run_id="run-1")
    before = snapshot(con, (*FACTS, "sheets"))
    rules = tmp_path / "rules.toml"
    text = (R3.parents[2] / "schemas" / "rules.toml").read_text(encoding="utf-8")
    rules.write_text(text.replace('rating_invalid = "error"', 'rating_invalid = "fatal"'))
    strict = load_context(rules_file=rules)
    result = variant(tmp_path, strict)
    assert result.fatal and result.exit_code == 1
    outcome = load_result(con, result, strict, run_id="run-2")
    assert outcome.status == "fatal"
    assert snapshot(con, (*FACTS, "sheets")) == before
    assert con.execute(
        "SELECT line, \"check\", severity FROM validation_failures WHERE run_id = 'run-2' "
        "AND severity = 'fatal'"
    ).fetchall() == [(38, "rating_invalid", "fatal")]


def test_failed_transaction_rolls_back(
    tmp_path: Path,
    con: duckdb.DuckDBPyConnection,
    ctx: RulesContext,
    original: ValidationResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_result(con, original, ctx, run_id="run-1")
    before = snapshot(con)
    real_insert = load_module._insert
    seen: list[str] = []

    def failing_insert(c: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
        seen.append(table)
        if table == "kpis":
            raise duckdb.Error("simulated failure while writing kpis")
        real_insert(c, table, df)

    monkeypatch.setattr(load_module, "_insert", failing_insert)
    edited = variant(tmp_path, ctx)
    with pytest.raises(WarehouseError, match="simulated failure"):
        load_result(con, edited, ctx, run_id="run-2")
    assert "projects" in seen  # the failure came after the year's projects were replaced
    assert snapshot(con) == before
    assert count(con, "SELECT count(*) FROM projects") == 99

    # The connection is usable afterwards and the same sheet then loads normally.
    monkeypatch.setattr(load_module, "_insert", real_insert)
    assert load_result(con, edited, ctx, run_id="run-3").status == "loaded"
    assert count(con, "SELECT count(*) FROM projects") == 98


def test_non_duckdb_error_also_rolls_back(
    tmp_path: Path,
    con: duckdb.DuckDBPyConnection,
    ctx: RulesContext,
    original: ValidationResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_result(con, original, ctx, run_id="run-1")
    before = snapshot(con)
    real_insert = load_module._insert

    def failing_insert(c: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
        if table == "kpis":
            raise ValueError("not a duckdb error")
        real_insert(c, table, df)

    monkeypatch.setattr(load_module, "_insert", failing_insert)
    edited = variant(tmp_path, ctx)
    with pytest.raises(Exception, match="not a duckdb error"):
        load_result(con, edited, ctx, run_id="run-2")
    monkeypatch.setattr(load_module, "_insert", real_insert)
    assert snapshot(con) == before
    assert load_result(con, edited, ctx, run_id="run-3").status == "loaded"


def test_views_exist_and_agree_with_tables(
    con: duckdb.DuckDBPyConnection, ctx: RulesContext, original: ValidationResult
) -> None:
    load_result(con, original, ctx, run_id="run-1")
    views = {
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert set(VIEWS) <= views

    assert count(con, "SELECT sum(n) FROM v_rating_summary") == 99
    summary = con.execute(
        "SELECT municipality, fiscal_year, policy_no, rating, n FROM v_rating_summary ORDER BY ALL"
    ).fetchall()
    direct = con.execute(
        "SELECT municipality, fiscal_year, policy_no, rating, count(*) "
        "FROM projects GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert summary == direct
    per_rating = dict(
        con.execute("SELECT rating, sum(n) FROM v_rating_summary GROUP BY ALL").fetchall()
    )
    assert per_rating == {"A": 48, "B": 22, "C": 18, "D": 3, "E": 8}

    history = con.execute(
        "SELECT project_key, fiscal_year, rating, commercialized "
        "FROM v_project_history ORDER BY ALL"
    ).fetchall()
    assert (
        history
        == con.execute(
            "SELECT project_key, fiscal_year, rating, commercialized FROM projects ORDER BY ALL"
        ).fetchall()
    )
    assert len(history) == 99

    depts = con.execute(
        "SELECT department, n_projects, n_a, n_b, n_c, n_d, n_e "
        "FROM v_department_summary WHERE fiscal_year = 2021"
    ).fetchall()
    assert len(depts) == 13
    direct_n = dict(
        con.execute(
            "SELECT department, count(DISTINCT project_key) FROM project_departments GROUP BY ALL"
        ).fetchall()
    )
    for dept, n, *by_rating in depts:
        assert n == direct_n[dept], dept
        assert sum(by_rating) == n, dept
    # うきはブランド推進課 is named on 43 project rows of the sheet (counted from the raw text).
    rows = [line.split("\t") for line in RAW]
    brand = sum(
        1
        for c in rows
        if len(c) == 7 and c[6] in set("ABCDE") and "うきはブランド推進課" in c[1].split()
    )
    assert brand == 43
    assert {d[0]: d[1] for d in depts}["うきはブランド推進課"] == brand

    progress = con.execute(
        "SELECT p.name, p.progress, k.baseline_value, k.target_value, "
        "k.latest_value FROM v_kpi_progress p JOIN kpis k "
        "USING (municipality, fiscal_year, kpi_key)"
    ).fetchall()
    assert len(progress) == 17
    for name, value, base, target, latest in progress:
        assert value == pytest.approx((latest - base) / (target - base)), name
    on_track = dict(con.execute("SELECT name, on_track FROM v_kpi_progress").fetchall())
    assert on_track["観光入込客数"] is False  # 240万人 → 250万人, latest 190万人
    assert on_track["新規就農者数"] is True  # (207-179)/(230-179) = 0.55 ≥ 1/5
    # latest values from before the strategy period (2017, 2019) are not judged
    assert on_track["合計特殊出生率"] is None
    assert on_track["市民一人当たりの年間所得額"] is None
