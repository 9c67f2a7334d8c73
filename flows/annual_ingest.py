"""The annual ingest flow: thin wiring of the stages (read → parse → validate → load → report)."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.ingest import discover_sheets, new_run_id, summary_markdown
from ukiha_pipeline.parsing import ParsedSheet, parse_grid
from ukiha_pipeline.reading import Grid, read_grid
from ukiha_pipeline.reports import render_all
from ukiha_pipeline.settings import Settings
from ukiha_pipeline.validation import RulesContext, ValidationResult, check_sheet, load_context
from ukiha_pipeline.validation.run import fatal_failure
from ukiha_pipeline.warehouse import LoadOutcome, load_result, open_warehouse


@task(cache_policy=NO_CACHE)
def read_sheet(path: Path) -> Grid:
    return read_grid(path)


@task(cache_policy=NO_CACHE)
def parse_sheet(
    grid: Grid, fiscal_year: int | None, municipality: str | None, default_municipality: str
) -> ParsedSheet:
    return parse_grid(
        grid,
        fiscal_year=fiscal_year,
        municipality=municipality,
        default_municipality=default_municipality,
    )


@task(cache_policy=NO_CACHE)
def validate_sheet(sheet: ParsedSheet, ctx: RulesContext) -> ValidationResult:
    return check_sheet(sheet, ctx)


@task(cache_policy=NO_CACHE)
def load_sheet(
    result: ValidationResult, ctx: RulesContext, warehouse: Path, run_id: str
) -> LoadOutcome:
    with open_warehouse(warehouse) as con:
        return load_result(
            con, result, ctx, run_id=run_id, flow_run_id=str(flow_run.id) if flow_run.id else None
        )


@task(cache_policy=NO_CACHE)
def publish_artifacts(result: ValidationResult) -> None:
    """A table of the sheet's failures and a markdown summary, keyed per sheet for history."""
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


@task(cache_policy=NO_CACHE)
def render_reports(warehouse: Path, out_dir: Path) -> list[Path]:
    with open_warehouse(warehouse, read_only=True) as con:
        return render_all(con, out_dir)


def artifact_key(source_file: str) -> str:
    """Prefect keys allow a-z, 0-9 and '-': the file stem, slugged, plus a short hash."""
    import hashlib

    stem = Path(source_file).stem.lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:40] or "sheet"
    return f"{slug}-{hashlib.sha1(stem.encode()).hexdigest()[:6]}"


@flow(name="annual-ingest", log_prints=False)
def annual_ingest(
    paths: list[str] | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    fiscal_year: int | None = None,
    municipality: str | None = None,
) -> list[dict[str, object]]:
    """Ingest every sheet under `paths` (default data/raw) into the warehouse; render reports."""
    settings = Settings.from_env()
    warehouse_path = Path(warehouse) if warehouse else settings.warehouse
    reports_dir = (
        Path(reports) if reports else (settings.reports_dir or warehouse_path.parent / "reports")
    )
    logger = get_run_logger()
    ctx = load_context(settings)
    run_id = new_run_id()
    outcomes: list[dict[str, object]] = []
    for path in discover_sheets([Path(p) for p in (paths or [str(settings.raw_dir)])]):
        try:
            grid = read_sheet(path)
            sheet = parse_sheet(grid, fiscal_year, municipality, settings.municipality)
        except SheetFatal as exc:
            result = ValidationResult(str(path), None, None, (fatal_failure(exc, ctx),))
        else:
            result = validate_sheet(sheet, ctx)
        outcome = load_sheet(result, ctx, warehouse_path, run_id)
        publish_artifacts(result)
        logger.info(
            "%s: %s FY%s projects=%s quarantined=%s errors=%s warnings=%s",
            outcome.source_file,
            outcome.status,
            outcome.fiscal_year,
            outcome.n_projects,
            outcome.n_quarantined,
            outcome.n_errors,
            outcome.n_warnings,
        )
        outcomes.append(asdict(outcome))
    written = render_reports(warehouse_path, reports_dir)
    logger.info("reports: %d files in %s", len(written), reports_dir)
    return outcomes
