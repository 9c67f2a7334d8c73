"""The annual ingest flow: thin wiring of the stages (read → parse → validate → load → report).

Every run goes in batches of `UKIHA_BATCH_SIZE` sheets (a run of one sheet is a batch of one):
per batch one change check, one validation (one pandera call per model) and one warehouse
transaction. Validating a batch needs nothing but its files and the rules, so batches are
submitted ahead to the flow's task runner (Prefect's thread pool, or Dask workers: see
`flows/task_runners.py`); the warehouse has one writer, this flow's process, which loads the
batches one after another in input order.

Only what changed is ingested: a sheet whose content is already the current load of its
year is reported `unchanged` without being read or parsed, and so is an older version of a
year whose current load came from another file of the same run. Tasks that touch files or the
warehouse retry transient faults (a locked warehouse, an OSError) with backoff; a bad sheet is
never retried. A batch the warehouse refuses for another reason is loaded again sheet by sheet,
so that only the sheet that cannot be loaded is `failed`. The run ends with a summary artifact
and, when it needs attention, a notification.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)
from prefect.states import State
from prefect.tasks import Task
from prefect.utilities.annotations import quote

from flows import error_logs
from flows.task_runners import default_task_runner, validation_slots
from ukiha_pipeline.errors import UkihaError, WarehouseError
from ukiha_pipeline.ingest import discover, new_run_id, same_year_notes, summary_line
from ukiha_pipeline.notify import send_notifications
from ukiha_pipeline.runs import (
    RunSummary,
    RunTarget,
    SheetOutcome,
    current_loads,
    file_sha256,
    is_transient,
    year_loads,
)
from ukiha_pipeline.settings import RETRY_DELAYS_S, Settings
from ukiha_pipeline.validation import RulesContext, ValidationResult, load_context
from ukiha_pipeline.validation.run import validate_paths
from ukiha_pipeline.warehouse import LoadOutcome, load_results, open_warehouse, record_restored

error_logs.install()  # our errors' messages in the run logs, without their traceback

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
def check_unchanged_batch(
    paths: list[Path], target: RunTarget, run_files: list[Path] | None = None
) -> list[SheetOutcome | None]:
    """Which sheets of the batch need not be loaded (`current_loads`: their hashes, one
    read-only open of the warehouse, nothing parsed): the current load of their year, or an
    older version of a year whose current load came from another of `run_files` (the run's
    sheet files; default the batch). A file that cannot be hashed is not unchanged (the reader
    then reports it as unreadable_file)."""
    if target.force:
        return [None] * len(paths)
    return current_loads(
        target.warehouse,
        [(p, _sha256_or_none(p)) for p in paths],
        run_files=paths if run_files is None else run_files,
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
    overridden: bool = False,
) -> list[LoadOutcome]:
    """The batch in one transaction: all its sheets are loaded, or (on an error) none."""
    with open_warehouse(warehouse, lock_timeout_s=lock_timeout_s) as con:
        return load_results(
            con,
            results,
            ctx,
            run_id=run_id,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
            force=force,
            overridden=overridden,
        )


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def record_restored_batch(
    outcomes: list[SheetOutcome], warehouse: Path, run_id: str, lock_timeout_s: float
) -> None:
    """Files found unchanged whose latest run was fatal: recorded as fine again, so that
    `ukiha failures` and the reports no longer show them as fatal (`record_restored`)."""
    files = [
        (o.clears_fatal, _sha256_or_none(Path(o.source_file)), o.municipality, o.fiscal_year)
        for o in outcomes
        if o.clears_fatal is not None
    ]
    with open_warehouse(warehouse, lock_timeout_s=lock_timeout_s) as con:
        record_restored(con, files, run_id=run_id)


@task(cache_policy=NO_CACHE)
def publish_batch_artifacts(results: list[ValidationResult]) -> None:
    """Per sheet, under a stable key (a steward finds a sheet's latest by its file name): the
    table of its failures `failures-<key>`, its counts in the description. One artifact per
    sheet, no more (each is an API call); the sheet's year and counts are in the run's
    summary, its history in the warehouse (`ukiha failures`)."""
    for result in results:
        key = artifact_key(result.source_file)
        rows = [
            {k: ("" if v is None else str(v)) for k, v in f.to_json_dict().items()}
            for f in result.failures
        ]
        create_table_artifact(
            key=f"failures-{key}",
            table=rows or [{"message": "問題なし"}],
            description=f"検証結果 {summary_line(result)}",
        )


@task(cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def render_reports(
    warehouse: Path, out_dir: Path, lock_timeout_s: float, legend: dict[str, str]
) -> list[Path]:
    from ukiha_pipeline.reports import render_all  # not on Dask workers, which only validate

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
    stem = Path(source_file).stem.lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:40] or "sheet"
    return f"{slug}-{hashlib.sha1(stem.encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class Pending:
    """A batch on its way: change-checked, its validation submitted to the task runner (or
    the error that stopped it before that)."""

    paths: list[Path]
    unchanged: list[SheetOutcome | None]
    validation: PrefectFuture[list[ValidationResult]] | None = None
    error: WarehouseError | None = None


def start_batch(
    paths: list[Path], ctx: RulesContext, target: RunTarget, run_files: list[Path]
) -> Pending:
    """Skip unchanged sheets (before reading them); submit the rest's validation."""
    try:
        unchanged = check_unchanged_batch(paths, target, as_is(run_files))
    except WarehouseError as exc:  # still locked after the retries
        return Pending(paths, [None] * len(paths), error=exc)
    todo = [p for p, u in zip(paths, unchanged, strict=True) if u is None]
    # not `as_is`: Dask passes a `quote` on as a plain tuple (the context is small to walk)
    validation = validate_batch.submit(todo, ctx, target) if todo else None
    return Pending(paths, unchanged, validation)


@dataclass(frozen=True)
class Done:
    """A batch ingested: its sheets' outcomes, its validation results, whether the run stops."""

    paths: list[Path]
    outcomes: list[SheetOutcome]
    results: list[ValidationResult]
    stop: bool = False


def finish_batch(pending: Pending, ctx: RulesContext, target: RunTarget, run_id: str) -> Done:
    """Wait for the batch's validation and load it."""
    if pending.error is not None:
        return Done(
            pending.paths, [SheetOutcome.failed(p, pending.error) for p in pending.paths], [], True
        )
    results = pending.validation.result() if pending.validation is not None else []
    loaded, stop = load_step(results, ctx, target, run_id)
    done = iter(loaded)
    outcomes = [u if u is not None else next(done) for u in pending.unchanged]
    if not stop:
        record_step([u for u in pending.unchanged if u is not None], target, run_id)
    return Done(pending.paths, outcomes, results, stop)


def record_step(unchanged: list[SheetOutcome], target: RunTarget, run_id: str) -> None:
    """Record the unchanged files whose latest run was fatal as fine again (a write only when
    there is one). Not recording is no reason to stop the run: its log says so."""
    if not any(o.clears_fatal is not None for o in unchanged):
        return
    try:
        record_restored_batch(as_is(unchanged), target.warehouse, run_id, target.lock_timeout_s)
    except Exception as exc:
        get_run_logger().warning(
            "not recorded as fine again after a fatal run (%s): %s",
            ", ".join(o.source_file for o in unchanged if o.clears_fatal is not None),
            (str(exc).splitlines() or [type(exc).__name__])[0],
        )


def load_step(
    results: list[ValidationResult], ctx: RulesContext, target: RunTarget, run_id: str
) -> tuple[list[SheetOutcome], bool]:
    """The batch in one transaction: (outcomes, stop run).

    If the warehouse stays locked, every sheet of the batch is `failed` and the run stops. If
    the batch fails for any other reason, its sheets are loaded one by one (each in its own
    transaction), so that only a sheet that cannot be loaded is `failed`, naming its file.
    """

    def load(batch: list[ValidationResult]) -> list[SheetOutcome]:
        return [
            SheetOutcome.from_load(o)
            for o in load_batch(
                as_is(batch),
                as_is(ctx),
                target.warehouse,
                run_id,
                target.lock_timeout_s,
                force=target.force,
                overridden=target.fiscal_year is not None or target.municipality is not None,
            )
        ]

    if not results:
        return [], False
    try:
        return load(results), False
    except Exception as exc:
        if is_transient(exc):
            return [SheetOutcome.failed(Path(r.source_file), exc) for r in results], True
        if len(results) == 1:
            return [SheetOutcome.not_loaded(results[0].source_file, exc)], False
        get_run_logger().warning(
            "batch of %d sheets not loaded (%s): loading them one by one",
            len(results),
            (str(exc).splitlines() or [type(exc).__name__])[0],
        )
    outcomes: list[SheetOutcome] = []
    for i, result in enumerate(results):
        try:
            outcomes += load([result])
        except Exception as exc:
            if not is_transient(exc):
                outcomes.append(SheetOutcome.not_loaded(result.source_file, exc))
                continue
            outcomes.append(SheetOutcome.failed(Path(result.source_file), exc))
            rest = results[i + 1 :]
            return outcomes + [SheetOutcome.not_attempted(Path(r.source_file)) for r in rest], True
    return outcomes, False


def ingest_batches(
    batches: list[list[Path]], ctx: RulesContext, target: RunTarget, run_id: str
) -> Iterator[Done]:
    """The batches ingested, in input order.

    The validation of the next batches runs on the task runner (as many batches ahead as it
    has worker slots) while this process loads the current one. After a batch the warehouse
    could not take (locked), the rest are `not_attempted` (their validations are dropped).
    """
    run_files = [p for batch in batches for p in batch]
    queue = deque(batches)
    pending: deque[Pending] = deque()
    ahead = 0  # known once a validation is submitted (a Dask cluster starts with the first)
    while queue or pending:
        # no look-ahead past a batch the warehouse already refused (its retries took long enough)
        while queue and len(pending) <= ahead and not (pending and pending[-1].error):
            pending.append(start_batch(queue.popleft(), ctx, target, run_files))
            if not ahead and pending[-1].validation is not None:
                ahead = validation_slots()
        done = finish_batch(pending.popleft(), ctx, target, run_id)
        yield done
        if done.stop:
            for paths in [*(p.paths for p in pending), *queue]:
                yield Done(paths, [SheetOutcome.not_attempted(p) for p in paths], [], True)
            return


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


@flow(name="annual-ingest", log_prints=False, task_runner=default_task_runner())
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
    sheets not reached are `not_attempted`) and fails it with WarehouseError; a sheet the
    warehouse refuses for another reason is `failed` alone, and the run fails at its end. A run
    that cannot start (a path missing, a folder without sheets, the rules or the master
    unusable) publishes the summary saying why, notifies, and fails with that error.

    Validation runs on the flow's task runner: `annual_ingest.with_options(task_runner=
    DaskTaskRunner(...))`, or `UKIHA_DASK_WORKERS` / `UKIHA_DASK_ADDRESS` when this module is
    imported (`flows/task_runners.py`).
    """
    settings = Settings.from_env()
    target = RunTarget.resolve(
        settings, paths, warehouse, reports, fiscal_year, municipality, force=force
    )
    logger = get_run_logger()
    run_id = new_run_id()
    flow_run_id = str(flow_run.id) if flow_run.id else None
    try:
        ctx = load_context(settings)
        found = discover(target.paths)
    except UkihaError as exc:  # nothing can be read: tell whoever waits for the yearly run
        summary = RunSummary(run_id, flow_run_id, (), setup_error=str(exc))
        publish_summary(summary)
        notify(summary, settings)
        raise
    notes = found.notes()  # files of the folders that are not sheets: named, not read
    for note in notes:
        logger.warning(note)
    sheets = found.sheets
    progress = start_progress(len(sheets))
    outcomes: list[SheetOutcome] = []
    stopped = False  # the warehouse could not be used: the rest were not attempted
    for done in ingest_batches(target.batches(sheets), ctx, target, run_id):
        first = len(outcomes) + 1
        if len(done.paths) == 1:
            logger.info("sheet %d/%d: %s", first, len(sheets), done.paths[0])
        else:
            logger.info("sheets %d-%d/%d", first, first + len(done.paths) - 1, len(sheets))
        stopped = stopped or done.stop
        if done.results:
            publish_batch_artifacts(as_is(done.results))
        for result in done.results:  # what a sheet's steward should know that is no failure
            for note in result.notes:
                logger.warning("%s: %s", result.source_file, note)
                notes.append(f"{result.source_file}: {note}")
        for outcome in done.outcomes:
            outcomes.append(outcome)
            log_outcome(outcome, len(outcomes), len(sheets))
        update_progress_artifact(progress, 100.0 * len(outcomes) / len(sheets))
    # files of this run that claim one year, and which one the year is loaded from (the others,
    # left in the folder, stay unloaded: `current_loads`)
    claims = [o for o in outcomes if o.status in ("loaded", "unchanged")]
    same_year = same_year_notes(
        ((o.source_file, o.municipality, o.fiscal_year) for o in claims), year_loads(claims)
    )
    for note in same_year:
        logger.warning(note)
    notes += same_year
    reports_error = None if stopped else render_step(target, ctx)
    summary = RunSummary(run_id, flow_run_id, tuple(outcomes), reports_error, tuple(notes))
    publish_summary(summary)
    notify(summary, settings)
    logger.info(summary.headline())
    summary.raise_if_failed()
    return [o.as_dict() for o in outcomes]


@contextmanager
def one_shot() -> Iterator[None]:
    """Around a flow run in a process that ends with it (`ukiha ingest`): no flow-run
    heartbeats, unless the user configured them (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` in the
    environment or the Prefect profile).

    Prefect 3.9's sync engine sends heartbeats from a thread that sleeps in steps of 1 s and
    joins it when the run ends, so every run waits up to 1 s more (a trivial flow: 1.14 s
    with, 0.17 s without; `ukiha ingest` of R3 against a running server ~0.6 s less, see
    benchmarks/prefect_server.py). Heartbeats let an automation mark a deployment's
    run whose process died as crashed; the served deployment (flows/deployments.py) keeps
    Prefect's default.
    """
    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
