"""Failure history (`ukiha failures`): the latest run of a sheet against the run before it.

Run 1 loads the REAL R3 sheet (warnings flag_rating_mismatch at lines 90, 146, 147). Run 2
loads a SYNTHETIC edit of it made here in tmp_path: a new project row inserted after the
sheet's first project row, line 37 (every later line moves down by one), line 90's rating C
changed to E (× with E: that warning is fixed) and line 91's rating B changed to F (a new
rating_invalid error). Matching is by (check, row_key), so the two warnings that moved to
lines 147 and 148 are still the same, open, failures.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.ukiha_process import ukiha as run_ukiha
from ukiha_pipeline.validation import RulesContext, load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse
from ukiha_pipeline.warehouse.history import SheetFailureHistory, failure_history

REPO = Path(__file__).resolve().parents[2]
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW = R3.read_text(encoding="utf-8").split("\n")
CITY = "うきは市"
T1 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
FIRST_PROJECT = 37  # ①収益性の高い農業への転換等の支援 農林振興課 農政係 …
NEW_ROW = "\t農林振興課\t農政係\t・新規就農者の住宅支援\t○\t3件を支援した。\tA"


def set_rating(lines: list[str], line: int, old: str, new: str) -> None:
    cells = lines[line - 1].split("\t")
    assert cells[6] == old, (line, cells)
    cells[6] = new
    lines[line - 1] = "\t".join(cells)


def edited_lines() -> list[str]:
    lines = list(RAW)
    set_rating(lines, 90, "C", "E")  # × with E: the line-90 warning is fixed
    set_rating(lines, 91, "B", "F")  # rating_invalid: a new error
    assert RAW[FIRST_PROJECT - 1].startswith("①収益性の高い農業")
    lines.insert(FIRST_PROJECT, NEW_ROW)  # becomes line 38: every later line moves down by one
    return lines


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> RulesContext:
    return load_context(waivers_file=tmp_path_factory.mktemp("nw") / "none.toml")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, ctx: RulesContext) -> Path:
    folder = tmp_path_factory.mktemp("history")
    edited = folder / "r3_edited.txt"
    edited.write_text("\n".join(edited_lines()), encoding="utf-8")
    path = folder / "w.duckdb"
    with open_warehouse(path) as con:
        assert load_result(con, validate_path(R3, ctx), ctx, run_id="run-1", now=T1).status == (
            "loaded"
        )
        second = load_result(con, validate_path(edited, ctx), ctx, run_id="run-2", now=T2)
        assert (second.status, second.n_errors, second.n_warnings) == ("loaded", 1, 2)
    return path


def history(
    path: Path, *, fiscal_year: int | None = None, municipality: str | None = None
) -> list[SheetFailureHistory]:
    with open_warehouse(path, read_only=True) as con:
        return failure_history(con, fiscal_year=fiscal_year, municipality=municipality)


def test_new_open_and_resolved_exactly(warehouse: Path) -> None:
    [h] = history(warehouse)
    assert (h.municipality, h.fiscal_year) == (CITY, 2021)
    assert (h.run_id, h.previous_run_id) == ("run-2", "run-1")
    assert (h.loaded_at, h.previous_loaded_at) == (T2, T1)
    assert h.previous_source_file == str(R3) and h.source_file.endswith("r3_edited.txt")
    assert [(c.status, c.line, c.check, c.severity, c.value) for c in h.changes] == [
        ("new", 92, "rating_invalid", "error", "F"),
        ("open", 147, "flag_rating_mismatch", "warning", "E"),
        ("open", 148, "flag_rating_mismatch", "warning", "E"),
        ("resolved", 90, "flag_rating_mismatch", "warning", "C"),  # its line in run 1
    ]
    assert (h.n_new, h.n_open, h.n_resolved) == (1, 2, 1)
    assert all(c.waived is None for c in h.changes)


def test_changes_carry_the_row_keys_of_the_failures(warehouse: Path, ctx: RulesContext) -> None:
    r3_keys = {f.line: f.row_key for f in validate_path(R3, ctx).failures}
    [h] = history(warehouse)
    assert {c.line: c.row_key for c in h.of("open")} == {147: r3_keys[146], 148: r3_keys[147]}
    assert [c.row_key for c in h.of("resolved")] == [r3_keys[90]]
    assert h.of("new")[0].row_key not in r3_keys.values()


def test_the_first_run_of_a_sheet_is_all_new(tmp_path: Path, ctx: RulesContext) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        load_result(con, validate_path(R3, ctx), ctx, run_id="run-1", now=T1)
    [h] = history(path)
    assert (h.run_id, h.previous_run_id, h.previous_loaded_at) == ("run-1", None, None)
    assert [(c.status, c.line) for c in h.changes] == [("new", 90), ("new", 146), ("new", 147)]


def test_a_run_without_failures_resolves_everything(tmp_path: Path, ctx: RulesContext) -> None:
    """The clean run has no rows in validation_failures: it is known from `sheets`."""
    lines = list(RAW)
    set_rating(lines, 90, "C", "E")
    set_rating(lines, 146, "E", "D")
    set_rating(lines, 147, "E", "D")
    clean = tmp_path / "r3_clean.txt"
    clean.write_text("\n".join(lines), encoding="utf-8")
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        load_result(con, validate_path(R3, ctx), ctx, run_id="run-1", now=T1)
        outcome = load_result(con, validate_path(clean, ctx), ctx, run_id="run-2", now=T2)
        assert (outcome.n_errors, outcome.n_warnings) == (0, 0)
    [h] = history(path)
    assert (h.run_id, h.previous_run_id) == ("run-2", "run-1")
    assert [(c.status, c.line) for c in h.changes] == [
        ("resolved", 90),
        ("resolved", 146),
        ("resolved", 147),
    ]


def test_loading_the_same_content_again_is_no_new_run(warehouse: Path, ctx: RulesContext) -> None:
    # (on a copy: the module's warehouse stays as the other tests expect it)
    copy = warehouse.parent / "copy.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    edited = warehouse.parent / "r3_edited.txt"
    with open_warehouse(copy) as con:
        again = load_result(con, validate_path(edited, ctx), ctx, run_id="run-3")
        assert again.status == "unchanged"
    [h] = history(copy)
    assert (h.run_id, h.previous_run_id) == ("run-2", "run-1")


def test_two_versions_in_one_batch_the_current_one_is_the_latest(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """Both get the batch's run id and time: the tie used to be broken by chance."""
    from ukiha_pipeline.warehouse import load_results

    edited = tmp_path / "r3_edited.txt"
    edited.write_text("\n".join(edited_lines()), encoding="utf-8")
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        results = [validate_path(p, ctx) for p in (edited, R3)]  # R3 is the later version
        load_results(con, results, ctx, run_id="run-1", now=T1)
        assert con.execute("SELECT source_file, status FROM sheets ORDER BY status").fetchall() == [
            (str(R3), "current"),
            (str(edited), "superseded"),
        ]
    [h] = history(path)
    assert h.source_file == str(R3) and h.previous_source_file == str(edited)
    assert (h.n_new, h.n_open, h.n_resolved) == (1, 2, 1)  # line 90 is new again, F resolved


def test_filters(warehouse: Path) -> None:
    assert [h.fiscal_year for h in history(warehouse, fiscal_year=2021)] == [2021]
    assert history(warehouse, fiscal_year=2022) == []
    assert [h.municipality for h in history(warehouse, municipality=CITY)] == [CITY]
    assert history(warehouse, municipality="みやま市") == []


def ukiha(*args: str) -> subprocess.CompletedProcess[str]:
    return run_ukiha(*args, env={"TZ": "UTC"})  # times print in local time


def test_cli_failures_text(warehouse: Path, ctx: RulesContext) -> None:
    proc = ukiha("failures", "--warehouse", str(warehouse))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    edited = warehouse.parent / "r3_edited.txt"  # the file of run-2: a steward opens it next
    assert lines[0] == (
        f"{CITY} 2021年度（令和3年度） {edited}: 実行 run-2 (2024-06-01 09:00 UTC), "
        "前回 run-1 (2024-05-01 09:00 UTC) と比べて: 新規 1・継続 2・解消 1"
    )
    rows = [ln.split() for ln in lines[1:]]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("新規", "error", "92行", "[rating_invalid]"),
        ("継続", "warning", "147行", "[flag_rating_mismatch]"),
        ("継続", "warning", "148行", "[flag_rating_mismatch]"),
        ("解消", "warning", "90行", "[flag_rating_mismatch]"),
    ]
    r3_keys = {f.line: f.row_key for f in validate_path(R3, ctx).failures}
    assert lines[4].endswith(f"(row_key {r3_keys[90]})")


def test_cli_failures_json_and_filters(warehouse: Path) -> None:
    proc = ukiha(
        "failures", "--warehouse", str(warehouse), "--format", "json", "--fiscal-year", "2021"
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["status"], r["line"], r["check"]) for r in records] == [
        ("new", 92, "rating_invalid"),
        ("open", 147, "flag_rating_mismatch"),
        ("open", 148, "flag_rating_mismatch"),
        ("resolved", 90, "flag_rating_mismatch"),
    ]
    assert {
        (r["municipality"], r["fiscal_year"], r["run_id"], r["previous_run_id"]) for r in records
    } == {(CITY, 2021, "run-2", "run-1")}
    assert all(len(r["row_key"]) == 12 and r["waived"] is None for r in records)

    other = ukiha("failures", "--warehouse", str(warehouse), "--fiscal-year", "2022")
    assert (other.returncode, other.stdout.strip()) == (
        0,
        "(読み込まれたシートはありません: 2022年度（令和4年度）)",
    )
    era = ukiha("failures", "--warehouse", str(warehouse), "--fiscal-year", "3")  # 令和3年度
    said = re.sub(r"[\s│╭╮╰╯─]+", "", era.stderr)  # click's box may wrap the line
    assert era.returncode == 2 and "R3(令和3年度)のように指定してください" in said


def test_cli_failures_without_a_warehouse_is_one_line_exit_1(tmp_path: Path) -> None:
    proc = ukiha("failures", "--warehouse", str(tmp_path / "missing.duckdb"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("ukiha: ")
    assert not (tmp_path / "missing.duckdb").exists()


def test_a_file_whose_latest_run_was_fatal_is_shown_first(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """The file saved empty by mistake: its year's history still shows the load before (the
    fatal run has no year), so `ukiha failures` says first that nothing of it was loaded."""
    from ukiha_pipeline.warehouse.history import fatal_latest

    sheet = tmp_path / "R3.txt"
    sheet.write_text(R3.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        load_result(con, validate_path(sheet, ctx), ctx, run_id="run-1", now=T1)
        sheet.write_bytes(b"")
        assert load_result(con, validate_path(sheet, ctx), ctx, run_id="run-2", now=T2).status == (
            "fatal"
        )
        [fatal] = fatal_latest(con)
        assert (fatal.source_file, fatal.run_id, fatal.check) == (
            str(sheet),
            "run-2",
            "unreadable_file",
        )
    proc = ukiha("failures", "--warehouse", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        f"{sheet}: run run-2 (2024-06-01 09:00 UTC) は致命的 (fatal): 何も読み込まれていません。"
        "年度の履歴は前の読み込みのままです。"
    )
    assert lines[1].startswith("  fatal    [unreadable_file] ")
    assert lines[2].startswith(f"{CITY} 2021年度（令和3年度） {sheet}: 実行 run-1 ")
    as_json = ukiha("failures", "--warehouse", str(path), "--format", "json")
    first = json.loads(as_json.stdout.splitlines()[0])
    assert (first["status"], first["source_file"], first["fiscal_year"]) == (
        "fatal",
        str(sheet),
        None,
    )
    # with a year asked for, the fatal file (of no known year) is not shown
    assert (
        "致命的" not in ukiha("failures", "--warehouse", str(path), "--fiscal-year", "2021").stdout
    )

    # fixed and loaded again: no longer fatal
    lines_r3 = list(RAW)
    set_rating(lines_r3, 90, "C", "E")
    sheet.write_text("\n".join(lines_r3), encoding="utf-8")
    with open_warehouse(path) as con:
        load_result(con, validate_path(sheet, ctx), ctx, run_id="run-3")
        assert fatal_latest(con) == []


def test_a_fatal_file_whose_good_content_comes_back_unchanged_is_fine_again(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """Loaded, saved empty (fatal), then the good file copied back: the run finds it unchanged
    (not loaded again), and the fatal run stayed its latest, in `ukiha failures` and the
    reports (index ✗, validation page: empty). The change check marks it, the run records it
    (`restored_files`), and the file shows its load's failures again."""
    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.reports._validation import validation_pages
    from ukiha_pipeline.runs import current_loads, file_sha256
    from ukiha_pipeline.warehouse import record_restored
    from ukiha_pipeline.warehouse.history import fatal_latest

    sheet = tmp_path / "R3.txt"
    good = R3.read_bytes()
    sheet.write_bytes(good)
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        load_result(con, validate_path(sheet, ctx), ctx, run_id="run-1", now=T1)
        sheet.write_bytes(b"")
        load_result(con, validate_path(sheet, ctx), ctx, run_id="run-2", now=T2)
    sheet.write_bytes(good)

    def check() -> object:
        [found] = current_loads(path, [(sheet, file_sha256(sheet))], lock_timeout_s=1)
        return found

    found = check()
    assert found is not None and found.status == "unchanged"
    assert found.clears_fatal == str(sheet)
    with open_warehouse(path) as con:
        record_restored(con, [(str(sheet), file_sha256(sheet), CITY, 2021)], run_id="run-3")
        assert fatal_latest(con) == []
        [page] = validation_pages(con)
        [run] = page.runs
        assert (run.run_id, run.n_fatal, run.n_warning, run.fiscal_year) == ("run-1", 0, 3, 2021)
        render_all(con, tmp_path / "reports", workers=1)
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert "✗ 読み込まれていません" not in index and "✓ 読込済み" in index
    validation = (tmp_path / "reports" / "validation_R3.html").read_text(encoding="utf-8")
    assert "flag_rating_mismatch" in validation and "unreadable_file" not in validation
    assert "致命的" not in ukiha("failures", "--warehouse", str(path)).stdout
    assert check().clears_fatal is None  # type: ignore[attr-defined]  # recorded: once


def test_a_warehouse_without_restored_files_is_read_as_before(
    tmp_path: Path, ctx: RulesContext
) -> None:
    """Written before the table existed and opened read-only (it cannot gain the table)."""
    import duckdb

    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.warehouse.history import fatal_latest

    sheet = tmp_path / "R3.txt"
    sheet.write_bytes(b"")
    path = tmp_path / "old.duckdb"
    with open_warehouse(path) as con:
        load_result(con, validate_path(sheet, ctx), ctx, run_id="run-1", now=T1)
        con.execute("DROP TABLE restored_files")
    with duckdb.connect(str(path), read_only=True) as con:
        assert [f.source_file for f in fatal_latest(con)] == [str(sheet)]
        render_all(con, tmp_path / "reports", workers=1)
    assert "読み込まれていません" in (tmp_path / "reports" / "index.html").read_text(
        encoding="utf-8"
    )


def test_a_sheet_the_rules_make_fatal_is_shown_with_every_fatal_line(tmp_path: Path) -> None:
    """rating_invalid made fatal by a city's rules file, two ratings F (lines 37, 38): the
    steward saw one of them, without its line, and nothing with --fiscal-year 2021."""
    rules = tmp_path / "rules.toml"
    text = (REPO / "schemas" / "rules.toml").read_text(encoding="utf-8")
    rules.write_text(text.replace('rating_invalid = "error"', 'rating_invalid = "fatal"'))
    strict = load_context(rules_file=rules)
    lines = R3.read_text(encoding="utf-8").split("\n")
    for n in (37, 38):
        lines[n - 1] = re.sub(r"\t[A-E]$", "\tF", lines[n - 1])
    sheet = tmp_path / "R3.txt"
    sheet.write_text("\n".join(lines), encoding="utf-8")
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        assert load_result(con, validate_path(sheet, strict), strict, run_id="r1").status == (
            "fatal"
        )
    for args in ((), ("--fiscal-year", "2021")):
        out = ukiha("failures", "--warehouse", str(path), *args).stdout.splitlines()
        assert out[0].startswith(f"{sheet}: run r1 ") and "致命的" in out[0]
        assert [ln.split()[:3] for ln in out[1:]] == [
            ["fatal", "37行", "「F」"],
            ["fatal", "38行", "「F」"],
        ]
    records = [
        json.loads(ln)
        for ln in ukiha(
            "failures", "--warehouse", str(path), "--format", "json"
        ).stdout.splitlines()
    ]
    assert [(r["status"], r["line"], r["fiscal_year"], r["check"]) for r in records] == [
        ("fatal", 37, 2021, "rating_invalid"),
        ("fatal", 38, 2021, "rating_invalid"),
    ]
