"""Shared by the dependability tests (#7): sheet versions, warehouse fingerprints, subprocesses."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ukiha_pipeline.settings import Settings
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse
from ukiha_pipeline.warehouse.schema import FACT_TABLES

REPO = Path(__file__).resolve().parents[2]
MUNICIPALITY = "うきは市"
FY = 2021

#: Loads sheets alternately, one transaction each, forever or N times: `wh a b [n]`.
LOADER = """
import itertools, sys
from pathlib import Path
from ukiha_pipeline.settings import Settings
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse

wh, sheets, n = Path(sys.argv[1]), sys.argv[2:4], int(sys.argv[4]) if len(sys.argv) > 4 else None
ctx = load_context(Settings())
results = [validate_path(s, ctx) for s in sheets]
for i in itertools.count() if n is None else range(n):
    with open_warehouse(wh, lock_timeout_s=30) as con:
        load_result(con, results[i % 2], ctx, run_id=f"loop-{i}")
    print(i, flush=True)
"""

#: Holds the warehouse open for writing for a while: `wh seconds`.
HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SELECT count(*) FROM sheets").fetchall()
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def write_edited_r3(src: Path, dest: Path) -> Path:
    """Version B of the R3 sheet: one rating changed (A → B), one project line duplicated."""
    lines = src.read_text(encoding="utf-8").split("\n")
    assert lines[37].endswith("\tA"), "the R3 sheet changed: pick another line"
    lines[37] = lines[37][:-1] + "B"
    lines.insert(41, lines[40])  # a duplicate_project warning, loaded as `#2`: 100 projects
    dest.write_text("\n".join(lines), encoding="utf-8")
    return dest


@dataclass(frozen=True)
class Version:
    sha256: str
    n_projects: int
    n_kpis: int
    fingerprint: str


@dataclass(frozen=True)
class SheetVersions:
    a: Path  # the real R3 sheet
    b: Path  # the edited copy
    by_sha: dict[str, Version]


@dataclass
class Receiver:
    """What a local HTTP server got: one (path, headers, JSON body) per request."""

    url: str
    status: int = 200
    requests: list[tuple[str, dict[str, str], object]] = field(default_factory=list)


def fact_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A hash of every fact table's rows for FY2021, sorted: equal content, equal hash."""
    digest = hashlib.sha256()
    for table in FACT_TABLES:
        rows = con.execute(
            f"SELECT * FROM {table} WHERE municipality = ? AND fiscal_year = ? ORDER BY ALL",
            [MUNICIPALITY, FY],
        ).fetchall()
        digest.update(f"{table}:{rows!r}".encode())
    return digest.hexdigest()


def expected_version(sheet: Path, scratch: Path) -> Version:
    """Load the sheet alone into a scratch warehouse and describe what it leaves."""
    ctx = load_context(Settings())
    result = validate_path(sheet, ctx)
    with open_warehouse(scratch) as con:
        load_result(con, result, ctx, run_id="expected")
        n = con.execute("SELECT n_projects, n_kpis FROM sheets").fetchone()
        assert n is not None
        return Version(str(result.sha256), n[0], n[1], fact_fingerprint(con))


def load_sheet_into(warehouse: Path, sheet: Path) -> None:
    ctx = load_context(Settings())
    with open_warehouse(warehouse) as con:
        load_result(con, validate_path(sheet, ctx), ctx, run_id="setup")


def assert_consistent(warehouse: Path, versions: dict[str, Version]) -> str:
    """Exactly one current sheet for FY2021, and the fact tables are exactly that version.

    Opened for writing, as the next run would (replaying or discarding the WAL).
    Returns the sha256 of the version found.
    """
    with open_warehouse(warehouse, lock_timeout_s=10) as con:
        current = con.execute(
            "SELECT source_sha256, n_projects, n_kpis FROM sheets "
            "WHERE municipality = ? AND fiscal_year = ? AND status = 'current'",
            [MUNICIPALITY, FY],
        ).fetchall()
        assert len(current) == 1, current
        sha, n_projects, n_kpis = current[0]
        version = versions[sha]
        assert (n_projects, n_kpis) == (version.n_projects, version.n_kpis)
        counts = con.execute(
            "SELECT (SELECT count(*) FROM projects WHERE fiscal_year = ?),"
            " (SELECT count(*) FROM kpis WHERE fiscal_year = ?)",
            [FY, FY],
        ).fetchone()
        assert counts == (n_projects, n_kpis)
        assert fact_fingerprint(con) == version.fingerprint
        n_rows = con.execute("SELECT count(*) FROM sheets WHERE fiscal_year = ?", [FY]).fetchone()
        assert n_rows is not None and n_rows[0] <= len(versions)  # one row per content
    return str(sha)


@contextmanager
def warehouse_held(
    warehouse: Path, seconds: float, env: dict[str, str] | None = None
) -> Iterator[Callable[[], None]]:
    """Another process holds the warehouse open for writing (for `seconds` at most) while the
    block runs; it is gone afterwards. The block gets `release()`, which ends it at once."""
    holder = subprocess.Popen(
        [PYTHON, "-c", HOLDER, str(warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env=env or subprocess_env(),
    )

    def release() -> None:
        holder.kill()
        holder.wait(timeout=10)

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield release
    finally:
        release()


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("PREFECT_API_URL", None)
    return env


PYTHON = sys.executable
