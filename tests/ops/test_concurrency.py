"""Two runs on one warehouse: the second waits a bounded time, then fails in one clear line."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from ops_helpers import (
    LOADER,
    PYTHON,
    REPO,
    SheetVersions,
    assert_consistent,
    load_sheet_into,
    subprocess_env,
    warehouse_held,
)


def test_second_ingest_waits_for_the_lock_then_exits_1_in_one_line(
    sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh" / "ukiha.duckdb"
    load_sheet_into(warehouse, sheet_versions.a)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sheet_versions.b, raw)  # a change: this run would write
    env = subprocess_env(UKIHA_LOCK_TIMEOUT="1.5")
    with warehouse_held(warehouse, 60, env):
        started = time.monotonic()
        proc = subprocess.run(
            [PYTHON, "-m", "ukiha_pipeline.cli", "ingest", str(raw), "--warehouse", str(warehouse)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("ukiha: ") and "使用中" in line and "1.5 秒" in line
    assert "UKIHA_LOCK_TIMEOUT" in line
    assert 1.5 <= elapsed < 30  # it waited for the lock, a bounded time
    # the holder is gone: the warehouse is as it was (version A, complete)
    assert assert_consistent(warehouse, sheet_versions.by_sha) == next(
        sha for sha, v in sheet_versions.by_sha.items() if v.n_projects == 99
    )


def test_two_writers_at_once_take_turns_and_leave_a_consistent_warehouse(
    sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    warehouse = tmp_path / "ukiha.duckdb"
    load_sheet_into(warehouse, sheet_versions.a)
    args = [str(warehouse), str(sheet_versions.a), str(sheet_versions.b)]
    writers = [
        subprocess.Popen(
            [PYTHON, "-c", LOADER, *(args if i == 0 else [args[0], args[2], args[1]]), "8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
        )
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    for w, (out, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err
        assert out.split() == [str(i) for i in range(8)]
    assert_consistent(warehouse, sheet_versions.by_sha)
