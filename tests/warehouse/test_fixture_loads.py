"""Each SYNTHETIC fixture sheet that is not fatal, loaded: every project and KPI it holds is in
the fact tables or in `quarantine`, never both, never neither (DESIGN §3: an error keeps the row
out of the fact tables and puts it, raw, into `quarantine`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.validation.test_fixture_checks import FIXTURES, NOT_FATAL
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse


@pytest.mark.parametrize("name", NOT_FATAL)
def test_every_record_is_loaded_or_quarantined_once(name: str, tmp_path: Path) -> None:
    ctx = load_context()
    result = validate_path(FIXTURES / name, ctx)
    sheet = result.sheet
    assert sheet is not None
    line = {row: pos.line for row, pos in enumerate(sheet.grid.positions)}
    records = {
        **{f"project:{p.row}": line[p.row] for p in sheet.projects},
        **{f"kpi:{i}": line[k.row] for i, k in enumerate(sheet.kpis)},
        **{issue.record: line[issue.row] for issue in sheet.issues},
    }
    kept_out = {records[r] for r in result.quarantined}
    with open_warehouse(tmp_path / "w.duckdb") as con:
        load_result(con, result, ctx, run_id="fixtures")
        facts = [
            line
            for (line,) in con.execute(
                "SELECT source_line FROM projects UNION ALL SELECT source_line FROM kpis"
            ).fetchall()
        ]
        n_quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
    assert sorted(facts) == sorted(v for r, v in records.items() if r not in result.quarantined)
    assert not kept_out & set(facts)
    assert n_quarantined == (len(result.quarantined),)


def test_a_value_without_the_unit_of_the_others_has_no_progress(tmp_path: Path) -> None:
    """`179人→230人`, latest `207`: the view used to ignore the missing unit and compute
    progress as if it were 人 (and a latest 0.9 for 81%→95% as -5.7)."""
    ctx = load_context()
    with open_warehouse(tmp_path / "w.duckdb") as con:
        for name in ("valid_excerpt.txt", "kpi_unit_missing.txt"):
            load_result(
                con, validate_path(FIXTURES / name, ctx, fiscal_year=2021), ctx, run_id=name
            )
            got = con.execute(
                "SELECT latest_value, round(progress, 3) FROM v_kpi_progress "
                "WHERE name = '新規就農者数'"
            ).fetchall()
            assert got == ([(207.0, 0.549)] if name == "valid_excerpt.txt" else [(207.0, None)])


def test_a_replaced_version_keeps_its_quarantine_rows(tmp_path: Path) -> None:
    """A year's new version used to delete the old one's quarantine rows (while `sheets` still
    counted them): bad rows are quarantined, never dropped."""
    ctx = load_context()
    with open_warehouse(tmp_path / "w.duckdb") as con:
        for name in ("rating_invalid.txt", "valid_excerpt.txt", "rating_invalid.txt"):
            load_result(con, validate_path(FIXTURES / name, ctx), ctx, run_id=name)
            per_version = con.execute(
                "SELECT s.source_file, s.status, s.n_quarantined, count(q.line) FROM sheets s "
                "LEFT JOIN quarantine q USING (source_sha256) GROUP BY ALL ORDER BY ALL"
            ).fetchall()
            assert all(n == rows for _, _, n, rows in per_version), per_version
        # the bad version again: current again, its two rows once each (not twice)
        assert [(Path(f).name, status, n) for f, status, n, _ in per_version] == [
            ("rating_invalid.txt", "current", 2),
            ("valid_excerpt.txt", "superseded", 0),
        ]


def test_a_deleted_policy_heading_files_nothing_under_the_policy_before(tmp_path: Path) -> None:
    """The real R3 sheet without the heading of policy 2 (line 71): measure 1-1 got policy 2's
    measure 1's projects too (17, not 12), a measure 1-4 appeared with policy 2's measure 4's
    11, and policy 2's 現状値 / 最新値 rows were 2 more projects. Policy 1 loads as it is;
    policy 2's rows are in quarantine."""
    r3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
    lines = r3.read_text(encoding="utf-8").split("\n")
    path = tmp_path / "no_heading_2.txt"
    path.write_text("\n".join(lines[:70] + lines[71:]), encoding="utf-8")
    ctx = load_context()
    with open_warehouse(tmp_path / "w.duckdb") as con:
        load_result(con, validate_path(path, ctx), ctx, run_id="no_heading_2")
        per_measure = con.execute(
            "SELECT policy_no, measure_no, count(*) FROM projects GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        n_quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
    assert [m for m in per_measure if m[0] == 1] == [(1, 1, 12), (1, 2, 10), (1, 3, 5)]
    assert {m[0] for m in per_measure} == {1, 3, 4}
    assert sum(m[2] for m in per_measure) == 74
    assert n_quarantined is not None and n_quarantined[0] > 25  # policy 2's rows
