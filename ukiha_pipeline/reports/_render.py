"""Render every report from the warehouse into one folder (DESIGN §6).

Each page records a fingerprint of what it was rendered from: the rows it reads (hashed in
DuckDB), the rating legend and this package's code. A page whose fingerprint has not changed
is left as it is, so that a run over a warehouse of many sheets re-renders only the pages of
the sheets that changed (and the index, when a sheet or a failure changed).

Pages to render are read and rendered in chunks (`_RenderChunk`: each page module reads the
rows of a chunk of pages in one query per section), in this process or in worker processes
(`_parallel`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import great_tables

from ukiha_pipeline.errors import ReportError, UkihaError
from ukiha_pipeline.reports._annual import (
    AnnualPage,
    annual_html,
    annual_pages,
    read_annual,
    split_notices,
)
from ukiha_pipeline.reports._format import DEFAULT_RATING_LEGEND
from ukiha_pipeline.reports._index import render_index
from ukiha_pipeline.reports._page import INDEX_FILENAME, page_fingerprint, write_page
from ukiha_pipeline.reports._parallel import for_each_chunk
from ukiha_pipeline.reports._trends import TrendsPage, read_trends, trends_html, trends_pages
from ukiha_pipeline.reports._validation import (
    ValidationPage,
    read_validation,
    validation_html,
    validation_pages,
)
from ukiha_pipeline.settings import Settings
from ukiha_pipeline.warehouse.schema import (
    FACT_TABLES,
    table_or_empty,
)  # FACT_TABLES: the rows a page shows

Page = AnnualPage | ValidationPage | TrendsPage


@dataclass(frozen=True)
class _Job:
    filename: str
    fingerprint: str
    page: Page


def render_all(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    *,
    fiscal_year: int | None = None,
    rating_legend: Mapping[str, str] | None = None,
    force: bool = False,
    workers: int | None = None,
) -> list[Path]:
    """Write the HTML reports into `out_dir` (created) and return the paths of the reports.

    - `annual_<FY>.html` per fiscal year with a current sheet (`annual_<FY>_<municipality>.html`
      when that year holds several municipalities); with `fiscal_year`, only that year's;
    - `validation_<stem>.html` per sheet file in `validation_failures` or `sheets`;
    - `trends.html`, always (with several municipalities, a comparison linking one
      `trends_<municipality>.html` each);
    - `index.html`, always, last. It links the annual pages written now and those of other
      years already in `out_dir`.

    A page already in `out_dir` that was rendered from the same data by the same code is kept
    (its path is still returned); `force` renders every page again. Output depends only on the
    warehouse (times shown are the warehouse's, in JST). `rating_legend` maps A-E to their
    words (default: DESIGN §2).

    Pages are rendered in up to `workers` processes (default `UKIHA_REPORT_WORKERS`, the
    number of cores) when `con` is a read-only connection to a warehouse file and enough pages
    need rendering (`_parallel`); the pages are the same either way. An error while rendering
    is a `ReportError` naming the page; pages written before it stay (each is written whole).
    """
    legend = dict(rating_legend or DEFAULT_RATING_LEGEND)
    if workers is None:
        workers = Settings.from_env().report_workers
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the reports folder {out_dir}: {exc}") from exc

    base = _code_version() + repr(sorted(legend.items())) + _view_definitions(con)
    years = _year_hashes(con)
    files = _file_hashes(con)

    def fingerprint(*parts: object) -> str:
        return hashlib.sha256(repr((base, *parts)).encode()).hexdigest()[:32]

    jobs: list[_Job] = []
    annual = annual_pages(con)
    for page in annual:
        if fiscal_year is None or page.fiscal_year == fiscal_year:
            facts = years.get((page.municipality, page.fiscal_year))
            jobs.append(_Job(page.filename, fingerprint("annual", page, facts), page))
    validation = validation_pages(con)
    for vpage in validation:
        runs = [(run, files.get(run.source_file)) for run in vpage.runs]
        jobs.append(_Job(vpage.filename, fingerprint("validation", vpage.stem, runs), vpage))
    trends = trends_pages(con)
    for tpage in trends:
        shown = sorted((k, v) for k, v in years.items() if tpage.municipality in (None, k[0]))
        others = [p.filename for p in trends] if tpage.municipality is None else []
        jobs.append(_Job(tpage.filename, fingerprint("trends", tpage, shown, others), tpage))

    stale = [j for j in jobs if force or page_fingerprint(out_dir / j.filename) != j.fingerprint]
    stale.sort(key=_batch_order)
    render = _RenderChunk(out_dir.absolute(), legend, tuple(trends))
    for_each_chunk(con, render, stale, workers=workers)
    written = [out_dir / job.filename for job in jobs]

    # a year's single summary, since split by municipality: its bookmarks find the new pages
    for filename, text in split_notices(annual).items():
        old = out_dir / filename
        if old.is_file() and old.read_text(encoding="utf-8", errors="replace") != text:
            write_page(old, text)

    present = {p.name for p in written}
    linked = [p for p in annual if p.filename in present or (out_dir / p.filename).is_file()]
    # The index shows the sheets and failures of every file (`files`) and links these pages.
    index_path = out_dir / INDEX_FILENAME
    index_fingerprint = fingerprint("index", linked, trends, sorted(files.items()))
    if force or page_fingerprint(index_path) != index_fingerprint:
        index = render_index(
            con,
            annual=linked,
            trends=trends,
            validation=validation,
            fingerprint=index_fingerprint,
        )
        write_page(index_path, index)
    written.append(index_path)
    return written


def _batch_order(job: _Job) -> tuple[int, str, int, str]:
    """Pages of one kind together, a municipality's years together: a chunk of pages then
    reads few rows it does not show (`_batch`). The slowest kind first, so that workers end
    together on the quick validation pages."""
    page = job.page
    if isinstance(page, TrendsPage):
        return (0, page.municipality or "", 0, job.filename)
    if isinstance(page, AnnualPage):
        return (1, page.municipality, page.fiscal_year, job.filename)
    return (2, "", 0, job.filename)


@dataclass(frozen=True)
class _RenderChunk:
    """Render and write a chunk of pages: each kind's rows read in one query per section, then
    page by page. Picklable, so that a worker process can run it (`_parallel`)."""

    out_dir: Path
    legend: dict[str, str]
    trends: tuple[TrendsPage, ...]  # every trends page: the comparison links them

    def __call__(self, con: duckdb.DuckDBPyConnection, jobs: Sequence[_Job]) -> None:
        annual = [j.page for j in jobs if isinstance(j.page, AnnualPage)]
        validation = [j.page for j in jobs if isinstance(j.page, ValidationPage)]
        trends = [j.page for j in jobs if isinstance(j.page, TrendsPage)]
        try:
            annual_rows = read_annual(con, annual) if annual else {}
            validation_rows = read_validation(con, validation) if validation else {}
            trends_rows = read_trends(con, trends) if trends else {}
        except duckdb.Error as exc:
            names = ", ".join(j.filename for j in jobs[:3]) + (", …" if len(jobs) > 3 else "")
            raise ReportError(f"cannot read the rows of the reports {names}: {exc}") from exc
        for job in jobs:
            page = job.page
            try:
                if isinstance(page, AnnualPage):
                    text = annual_html(
                        page, annual_rows[page], self.legend, fingerprint=job.fingerprint
                    )
                elif isinstance(page, ValidationPage):
                    text = validation_html(page, validation_rows, fingerprint=job.fingerprint)
                else:
                    text = trends_html(
                        page,
                        trends_rows[page],
                        self.legend,
                        pages=self.trends,
                        fingerprint=job.fingerprint,
                    )
            except UkihaError:
                raise
            except Exception as exc:
                raise ReportError(
                    f"cannot render report {job.filename}: {type(exc).__name__}: {exc}"
                ) from exc
            write_page(self.out_dir / job.filename, text)


@cache
def _code_version() -> str:
    """This package's code (as loaded) and the great-tables version: a change re-renders
    every page."""
    digest = hashlib.sha256(great_tables.__version__.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _view_definitions(con: duckdb.DuckDBPyConnection) -> str:
    """The SQL of the warehouse's views, which the pages read (a changed progress formula
    re-renders them): as stored in the warehouse, whose last writer defined them."""
    rows = con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
    ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _year_hashes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], str]:
    """A content hash per (municipality, fiscal year) of its facts and its current sheets."""
    union = " UNION ALL ".join(
        f"SELECT municipality, fiscal_year, hash(t) AS h FROM {table} t" for table in FACT_TABLES
    )
    rows = con.execute(
        f"""
        SELECT municipality, fiscal_year, count(*), sum(h::HUGEINT)::VARCHAR FROM (
            {union}
            UNION ALL
            SELECT municipality, fiscal_year, hash(t) FROM sheets t WHERE status = 'current'
        ) GROUP BY ALL
        """
    ).fetchall()
    return {(m, fy): f"{n}:{h}" for m, fy, n, h in rows}


def _file_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """A content hash per sheet file of its failures (every run), its loads and the runs that
    found it fine again after a fatal one."""
    rows = con.execute(
        f"""
        SELECT source_file, count(*), sum(h::HUGEINT)::VARCHAR FROM (
            SELECT source_file, hash(t) AS h FROM validation_failures t
            UNION ALL
            SELECT source_file, hash(t) FROM sheets t
            UNION ALL
            SELECT source_file, hash(t) FROM {table_or_empty(con, "restored_files")} t
        ) GROUP BY ALL
        """
    ).fetchall()
    return {f: f"{n}:{h}" for f, n, h in rows}
