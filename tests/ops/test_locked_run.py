"""A scheduled run that finds the warehouse locked for good: retries, then stops cleanly.

The run fails (WarehouseError), the summary artifact lists the sheets of the batch that failed
and those of the batch not attempted, and the configured webhook is told. Retry waits are
shortened for the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ops_helpers import (
    Receiver,
    SheetVersions,
    assert_consistent,
    load_sheet_into,
    warehouse_held,
)

import flows.annual_ingest as annual
from ukiha_pipeline.errors import WarehouseError


@pytest.mark.flow
def test_a_warehouse_locked_for_good_stops_the_run_with_a_summary_and_a_notification(
    prefect_harness: None,
    sheet_versions: SheetVersions,
    webhook_receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = tmp_path / "ukiha.duckdb"
    load_sheet_into(warehouse, sheet_versions.a)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sheet_versions.b, raw / "1_b.txt")
    shutil.copy(sheet_versions.a, raw / "2_a.txt")
    shutil.copy(sheet_versions.b, raw / "3_b.txt")
    monkeypatch.setenv("UKIHA_BATCH_SIZE", "2")  # batches [1_b, 2_a] and [3_b]
    monkeypatch.setenv("UKIHA_LOCK_TIMEOUT", "0.2")
    monkeypatch.setenv("UKIHA_NOTIFY_WEBHOOK", webhook_receiver.url)
    for name in ("check_unchanged_batch", "load_batch", "render_reports"):
        task = getattr(annual, name)
        monkeypatch.setattr(annual, name, task.with_options(retry_delay_seconds=[0.1] * 3))

    with warehouse_held(warehouse, 60), pytest.raises(WarehouseError, match="lock"):
        annual.annual_ingest(paths=[str(raw)], warehouse=str(warehouse))

    [(_, _, body)] = webhook_receiver.requests
    assert isinstance(body, dict)
    assert [(Path(s["source_file"]).name, s["status"]) for s in body["sheets"]] == [
        ("1_b.txt", "failed"),
        ("2_a.txt", "failed"),
        ("3_b.txt", "not_attempted"),
    ]
    assert "要確認" in body["text"]

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [latest] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[annual.SUMMARY_KEY]))
        )
    assert "失敗 (failed)" in str(latest.data) and "未処理 (not_attempted)" in str(latest.data)
    # nothing was written: version A, complete
    assert (
        sheet_versions.by_sha[assert_consistent(warehouse, sheet_versions.by_sha)].n_projects == 99
    )


@pytest.mark.flow
def test_a_scheduled_run_over_an_empty_folder_fails_with_a_summary_and_a_notification(
    prefect_harness: None,
    webhook_receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The share with the sheets not mounted on 1 June: the run used to fail with nothing but
    a log line (no summary, no notification), or before, pass as 「問題なし」 with 0 sheets."""
    from ukiha_pipeline.errors import UsageError

    raw = tmp_path / "raw"
    raw.mkdir()
    monkeypatch.setenv("UKIHA_NOTIFY_WEBHOOK", webhook_receiver.url)
    with pytest.raises(UsageError, match="シートのファイルがありません"):
        annual.annual_ingest(paths=[str(raw)], warehouse=str(tmp_path / "ukiha.duckdb"))

    [(_, _, body)] = webhook_receiver.requests
    assert isinstance(body, dict)
    assert body["needs_attention"] is True and body["sheets"] == []
    assert body["text"].startswith(f"PDCA シート年次取込 (開始できません): {raw}: シートのファイル")

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [latest] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[annual.SUMMARY_KEY]))
        )
    assert "開始できません" in str(latest.data) and str(raw) in str(latest.data)
    assert not (tmp_path / "ukiha.duckdb").exists()  # nothing was written
