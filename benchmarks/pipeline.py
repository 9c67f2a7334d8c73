"""How fast the pipeline is, from one sheet to a thousand (issue #8). Prints every figure in one run.

    .venv/bin/python benchmarks/pipeline.py                 # N = 10, 100, 1000 (a few minutes)
    .venv/bin/python benchmarks/pipeline.py --max-n 100     # a quick run

1. Stages on the real R3 sheet (99 projects, 17 KPIs): read, parse, validate, load, report
   (median of `--repeat` runs; load into an empty warehouse, reports rendered from scratch).
2. Prefect's cost: the `annual-ingest` flow against the same library calls made directly
   (check unchanged, read, parse, validate, load, reports), over 1 and 10 sheets; the
   temporary server's start-up is timed on its own (temp PREFECT_HOME, analytics off).
   Fixed part = flow(1) - direct(1) - per-sheet part; per-sheet part =
   ((flow(10) - direct(10)) - (flow(1) - direct(1))) / 9. Then `--prefect-n` sheets in
   batches, flow and direct alternated `--prefect-large-repeat` times (medians). The flow runs
   as `ukiha ingest` runs it (`one_shot`: no heartbeat thread), and the report workers' fork
   server is started before anything is timed.
3. `ukiha validate` against the import floor (benchmarks/validate_vs_floor.py).
4. Ingest of N SYNTHETIC sheets: the R3 sheet titled for N/5 other municipalities
   (`第2期合成0001市ルネッサンス戦略`, each project text suffixed `（合成0001）`) x 5 fiscal
   years (`R3年度`..`R7年度`), read, parsed,
   validated and loaded in batches of `--batch` sheets (one pandera call per model and one
   transaction per batch), then the reports. Each N runs in its own process, so that its peak
   memory (VmHWM) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
TITLE = "第2期うきは市ルネッサンス戦略"
PROJECTS_PER_SHEET = 99

# Prefect: a throw-away home, no telemetry (before anything imports prefect)
_HOME = tempfile.mkdtemp(prefix="ukiha-bench-prefect-")
os.environ.setdefault("PREFECT_HOME", _HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(REPO))


def write_sheets(folder: Path, n: int) -> list[Path]:
    """N SYNTHETIC sheets: municipality i // 5, fiscal year 2021 + i % 5."""
    text = R3.read_text(encoding="utf-8")
    assert TITLE in text and "R3年度" in text
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        m, y = divmod(i, 5)
        body = text.replace(TITLE, f"第2期{synthetic_name(m)}ルネッサンス戦略").replace(
            "R3年度", f"R{3 + y}年度"
        )
        body = own_projects(body, m)
        path = folder / f"synthetic_{m:04d}_FY{2021 + y}.txt"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


def synthetic_name(municipality: int) -> str:
    """`合成零零零一市`: written as a municipality's name is (kanji, no digits), so the title
    names it (a `合成0001市` read as the default municipality: all sheets one city)."""
    return "合成" + "".join("零一二三四五六七八九"[int(d)] for d in f"{municipality:04d}") + "市"


def own_projects(text: str, municipality: int) -> str:
    """Each municipality's project texts are its own (the same in all its years), as in real
    sheets: otherwise the caches of normalised text would hit on every sheet and flatter the
    figures."""
    lines = []
    for line in text.split("\n"):
        cells = line.split("\t")
        if len(cells) == 7 and cells[6] in set("ABCDE") and cells[0] != "事業一覧":
            cells[3] = f"{cells[3]}（合成{municipality:04d}）"
        lines.append("\t".join(cells))
    return "\n".join(lines)


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# 1. stages ---------------------------------------------------------------------------------


def stages(repeat: int) -> dict[str, float]:
    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.validation import check_sheet, load_context
    from ukiha_pipeline.validation.run import parse_or_fatal, read_or_fatal
    from ukiha_pipeline.warehouse import load_result, open_warehouse

    ctx = load_context()
    grid = read_or_fatal(R3, ctx)
    sheet = parse_or_fatal(grid, ctx)
    result = check_sheet(sheet, ctx)
    tmp = Path(tempfile.mkdtemp(prefix="ukiha-bench-"))
    out = {
        "read": median_s(lambda: read_or_fatal(R3, ctx), repeat),
        "parse": median_s(lambda: parse_or_fatal(grid, ctx), repeat),
        "validate": median_s(lambda: check_sheet(sheet, ctx), repeat),
    }
    loads, reports = [], []
    for i in range(repeat):
        with open_warehouse(tmp / f"w{i}.duckdb") as con:
            start = time.perf_counter()
            load_result(con, result, ctx, run_id="bench")
            loads.append(time.perf_counter() - start)
            start = time.perf_counter()
            render_all(con, tmp / f"reports{i}", force=True)
            reports.append(time.perf_counter() - start)
    out["load"] = statistics.median(loads)
    out["report"] = statistics.median(reports)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


# 2. Prefect --------------------------------------------------------------------------------


def direct_ingest(paths: list[Path], warehouse: Path, reports: Path, batch_size: int) -> None:
    """What the flow's tasks do, as plain calls: in batches of `batch_size` (as the flow does,
    a run of one sheet being a batch of one), then the reports."""
    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.runs import current_loads, file_sha256
    from ukiha_pipeline.validation import load_context
    from ukiha_pipeline.validation.run import validate_paths
    from ukiha_pipeline.warehouse import load_results, open_warehouse

    ctx = load_context()
    for lo in range(0, len(paths), batch_size):
        batch = paths[lo : lo + batch_size]
        hashed = [(p, file_sha256(p)) for p in batch]
        unchanged = current_loads(warehouse, hashed, run_files=paths, lock_timeout_s=30)
        results = validate_paths(
            [p for p, u in zip(batch, unchanged, strict=True) if u is None], ctx
        )
        with open_warehouse(warehouse) as con:
            load_results(con, results, ctx, run_id="direct")
    with open_warehouse(warehouse, read_only=True) as con:
        render_all(con, reports)


def prefect_cost(repeat: int, n_large: int, batch_size: int, large_repeat: int) -> dict[str, float]:
    import logging

    from flows.annual_ingest import annual_ingest, one_shot

    logging.getLogger("prefect").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="ukiha-bench-prefect-"))
    sheets = write_sheets(tmp / "sheets", max(10, n_large))
    os.environ["UKIHA_BATCH_SIZE"] = str(batch_size)
    counter = iter(range(10_000))

    def flow_run(paths: list[Path]) -> None:
        i = next(counter)
        with one_shot():  # as `ukiha ingest` runs it
            annual_ingest(
                paths=[str(p) for p in paths],
                warehouse=str(tmp / f"flow{i}.duckdb"),
                reports=str(tmp / f"flow{i}"),
            )

    def direct_run(paths: list[Path]) -> None:
        i = next(counter)
        direct_ingest(paths, tmp / f"direct{i}.duckdb", tmp / f"direct{i}", batch_size)

    start = time.perf_counter()
    flow_run(sheets[:1])  # the first flow run of the process starts the temporary server
    first = time.perf_counter() - start
    # Report workers come from a fork server that the first render of >= 40 pages starts
    # (~1 s, once per process): start it now, or the first large run timed pays it alone.
    direct_run(sheets[:20])
    out = {
        "direct_1": median_s(lambda: direct_run(sheets[:1]), repeat),
        "flow_1": median_s(lambda: flow_run(sheets[:1]), repeat),
        "direct_10": median_s(lambda: direct_run(sheets[:10]), repeat),
        "flow_10": median_s(lambda: flow_run(sheets[:10]), repeat),
    }
    large: dict[str, list[float]] = {"direct": [], "flow": []}
    for _ in range(large_repeat):  # interleaved: the machine's drift hits both alike
        large["direct"].append(median_s(lambda: direct_run(sheets[:n_large]), 1))
        large["flow"].append(median_s(lambda: flow_run(sheets[:n_large]), 1))
    out[f"direct_{n_large}"] = statistics.median(large["direct"])
    out[f"flow_{n_large}"] = statistics.median(large["flow"])
    out["server_start"] = first - out["flow_1"]
    out["per_sheet_overhead"] = (
        (out["flow_10"] - out["direct_10"]) - (out["flow_1"] - out["direct_1"])
    ) / 9
    out["fixed_overhead"] = out["flow_1"] - out["direct_1"] - out["per_sheet_overhead"]
    out["per_sheet_work"] = (out["direct_10"] - out["direct_1"]) / 9
    k = n_large - 1
    out["batched_overhead"] = (
        (out[f"flow_{n_large}"] - out[f"direct_{n_large}"]) - (out["flow_1"] - out["direct_1"])
    ) / k
    out["batched_work"] = (out[f"direct_{n_large}"] - out["direct_1"]) / k
    shutil.rmtree(tmp, ignore_errors=True)
    return out


# 3. validate vs the import floor -----------------------------------------------------------


def validate_floor(runs: int) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from validate_vs_floor import FLOOR, VALIDATE, wall

    wall(FLOOR), wall(VALIDATE)
    floor, validate = [], []
    for _ in range(runs):
        floor.append(wall(FLOOR))
        validate.append(wall(VALIDATE))
    f, v = statistics.median(floor), statistics.median(validate)
    return {"floor": f, "validate": v, "ratio": v / f}


# 4. N sheets -------------------------------------------------------------------------------


def scale_one(n: int, batch: int, reports: bool) -> dict[str, float]:
    """Ingest N synthetic sheets into an empty warehouse (run in its own process)."""
    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.validation import ValidationResult, check_sheets, load_context
    from ukiha_pipeline.validation.run import parse_or_fatal, read_or_fatal
    from ukiha_pipeline.warehouse import load_results, open_warehouse

    tmp = Path(tempfile.mkdtemp(prefix=f"ukiha-bench-{n}-"))
    paths = write_sheets(tmp / "sheets", n)
    ctx = load_context()
    t = dict.fromkeys(("read", "parse", "validate", "load"), 0.0)
    n_projects = 0
    start = time.perf_counter()
    with open_warehouse(tmp / "w.duckdb") as con:
        for lo in range(0, n, batch):
            t0 = time.perf_counter()
            grids = [read_or_fatal(p, ctx) for p in paths[lo : lo + batch]]
            t1 = time.perf_counter()
            parsed = [parse_or_fatal(g, ctx) if not isinstance(g, ValidationResult) else g
                      for g in grids]  # fmt: skip
            t2 = time.perf_counter()
            sheets = [s for s in parsed if not isinstance(s, ValidationResult)]
            results = check_sheets(sheets, ctx)
            t3 = time.perf_counter()
            outcomes = load_results(con, results, ctx, run_id="bench")
            t4 = time.perf_counter()
            n_projects += sum(o.n_projects for o in outcomes)
            for k, a, b in (("read", t0, t1), ("parse", t1, t2), ("validate", t2, t3),
                            ("load", t3, t4)):  # fmt: skip
                t[k] += b - a
        core = time.perf_counter() - start
    report, pages, tables = 0.0, 0, 0
    if reports:  # as `ukiha ingest` and `ukiha report` do: a read-only connection (workers)
        t0 = time.perf_counter()
        with open_warehouse(tmp / "w.duckdb", read_only=True) as con:
            written = render_all(con, tmp / "reports")
        report = time.perf_counter() - t0
        pages = len(written)
        tables = sum(p.read_text(encoding="utf-8").count(GT_TABLE) for p in written)
    shutil.rmtree(tmp, ignore_errors=True)
    peak_kib = peak_rss_kib()
    return {"n": n, "projects": n_projects, **t, "core": core, "report": report,
            "total": core + report, "peak_mb": peak_kib / 1024, "pages": pages,
            "tables": tables}  # fmt: skip


GT_TABLE = 'class="gt_table"'  # one per great-tables table in a page


TABLE_FLOOR = """
import statistics, time
import pandas as pd
from great_tables import GT
from ukiha_pipeline.reports._page import table
df = pd.DataFrame({"a": ["x"]})
times = []
for _ in range(60):
    start = time.perf_counter()
    table(GT(df, id="floor"))
    times.append(time.perf_counter() - start)
print(statistics.median(times[10:]))
"""


def table_floor_s() -> float:
    """The least a report table costs: a one-cell great-tables table in the house style
    (median of 50), in a fresh process that has loaded only the report code, as a report
    worker has. Every table of a page pays it, however few its cells."""
    proc = subprocess.run(
        [sys.executable, "-c", TABLE_FLOOR], capture_output=True, text=True, check=True, cwd=REPO
    )
    return float(proc.stdout.strip())


def peak_rss_kib() -> int:
    """This process's peak resident memory. Linux: VmHWM (ru_maxrss survives exec, so a child
    would report its parent's peak); elsewhere ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def scale(ns: list[int], batch: int, reports: bool) -> list[dict[str, float]]:
    out = []
    for n in ns:
        cmd = [sys.executable, __file__, "--scale-one", str(n), "--batch", str(batch)]
        if not reports:
            cmd.append("--no-reports")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"  ... N={n} done", file=sys.stderr)
    return out


# report ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-n", type=int, default=1000, help="largest N of section 4")
    parser.add_argument("--batch", type=int, default=100, help="sheets per batch (section 4)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (sections 1-2)")
    parser.add_argument("--floor-runs", type=int, default=10, help="runs of section 3")
    parser.add_argument("--skip-prefect", action="store_true")
    parser.add_argument("--prefect-n", type=int, default=200, help="sheets of the batched flow run")
    parser.add_argument("--batch-size", type=int, default=100, help="UKIHA_BATCH_SIZE of the flow")
    parser.add_argument(
        "--prefect-large-repeat", type=int, default=3, help="interleaved runs of the batched flow"
    )
    parser.add_argument("--no-reports", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_one:
        print(json.dumps(scale_one(args.scale_one, args.batch, not args.no_reports)))
        return

    ms = lambda s: f"{s * 1000:8.1f} ms"  # noqa: E731
    print(f"# ukiha-pipeline benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    print("\n## 1. Stages on the R3 sheet (median)")
    st = stages(args.repeat)
    for k, v in st.items():
        print(f"{k:10} {ms(v)}")
    print(f"{'total':10} {ms(sum(st.values()))}")

    if not args.skip_prefect:
        print("\n## 2. Prefect's cost (flow vs the same calls made directly)")
        pc = prefect_cost(args.repeat, args.prefect_n, args.batch_size, args.prefect_large_repeat)
        print(f"temporary server start-up     {pc['server_start']:7.2f} s (once per process)")
        for k in ("direct_1", "flow_1", "direct_10", "flow_10"):
            print(f"{k:29} {pc[k]:7.2f} s")
        for k in (f"direct_{args.prefect_n}", f"flow_{args.prefect_n}"):
            print(f"{k + ' (batches, median)':29} {pc[k]:7.2f} s")
        print(f"fixed overhead per flow run   {pc['fixed_overhead']:7.2f} s")
        share = pc["per_sheet_overhead"] / pc["per_sheet_work"]
        print(
            f"runs of 1 and 10 sheets (one batch): overhead {ms(pc['per_sheet_overhead'])}"
            f" per sheet, work {ms(pc['per_sheet_work'])} per sheet: {share:.0%}"
        )
        share = pc["batched_overhead"] / pc["batched_work"]
        print(
            f"in batches of {args.batch_size} ({args.prefect_n} sheets): overhead "
            f"{ms(pc['batched_overhead'])} per sheet, work {ms(pc['batched_work'])} per sheet: "
            f"{share:.0%}  (target <= 10%)"
        )

    print("\n## 3. `ukiha validate` vs the import floor (median, interleaved)")
    vf = validate_floor(args.floor_runs)
    print(f"import floor {vf['floor']:.3f} s, validate {vf['validate']:.3f} s, "
          f"ratio {vf['ratio']:.2f}x (target <= 1.30x)")  # fmt: skip

    ns = [n for n in (10, 100, 1000, 10_000) if n <= args.max_n]
    print(f"\n## 4. Ingest of N synthetic sheets (batches of {args.batch})")
    rows = scale(ns, args.batch, reports=True)
    base = rows[0]
    print("| N | projects | read+parse+validate+load | rows/s | + reports | rows/s with reports "
          "| time(N)/time(10) | peak memory |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['projects']:,} | {r['core']:.2f} s | "
            f"{r['projects'] / r['core']:,.0f} | {r['report']:.2f} s | "
            f"{r['projects'] / r['total']:,.0f} | {r['total'] / base['total']:.1f} "
            f"(N ratio {r['n'] / base['n']:.0f}) | {r['peak_mb']:,.0f} MB |"
        )
    from ukiha_pipeline.settings import Settings

    workers = Settings.from_env().report_workers
    one = table_floor_s()
    for r in rows:
        floor = r["tables"] * one / workers
        budget = r["projects"] / 5_000 - r["core"]
        print(
            f"N={r['n']:,}: {r['pages']:,} pages, {r['tables']:,} great-tables tables x "
            f"{one * 1000:.1f} ms (a one-cell table) / {workers} workers = {floor:.1f} s of"
            f" fixed cost; 5,000 rows/s with reports leaves the reports {budget:.1f} s"
        )
    print("\nper stage (s): " + "; ".join(
        f"N={r['n']}: read {r['read']:.2f}, parse {r['parse']:.2f}, validate {r['validate']:.2f}, "
        f"load {r['load']:.2f}, report {r['report']:.2f}" for r in rows))  # fmt: skip


if __name__ == "__main__":
    main()
