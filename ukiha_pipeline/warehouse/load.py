"""Open the warehouse (waiting a bounded time for its lock) and load sheets: a batch per
transaction, each sheet as if loaded alone (`load_results`)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from ukiha_pipeline.errors import WarehouseError
from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.settings import DEFAULT_LOCK_TIMEOUT_S
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.result import ValidationResult
from ukiha_pipeline.warehouse.keys import LoadedRows, rekey_municipalities
from ukiha_pipeline.warehouse.schema import (
    CURRENT_COMMENTS_SQL,
    FACT_TABLES,
    TABLE_COLUMNS,
    comment_sql,
    create_sql,
)
from ukiha_pipeline.warehouse.tables import Rows, build_rows, failures_rows, table_frame

#: How DuckDB says another process holds the file (not just "lock": a path may contain it).
_LOCK_PHRASES = ("could not set lock", "conflicting lock")


def is_lock_error(exc: BaseException | None) -> bool:
    """DuckDB refused the file because another process holds it (worth waiting for)."""
    text = str(exc).lower() if exc is not None else ""
    return any(phrase in text for phrase in _LOCK_PHRASES)


def connect(
    path: Path, *, read_only: bool = False, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; another process holding it is waited for up to `lock_timeout_s`."""
    if read_only and not path.exists():
        raise WarehouseError(
            f"{path}: 倉庫 (warehouse) がありません。先に `ukiha ingest` を実行してください。"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not is_lock_error(exc):  # not a DuckDB file, no permission, ...
                raise WarehouseError(f"{path}: 倉庫を開けません: {exc}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"{path}: 倉庫を開けません (別の処理が使用中です。"
                    f"{lock_timeout_s:g} 秒待ちました): {exc}"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"{path}: 倉庫を開けません: {exc}") from exc
    if not read_only:
        try:
            con.execute("BEGIN")  # one transaction: the statements cost one commit
            for stmt in create_sql():
                con.execute(stmt)
            # the data dictionary: only comments that differ (views lose theirs when replaced)
            current = {(r, c): m for r, c, m in con.execute(CURRENT_COMMENTS_SQL).fetchall()}
            for stmt in comment_sql(current):
                con.execute(stmt)
            con.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            con.close()
            raise
    return con


@contextmanager
def open_warehouse(
    path: Path, *, read_only: bool = False, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class LoadOutcome:
    source_file: str
    status: str  # 'loaded' | 'unchanged' | 'fatal'
    municipality: str | None
    fiscal_year: int | None
    n_projects: int
    n_kpis: int
    n_quarantined: int
    n_errors: int
    n_warnings: int


def _insert(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    if df.empty:
        return
    # No unregister in a `finally`: after a failed INSERT the transaction is aborted and any
    # further statement would replace the real error; the next register() overwrites the view.
    con.register("_stage", df)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _stage")
    con.unregister("_stage")


def load_result(
    con: duckdb.DuckDBPyConnection,
    result: ValidationResult,
    ctx: RulesContext,
    *,
    run_id: str,
    flow_run_id: str | None = None,
    now: datetime | None = None,
    force: bool = False,
    overridden: bool = False,
) -> LoadOutcome:
    """One transaction per sheet: replace its (municipality, fiscal year), record failures.

    In the same transaction every fiscal year of the municipality is re-keyed (`keys.py`), so
    project and KPI keys depend on the set of sheets loaded, not on the order.
    Identical content already current is left alone (loading a file twice = loading it once).
    A fatal sheet loads nothing; its failures are recorded and the previous load stays.
    (The batch of one of `load_results`.)
    """
    return load_results(
        con,
        [result],
        ctx,
        run_id=run_id,
        flow_run_id=flow_run_id,
        now=now,
        force=force,
        overridden=overridden,
    )[0]


def load_results(
    con: duckdb.DuckDBPyConnection,
    results: Sequence[ValidationResult],
    ctx: RulesContext,
    *,
    run_id: str,
    flow_run_id: str | None = None,
    now: datetime | None = None,
    force: bool = False,
    overridden: bool = False,
) -> list[LoadOutcome]:
    """Load many sheets in ONE transaction, each table written once per step; one outcome each.

    The warehouse ends as if `load_result` had been called for each sheet in order (apart from
    load times): all of them are in, or (on any error) none. Each municipality is re-keyed
    once per step. A step is a run of sheets with no (municipality, fiscal year) and no
    content twice; a repeat starts the next step, so a later version supersedes an earlier
    one of the same batch exactly as it would one by one. With `force`, content that is
    already current is loaded again (after the rules, the master or the waivers changed).
    With `overridden` (the run gave `--fiscal-year` or `--municipality`), a sheet whose content
    is current under another (municipality, fiscal year) raises WarehouseError naming it: the
    override would empty that year.
    """
    now = now or datetime.now(UTC)
    if not results:
        return []
    # a sheet with a fatal failure is not loaded, whether the parser stopped it or the rules
    # file made a row check fatal (DESIGN §3: "fatal stops that sheet"): only its failures go in
    results = [replace(r, sheet=None) if r.fatal else r for r in results]
    what = results[0].source_file if len(results) == 1 else f"{len(results)} シート"
    outcomes: list[LoadOutcome] = []
    con.execute("BEGIN")
    try:
        for step in _steps(results):
            outcomes += _load_step(
                con,
                step,
                ctx,
                run_id=run_id,
                flow_run_id=flow_run_id,
                now=now,
                force=force,
                overridden=overridden,
            )
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        if all(r.sheet is None for r in results):
            raise WarehouseError(f"{what}: 検証結果を書けません: {exc}") from exc
        raise WarehouseError(f"{what}: 倉庫への書き込みに失敗しました: {exc}") from exc
    except BaseException:  # anything else (even KeyboardInterrupt) must not leave it open
        con.execute("ROLLBACK")
        raise
    return outcomes


def record_restored(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[tuple[str, str | None, str | None, int | None]],
    *,
    run_id: str,
    now: datetime | None = None,
) -> None:
    """Files whose latest run was fatal, found by this run holding a content already loaded
    (unchanged, not loaded again): (source file as the fatal run named it, sha256,
    municipality, fiscal year). From now on they count as fine (`history.fatal_latest`, the
    reports), with the failures of that content's load."""
    if not files:
        return
    now = now or datetime.now(UTC)
    rows = [(run_id, source, sha, mun, fy, now) for source, sha, mun, fy in files]
    _insert(con, "restored_files", table_frame("restored_files", rows))  # one statement


def _moved_from(
    con: duckdb.DuckDBPyConnection, shas: list[str], keys: list[tuple[str, int]]
) -> dict[str, tuple[str, int]]:
    """Content being loaded that is current under a (municipality, fiscal year) other than
    `keys`: sha256 → where it is. It read differently this time (the parser's reading of the
    title or header improved, and `--force` loads it again): it moves."""
    if not shas:
        return {}
    found = con.execute(
        "SELECT source_sha256, municipality, fiscal_year FROM sheets "
        "WHERE status = 'current' AND list_contains(?, source_sha256)",
        [shas],
    ).fetchall()
    return {sha: (m, fy) for sha, m, fy in found if (m, fy) not in keys}


def _refuse_move(
    results: Sequence[ValidationResult], moved: dict[str, tuple[str, int]]
) -> WarehouseError:
    """An override (`--fiscal-year`, `--municipality`) would move a year's current content to
    another year and leave the first without its sheet (the override given for a folder that
    holds other years' sheets, most likely)."""
    r = next(r for r in results if r.sha256 in moved and r.sheet is not None)
    assert r.sheet is not None
    m, fy = moved[str(r.sha256)]
    return WarehouseError(
        f"{r.source_file}: この内容は {fiscal_year_label(fy)}・{m} の現在の取込です。"
        f"指定 (--fiscal-year / --municipality) どおり {fiscal_year_label(r.sheet.fiscal_year)}"
        f"・{r.sheet.municipality} として取り込むと {fiscal_year_label(fy)} の取込が消えるため、"
        "取り込みませんでした。年度や市町村の指定は、そのシートだけを指定して使ってください。"
        "シートの年度が違うなら、事業一覧の見出し (R4年度事業化 など) を直して取り込んでください。"
    )


def _steps(results: Sequence[ValidationResult]) -> list[list[ValidationResult]]:
    """Consecutive runs of results with no (municipality, fiscal year) or content repeated."""
    steps: list[list[ValidationResult]] = [[]]
    keys: set[tuple[str, int]] = set()
    shas: set[str | None] = set()
    for r in results:
        key = (r.sheet.municipality, r.sheet.fiscal_year) if r.sheet is not None else None
        if (key is not None and key in keys) or (r.sheet is not None and r.sha256 in shas):
            steps.append([])
            keys, shas = set(), set()
        steps[-1].append(r)
        if key is not None:
            keys.add(key)
            shas.add(r.sha256)
    return [s for s in steps if s]


def _load_step(
    con: duckdb.DuckDBPyConnection,
    results: Sequence[ValidationResult],
    ctx: RulesContext,
    *,
    run_id: str,
    flow_run_id: str | None,
    now: datetime,
    force: bool = False,
    overridden: bool = False,
) -> list[LoadOutcome]:
    """Sheets with distinct (municipality, fiscal year) and content, inside the transaction.

    `overridden`: the run gave `--fiscal-year` or `--municipality`; content current under
    another year is then refused (WarehouseError naming the file), not moved."""
    shas = [r.sha256 for r in results if r.sheet is not None]
    current: dict[str | None, tuple[str, int, int, int, int]] = {}
    if shas and not force:
        con.register("_shas", pd.DataFrame({"sha": shas}))
        current = {
            sha: (m, fy, n_p, n_k, n_q)
            for sha, m, fy, n_p, n_k, n_q in con.execute(
                "SELECT source_sha256, municipality, fiscal_year, n_projects, n_kpis, "
                "n_quarantined FROM sheets WHERE status = 'current' "
                "AND source_sha256 IN (SELECT sha FROM _shas)"
            ).fetchall()
        }
        con.unregister("_shas")

    outcomes: list[LoadOutcome] = []
    rows: dict[str, Rows] = {t: [] for t in (*FACT_TABLES, "quarantine", "validation_failures")}
    rows["sheets"] = []
    keys: list[tuple[str, int]] = []
    for result in results:
        sheet = result.sheet
        if sheet is None:
            rows["validation_failures"] += failures_rows(
                result, run_id=run_id, recorded_at=now, municipality=None
            )
            outcomes.append(
                LoadOutcome(
                    result.source_file,
                    "fatal",
                    None,
                    None,
                    0,
                    0,
                    0,
                    result.n_errors,
                    result.n_warnings,
                )
            )
            continue
        held = current.get(result.sha256)
        # current for this sheet's (municipality, year) (content loaded under another year,
        # as when --fiscal-year corrects a header copied from last year, moves), and not
        # superseded by a sheet loaded before it in this step
        if (
            held is not None
            and (held[0], held[1]) == (sheet.municipality, sheet.fiscal_year)
            and (held[0], held[1]) not in keys
        ):
            outcomes.append(
                LoadOutcome(
                    result.source_file,
                    "unchanged",
                    sheet.municipality,
                    sheet.fiscal_year,
                    held[2],
                    held[3],
                    held[4],
                    result.n_errors,
                    result.n_warnings,
                )
            )
            continue
        t = build_rows(result, ctx, run_id=run_id, recorded_at=now)
        keys.append((t.municipality, t.fiscal_year))
        for table, table_rows in t.rows.items():
            rows[table] += table_rows
        rows["validation_failures"] += failures_rows(
            result, run_id=run_id, recorded_at=now, municipality=t.municipality
        )
        rows["sheets"].append(  # in `schema.TABLE_COLUMNS["sheets"]` order
            (
                (result.sha256 or "")[:16],
                t.municipality,
                t.fiscal_year,
                result.source_file,
                result.sha256,
                now,
                run_id,
                flow_run_id,
                "current",
                t.n_projects,
                t.n_kpis,
                t.n_quarantined,
                result.n_errors,
                result.n_warnings,
            )
        )
        outcomes.append(
            LoadOutcome(
                result.source_file,
                "loaded",
                t.municipality,
                t.fiscal_year,
                t.n_projects,
                t.n_kpis,
                t.n_quarantined,
                result.n_errors,
                result.n_warnings,
            )
        )

    sha = TABLE_COLUMNS["sheets"].index("source_sha256")
    loaded_shas = [str(r[sha]) for r in rows["sheets"]]
    moved_shas = _moved_from(con, loaded_shas, keys)
    if moved_shas and overridden:
        raise _refuse_move(results, moved_shas)
    moved = list(dict.fromkeys(moved_shas.values()))
    if moved:  # what the content put there goes; that year keeps its earlier versions
        con.register("_moved", pd.DataFrame(moved, columns=["municipality", "fiscal_year"]))
        for table in FACT_TABLES:
            con.execute(
                f"DELETE FROM {table} USING _moved k "
                f"WHERE {table}.municipality = k.municipality AND {table}.fiscal_year = k.fiscal_year"
            )
        con.unregister("_moved")
    if keys:
        con.register("_keys", pd.DataFrame(keys, columns=["municipality", "fiscal_year"]))
    replaced = (
        " USING _keys k WHERE {t}.municipality = k.municipality AND {t}.fiscal_year = k.fiscal_year"
    )
    for table in FACT_TABLES:
        if keys:
            con.execute(f"DELETE FROM {table}" + replaced.format(t=table))
        _insert(con, table, table_frame(table, rows[table]))
    # quarantine keeps every version's rows (nothing is dropped when a year is replaced);
    # content loaded again replaces its own
    if loaded_shas:
        con.execute("DELETE FROM quarantine WHERE list_contains(?, source_sha256)", [loaded_shas])
    _insert(con, "quarantine", table_frame("quarantine", rows["quarantine"]))
    _insert(
        con, "validation_failures", table_frame("validation_failures", rows["validation_failures"])
    )
    if keys:
        con.execute(
            "UPDATE sheets SET status = 'superseded' FROM _keys k "
            "WHERE sheets.municipality = k.municipality AND sheets.fiscal_year = k.fiscal_year"
        )
        con.register("_loaded", pd.DataFrame({"sha": loaded_shas}))
        con.execute("DELETE FROM sheets WHERE source_sha256 IN (SELECT sha FROM _loaded)")
        con.unregister("_loaded")
        _insert(con, "sheets", table_frame("sheets", rows["sheets"]))
        con.unregister("_keys")
    # keys are a function of the set of sheets of the municipality: re-key all its years
    if keys:
        rekey_municipalities(
            con,
            [m for m, _ in keys + moved],
            ctx,
            run_now=now,
            insert=_insert,
            loaded=LoadedRows(keys, rows["projects"], rows["kpis"]),
        )
    return outcomes
