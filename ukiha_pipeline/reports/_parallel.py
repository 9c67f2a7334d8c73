"""Run report work in chunks, in this process or in worker processes (one per core).

Rendering a page is mostly Python (great-tables formats cell by cell), so threads would not
help; processes do. DuckDB lets several processes open one warehouse file read-only at once,
so each worker opens its own read-only connection to the file the caller has open. Workers
are used only when that is possible and pays:

- the caller's connection is to a file opened read-only (an in-memory or writable connection,
  e.g. in the middle of a load, is used here, chunk after chunk);
- `workers` > 1 (`UKIHA_REPORT_WORKERS`, default the number of cores), and this process may
  start processes (not a daemonic worker of a process pool);
- at least `MIN_PARALLEL_ITEMS` items: starting the workers costs about 1 s the first time in
  a process (the fork server imports the report code once) and 0.1 s after that. Measured on
  2 cores from a cold start: 12 pages 1.3 s here vs 2.1 s with two workers, 24 pages 2.0 vs
  1.9 s, 40 pages 3.3 vs 2.7 s, 60 pages 5.0 vs 3.9 s.

Workers are started by a fork server (or spawned where there is none), never forked from the
caller, which may hold DuckDB and Prefect threads. Whatever a worker raises comes back as a
`ReportError` (or the package error it raised) with one clear line; a worker that dies takes
the run down with a `ReportError` too. What the work writes must depend neither on how the
items are chunked (smaller chunks with workers) nor on where a chunk runs.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TypeVar

import duckdb

from ukiha_pipeline.errors import ReportError, UkihaError

T = TypeVar("T")

#: Fewer items than this are done in this process (see the module docstring).
MIN_PARALLEL_ITEMS = 40
#: Items per chunk: the page modules read a chunk's rows in one query per section, so bigger
#: chunks mean fewer queries; smaller ones, less memory and a fairer share between workers.
CHUNK_ITEMS = 50
#: With workers, at least this many chunks per worker, so that none idles long at the end.
CHUNKS_PER_WORKER = 8

ChunkFn = Callable[[duckdb.DuckDBPyConnection, Sequence[T]], None]


def for_each_chunk(
    con: duckdb.DuckDBPyConnection, fn: ChunkFn[T], items: Sequence[T], *, workers: int
) -> None:
    """Call `fn(connection, chunk)` for consecutive chunks of `items`.

    In up to `workers` processes when that is possible and pays (module docstring), else
    here with `con`. `fn` must be picklable (a module-level function or class instance) and
    must not return anything: it writes its results itself.
    """
    database = read_only_file(con)
    daemon = multiprocessing.current_process().daemon  # e.g. a pool worker: no children
    if database is None or daemon or workers <= 1 or len(items) < MIN_PARALLEL_ITEMS:
        for chunk in _chunks(items, CHUNK_ITEMS):
            fn(con, chunk)
        return
    size = min(CHUNK_ITEMS, math.ceil(len(items) / (workers * CHUNKS_PER_WORKER)))
    chunks = _chunks(items, size)
    _in_workers(database, fn, chunks, min(workers, len(chunks)))


def read_only_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The warehouse file `con` has open read-only, or None (in memory, or writable)."""
    row = con.execute(
        "SELECT path, readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if row is None or not row[0] or not row[1]:
        return None
    return Path(row[0]).absolute()


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _in_workers(database: Path, fn: ChunkFn[T], chunks: list[Sequence[T]], workers: int) -> None:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_start_method())
    try:
        futures = [pool.submit(_run, str(database), fn, chunk) for chunk in chunks]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and _failed(f)), None)
        if failed is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # chunks under way finish
            failed.result()  # raises the worker's error
    except BrokenProcessPool as exc:
        raise ReportError(
            "a report worker process stopped unexpectedly (out of memory, killed, or a script "
            'that renders without `if __name__ == "__main__":`); '
            "UKIHA_REPORT_WORKERS=1 renders the reports in one process"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _failed(future: Future[None]) -> bool:
    return not future.cancelled() and future.exception() is not None


def _start_method() -> BaseContext:
    """A fork server that has imported the report code once (workers start in 0.1 s), or
    spawn where there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Only used when this starts the process's fork server; the package imports everything
    # that renders a page.
    context.set_forkserver_preload([__package__ or "ukiha_pipeline.reports"])
    return context


#: The worker's own read-only connection, opened by its first chunk.
_worker_con: duckdb.DuckDBPyConnection | None = None


def _run(database: str, fn: ChunkFn[T], chunk: Sequence[T]) -> None:
    """In a worker: `fn` on the chunk with this process's connection. Errors are raised as
    package errors, which pickle and print as one line."""
    global _worker_con
    try:
        if _worker_con is None:
            from ukiha_pipeline.warehouse.load import connect

            _worker_con = connect(Path(database), read_only=True)
            _worker_con.execute("SET threads = 1")  # the workers already use every core
        fn(_worker_con, chunk)
    except UkihaError:
        raise
    except Exception as exc:
        raise ReportError(f"report worker failed: {type(exc).__name__}: {exc}") from None
