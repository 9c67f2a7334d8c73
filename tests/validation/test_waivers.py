"""Steward waivers (schemas/waivers.toml): a waived failure still shows, marked waived, but
neither makes the exit code non-zero nor quarantines its row; a waiver that matches nothing is
reported; a waiver keeps matching when its row moves (the row key does not depend on the line).

The defect sheets are the REAL R3 sheet with one edit made here in tmp_path: line 91's rating
B replaced by `F` (rating_invalid, an error). The R3 sheet's own warnings are
flag_rating_mismatch at lines 90, 146 and 147 (DESIGN §3).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ukiha_process import ukiha
from ukiha_pipeline.validation import RulesContext, load_context, validate_path
from ukiha_pipeline.validation.result import ValidationResult
from ukiha_pipeline.warehouse import load_result, open_warehouse

REPO = Path(__file__).resolve().parents[2]
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW = R3.read_text(encoding="utf-8").split("\n")
F_LINE = 91  # 市民協働推進課 消防防災係 ・自主防災組織化の推進と活動支援や避難訓練の取組 ○ … B
WHO = "市民協働推進課 消防防災係"
WHY_WARNING = "コロナで中止したが事業化の欄は当初計画のまま"
WHY_ERROR = "評価は次回の会議で決める"
# a new project row for the same sub-measure, inserted above the failing row
NEW_ROW = "\t市民協働推進課\t消防防災係\t・防災マップの全戸配布\t○\t全戸に配布した。\tA"


def defect_lines() -> list[str]:
    lines = list(RAW)
    assert lines[F_LINE - 1].endswith("\tB") and "自主防災組織化" in lines[F_LINE - 1]
    lines[F_LINE - 1] = lines[F_LINE - 1][: -len("B")] + "F"
    return lines


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def waivers_file(path: Path, waivers: list[tuple[int, str, str, str]]) -> Path:
    """`[[waiver]]` tables: (fiscal_year, check, row_key, why), all by WHO."""
    text = "".join(
        f'[[waiver]]\nfiscal_year = {fy}\ncheck = "{check}"\nrow_key = "{key}"\n'
        f'who = "{WHO}"\nwhy = "{why}"\n\n'
        for fy, check, key, why in waivers
    )
    path.write_text(text, encoding="utf-8")
    return path


def no_waivers(tmp_path: Path) -> RulesContext:
    return load_context(waivers_file=tmp_path / "none.toml")  # a missing file: no waivers


def key_of(result: ValidationResult, line: int, check: str) -> str:
    [f] = [f for f in result.failures if f.line == line and f.check == check]
    assert f.row_key
    return f.row_key


@pytest.fixture
def defect(tmp_path: Path) -> Path:
    return write(tmp_path / "r3_defect.txt", defect_lines())


@pytest.fixture
def waived_ctx(tmp_path: Path, defect: Path) -> RulesContext:
    """Waives the line-146 warning and the line-91 error of the defect sheet."""
    plain = validate_path(defect, no_waivers(tmp_path))
    return load_context(
        waivers_file=waivers_file(
            tmp_path / "waivers.toml",
            [
                (
                    2021,
                    "flag_rating_mismatch",
                    key_of(plain, 146, "flag_rating_mismatch"),
                    WHY_WARNING,
                ),
                (2021, "rating_invalid", key_of(plain, F_LINE, "rating_invalid"), WHY_ERROR),
            ],
        )
    )


def test_the_defect_sheet_without_waivers_fails_and_quarantines(
    tmp_path: Path, defect: Path
) -> None:
    result = validate_path(defect, no_waivers(tmp_path))
    assert [(f.line, f.check, f.severity, f.waived) for f in result.failures] == [
        (F_LINE, "rating_invalid", "error", None),
        (90, "flag_rating_mismatch", "warning", None),
        (146, "flag_rating_mismatch", "warning", None),
        (147, "flag_rating_mismatch", "warning", None),
    ]
    assert (result.n_errors, result.n_warnings, result.exit_code) == (1, 3, 1)
    assert result.quarantined == {f"project:{F_LINE - 1}"}
    assert result.notes == ()


def test_waived_failures_still_show_marked_waived(defect: Path, waived_ctx: RulesContext) -> None:
    result = validate_path(defect, waived_ctx)
    assert [(f.line, f.check, f.waived) for f in result.failures] == [
        (F_LINE, "rating_invalid", f"{WHY_ERROR} ({WHO})"),
        (90, "flag_rating_mismatch", None),
        (146, "flag_rating_mismatch", f"{WHY_WARNING} ({WHO})"),
        (147, "flag_rating_mismatch", None),
    ]
    waived = {f.line: f.to_json_dict()["waived"] for f in result.failures if f.waived}
    assert waived == {F_LINE: f"{WHY_ERROR} ({WHO})", 146: f"{WHY_WARNING} ({WHO})"}
    assert result.notes == ()  # both waivers matched


def test_only_waived_errors_left_exit_0_and_nothing_quarantined(
    defect: Path, waived_ctx: RulesContext
) -> None:
    result = validate_path(defect, waived_ctx)
    assert result.count("error") == 0 and result.count("error", waived=True) == 1
    assert result.count("warning") == 2 and result.count("warning", waived=True) == 1
    assert (result.n_errors, result.n_warnings, result.exit_code) == (0, 2, 0)
    assert not result.fatal
    assert result.quarantined == frozenset()


def test_waived_error_row_is_loaded_and_recorded_waived(
    tmp_path: Path, defect: Path, waived_ctx: RulesContext
) -> None:
    result = validate_path(defect, waived_ctx)
    with open_warehouse(tmp_path / "w.duckdb") as con:
        outcome = load_result(con, result, waived_ctx, run_id="run-1")
        assert (outcome.n_projects, outcome.n_quarantined) == (99, 0)
        assert (outcome.n_errors, outcome.n_warnings) == (0, 2)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
        # the F row is in the fact table (its rating normalised as far as it goes)
        row = con.execute(
            "SELECT raw_rating FROM projects WHERE source_line = ?", [F_LINE]
        ).fetchone()
        assert row == ("F",)
        # loaded with no rating: the department counts still add up (n_unrated)
        unrated = con.execute(
            "SELECT department FROM project_departments JOIN projects USING (fiscal_year, "
            "project_key) WHERE source_line = ?",
            [F_LINE],
        ).fetchall()
        sums = con.execute(
            "SELECT department, n_projects, n_a + n_b + n_c + n_d + n_e + n_unrated, n_unrated "
            "FROM v_department_summary"
        ).fetchall()
        assert all(n == total for _, n, total, _ in sums)
        assert {d for d, _, _, u in sums if u} == {d for (d,) in unrated} != set()
        recorded = con.execute(
            'SELECT line, "check", severity, row_key, waived FROM validation_failures ORDER BY line'
        ).fetchall()
    keys = {f.line: f.row_key for f in result.failures}
    assert recorded == [
        (90, "flag_rating_mismatch", "warning", keys[90], None),
        (F_LINE, "rating_invalid", "error", keys[F_LINE], f"{WHY_ERROR} ({WHO})"),
        (146, "flag_rating_mismatch", "warning", keys[146], f"{WHY_WARNING} ({WHO})"),
        (147, "flag_rating_mismatch", "warning", keys[147], None),
    ]


def test_a_waiver_that_matches_nothing_is_a_note(tmp_path: Path) -> None:
    ctx = load_context(
        waivers_file=waivers_file(
            tmp_path / "waivers.toml",
            [
                (2021, "rating_invalid", "0123456789ab", "古い免除"),
                (2022, "rating_invalid", "ba9876543210", "別の年度の免除"),  # other year: silent
            ],
        )
    )
    result = validate_path(R3, ctx)
    assert len(result.notes) == 1
    assert "0123456789ab" in result.notes[0] and "古い免除" in result.notes[0]
    assert "rating_invalid" in result.notes[0] and WHO in result.notes[0]
    assert all(f.waived is None for f in result.failures)
    assert result.exit_code == 0


def test_a_waiver_on_the_right_key_but_another_check_does_not_match(
    tmp_path: Path, defect: Path
) -> None:
    key = key_of(validate_path(defect, no_waivers(tmp_path)), F_LINE, "rating_invalid")
    ctx = load_context(
        waivers_file=waivers_file(tmp_path / "w.toml", [(2021, "flag_invalid", key, "違う")])
    )
    result = validate_path(defect, ctx)
    assert result.exit_code == 1 and all(f.waived is None for f in result.failures)
    assert len(result.notes) == 1 and key in result.notes[0]


def test_the_waiver_still_matches_after_a_row_is_inserted_above(
    tmp_path: Path, defect: Path, waived_ctx: RulesContext
) -> None:
    lines = defect_lines()
    lines.insert(F_LINE - 2, NEW_ROW)  # above line 90 (and so above 91 as well)
    moved = validate_path(write(tmp_path / "r3_moved.txt", lines), waived_ctx)
    assert [(f.line, f.check, f.waived is not None) for f in moved.failures] == [
        (F_LINE + 1, "rating_invalid", True),
        (91, "flag_rating_mismatch", False),
        (147, "flag_rating_mismatch", True),
        (148, "flag_rating_mismatch", False),
    ]
    assert moved.notes == ()
    assert moved.exit_code == 0 and moved.quarantined == frozenset()
    original = validate_path(defect, waived_ctx)
    assert {(f.check, f.row_key) for f in moved.failures} == {
        (f.check, f.row_key) for f in original.failures
    }


def test_validate_text_output_marks_waived_and_shows_row_keys(
    tmp_path: Path, defect: Path, waived_ctx: RulesContext
) -> None:
    keys = {f.line: f.row_key for f in validate_path(defect, waived_ctx).failures}
    proc = ukiha("validate", str(defect), env={"UKIHA_WAIVERS": str(tmp_path / "waivers.toml")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "  [error] 1 (waived 1)" in lines
    assert "  [warning] 3 (waived 1)" in lines
    by_line = {ln.split("行")[0].strip(): ln for ln in lines if ln.startswith("    ")}
    assert set(by_line) == {str(n) for n in (F_LINE, 90, 146, 147)}
    for n, line in by_line.items():
        assert line.endswith(f"(row_key {keys[int(n)]})")
    assert f"[rating_invalid] [waived: {WHY_ERROR} ({WHO})]" in by_line[str(F_LINE)]
    assert f"[flag_rating_mismatch] [waived: {WHY_WARNING} ({WHO})]" in by_line["146"]
    assert "[waived" not in by_line["90"] and "[waived" not in by_line["147"]
    assert not any(ln.startswith("  note:") for ln in lines)


def test_validate_exit_code_is_1_when_the_error_is_not_waived(tmp_path: Path, defect: Path) -> None:
    proc = ukiha("validate", str(defect), env={"UKIHA_WAIVERS": str(tmp_path / "none.toml")})
    assert proc.returncode == 1
    assert "[waived" not in proc.stdout


def test_a_waived_malformed_row_still_stays_in_quarantine(tmp_path: Path) -> None:
    """Its cells cannot be placed, so accepting the failure cannot load the row."""
    lines = list(RAW)
    lines[F_LINE - 1] = lines[F_LINE - 1].replace("\t", "", 1)  # lost a tab: 6 cells
    sheet = write(tmp_path / "lost_tab.txt", lines)
    first = validate_path(sheet, no_waivers(tmp_path))
    (malformed,) = [f for f in first.failures if f.check == "malformed_row"]
    ctx = load_context(
        waivers_file=waivers_file(
            tmp_path / "w.toml", [(2021, "malformed_row", malformed.row_key or "", "既知")]
        )
    )
    result = validate_path(sheet, ctx)
    (waived,) = [f for f in result.failures if f.check == "malformed_row"]
    assert waived.waived is not None
    assert result.exit_code == 0
    assert waived.record in result.quarantined
    with open_warehouse(tmp_path / "w.duckdb") as con:
        outcome = load_result(con, result, ctx, run_id="run-1")
        assert (outcome.n_projects, outcome.n_quarantined) == (98, 1)
