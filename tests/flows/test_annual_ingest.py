"""Flow-level tests: few, on one session-wide Prefect test server."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows.annual_ingest import PROGRESS_KEY, SUMMARY_KEY, annual_ingest, artifact_key
from flows.deployments import ANNUAL_CRON, TIMEZONE, annual_deployment, describe


@pytest.mark.flow
def test_annual_ingest_loads_r3_and_writes_reports(
    prefect_harness: None, r3_sheet: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(r3_sheet, raw / r3_sheet.name)
    (raw / "empty_sheet.txt").write_bytes(b"")  # a fatal sheet must not stop the others
    warehouse = tmp_path / "wh" / "ukiha.duckdb"

    outcomes = annual_ingest(paths=[str(raw)], warehouse=str(warehouse))

    by_file = {Path(str(o["source_file"])).name: o for o in outcomes}
    assert by_file[r3_sheet.name]["status"] == "loaded"
    assert by_file[r3_sheet.name]["n_projects"] == 99
    assert by_file[r3_sheet.name]["n_warnings"] == 3
    assert by_file["empty_sheet.txt"]["status"] == "fatal"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM projects").fetchone() == (99,)
        flow_run_id = con.execute("SELECT flow_run_id FROM sheets").fetchone()
        assert flow_run_id is not None and flow_run_id[0]
        checks = con.execute(
            'SELECT source_file, "check" FROM validation_failures ORDER BY line NULLS FIRST'
        ).fetchall()
    assert [c for _, c in checks].count("unreadable_file") == 1
    reports = warehouse.parent / "reports"
    for name in (
        "index.html",
        "annual_2021.html",
        "trends.html",
        f"validation_{r3_sheet.stem}.html",
        "validation_empty_sheet.html",
    ):
        assert (reports / name).is_file(), name

    # artifacts: the failures table and a markdown summary, keyed per sheet
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
    )

    key = artifact_key(str(raw / r3_sheet.name))
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"failures-{key}", f"summary-{key}"])
            )
        )
    by_key = {a.key: a for a in arts}
    assert by_key[f"failures-{key}"].type == "table"
    assert "flag_rating_mismatch" in str(by_key[f"failures-{key}"].data)
    assert "warning 3" in str(by_key[f"summary-{key}"].data)

    # the run's summary artifact (stable key) lists every sheet; the progress reached 100 %
    with get_client(sync_client=True) as client:
        [summary] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY]))
        )
        [progress] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[PROGRESS_KEY]))
        )
    assert summary.type == "markdown" and "要確認" in str(summary.data)
    assert f"`{raw / r3_sheet.name}` | 取込 (loaded) | 2021 | 99 |" in str(summary.data)
    assert "empty_sheet.txt` | 致命的 (fatal)" in str(summary.data)
    assert progress.type == "progress" and float(str(progress.data)) == 100.0

    # the same file again: reported unchanged without being read, parsed or validated
    state = annual_ingest(
        paths=[str(raw / r3_sheet.name)], warehouse=str(warehouse), return_state=True
    )
    again = state.result()
    assert again[0]["status"] == "unchanged" and again[0]["n_projects"] == 99
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    names = {r.name.rsplit("-", 1)[0] for r in runs}
    assert "check_unchanged" in names and "render_reports" in names
    assert not names & {"read_sheet", "parse_sheet", "validate_sheet", "load_sheet"}


def test_artifact_keys_are_prefect_safe_and_stable() -> None:
    key = artifact_key("data/raw/うきは_R3 シート.txt")
    assert key == artifact_key("data/raw/うきは_R3 シート.txt")
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in key)
    assert key == key.lower()
    assert artifact_key("a/R3.txt") != artifact_key("a/R4.txt")


def test_deployment_schedule_is_yearly_in_tokyo_without_a_server() -> None:
    deployment = annual_deployment()
    schedule = deployment.schedules[0].schedule
    assert schedule.cron == ANNUAL_CRON
    assert schedule.timezone == TIMEZONE == "Asia/Tokyo"
    info = describe(deployment, after=datetime(2026, 11, 28, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert info["name"] == "annual-ingest"
    assert info["next_runs"] == [
        "2027-06-01T06:00:00+09:00",
        "2028-06-01T06:00:00+09:00",
        "2029-06-01T06:00:00+09:00",
    ]
