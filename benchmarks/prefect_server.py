"""Prefect's start-up when a Prefect server is already running (issue #8: target <= 3 s).

    .venv/bin/python benchmarks/prefect_server.py            # 5 runs of each, prints figures

Starts `prefect server start` on 127.0.0.1 (throw-away PREFECT_HOME, analytics off, no UI),
waits until its API answers, then times fresh processes, as a scheduled run would start:

- `ukiha ingest` on the bundled R3 sheet with PREFECT_API_URL set (the flow and its tasks);
- the same work as plain library calls in a fresh process (no Prefect import);
- `ukiha ingest` again with the sheet already loaded (the flow's work is then a hash check).

Prefect's start-up = flow process - direct process (median of `--runs`, interleaved). Each
ingest writes a new warehouse in a temp folder, so every flow run loads the sheet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
BIN = Path(sys.executable).parent

DIRECT = """
import atexit, gc
atexit.register(gc.freeze)  # as `ukiha` does: the exit's collection is not Prefect's cost
import sys
from pathlib import Path
from ukiha_pipeline.reports import render_all
from ukiha_pipeline.validation import load_context
from ukiha_pipeline.validation.run import validate_paths
from ukiha_pipeline.warehouse import load_results, open_warehouse
ctx = load_context()
results = validate_paths([Path(sys.argv[1])], ctx)
with open_warehouse(Path(sys.argv[2])) as con:
    load_results(con, results, ctx, run_id="direct")
with open_warehouse(Path(sys.argv[2]), read_only=True) as con:
    render_all(con, Path(sys.argv[3]), rating_legend=ctx.rules.legend())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout_s: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the Prefect server did not answer at {url} within {timeout_s:.0f} s")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def _runs(times: list[float]) -> str:
    return "(" + " ".join(f"{t:.2f}" for t in times) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ukiha-bench-server-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    server_log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        up = wait_healthy(api, 120)
        client_env = {**env, "PREFECT_API_URL": api}
        flow, direct, unchanged = [], [], []
        for i in range(args.runs):
            ingest = [str(BIN / "ukiha"), "ingest", str(R3)]
            ingest += ["--warehouse", str(tmp / f"flow{i}.duckdb"), "--reports", str(tmp / f"f{i}")]
            flow.append(timed(ingest, client_env))
            unchanged.append(timed(ingest, client_env))  # the same sheet again: a hash check
            plain = [sys.executable, "-c", DIRECT, str(R3)]
            plain += [str(tmp / f"d{i}.duckdb"), str(tmp / f"d{i}")]
            direct.append(timed(plain, env))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    f, d, u = (statistics.median(x) for x in (flow, direct, unchanged))
    print(f"# Prefect with a running server ({os.cpu_count()} CPUs, median of {args.runs})")
    print(f"server start-up (once, not part of a run)      {up:6.2f} s")
    print(f"`ukiha ingest` R3, fresh process, flow          {f:6.2f} s  {_runs(flow)}")
    print(f"the same work as library calls, fresh process   {d:6.2f} s  {_runs(direct)}")
    print(f"`ukiha ingest` R3 again (unchanged), flow       {u:6.2f} s  {_runs(unchanged)}")
    print(f"Prefect's start-up per run: flow - direct       {f - d:6.2f} s  (target <= 3 s)")


if __name__ == "__main__":
    main()
