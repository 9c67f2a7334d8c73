"""The annual ingest flow: thin wiring of the stages (read → parse → validate → load → report).

Only what changed is ingested: a sheet whose content is already the current load of its
year is reported `unchanged` without being parsed. Tasks that touch files or the warehouse
retry transient faults (a locked warehouse, an OSError) with backoff; a bad sheet is never
retried. The run ends with a summary artifact and, when it needs attention, a notification.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run
from prefect.states import State
from prefect.tasks import Task
from prefect.utilities.annotations import quote

from ukiha_pipeline.errors import UkihaError, WarehouseError
from ukiha_pipeline.ingest import discover_sheets, new_run_id, summary_line, summary_markdown
from ukiha_pipeline.notify import send_notifications
from ukiha_pipeline.parsing import ParsedSheet
from ukiha_pipeline.reading import Grid
from ukiha_pipeline.reports import render_all
from ukiha_pipeline.runs import (
    RunSummary,
    RunTarget,
    SheetOutcome,
    current_load,
    current_loads,
    file_sha256,
    is_transient,
)
from ukiha_pipeline.settings import RETRY_DELAYS_S, Settings
from ukiha_pipeline.validation import RulesContext, ValidationResult, check_sheet, load_context
from ukiha_pipeline.validation.run import parse_or_fatal, read_or_fatal, validate_paths
from ukiha_pipeline.warehouse import LoadOutcome, load_results, open_warehouse

T = TypeVar("T")

SUMMARY_KEY = "annual-ingest-summary"
PROGRESS_KEY = "annual-ingest-progress"


def as_is(value: T) -> T:
    """A task argument Prefect passes on without walking through it (`quote`); typed as is."""
    return cast(T, quote(value))


def retry_if_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry_condition_fn: retry a locked warehouse or an OSError, not a bad sheet."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


#: For tasks that touch files or the warehouse.
RETRY_TRANSIENT: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_S),
    "retry_delay_seconds": list(RETRY_DELAYS_S),
    "retry_condition_fn": retry_if_transient,
}


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def check_unchanged(path: Path, target: RunTarget) -> SheetOutcome | None:
    """Hash the file and ask the warehouse (read-only) whether it is already the current load."""
    if target.force:
        return None
    return current_load(
        target.warehouse,
        path,
        fiscal_year=target.fiscal_year,
        municipality=target.municipality,
        lock_timeout_s=target.lock_timeout_s,
    )


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def check_unchanged_batch(paths: list[Path], target: RunTarget) -> list[SheetOutcome | None]:
    """`check_unchanged` for a batch, with one read-only open of the warehouse. A file that
    cannot be hashed is not unchanged (the reader then reports it as unreadable_file)."""
    if target.force:
        return [None] * len(paths)
    return current_loads(
        target.warehouse,
        [(p, _sha256_or_none(p)) for p in paths],
        fiscal_year=target.fiscal_year,
        municipality=target.municipality,
        lock_timeout_s=target.lock_timeout_s,
    )


def _sha256_or_none(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


@task(cache_policy=NO_CACHE)
def validate_batch(
    paths: list[Path], ctx: RulesContext, target: RunTarget
) -> list[ValidationResult]:
    """Read, parse and check a batch (one pandera call per model); fatal sheets as results."""
    return validate_paths(
        paths,
        ctx,
        fiscal_year=target.fiscal_year,
        municipality=target.municipality,
        default_municipality=target.default_municipality,
    )


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def load_batch(
    results: list[ValidationResult],
    ctx: RulesContext,
    warehouse: Path,
    run_id: str,
    lock_timeout_s: float,
    force: bool = False,
) -> list[LoadOutcome]:
    """The batch in one transaction: all its sheets are loaded, or (on an error) none."""
    return _load(results, ctx, warehouse, run_id, lock_timeout_s, force)


def _load(
    results: list[ValidationResult],
    ctx: RulesContext,
    warehouse: Path,
    run_id: str,
    lock_timeout_s: float,
    force: bool,
) -> list[LoadOutcome]:
    with open_warehouse(warehouse, lock_timeout_s=lock_timeout_s) as con:
        return load_results(
            con,
            results,
            ctx,
            run_id=run_id,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
            force=force,
        )


@task(cache_policy=NO_CACHE)
def read_sheet(path: Path, ctx: RulesContext) -> Grid | ValidationResult:
    """No retries: check_unchanged has just read the file (retrying an OSError). A file that
    cannot be read is a verdict on the sheet, returned as its fatal result (no traceback)."""
    return read_or_fatal(path, ctx)


@task(cache_policy=NO_CACHE)
def parse_sheet(grid: Grid, ctx: RulesContext, target: RunTarget) -> ParsedSheet | ValidationResult:
    return parse_or_fatal(
        grid,
        ctx,
        fiscal_year=target.fiscal_year,
        municipality=target.municipality,
        default_municipality=target.default_municipality,
    )


@task(cache_policy=NO_CACHE)
def validate_sheet(sheet: ParsedSheet, ctx: RulesContext) -> ValidationResult:
    return check_sheet(sheet, ctx)


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def load_sheet(
    result: ValidationResult,
    ctx: RulesContext,
    warehouse: Path,
    run_id: str,
    lock_timeout_s: float,
    force: bool = False,
) -> LoadOutcome:
    """One sheet, one transaction (the batch of one of `load_batch`)."""
    return _load([result], ctx, warehouse, run_id, lock_timeout_s, force)[0]


@task(cache_policy=NO_CACHE)
def publish_artifacts(result: ValidationResult) -> None:
    """A table of the sheet's failures and a markdown summary, keyed per sheet for history."""
    sheet_artifacts(result)


@task(cache_policy=NO_CACHE)
def publish_batch_artifacts(results: list[ValidationResult]) -> None:
    """One table of the batch's failures (with their file) and one summary line per sheet.

    Two artifacts per batch, not two per sheet: at hundreds of sheets the API calls would cost
    more than the sheets' work. Each sheet's history stays in the warehouse (`ukiha failures`).
    """
    rows = [
        {k: ("" if v is None else str(v)) for k, v in f.to_json_dict().items()}
        for result in results
        for f in result.failures
    ]
    create_table_artifact(
        table=rows or [{"message": "問題なし"}],
        description=f"検証結果 {len(results)} シート ({results[0].source_file} ほか)",
    )
    create_markdown_artifact(
        markdown="\n".join(
            ["# 検証の要約 (バッチ)", "", *(f"- {summary_line(r)}" for r in results)]
        ),
        description=f"検証の要約 {len(results)} シート",
    )


def sheet_artifacts(result: ValidationResult) -> None:
    key = artifact_key(result.source_file)
    rows = [
        {k: ("" if v is None else str(v)) for k, v in f.to_json_dict().items()}
        for f in result.failures
    ]
    create_table_artifact(
        key=f"failures-{key}",
        table=rows or [{"message": "問題なし"}],
        description=f"検証結果 {result.source_file}",
    )
    create_markdown_artifact(
        key=f"summary-{key}",
        markdown=summary_markdown(result),
        description=f"検証の要約 {result.source_file}",
    )


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def render_reports(
    warehouse: Path, out_dir: Path, lock_timeout_s: float, legend: dict[str, str]
) -> list[Path]:
    with open_warehouse(warehouse, read_only=True, lock_timeout_s=lock_timeout_s) as con:
        return render_all(con, out_dir, rating_legend=legend)


@task(cache_policy=NO_CACHE)
def publish_summary(summary: RunSummary) -> None:
    create_markdown_artifact(
        key=SUMMARY_KEY, markdown=summary.markdown(), description="年次取込の結果 (シートごと)"
    )


@task(cache_policy=NO_CACHE)
def notify(summary: RunSummary, settings: Settings) -> list[str]:
    """Never raises: a channel that fails is a warning in the log."""
    return send_notifications(summary, settings, get_run_logger())


def artifact_key(source_file: str) -> str:
    """Prefect keys allow a-z, 0-9 and '-': the file stem, slugged, plus a short hash."""
    import hashlib

    stem = Path(source_file).stem.lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:40] or "sheet"
    return f"{slug}-{hashlib.sha1(stem.encode()).hexdigest()[:6]}"


def ingest_sheet(path: Path, ctx: RulesContext, target: RunTarget, run_id: str) -> SheetOutcome:
    """One sheet: skip it if unchanged, else read → parse → validate → load → artifacts.

    Sheets, results and the rules context go to the tasks `quote`d: Prefect would otherwise
    walk every object inside them (looking for upstream futures), which costs more than the
    work on a sheet.
    """
    try:
        try:
            unchanged = check_unchanged(path, target)
        except OSError:
            unchanged = None  # the reader reports the file as unreadable_file
        if unchanged is not None:
            return unchanged
        grid = read_sheet(path, as_is(ctx))
        sheet = parse_sheet(as_is(grid), as_is(ctx), target) if isinstance(grid, Grid) else grid
        result = (
            validate_sheet(as_is(sheet), as_is(ctx)) if isinstance(sheet, ParsedSheet) else sheet
        )
        outcome = load_sheet(
            as_is(result),
            as_is(ctx),
            target.warehouse,
            run_id,
            target.lock_timeout_s,
            force=target.force,
        )
    except WarehouseError as exc:  # still locked after the retries, or a failed write
        return SheetOutcome.failed(path, exc)
    publish_artifacts(as_is(result))
    return SheetOutcome.from_load(outcome)


def ingest_batch(
    paths: list[Path], ctx: RulesContext, target: RunTarget, run_id: str
) -> list[SheetOutcome]:
    """A batch: skip unchanged sheets, validate the rest together, load them in one transaction.

    If the warehouse cannot take the batch, every sheet of it is `failed` (none is loaded).
    """
    try:
        unchanged = check_unchanged_batch(paths, target)
        todo = [p for p, u in zip(paths, unchanged, strict=True) if u is None]
        results = validate_batch(todo, as_is(ctx), target) if todo else []
        loaded = iter(
            load_batch(
                as_is(results),
                as_is(ctx),
                target.warehouse,
                run_id,
                target.lock_timeout_s,
                force=target.force,
            )
            if results
            else []
        )
    except WarehouseError as exc:
        return [SheetOutcome.failed(p, exc) for p in paths]
    if results:
        publish_batch_artifacts(as_is(results))
    return [u if u is not None else SheetOutcome.from_load(next(loaded)) for u in unchanged]


def start_progress(n_sheets: int) -> UUID:
    """The run's progress artifact, in per cent of the sheets done."""
    start = 0.0 if n_sheets else 100.0
    return cast(
        UUID, create_progress_artifact(start, key=PROGRESS_KEY, description="年次取込の進捗")
    )


def render_step(target: RunTarget, ctx: RulesContext) -> str | None:
    """Re-render the reports; a failure goes into the run's summary (returned), not lost."""
    try:
        written = render_reports(
            target.warehouse, target.reports, target.lock_timeout_s, ctx.rules.legend()
        )
    except UkihaError as exc:
        return str(exc)
    get_run_logger().info("reports: %d files in %s", len(written), target.reports)
    return None


def log_outcome(o: SheetOutcome, i: int, n: int) -> None:
    get_run_logger().info(
        "sheet %d/%d: %s %s FY%s projects=%s quarantined=%s errors=%s warnings=%s%s",
        i,
        n,
        o.source_file,
        o.status,
        o.fiscal_year or "-",
        o.n_projects,
        o.n_quarantined,
        o.n_errors,
        o.n_warnings,
        f" ({o.message})" if o.message else "",
    )


@flow(name="annual-ingest", log_prints=False)
def annual_ingest(
    paths: list[str] | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    fiscal_year: int | None = None,
    municipality: str | None = None,
    force: bool = False,
) -> list[dict[str, object]]:
    """Ingest the new or changed sheets under `paths` (default data/raw); render the reports.

    With `force`, sheets already loaded are ingested again (after rules, master or waivers
    changed: the content hash alone would call them unchanged).

    Ends with the `annual-ingest-summary` artifact and, if a sheet is fatal, has errors or
    could not be loaded, a notification. A warehouse that stays locked stops the run (the
    sheets not reached are `not_attempted`) and fails it with WarehouseError.
    """
    settings = Settings.from_env()
    target = RunTarget.resolve(
        settings, paths, warehouse, reports, fiscal_year, municipality, force=force
    )
    logger = get_run_logger()
    ctx = load_context(settings)
    run_id = new_run_id()
    sheets = discover_sheets(target.paths)
    progress = start_progress(len(sheets))
    outcomes: list[SheetOutcome] = []
    stopped = False  # the warehouse could not take a sheet: the rest are not attempted
    for batch in target.batches(sheets):
        first = len(outcomes) + 1
        if len(batch) == 1:
            logger.info("sheet %d/%d: %s", first, len(sheets), batch[0])
        else:
            logger.info("sheets %d-%d/%d", first, first + len(batch) - 1, len(sheets))
        if stopped:
            done = [SheetOutcome.not_attempted(p) for p in batch]
        elif target.sheet_by_sheet(len(sheets)):
            done = [ingest_sheet(batch[0], ctx, target, run_id)]
        else:
            done = ingest_batch(batch, ctx, target, run_id)
        stopped = stopped or any(o.status == "failed" for o in done)
        for outcome in done:
            outcomes.append(outcome)
            log_outcome(outcome, len(outcomes), len(sheets))
        update_progress_artifact(progress, 100.0 * len(outcomes) / len(sheets))
    reports_error = None if stopped else render_step(target, ctx)
    flow_run_id = str(flow_run.id) if flow_run.id else None
    summary = RunSummary(run_id, flow_run_id, tuple(outcomes), reports_error)
    publish_summary(summary)
    notify(summary, settings)
    logger.info(summary.headline())
    summary.raise_if_failed()
    return [o.as_dict() for o in outcomes]
