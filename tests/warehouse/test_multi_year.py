"""Issue #5: a multi-year warehouse analysts can trust.

The real FY2021 (R3) sheet plus SYNTHETIC FY2022-2025 sheets (`tests/synthetic/generate.py`),
loaded in any order and any number of times, give the same tables; keys follow each project
and KPI across years; every view is checked against expectations computed here, in Python,
from the generator's truth (which project each row continues, each KPI's numbers).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.synthetic.generate import (
    ADDED_CELLS,
    ADDED_LINEAGE,
    MIYAKO_TITLE,
    PUNCTUATION_EDIT,
    REMOVED,
    RENAMED,
    SHORT_EDIT,
    SWAPPED,
    WORD_EDIT,
    SheetYear,
    other_municipality,
)
from ukiha_pipeline.validation import RulesContext, ValidationResult, validate_path
from ukiha_pipeline.validation.frames import content_key
from ukiha_pipeline.warehouse import TABLE_COLUMNS, load_result, open_warehouse
from ukiha_pipeline.warehouse.tables import stable_key

CITY = "うきは市"
YEARS = (2021, 2022, 2023, 2024, 2025)
#: Load metadata: the only columns allowed to differ with the order of loading.
METADATA = {
    "sheets": {"ingested_at", "run_id", "flow_run_id"},
    "validation_failures": {"run_id", "recorded_at"},
    "quarantine": {"run_id", "recorded_at"},
}

Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(con: duckdb.DuckDBPyConnection) -> Snapshot:
    """Every table's rows without load metadata, in a stable order."""
    out = {}
    for table, columns in TABLE_COLUMNS.items():
        cols = ", ".join(f'"{c}"' for c in columns if c not in METADATA.get(table, set()))
        out[table] = sorted(con.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)
    return out


def load_all(
    path: Path,
    order: list[int],
    results: dict[int, ValidationResult],
    ctx: RulesContext,
) -> Snapshot:
    with open_warehouse(path) as con:
        for i, fy in enumerate(order):
            load_result(con, results[fy], ctx, run_id=f"run-{i}")
        return snapshot(con)


@pytest.fixture(scope="module")
def con(
    tmp_path_factory: pytest.TempPathFactory,
    year_results: dict[int, ValidationResult],
    multi_ctx: RulesContext,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """R3 and the SYNTHETIC R4-R7, loaded in ascending order."""
    path = tmp_path_factory.mktemp("multi") / "w.duckdb"
    with open_warehouse(path) as c:
        for fy in YEARS:
            outcome = load_result(c, year_results[fy], multi_ctx, run_id=f"run-{fy}")
            assert outcome.status == "loaded"
        yield c


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    return con.execute(sql, params or []).fetchall()


def lineage_keys(con: duckdb.DuckDBPyConnection, years: list[SheetYear]) -> dict[str, set[str]]:
    """Lineage (which R3 line a project continues) → the keys the warehouse gave it."""
    key_at = {
        (fy, line): key
        for fy, line, key in rows(con, "SELECT fiscal_year, source_line, project_key FROM projects")
    }
    out: dict[str, set[str]] = {}
    for y in years:
        for p in y.projects:
            out.setdefault(p.lineage, set()).add(key_at[(y.fiscal_year, p.line)])
    return out


# --- the sheets ---------------------------------------------------------------------------


def test_synthetic_sheets_are_labelled_and_validate_like_r3(
    sheet_years: list[SheetYear], year_results: dict[int, ValidationResult]
) -> None:
    assert [y.fiscal_year for y in sheet_years] == list(YEARS)
    assert not sheet_years[0].synthetic
    assert all(y.synthetic and y.file_name.startswith("SYNTHETIC_") for y in sheet_years[1:])
    for y in sheet_years:
        r = year_results[y.fiscal_year]
        assert r.sheet is not None and r.sheet.fiscal_year == y.fiscal_year
        assert r.sheet.municipality == CITY
        assert r.n_errors == 0, [f.message for f in r.failures if f.severity == "error"]
        assert Counter(f.check for f in r.failures) == {"flag_rating_mismatch": 3}
        assert len(r.sheet.projects) == len(y.projects)
    # header and as-of years follow the sheet's year
    assert (
        "R5年度事業化" in sheet_years[2].text
        and "R3年度" not in sheet_years[2].text.split("\n")[33]
    )


def test_generator_is_deterministic(sheet_years: list[SheetYear]) -> None:
    from tests.synthetic.generate import all_years, synthetic_year

    again = all_years()
    assert [y.text for y in again] == [y.text for y in sheet_years]
    assert synthetic_year(2023).text == sheet_years[2].text
    assert all_years(seed=1)[3].text != sheet_years[3].text  # the seed matters


# --- any order, any number of times --------------------------------------------------------


def test_load_order_and_repeats_do_not_change_any_table(
    tmp_path: Path, year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    orders = [
        list(YEARS),
        list(reversed(YEARS)),
        [2023, 2021, 2025, 2022, 2024],
        # every sheet loaded twice, some straight away, some after others
        [2024, 2024, 2021, 2022, 2021, 2025, 2023, 2022, 2025, 2023, 2024],
    ]
    snaps = [
        load_all(tmp_path / f"w{i}.duckdb", o, year_results, multi_ctx)
        for i, o in enumerate(orders)
    ]
    for i, snap in enumerate(snaps[1:], start=1):
        for table in TABLE_COLUMNS:
            assert snap[table] == snaps[0][table], (orders[i], table)
    assert len(snaps[0]["projects"]) == sum(len(year_results[fy].sheet.projects) for fy in YEARS)  # type: ignore[union-attr]
    assert len(snaps[0]["sheets"]) == 5


def test_every_permutation_of_three_years_gives_the_same_keys(
    tmp_path: Path, year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    """R4 has the small edits, R5 the added project and the swap: all 6 orders agree."""
    snaps = [
        load_all(tmp_path / f"p{i}.duckdb", list(order), year_results, multi_ctx)
        for i, order in enumerate(itertools.permutations((2021, 2022, 2023)))
    ]
    for snap in snaps[1:]:
        assert snap == snaps[0]


def test_reloading_a_year_replaces_it_and_restores_the_keys(
    tmp_path: Path, year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    """A new version of a year in the middle re-keys the others; the old version puts it back."""
    path = tmp_path / "w.duckdb"
    before = load_all(path, list(YEARS), year_results, multi_ctx)
    edited = tmp_path / "SYNTHETIC_ukiha_pdca_R4_FY2022_v2.txt"
    r4 = Path(year_results[2022].source_file).read_text(encoding="utf-8")
    assert WORD_EDIT[2] in r4
    edited.write_text(r4.replace(WORD_EDIT[2], "・サービス開発事業者への補助"), encoding="utf-8")
    with open_warehouse(path) as c:
        assert (
            load_result(c, validate_path(edited, multi_ctx), multi_ctx, run_id="v2").status
            == "loaded"
        )
        assert rows(c, "SELECT count(*) FROM sheets WHERE fiscal_year = 2022") == [(2,)]
        # the rewritten project is too different: a new key in FY2022 only; FY2023 on, the
        # project continues R3's (the text it had last)
        r3_key = stable_key(CITY, content_key(WORD_EDIT[1]))
        assert rows(
            c, "SELECT fiscal_year FROM projects WHERE project_key = ? ORDER BY 1", [r3_key]
        ) == [(2021,), (2023,), (2024,), (2025,)]
        assert load_result(c, year_results[2022], multi_ctx, run_id="v1-again").status == "loaded"
        after = snapshot(c)
    for table in TABLE_COLUMNS:
        if table not in METADATA:
            assert after[table] == before[table], table


# --- keys ----------------------------------------------------------------------------------


def test_every_project_keeps_its_key_across_years(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    keys = lineage_keys(con, sheet_years)
    assert all(len(k) == 1 for k in keys.values()), {ln: k for ln, k in keys.items() if len(k) > 1}
    flat = [next(iter(k)) for k in keys.values()]
    assert len(set(flat)) == len(flat) == 100  # 99 of R3 + 1 added, all distinct
    assert rows(con, "SELECT count(DISTINCT project_key) FROM projects") == [(100,)]
    r3 = {p.lineage: p.content for p in sheet_years[0].projects}
    for lineage, (key,) in keys.items():
        if lineage in r3:  # a key is the hash of its first year's text
            assert key == stable_key(CITY, content_key(r3[lineage])), lineage


def test_edited_reordered_and_shifted_projects_keep_their_keys(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    keys = {ln: next(iter(k)) for ln, k in lineage_keys(con, sheet_years).items()}
    for line, old, new in (PUNCTUATION_EDIT, WORD_EDIT, SHORT_EDIT):
        got = rows(
            con,
            "SELECT fiscal_year, content FROM projects WHERE project_key = ? ORDER BY fiscal_year",
            [keys[f"R3:{line}"]],
        )
        assert [fy for fy, _ in got] == list(YEARS), line
        assert got[0][1] == old and got[-1][1] == new, line
    for line in SWAPPED:  # the swapped rows: same keys, other lines
        lines = rows(
            con,
            "SELECT fiscal_year, seq FROM projects WHERE project_key = ? ORDER BY fiscal_year",
            [keys[f"R3:{line}"]],
        )
        assert len({seq for _, seq in lines}) == 2, line
    # every line below the added project moved down by one in FY2023: keys did not move
    moved = rows(
        con,
        "SELECT count(*) FROM projects a JOIN projects b USING (municipality, project_key) "
        "WHERE a.fiscal_year = 2022 AND b.fiscal_year = 2023 AND b.source_line = a.source_line + 1",
    )
    assert moved[0][0] >= 90


def test_an_added_project_gets_a_new_key_and_a_removed_one_keeps_its_own(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    keys = {ln: next(iter(k)) for ln, k in lineage_keys(con, sheet_years).items()}
    added = keys[ADDED_LINEAGE]
    assert added == stable_key(CITY, content_key(ADDED_CELLS[3]))
    assert rows(
        con, "SELECT fiscal_year FROM projects WHERE project_key = ? ORDER BY 1", [added]
    ) == [(2023,), (2024,), (2025,)]
    assert rows(
        con,
        "SELECT count(*) FROM projects WHERE fiscal_year < 2023 AND project_key = ?",
        [added],
    ) == [(0,)]
    removed = keys[f"R3:{REMOVED}"]
    assert rows(
        con, "SELECT fiscal_year FROM projects WHERE project_key = ? ORDER BY 1", [removed]
    ) == [(2021,), (2022,), (2023,)]


def test_every_kpi_keeps_its_key(con: duckdb.DuckDBPyConnection) -> None:
    per_name = rows(
        con,
        "SELECT name, count(DISTINCT kpi_key), count(*) FROM kpis GROUP BY name ORDER BY name",
    )
    assert len(per_name) == 17
    assert all(n_keys == 1 and n == 5 for _, n_keys, n in per_name), per_name
    for name, level, key in rows(con, "SELECT DISTINCT name, level, kpi_key FROM kpis"):
        assert key == stable_key(CITY, level, content_key(name))


def test_no_ambiguous_match_in_the_synthetic_years(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(
        con, "SELECT count(*) FROM validation_failures WHERE \"check\" = 'ambiguous_key_match'"
    ) == [(0,)]


def test_renamed_department_is_on_the_same_project(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    old, new = RENAMED
    got = rows(
        con,
        "SELECT d.fiscal_year, d.department, count(DISTINCT d.project_key) "
        "FROM project_departments d WHERE d.department IN (?, ?) GROUP BY ALL ORDER BY ALL",
        [old, new],
    )
    assert got == [(2021, old, 3), (2022, old, 3), (2023, new, 3), (2024, new, 3), (2025, new, 3)]
    assert rows(
        con,
        "SELECT count(DISTINCT project_key) FROM project_departments WHERE department IN (?, ?)",
        [old, new],
    ) == [(3,)]


# --- a second municipality -----------------------------------------------------------------


def test_a_second_municipality_is_kept_apart(
    tmp_path: Path, year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    r3_text = Path(year_results[2021].source_file).read_text(encoding="utf-8")
    miyako = tmp_path / "SYNTHETIC_miyako_pdca_R3_FY2021.txt"
    miyako.write_text(other_municipality(r3_text), encoding="utf-8")
    assert MIYAKO_TITLE in miyako.read_text(encoding="utf-8")
    m_result = validate_path(miyako, multi_ctx)
    assert m_result.sheet is not None and m_result.sheet.municipality == "みやこ町"

    results = {**year_results, 0: m_result}
    alone = load_all(tmp_path / "ukiha.duckdb", list(YEARS), year_results, multi_ctx)
    with_miyako = load_all(
        tmp_path / "both.duckdb", [2022, 0, 2025, 2021, 2024, 2023], results, multi_ctx
    )
    for table, columns in TABLE_COLUMNS.items():
        i = [c for c in columns if c not in METADATA.get(table, set())].index("municipality")
        ukiha = [r for r in with_miyako[table] if r[i] != "みやこ町"]
        assert ukiha == alone[table], table  # Ukiha's rows are as without みやこ町
    with open_warehouse(tmp_path / "both.duckdb", read_only=True) as c:
        assert rows(c, "SELECT municipality, count(*) FROM projects GROUP BY 1 ORDER BY 1") == [
            ("うきは市", sum(len(year_results[fy].sheet.projects) for fy in YEARS)),  # type: ignore[union-attr]
            ("みやこ町", 99),
        ]
        shared = rows(
            c,
            "SELECT count(*) FROM projects a JOIN projects b USING (project_key) "
            "WHERE a.municipality = 'うきは市' AND b.municipality = 'みやこ町'",
        )
        assert shared == [(0,)]  # keys include the municipality
        for table in TABLE_COLUMNS:
            if table not in ("quarantine", "restored_files"):  # (none of these here)
                n = rows(c, f"SELECT count(*) FROM {table} WHERE municipality = 'みやこ町'")
                assert n[0][0] > 0, table


def test_municipality_option_overrides_the_title(
    tmp_path: Path, year_results: dict[int, ValidationResult], multi_ctx: RulesContext
) -> None:
    result = validate_path(Path(year_results[2021].source_file), multi_ctx, municipality="上毛町")
    with open_warehouse(tmp_path / "w.duckdb") as c:
        load_result(c, result, multi_ctx, run_id="r")
        for table in TABLE_COLUMNS:
            if table not in ("quarantine", "restored_files"):  # (none of these here)
                assert rows(c, f"SELECT DISTINCT municipality FROM {table}") == [("上毛町",)], table


# --- views ---------------------------------------------------------------------------------


def expected_progress(k: Any, fiscal_year: int) -> dict[str, Any]:
    """DESIGN §2 by hand: progress, elapsed share, on track, stale, direction."""
    progress = (k.latest - k.baseline) / (k.target - k.baseline)
    elapsed = min((k.latest_year - 2021 + 1) / 5, 1.0) if k.latest_year >= 2021 else None
    return {
        "progress": progress,
        "elapsed_share": elapsed,
        "on_track": None if elapsed is None else progress >= elapsed - 1e-9,
        "latest_is_stale": k.latest_year < fiscal_year,
        "direction": "increase" if k.target > k.baseline else "decrease",
    }


def test_v_kpi_progress_equals_a_hand_computation_for_every_kpi_and_year(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    cols = [
        "name", "unit", "baseline_value", "target_value", "latest_value", "latest_year",
        "latest_year_kind", "progress", "elapsed_share", "on_track", "latest_is_stale",
        "direction", "level",
    ]  # fmt: skip
    n = 0
    for y in sheet_years:
        got = {
            r[0]: dict(zip(cols, r, strict=True))
            for r in rows(
                con,
                f"SELECT {', '.join(cols)} FROM v_kpi_progress WHERE fiscal_year = ?",
                [y.fiscal_year],
            )
        }
        assert set(got) == {k.name for k in y.kpis}, y.fiscal_year
        for k in y.kpis:
            g, e = got[k.name], expected_progress(k, y.fiscal_year)
            where = (y.fiscal_year, k.name)
            assert (g["baseline_value"], g["target_value"]) == (
                pytest.approx(k.baseline),
                pytest.approx(k.target),
            ), where
            assert g["latest_value"] == pytest.approx(k.latest), where
            assert (g["latest_year"], g["latest_year_kind"]) == (
                k.latest_year,
                k.latest_year_kind,
            ), where
            assert (g["unit"], g["level"]) == (k.unit, k.level), where
            assert g["progress"] == pytest.approx(e["progress"]), where
            assert g["elapsed_share"] == (
                None if e["elapsed_share"] is None else pytest.approx(e["elapsed_share"])
            ), where
            assert g["on_track"] is e["on_track"], where
            assert g["latest_is_stale"] is e["latest_is_stale"], where
            assert g["direction"] == e["direction"], where
            n += 1
    assert n == 85


def test_v_kpi_progress_spot_checks_by_hand(con: duckdb.DuckDBPyConnection) -> None:
    def kpi(name: str, fy: int) -> tuple[Any, ...]:
        return rows(
            con,
            "SELECT latest_value, round(progress, 6), elapsed_share, on_track, latest_is_stale, "
            "direction, definition, unit FROM v_kpi_progress WHERE name = ? AND fiscal_year = ?",
            [name, fy],
        )[0]

    # falling target 5人→0人: 2人 is 60% of the way; FY2022 is 2/5 of the period: on track
    assert kpi("保育所入所待機児童数", 2022) == (2, 0.6, 0.4, True, False, "decrease", None, "人")
    # 3人 in FY2023: 40% of the way, 3/5 of the period elapsed: behind
    assert kpi("保育所入所待機児童数", 2023)[:4] == (3, 0.4, 0.6, False)
    # cumulative since FY2010: the definition is kept, progress as written (207-179)/(230-179)
    assert kpi("新規就農者数", 2021)[:2] == (207, round(28 / 51, 6))
    assert kpi("新規就農者数", 2021)[6] == "平成22年度以降累計"
    # a percentage: 88% of 81%→95% is half way
    assert kpi("自主防災組織率", 2021)[1:2] == (0.5,) and kpi("自主防災組織率", 2021)[7] == "%"
    # income statistics two years behind: the FY2022 sheet's value is as of FY2020 (before
    # the period: not judged) and stale
    assert kpi("市民一人当たりの年間所得額", 2022)[2:5] == (None, None, True)
    # birth rate as of 平成30～令和4年 (calendar 2022) in the FY2024 sheet: stale, 2/5 elapsed
    assert kpi("合計特殊出生率", 2024)[1:5] == (round((1.58 - 1.65) / 0.15, 6), 0.4, False, True)


def test_v_kpi_progress_needs_agreeing_units(tmp_path: Path, multi_ctx: RulesContext) -> None:
    from tests.synthetic.generate import R3_PATH

    text = R3_PATH.read_text(encoding="utf-8").replace("81%→95%\t88%", "81%→95%\t88件")
    path = tmp_path / "SYNTHETIC_unit_mismatch_R3.txt"
    path.write_text(text, encoding="utf-8")
    with open_warehouse(tmp_path / "w.duckdb") as c:
        load_result(c, validate_path(path, multi_ctx), multi_ctx, run_id="r")
        got = rows(c, "SELECT progress, on_track FROM v_kpi_progress WHERE name = '自主防災組織率'")
        assert got == [(None, None)]


def rating_truth(years: list[SheetYear]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for y in years:
        for p in y.projects:
            out.setdefault(p.lineage, {})[y.fiscal_year] = p.rating
    return out


def test_v_project_history_gives_each_projects_rating_path(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    keys = {ln: next(iter(k)) for ln, k in lineage_keys(con, sheet_years).items()}
    expected = set()
    for lineage, by_year in rating_truth(sheet_years).items():
        path = " → ".join(f"{fy} {r}" for fy, r in sorted(by_year.items()))
        for fy, rating in by_year.items():
            prev = by_year.get(fy - 1)
            change = None
            if prev is not None:
                change = (
                    "improved" if rating < prev else "slipped" if rating > prev else "unchanged"
                )
            expected.add(
                (keys[lineage], fy, rating, prev, change, min(by_year), len(by_year), path)
            )
    got = set(
        rows(
            con,
            "SELECT project_key, fiscal_year, rating, previous_rating, rating_change, "
            "first_fiscal_year, n_years, rating_path FROM v_project_history",
        )
    )
    assert got == expected
    changes = Counter(e[4] for e in expected)
    assert changes["improved"] > 0 and changes["slipped"] > 0 and changes["unchanged"] > 0


def test_v_rating_transitions_counts_consecutive_years(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    expected: Counter[tuple[Any, ...]] = Counter()
    for by_year in rating_truth(sheet_years).values():
        for fy, rating in by_year.items():
            if fy - 1 in by_year:
                expected[(CITY, fy - 1, fy, by_year[fy - 1], rating)] += 1
    got = {r[:5]: r[5] for r in rows(con, "SELECT * FROM v_rating_transitions")}
    assert got == dict(expected)
    # the removed project has no 2023→2024 transition; the added one none into 2023
    assert sum(n for k, n in got.items() if k[1:3] == (2023, 2024)) == 99
    assert sum(n for k, n in got.items() if k[1:3] == (2022, 2023)) == 99


def test_v_rating_summary_by_hand(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    expected = Counter(
        (CITY, y.fiscal_year, p.policy_no, p.rating) for y in sheet_years for p in y.projects
    )
    got = {r[:4]: r[4] for r in rows(con, "SELECT * FROM v_rating_summary")}
    assert got == dict(expected)


def test_v_department_summary_by_hand(
    con: duckdb.DuckDBPyConnection, sheet_years: list[SheetYear]
) -> None:
    expected: dict[tuple[Any, ...], Counter[str]] = {}
    for y in sheet_years:
        for p in y.projects:
            for d in set(p.departments):
                expected.setdefault((CITY, y.fiscal_year, d), Counter())[p.rating] += 1
    got = {
        r[:3]: r[3:]
        for r in rows(
            con,
            "SELECT municipality, fiscal_year, department, n_projects, n_a, n_b, n_c, n_d, n_e "
            "FROM v_department_summary",
        )
    }
    assert got == {k: (sum(c.values()), *(c[r] for r in "ABCDE")) for k, c in expected.items()}
