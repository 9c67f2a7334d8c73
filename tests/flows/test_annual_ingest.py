"""Flow-level tests: few, on one session-wide Prefect test server."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows.annual_ingest import PROGRESS_KEY, SUMMARY_KEY, annual_ingest, artifact_key, one_shot
from flows.deployments import ANNUAL_CRON, TIMEZONE, annual_deployment, describe


@pytest.mark.flow
def test_annual_ingest_loads_r3_and_writes_reports(
    prefect_harness: None, r3_sheet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(r3_sheet, raw / r3_sheet.name)
    (raw / "empty_sheet.txt").write_bytes(b"")  # a fatal sheet must not stop the others
    (raw / "R4.csv").write_text("x\n", encoding="utf-8")  # not a sheet file: named, not read
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

    # artifacts: the failures table of each sheet, under a stable key, its counts described
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
    )

    key = artifact_key(str(raw / r3_sheet.name))
    empty_key = artifact_key(str(raw / "empty_sheet.txt"))
    with get_client(sync_client=True) as client:
        arts = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"failures-{key}", f"failures-{empty_key}"])
            )
        )
    by_key = {a.key: a for a in arts}
    assert by_key[f"failures-{key}"].type == "table"
    assert "flag_rating_mismatch" in str(by_key[f"failures-{key}"].data)
    assert "warning 3" in str(by_key[f"failures-{key}"].description)
    assert "unreadable_file" in str(by_key[f"failures-{empty_key}"].data)
    assert "fatal 1" in str(by_key[f"failures-{empty_key}"].description)

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
    assert f"- {raw / 'R4.csv'}: 読みません (拡張子 .csv" in str(summary.data)
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
    assert "check_unchanged_batch" in names and "render_reports" in names
    assert not names & {"validate_batch", "load_batch", "publish_batch_artifacts"}

    # next year's sheet with this year's header (R3年度事業化) copied: it replaces FY2021, and
    # the run says so (left in the folder, the two would replace each other run after run)
    next_year = raw / "R4_header_not_updated.txt"
    next_year.write_text(  # only the second of its table headers was updated
        r3_sheet.read_text(encoding="utf-8").replace("R3年度 事業化", "R4年度 事業化", 1),
        encoding="utf-8",
    )
    state = annual_ingest(
        paths=[str(raw / r3_sheet.name), str(next_year)],
        warehouse=str(warehouse),
        return_state=True,
    )
    assert [o["status"] for o in state.result()] == ["unchanged", "loaded"]
    with get_client(sync_client=True) as client:
        [summary] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY]))
        )
    same_year = (
        f"- {raw / r3_sheet.name} と {next_year} は同じ 2021年度（令和3年度）・うきは市 のシートです。"
        f"この年度の取込は {next_year} です。年度ごとにファイルを 1 つにしてください"
    )
    assert same_year in str(summary.data)
    assert (  # the sheet's own note: the header that was updated
        f"- {next_year}: 50行: 事業一覧の見出しが 2022年度（令和4年度） です。"
    ) in str(summary.data)

    # both left in place: the replaced one is not loaded again (it was, and the two replaced
    # each other run after run); the run still names both and the year's load. In batches of
    # one sheet: the check of a batch knows the run's other files
    monkeypatch.setenv("UKIHA_BATCH_SIZE", "1")
    state = annual_ingest(
        paths=[str(raw / r3_sheet.name), str(next_year)],
        warehouse=str(warehouse),
        return_state=True,
    )
    third = state.result()
    assert [o["status"] for o in third] == ["unchanged", "unchanged"]
    assert third[0]["superseded_by"] == str(next_year)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "SELECT source_file FROM sheets WHERE status = 'current'"
        ).fetchall() == [(str(next_year),)]
    with get_client(sync_client=True) as client:
        [summary] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY]))
        )
    assert same_year in str(summary.data)

    # the file saved empty in the first run (fatal) now holds the year's current content: it
    # is unchanged, not loaded, and no longer shown as fatal
    shutil.copy(next_year, raw / "empty_sheet.txt")
    [restored] = annual_ingest(paths=[str(raw / "empty_sheet.txt")], warehouse=str(warehouse))
    assert (restored["status"], restored["clears_fatal"]) == (
        "unchanged",
        str(raw / "empty_sheet.txt"),
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT source_file FROM restored_files").fetchall() == [
            (str(raw / "empty_sheet.txt"),)
        ]
    assert "✗ 読み込まれていません" not in (reports / "index.html").read_text(encoding="utf-8")


def test_artifact_keys_are_prefect_safe_and_stable() -> None:
    key = artifact_key("data/raw/うきは_R3 シート.txt")
    assert key == artifact_key("data/raw/うきは_R3 シート.txt")
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in key)
    assert key == key.lower()
    assert artifact_key("a/R3.txt") != artifact_key("a/R4.txt")


def test_a_one_shot_run_has_no_heartbeats_unless_configured() -> None:
    """`ukiha ingest` runs the flow in `one_shot`: no heartbeat thread to join at the end."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None  # Prefect's default: heartbeats on
    with one_shot():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == default
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}), one_shot():
        assert get_current_settings().flows.heartbeat_frequency == 60  # the user's choice


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


def _task_run_names(flow_run_id: object) -> Counter[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return Counter(r.name.rsplit("-", 1)[0] for r in runs)


def _synthetic_raw(r3_sheet: Path, raw: Path) -> None:
    """Three SYNTHETIC sheets (the R3 sheet retitled), an empty one, the real R3 sheet."""
    raw.mkdir()
    text = r3_sheet.read_text(encoding="utf-8")
    for i, (town, year) in enumerate([("合成一市", 3), ("合成一市", 4), ("合成二市", 3)]):
        body = text.replace("第2期うきは市", f"第2期{town}").replace("R3年度", f"R{year}年度")
        (raw / f"{i}_{town}_R{year}.txt").write_text(body, encoding="utf-8")
    (raw / "3_empty.txt").write_bytes(b"")
    shutil.copy(r3_sheet, raw / "4_r3.txt")


@pytest.mark.flow
def test_the_batch_size_changes_the_tasks_not_the_result(
    prefect_harness: None,
    r3_sheet: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every run goes in batches: one set of tasks and one transaction per batch, whatever the
    number of sheets (issue #8); the outcomes and the warehouse do not depend on the size."""
    raw = tmp_path / "raw"
    _synthetic_raw(r3_sheet, raw)

    def run(name: str, batch_size: str) -> tuple[list[tuple[object, ...]], Counter[str], object]:
        monkeypatch.setenv("UKIHA_BATCH_SIZE", batch_size)
        warehouse = tmp_path / name / "ukiha.duckdb"
        state = annual_ingest(paths=[str(raw)], warehouse=str(warehouse), return_state=True)
        outcomes = [
            (Path(str(o["source_file"])).name, o["status"], o["municipality"], o["n_projects"])
            for o in state.result()
        ]
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(
                "SELECT municipality, fiscal_year, project_key, rating FROM projects ORDER BY ALL"
            ).fetchall()
        names = _task_run_names(state.state_details.flow_run_id)
        return outcomes, names, (len(rows), hash(tuple(rows)))

    whole, names_whole, facts_whole = run("one-batch", "20")
    batched, names_batched, facts_batched = run("batched", "2")
    assert batched == whole
    assert [o[1] for o in batched] == ["loaded", "loaded", "loaded", "fatal", "loaded"]
    assert facts_batched == facts_whole and facts_whole[0] == 4 * 99
    per_batch = ("check_unchanged_batch", "validate_batch", "load_batch", "publish_batch_artifacts")
    assert [names_whole[n] for n in per_batch] == [1, 1, 1, 1]  # 5 sheets, one batch
    assert [names_batched[n] for n in per_batch] == [3, 3, 3, 3]  # batches of 2, 2 and 1
    assert sum(names_whole.values()) == 4 + 3  # + render_reports, publish_summary, notify


@pytest.mark.flow
def test_a_sheet_the_warehouse_refuses_fails_alone_and_the_others_are_loaded(
    prefect_harness: None,
    r3_sheet: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch's transaction fails (not a lock): its sheets are loaded one by one, so only
    the sheet that cannot be loaded is `failed`, in one line naming its file."""
    import ukiha_pipeline.warehouse.load as load_module
    from flows.annual_ingest import SUMMARY_KEY
    from ukiha_pipeline.errors import WarehouseError

    raw = tmp_path / "raw"
    _synthetic_raw(r3_sheet, raw)
    bad = raw / "1_合成一市_R4.txt"
    real_build_rows = load_module.build_rows

    def build_rows(result: Any, *args: Any, **kwargs: Any) -> Any:
        if result.source_file == str(bad):  # SYNTHETIC fault: as a constraint would fail
            raise duckdb.ConstraintException("Constraint Error: simulated for one sheet")
        return real_build_rows(result, *args, **kwargs)

    monkeypatch.setattr(load_module, "build_rows", build_rows)
    warehouse = tmp_path / "wh" / "ukiha.duckdb"
    state = annual_ingest(paths=[str(raw)], warehouse=str(warehouse), return_state=True)

    assert state.is_failed()  # a sheet was not loaded: the run needs attention
    with pytest.raises(WarehouseError, match="simulated"):
        state.result()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute(
            "SELECT source_file, n_projects FROM sheets WHERE status = 'current' ORDER BY 1"
        ).fetchall()
        assert con.execute("SELECT count(*) FROM projects").fetchone() == (3 * 99,)
    assert [(Path(f).name, n) for f, n in loaded] == [
        ("0_合成一市_R3.txt", 99),
        ("2_合成二市_R3.txt", 99),
        ("4_r3.txt", 99),
    ]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [summary] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY]))
        )
    rows = {
        Path(line.split("`")[1]).name: line
        for line in str(summary.data).splitlines()
        if line.startswith("| `")
    }
    assert [n for n, r in rows.items() if "失敗 (failed)" in r] == [bad.name]
    assert [n for n, r in rows.items() if "取込 (loaded)" in r] == [
        "0_合成一市_R3.txt",
        "2_合成二市_R3.txt",
        "4_r3.txt",
    ]
    message = rows[bad.name].split("|")[-2].strip()
    assert message.startswith(str(bad)) and "simulated" in message
    assert (warehouse.parent / "reports" / "index.html").is_file()  # the run went on
    names = _task_run_names(state.state_details.flow_run_id)
    assert names["load_batch"] == 1 + 5  # the batch, then each of its sheets alone
