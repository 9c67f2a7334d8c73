"""The task runner that validates the batches: Prefect's thread pool, or Dask (prefect-dask).

The Dask test runs a real cluster on this machine (two worker processes on 127.0.0.1): the
validation tasks are pickled to the workers and their results back, the flow process loads,
and the warehouse ends exactly as when the same batches are loaded one after another.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import duckdb
import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from flows.annual_ingest import annual_ingest
from flows.task_runners import task_runner
from ukiha_pipeline.errors import ConfigError
from ukiha_pipeline.ingest import discover
from ukiha_pipeline.settings import Settings
from ukiha_pipeline.validation import load_context
from ukiha_pipeline.validation.run import validate_paths
from ukiha_pipeline.warehouse import load_results, open_warehouse

#: Load metadata: differs between two runs of the same sheets.
RUN_COLUMNS = {"run_id", "flow_run_id", "ingested_at", "recorded_at"}


def test_settings_choose_the_task_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UKIHA_DASK_WORKERS", "UKIHA_DASK_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert (settings.dask_workers, settings.dask_address) == (0, None)
    assert isinstance(task_runner(settings), ThreadPoolTaskRunner)
    monkeypatch.setenv("UKIHA_DASK_WORKERS", "2")
    monkeypatch.setenv("UKIHA_DASK_ADDRESS", "tcp://127.0.0.1:8786")
    settings = Settings.from_env()
    assert (settings.dask_workers, settings.dask_address) == (2, "tcp://127.0.0.1:8786")
    for bad in ("0", "two"):
        monkeypatch.setenv("UKIHA_DASK_WORKERS", bad)
        with pytest.raises(ConfigError, match="UKIHA_DASK_WORKERS"):
            Settings.from_env()

    prefect_dask = pytest.importorskip("prefect_dask")
    local = task_runner(Settings(dask_workers=2))  # constructed only: no cluster yet
    assert isinstance(local, prefect_dask.DaskTaskRunner)
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["processes"] is True
    remote = task_runner(Settings(dask_address="tcp://127.0.0.1:8786", dask_workers=2))
    assert isinstance(remote, prefect_dask.DaskTaskRunner)
    assert remote.address == "tcp://127.0.0.1:8786" and not remote.cluster_kwargs


def _warehouse_rows(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, sorted, without the load metadata."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    [table],
                ).fetchall()
                if c not in RUN_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            out[table] = con.execute(f"SELECT {select} FROM {table} ORDER BY ALL").fetchall()
    return out


@pytest.mark.flow
def test_dask_workers_give_the_same_warehouse_as_loading_in_order(
    prefect_harness: None, r3_sheet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("prefect_dask")
    from distributed import Client, LocalCluster, get_task_stream

    raw = tmp_path / "raw"
    raw.mkdir()
    text = r3_sheet.read_text(encoding="utf-8")
    for i, (town, year) in enumerate([("合成一市", 3), ("合成一市", 4), ("合成二市", 3)]):
        body = text.replace("第2期うきは市", f"第2期{town}").replace("R3年度", f"R{year}年度")
        (raw / f"{i}_{town}_R{year}.txt").write_text(body, encoding="utf-8")  # SYNTHETIC
    (raw / "3_empty.txt").write_bytes(b"")
    shutil.copy(r3_sheet, raw / "4_r3.txt")
    monkeypatch.setenv("UKIHA_BATCH_SIZE", "2")  # three batches: 2, 2, 1

    # a scheduler and two worker processes on this machine, reached by address as a
    # cluster's would be (UKIHA_DASK_ADDRESS); the workers import the flow's module while
    # this process loads the reference
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        warm_up = [
            client.submit(
                lambda: importlib.import_module("flows.annual_ingest") and None,
                pure=False,
                workers=[w],
            )
            for w in client.scheduler_info()["workers"]
        ]
        # the reference: the same batches validated and loaded one after another, no Prefect
        ctx = load_context()
        paths = discover([raw]).sheets
        with open_warehouse(tmp_path / "reference.duckdb") as con:
            for lo in range(0, len(paths), 2):
                load_results(con, validate_paths(paths[lo : lo + 2], ctx), ctx, run_id="ref")

        client.gather(warm_up)
        runner = task_runner(Settings(dask_address=cluster.scheduler_address))
        with get_task_stream(client) as stream:
            outcomes = annual_ingest.with_options(task_runner=runner)(
                paths=[str(raw)], warehouse=str(tmp_path / "d.duckdb")
            )
        workers = set(client.scheduler_info()["workers"])

    assert [(Path(str(o["source_file"])).name, o["status"]) for o in outcomes] == [
        (p.name, "fatal" if p.name == "3_empty.txt" else "loaded") for p in paths
    ]
    validated = [t for t in stream.data if str(t["key"]).startswith("validate_batch")]
    assert len(stream.data) == len(validated)  # the workers did nothing but validate
    assert len(validated) == 3 and {t["worker"] for t in validated} <= workers
    assert _warehouse_rows(tmp_path / "d.duckdb") == _warehouse_rows(tmp_path / "reference.duckdb")
