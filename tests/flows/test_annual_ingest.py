"""Flow-level tests: few, on one session-wide Prefect test server."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows.annual_ingest import annual_ingest, artifact_key
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
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

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

    # the same files again: nothing changes, the sheet is reported unchanged
    again = annual_ingest(paths=[str(raw / r3_sheet.name)], warehouse=str(warehouse))
    assert again[0]["status"] == "unchanged"


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
