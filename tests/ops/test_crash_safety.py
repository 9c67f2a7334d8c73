"""Crash safety: kill -9 at any moment leaves the warehouse as before a sheet's transaction or
fully after it, never in between.

A loader process alternately loads two versions of the R3 sheet (the real one, A, and an
edited copy, B: one rating changed, one project line duplicated) as fast as it can; it is
killed with SIGKILL at random moments. After each kill the warehouse is opened as the next
run would open it and must hold exactly one current FY2021 sheet whose fact tables are
exactly version A or exactly version B (row counts and a hash of the sorted rows). Then a
real `ukiha ingest` (Prefect's temporary server and all) is killed mid-run once.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ops_helpers import (
    LOADER,
    PYTHON,
    REPO,
    SheetVersions,
    assert_consistent,
    load_sheet_into,
    subprocess_env,
)

N_KILLS = 8
SEED = int(os.environ.get("UKIHA_KILL_SEED", "20260601"))


def _wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything it started (its own session: our ids only)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_kill_9_during_loads_never_leaves_a_half_loaded_sheet(
    sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    warehouse = tmp_path / "ukiha.duckdb"
    loads_before_kill = []
    for k in range(N_KILLS):
        log = tmp_path / f"loader-{k}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    PYTHON,
                    "-c",
                    LOADER,
                    str(warehouse),
                    str(sheet_versions.a),
                    str(sheet_versions.b),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=subprocess_env(),
                start_new_session=True,
            )
        try:
            # in its loop once the first load is done; then kill at a random moment
            assert _wait_for(lambda log=log: log.read_bytes().strip(), 30), log.read_text()
            time.sleep(rng.uniform(0.05, 1.5))
        finally:
            _kill_group(proc)
        assert proc.returncode == -signal.SIGKILL, log.read_text()
        loads_before_kill.append(len(log.read_text().split()))
        assert_consistent(warehouse, sheet_versions.by_sha)
    # killed amid real work: the loaders went on loading after their first load
    assert sum(loads_before_kill) > N_KILLS, loads_before_kill


def test_kill_9_of_a_real_ingest_run(sheet_versions: SheetVersions, tmp_path: Path) -> None:
    """`ukiha ingest` replacing version B by A, killed right after it reports the sheet."""
    warehouse = tmp_path / "wh" / "ukiha.duckdb"
    load_sheet_into(warehouse, sheet_versions.b)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sheet_versions.a, raw)
    log = tmp_path / "ingest.log"
    env = subprocess_env(
        PREFECT_HOME=str(tmp_path / "prefect-home"),  # its own temporary server
        PREFECT_LOGGING_LEVEL="INFO",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "ukiha_pipeline.cli", "ingest", str(raw), "--warehouse", str(warehouse)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the Prefect server it starts dies with it
        )
    try:
        started = _wait_for(lambda: b"sheet 1/1:" in log.read_bytes(), 45)
        time.sleep(random.Random(SEED).uniform(0.0, 1.0))
    finally:
        _kill_group(proc)
    text = log.read_text(errors="replace")
    if not started:
        pytest.fail(f"the run never reached its sheet:\n{text[-3000:]}")
    assert proc.returncode == -signal.SIGKILL, text[-3000:]
    assert assert_consistent(warehouse, sheet_versions.by_sha) in sheet_versions.by_sha
    assert _wait_for(lambda: not _group_alive(proc.pid), 10)  # nothing of the run is left


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
