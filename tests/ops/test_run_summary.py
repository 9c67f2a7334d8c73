"""The run's summary: counts, the Japanese headline, the artifact's table, the webhook body."""

from __future__ import annotations

import json
from pathlib import Path

from ukiha_pipeline.runs import RunSummary, SheetOutcome

OK = SheetOutcome("raw/R3.txt", "loaded", "うきは市", 2021, 99, 40, 0, 0, 3)
SAME = SheetOutcome("raw/R2.txt", "unchanged", "うきは市", 2020, 98, 40, 0, 0, 1)
BAD = SheetOutcome("raw/空|.txt", "fatal", n_errors=0)
ERRS = SheetOutcome("raw/R4.txt", "loaded", "うきは市", 2022, 97, 40, 2, 2, 0)


def test_counts_and_attention() -> None:
    clean = RunSummary("run-1", None, (OK, SAME))
    assert not clean.needs_attention
    assert clean.counts["loaded"] == 1 and clean.counts["unchanged"] == 1
    assert "問題なし" in clean.headline() and "取込 1、変更なし 1" in clean.headline()
    bad = RunSummary("run-2", "fr-1", (OK, BAD, ERRS))
    assert bad.needs_attention
    c = bad.counts
    assert (c["sheets"], c["fatal"], c["with_errors"], c["errors"], c["warnings"]) == (
        3,
        1,
        1,
        2,
        3,
    )
    assert bad.failure is None
    # the notification text names only the sheets that need attention
    lines = bad.text().splitlines()
    assert "要確認" in lines[0]
    assert [ln.split(" ")[1] for ln in lines[1:]] == ["raw/空|.txt", "raw/R4.txt"]


def test_markdown_table_has_one_row_per_sheet_and_escapes_pipes() -> None:
    md = RunSummary("run-2", None, (OK, BAD)).markdown()
    rows = [ln for ln in md.splitlines() if ln.startswith("| `")]
    assert len(rows) == 2
    assert "raw/空\\|.txt" in rows[1] and "致命的 (fatal)" in rows[1]
    assert rows[0].count("|") == 10  # nine cells


def test_failed_run_and_payload_is_json() -> None:
    failed = SheetOutcome.failed(Path("raw/R3.txt"), RuntimeError("locked\nsecond line"))
    summary = RunSummary("run-3", None, (failed, SheetOutcome.not_attempted(Path("x"))))
    assert summary.failure == "locked"
    payload = json.loads(json.dumps(summary.payload(), ensure_ascii=False))
    assert payload["counts"]["failed"] == 1 and payload["counts"]["not_attempted"] == 1
    assert [s["status"] for s in payload["sheets"]] == ["failed", "not_attempted"]
    assert payload["text"].startswith("PDCA シート年次取込 (要確認)")


def test_reports_that_fail_after_clean_loads_still_need_attention_and_fail_the_run() -> None:
    import pytest

    from ukiha_pipeline.errors import ReportError, WarehouseError

    summary = RunSummary("run-4", None, (OK,), reports_error="disk full")
    assert summary.needs_attention
    assert "レポートを作れませんでした: disk full" in summary.text()
    assert "レポートを作れませんでした: disk full" in summary.markdown()
    with pytest.raises(ReportError, match="disk full"):
        summary.raise_if_failed()
    stopped = RunSummary("run-5", None, (SheetOutcome.failed(Path("x"), RuntimeError("locked")),))
    with pytest.raises(WarehouseError, match="locked"):
        stopped.raise_if_failed()
    RunSummary("run-6", None, (OK,)).raise_if_failed()  # nothing to raise


def test_a_sheet_the_warehouse_refuses_is_named_in_one_line() -> None:
    bug = SheetOutcome.not_loaded("raw/R4.txt", RuntimeError("kpi_key\nsecond line"))
    assert (bug.status, bug.message) == (
        "failed",
        "raw/R4.txt: 取り込めませんでした (RuntimeError): kpi_key",
    )
    named = SheetOutcome.not_loaded(Path("raw/R4.txt"), RuntimeError("raw/R4.txt: 書けません"))
    assert named.message == "raw/R4.txt: 書けません"  # already names the file
    empty = SheetOutcome.not_loaded("x.txt", ValueError())
    assert empty.message == "x.txt: 取り込めませんでした (ValueError)"


def test_files_not_read_are_listed_without_calling_for_attention() -> None:
    """A CSV export left in the raw folder is named in the summary and the webhook body; a
    README beside the sheets must not make every yearly run a notification."""
    note = "raw/R4.csv: 読みません (拡張子 .csv。シートとして読むのは .txt .tsv .xlsx .xlsm .xls のファイルです)"
    summary = RunSummary("run-7", None, (OK,), notes=(note, "raw/a|b: 読みません (拡張子なし)"))
    assert not summary.needs_attention and "問題なし" in summary.headline()
    md = summary.markdown().splitlines()
    assert f"- {note}" in md and "- raw/a\\|b: 読みません (拡張子なし)" in md
    assert md.index(f"- {note}") < md.index(next(ln for ln in md if ln.startswith("| シート")))
    assert f"- {note}" in summary.text().splitlines()
    assert json.loads(json.dumps(summary.payload(), ensure_ascii=False))["notes"][0] == note


def test_a_run_that_cannot_start_needs_attention_and_says_why() -> None:
    """The yearly run over an empty or missing folder (a share not mounted) used to fail
    without a summary or a notification."""
    why = "data/raw: シートのファイルがありません。"
    summary = RunSummary("run-8", "fr-8", (), setup_error=why)
    assert summary.needs_attention
    assert summary.headline().startswith(f"PDCA シート年次取込 (開始できません): {why}")
    assert "run-8" in summary.headline() and summary.text() == summary.headline()
    assert summary.markdown().splitlines()[-1] == summary.headline()
    payload = json.loads(json.dumps(summary.payload(), ensure_ascii=False))
    assert payload["setup_error"] == why and payload["needs_attention"] is True
    summary.raise_if_failed()  # the flow re-raises the error itself
