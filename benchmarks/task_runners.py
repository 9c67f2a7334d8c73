"""The annual-ingest flow over N SYNTHETIC sheets: Prefect's thread pool vs Dask workers.

    .venv/bin/python benchmarks/task_runners.py               # 200 sheets, 2 Dask workers
    .venv/bin/python benchmarks/task_runners.py --n 50 --batch-sizes 10

For each batch size, in fresh warehouses: the flow with no look-ahead (strictly sequential),
with its default runner (the next batch validated in a thread while this process loads), with
`UKIHA_DASK_WORKERS` worker processes (a LocalCluster started and stopped inside the run, as
`ukiha ingest` would), and with a Dask cluster already running and warm (`UKIHA_DASK_ADDRESS`;
here a LocalCluster that outlives the runs). Wall time of the whole run; the reports it
renders are timed on their own and subtracted to give the ingest part.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="ukiha-bench-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="sheets")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--batch-sizes", default="100,25", help="UKIHA_BATCH_SIZE values")
    parser.add_argument(
        "--runners", default="sequential,threads,dask,dask-address", help="which to time"
    )
    args = parser.parse_args()

    from pipeline import write_sheets

    import flows.annual_ingest as annual
    from flows.task_runners import task_runner
    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.settings import Settings
    from ukiha_pipeline.warehouse import open_warehouse

    logging.getLogger("prefect").setLevel(logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="ukiha-bench-runners-"))
    write_sheets(tmp / "sheets", args.n)
    slots = annual.validation_slots

    def run(name: str, runner: object | None, ahead: int | None) -> float:
        flow = (
            annual.annual_ingest
            if runner is None
            else annual.annual_ingest.with_options(
                task_runner=runner  # type: ignore[arg-type]
            )
        )
        annual.validation_slots = slots if ahead is None else (lambda: ahead)  # type: ignore[assignment]
        start = time.perf_counter()
        flow(paths=[str(tmp / "sheets")], warehouse=str(tmp / name / "w.duckdb"))
        return time.perf_counter() - start

    from distributed import LocalCluster
    from prefect.client.orchestration import get_client

    run("warm-up", None, None)  # the temporary server starts here
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    # a cluster that outlives the runs (as a real one would), its workers warmed by one run
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        env={"PREFECT_API_URL": api_url},
    )
    running = task_runner(Settings(dask_address=cluster.scheduler_address))
    if "dask-address" in args.runners:
        run("warm-up-dask", running, None)
    runners = {
        "sequential": ("sequential (no look-ahead)", None, 0),
        "threads": ("thread pool (default)", None, None),
        "dask": (
            f"Dask, {args.workers} workers started for the run",
            task_runner(Settings(dask_workers=args.workers)),
            None,
        ),
        "dask-address": (f"Dask, {args.workers} workers already running", running, None),
    }
    print(f"# {args.n} sheets, {os.cpu_count()} CPUs; wall time of the flow run (s)")
    print("| batch size | runner | run | reports | ingest (run - reports) |")
    print("|---:|---|---:|---:|---:|")
    for size in [int(s) for s in args.batch_sizes.split(",")]:
        os.environ["UKIHA_BATCH_SIZE"] = str(size)
        for key in args.runners.split(","):
            label, runner, ahead = runners[key]
            name = f"{size}-{key}"
            total = run(name, runner, ahead)
            with open_warehouse(tmp / name / "w.duckdb", read_only=True) as con:
                start = time.perf_counter()
                render_all(con, tmp / name / "again", force=True)
                reports = time.perf_counter() - start
            print(f"| {size} | {label} | {total:.1f} | {reports:.1f} | {total - reports:.1f} |")
    cluster.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
