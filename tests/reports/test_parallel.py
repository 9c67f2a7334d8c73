"""Pages rendered in worker processes are the pages rendered in one process, byte for byte;
workers are used only with a read-only warehouse file, and their errors come back as one
clear `ReportError`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from report_helpers import Rendered, dying_chunk, failing_chunk, many_sheets
from test_reports import _failure, _insert, build_warehouse

from ukiha_pipeline.errors import ConfigError, ReportError
from ukiha_pipeline.reports import _parallel, render_all
from ukiha_pipeline.settings import Settings


@pytest.fixture
def worker_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunks each use of worker processes was given (empty: all in-process)."""
    runs: list[int] = []
    real = _parallel._in_workers

    def spy(database: Path, fn: Any, chunks: list[Any], workers: int) -> None:
        runs.append(len(chunks))
        real(database, fn, chunks, workers)

    monkeypatch.setattr(_parallel, "_in_workers", spy)
    return runs


def _synthetic(tmp: Path) -> Path:
    """The hand-built warehouse of test_reports (superseded load, fatal sheet, an older run,
    a clean later run) plus a workbook sharing a text sheet's stem."""
    path = tmp / "synthetic.duckdb"
    with duckdb.connect(str(path)) as con:
        build_warehouse(con)
        _insert(con, "validation_failures", [
            _failure("run-7", "data/raw/r3_sheet.xlsx", "2024-05-05 10:00:00+09", line=12,
                     worksheet="PDCA", message="合成: ブックの問題"),
        ])  # fmt: skip
    return path


def _several(seed: Rendered, tmp: Path) -> Path:
    """Six municipalities x five years cloned from the R3 load: 67 pages, enough to use
    workers without lowering the threshold."""
    path = tmp / "several.duckdb"
    many_sheets(seed.warehouse, path, 6, range(2021, 2026))
    return path


def _pages(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("warehouse", ["multi_year", "synthetic", "several"])
def test_parallel_pages_are_the_serial_pages(
    warehouse: str,
    multi_year_reports: Rendered,
    r3_reports: Rendered,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    worker_runs: list[int],
) -> None:
    build: dict[str, Callable[[], Path]] = {
        "multi_year": lambda: multi_year_reports.warehouse,  # R3 + SYNTHETIC FY2022, FY2023
        "synthetic": lambda: _synthetic(tmp_path),
        "several": lambda: _several(r3_reports, tmp_path),
    }
    path = build[warehouse]()
    if warehouse != "several":  # a few pages: one chunk per page, in two workers
        monkeypatch.setattr(_parallel, "MIN_PARALLEL_ITEMS", 1)
    with duckdb.connect(str(path), read_only=True) as con:
        serial = render_all(con, tmp_path / "serial", workers=1)
        assert worker_runs == []
        parallel = render_all(con, tmp_path / "parallel", workers=2)
        assert len(worker_runs) == 1 and worker_runs[0] >= 2
    assert [p.name for p in parallel] == [p.name for p in serial]
    assert _pages(tmp_path / "parallel") == _pages(tmp_path / "serial")


def test_serial_unless_a_read_only_file(tmp_path: Path, worker_runs: list[int]) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:  # writable: e.g. the loader's own connection
        build_warehouse(con)
        assert _parallel.read_only_file(con) is None
    with duckdb.connect() as con:
        assert _parallel.read_only_file(con) is None
    with duckdb.connect(str(path), read_only=True) as con:
        assert _parallel.read_only_file(con) == path
        seen: list[int] = []
        _parallel.for_each_chunk(con, lambda c, chunk: seen.extend(chunk), [1, 2], workers=8)
        assert seen == [1, 2]  # too few items to pay for workers
    assert worker_runs == []


@pytest.fixture
def read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[duckdb.DuckDBPyConnection]:
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_ITEMS", 1)
    path = _synthetic(tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


def test_a_page_that_cannot_be_written_is_a_report_error(
    read_only: duckdb.DuckDBPyConnection, tmp_path: Path, worker_runs: list[int]
) -> None:
    out = tmp_path / "reports"
    (out / "annual_2022.html").mkdir(parents=True)  # the page cannot replace a folder
    with pytest.raises(ReportError, match=r"cannot write report .*annual_2022\.html"):
        render_all(read_only, out, workers=2)
    assert worker_runs  # it failed in a worker
    assert not list(out.glob(".*.tmp"))  # no half-written page left behind


@pytest.mark.parametrize(
    ("chunk_fn", "message"),
    [
        (failing_chunk, r"^report worker failed: KeyError: 'boom'$"),
        (dying_chunk, r"^a report worker process stopped unexpectedly"),
    ],
)
def test_worker_errors_are_one_report_error(
    read_only: duckdb.DuckDBPyConnection, chunk_fn: Any, message: str
) -> None:
    with pytest.raises(ReportError, match=message):
        _parallel.for_each_chunk(read_only, chunk_fn, list(range(10)), workers=2)


def test_workers_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UKIHA_REPORT_WORKERS", "3")
    assert Settings.from_env().report_workers == 3
    monkeypatch.setenv("UKIHA_REPORT_WORKERS", "0")
    with pytest.raises(ConfigError, match="UKIHA_REPORT_WORKERS"):
        Settings.from_env()


def test_render_all_takes_the_workers_setting(
    monkeypatch: pytest.MonkeyPatch,
    read_only: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    worker_runs: list[int],
) -> None:
    monkeypatch.setenv("UKIHA_REPORT_WORKERS", "1")
    render_all(read_only, tmp_path / "one")
    assert worker_runs == []
    monkeypatch.setenv("UKIHA_REPORT_WORKERS", "2")
    render_all(read_only, tmp_path / "two")
    assert len(worker_runs) == 1
