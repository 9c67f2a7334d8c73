"""The `ukiha` command as a steward runs it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ukiha_process import REPO, ukiha, ukiha_argv, ukiha_env

JSON_FIELDS = {
    "source_file",
    "line",
    "fiscal_year",
    "entity",
    "column",
    "check",
    "severity",
    "value",
    "message",
}


def test_validate_r3_prints_the_three_warnings_and_exits_0(r3_sheet: Path) -> None:
    proc = ukiha("validate", str(r3_sheet))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("fatal 0, error 0, warning 3 (flag_rating_mismatch 3)")
    # what was read: a sheet cut short, or a year taken wrongly, shows here
    assert lines[1] == (
        "  読んだもの: 2021年度（令和3年度）・うきは市: 基本方針 4、施策 13、取組 44、事業 99、KPI 17"
    )
    reported = [ln for ln in lines if "[flag_rating_mismatch]" in ln]
    assert [ln.split("行")[0].strip() for ln in reported] == ["90", "146", "147"]


def test_validate_says_what_it_read_of_a_sheet_cut_short(tmp_path: Path, r3_sheet: Path) -> None:
    """The first 100 lines of R3 are a sheet without errors: only the counts show the loss."""
    cut = tmp_path / "R3_cut.txt"
    cut.write_text("\n".join(r3_sheet.read_text(encoding="utf-8").split("\n")[:100]), "utf-8")
    proc = ukiha("validate", str(cut), "--lang", "en")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[1] == (
        "  read: FY2021, うきは市: 2 policies, 6 measures, 16 sub-measures, 41 projects, 8 KPIs"
    )


def test_a_reader_that_stops_early_ends_validate_quietly(r3_sheet: Path) -> None:
    """`ukiha validate ... | head`: the pipe is closed before validate writes (no reader).
    click's convention: exit 1, no message, no traceback."""
    proc = subprocess.Popen(
        ukiha_argv("validate", str(r3_sheet)),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ukiha_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert stderr == ""


def test_validate_json_is_one_object_per_line_with_design_fields(r3_sheet: Path) -> None:
    proc = ukiha("validate", str(r3_sheet), "--format", "json")
    assert proc.returncode == 0
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["line"], r["check"], r["severity"]) for r in records] == [
        (90, "flag_rating_mismatch", "warning"),
        (146, "flag_rating_mismatch", "warning"),
        (147, "flag_rating_mismatch", "warning"),
    ]
    assert all(set(r) >= JSON_FIELDS for r in records)
    assert records[0]["fiscal_year"] == 2021 and records[0]["value"] == "C"


def test_validate_json_keeps_the_sheet_notes_on_stderr(r3_sheet: Path, tmp_path: Path) -> None:
    """A note (here: a policy heading without its page) was printed in text only; JSON users
    saw nothing of it. stdout stays one failure object per line."""
    lines = r3_sheet.read_text(encoding="utf-8").split("\n")
    assert "(戦略P119)" in lines[26]
    lines[26] = lines[26].replace("(戦略P119)", "")
    sheet = tmp_path / "no_page.txt"
    sheet.write_text("\n".join(lines), encoding="utf-8")
    proc = ukiha("validate", str(sheet), "--format", "json")
    assert proc.returncode == 0
    assert len([json.loads(line) for line in proc.stdout.splitlines()]) == 3
    assert proc.stderr.startswith(f"note: {sheet}: 27行: 基本方針 1 の見出しに「(戦略P…)」")


def test_validate_empty_file_exits_1_with_one_clear_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    proc = ukiha("validate", str(empty))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "unreadable_file" in proc.stdout
    assert "空" in proc.stdout


def test_validate_english_messages(tmp_path: Path, r3_sheet: Path) -> None:
    proc = ukiha("validate", str(r3_sheet), "--lang", "en", "--format", "json")
    assert "disagree" in json.loads(proc.stdout.splitlines()[0])["message"]
    text = ukiha("validate", str(r3_sheet), "--lang", "en").stdout.splitlines()
    assert text[3].startswith("    line 90 進捗状況 「C」 [flag_rating_mismatch] flag '×' and ")
    assert "(× goes with E)" in text[3] and "行" not in text[3].split("[")[0]


@pytest.mark.parametrize(
    "args",
    [("validate",), ("validate", "x.txt", "--format", "xml"), ("validate", "does/not/exist.txt")],
)
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...]) -> None:
    proc = ukiha(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_an_era_number_for_fiscal_year_is_a_usage_error_that_shows_the_gregorian_year(
    r3_sheet: Path, command: str
) -> None:
    """`--fiscal-year 3` (for 令和3年度) used to check R3 against no year's departments: 282
    errors. Now it is refused at once with how to write it."""
    proc = ukiha(command, str(r3_sheet), "--fiscal-year", "3")
    assert proc.returncode == 2
    said = re.sub(r"[\s│╭╮╰╯─]+", "", proc.stderr)  # click's box may wrap the line
    assert "3:年度は2021かR3(令和3年度)のように指定してください" in said
    assert "Traceback" not in proc.stdout + proc.stderr
    if command == "validate":
        assert ukiha(command, str(r3_sheet), "--fiscal-year", "2021").returncode == 0


@pytest.mark.parametrize("written", ["2022", "R4", "令和4年度", "Ｒ４"])
def test_fiscal_year_as_a_steward_writes_it(r3_sheet: Path, written: str) -> None:
    """`--fiscal-year R3` was refused in English (Input should be a valid integer)."""
    proc = ukiha("validate", str(r3_sheet), "--fiscal-year", written, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert {json.loads(line)["fiscal_year"] for line in proc.stdout.splitlines()} == {2022}


def test_validate_a_folder_notes_the_files_it_does_not_read(tmp_path: Path, r3_sheet: Path) -> None:
    """A CSV export beside the sheets is named on stderr (stdout stays the failures)."""
    (tmp_path / "R3.txt").write_bytes(r3_sheet.read_bytes())
    (tmp_path / "R4.csv").write_text("1)基本方針,x\n", encoding="utf-8")
    proc = ukiha("validate", str(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3  # R3's three warnings, as JSON lines
    assert f"note: {tmp_path / 'R4.csv'}: 読みません (拡張子 .csv" in proc.stderr


def test_validate_a_folder_notes_two_sheets_of_one_year(tmp_path: Path, r3_sheet: Path) -> None:
    shutil.copy(r3_sheet, tmp_path / "R3.txt")
    shutil.copy(r3_sheet, tmp_path / "R4.txt")  # next year's, its header not updated
    proc = ukiha("validate", str(tmp_path), "--format", "json")
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        f"note: {tmp_path / 'R3.txt'} と {tmp_path / 'R4.txt'} は同じ 2021年度（令和3年度）・"
        f"うきは市 のシートです。取り込むと最後の {tmp_path / 'R4.txt'} がほかを置き換えます。"
        "事業一覧の見出しの年度 (R3年度事業化 など) を確かめてください。"
    ]


def test_validate_a_folder_without_sheets_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "R4.csv").write_text("x\n", encoding="utf-8")
    proc = ukiha("validate", str(tmp_path))
    assert proc.returncode == 2
    assert f"{tmp_path}: シートのファイルがありません (あるのは R4.csv)" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("mistake", ["missing path", "empty folder", "reports is a file"])
def test_ingest_refuses_unusable_inputs_before_prefect_starts(
    tmp_path: Path, r3_sheet: Path, mistake: str
) -> None:
    """A mistyped path used to start Prefect's temporary server (~15 s) and print the flow's
    traceback before the one clear line; now it is the one line, at once, exit 2."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "report.html").write_text("", encoding="utf-8")
    args = {
        "missing path": [str(tmp_path / "R3.txt")],
        "empty folder": [str(tmp_path / "empty")],
        "reports is a file": [str(r3_sheet), "--reports", str(tmp_path / "report.html")],
    }[mistake]
    proc = ukiha(
        "ingest",
        *args,
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        env={"PREFECT_HOME": str(tmp_path / "prefect")},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("ukiha: ") and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "prefect").exists()  # Prefect never ran
    assert not (tmp_path / "w.duckdb").exists()  # nothing written


def test_sql_is_read_only_and_missing_warehouse_is_clear(tmp_path: Path, r3_sheet: Path) -> None:
    missing = ukiha("sql", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1
    assert "ukiha ingest" in missing.stderr and "Traceback" not in missing.stderr

    from ukiha_pipeline.validation import load_context, validate_path
    from ukiha_pipeline.warehouse import load_result, open_warehouse

    ctx = load_context()
    wh = tmp_path / "w.duckdb"
    with open_warehouse(wh) as con:
        load_result(con, validate_path(r3_sheet, ctx), ctx, run_id="t")
    count = ukiha(
        "sql", "SELECT count(*) AS n FROM projects", "--warehouse", str(wh), "--format", "json"
    )
    assert count.returncode == 0 and json.loads(count.stdout) == {"n": 99}
    write = ukiha("sql", "DELETE FROM projects", "--warehouse", str(wh))
    assert write.returncode == 1
    assert "読み取り専用" in write.stderr and "Traceback" not in write.stderr
    after = ukiha(
        "sql", "SELECT count(*) AS n FROM projects", "--warehouse", str(wh), "--format", "csv"
    )
    assert after.stdout.splitlines() == ["n", "99"]


def test_serve_dry_run_prints_the_deployment_as_json() -> None:
    proc = ukiha("serve", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["cron"] == "0 6 1 6 *" and info["timezone"] == "Asia/Tokyo"
    assert len(info["next_runs"]) == 3 and all("+09:00" in t for t in info["next_runs"])
    assert info["parameters"] == {}  # the settings' warehouse, read when a run starts


def test_serve_takes_the_warehouse_of_its_runs(tmp_path: Path) -> None:
    """DESIGN §5's common option: the scheduled runs write the warehouse given to serve."""
    proc = ukiha("serve", "--dry-run", "--warehouse", "w/ukiha.duckdb", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    wh = json.loads(proc.stdout)["parameters"]["warehouse"]
    assert wh == str((tmp_path / "w" / "ukiha.duckdb").resolve())


def test_serve_without_a_prefect_server_is_a_usage_error(tmp_path: Path) -> None:
    """It used to serve against a temporary server that dies with the process (the schedule
    and the runs' logs nowhere to be seen)."""
    proc = ukiha(
        "serve", env={"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": ""}, timeout=60
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "PREFECT_API_URL" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr


def test_exit_skips_the_final_garbage_collection(r3_sheet: Path, tmp_path: Path) -> None:
    """`ukiha` freezes what is alive at exit (the last atexit hook), so that the interpreter's
    final collection does not walk Prefect's and pandas' objects (issue #8: 0.5-0.8 s)."""
    script = tmp_path / "run_ukiha.py"
    script.write_text(
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
        "from ukiha_pipeline.cli import main\n"
        f"sys.argv = ['ukiha', 'validate', {str(r3_sheet)!r}]\n"
        "main()\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=ukiha_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flag_rating_mismatch 3" in proc.stdout  # the command did its work
    frozen = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("frozen")]
    assert frozen and int(frozen[0]) > 10_000, proc.stderr


def test_validate_loads_neither_dask_nor_hypothesis(r3_sheet: Path) -> None:
    """pandera imports both whenever they are installed (dask comes with the dask extra, ~0.5 s
    of import): `ukiha validate` keeps them out, to stay near the import floor (issue #8)."""
    proc = ukiha("validate", str(r3_sheet), python_flags=("-X", "importtime"))
    assert proc.returncode == 0, proc.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "pandera" in loaded  # the trace is real
    assert not {m for m in loaded if m.split(".")[0] in ("dask", "hypothesis")} - {
        "dask.dataframe",  # the blocked attempts: listed, but nothing of them ran
        "hypothesis.strategies",
    }


def test_control_characters_of_a_sheet_do_not_reach_the_terminal(
    tmp_path: Path, r3_sheet: Path
) -> None:
    """An escape sequence typed or pasted into a cell was printed as is (it recolours or
    rewrites the steward's terminal); it is shown as text. JSON escapes it itself."""
    lines = r3_sheet.read_text(encoding="utf-8").split("\n")
    cells = lines[39].split("\t")
    cells[6] = "F\x1b[2J"  # line 40's rating: clear the screen
    lines[39] = "\t".join(cells)
    sheet = tmp_path / "escape.txt"
    sheet.write_text("\n".join(lines), encoding="utf-8")
    text = ukiha("validate", str(sheet))
    assert text.returncode == 1
    assert "\x1b" not in text.stdout and "「F\\x1b[2J」" in text.stdout
    as_json = ukiha("validate", str(sheet), "--format", "json")
    [rating] = [json.loads(x) for x in as_json.stdout.splitlines() if "rating_invalid" in x]
    assert rating["value"] == "F\x1b[2J"
