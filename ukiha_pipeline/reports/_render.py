"""Render every report from the warehouse into one folder (DESIGN §6).

Each page records a fingerprint of what it was rendered from: the rows it reads (hashed in
DuckDB), the rating legend and this package's code. A page whose fingerprint has not changed
is left as it is, so that a run over a warehouse of many sheets re-renders only the pages of
the sheets that changed (and the index).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import duckdb
import great_tables

from ukiha_pipeline.errors import ReportError
from ukiha_pipeline.reports._annual import AnnualPage, annual_pages, render_annual
from ukiha_pipeline.reports._format import DEFAULT_RATING_LEGEND
from ukiha_pipeline.reports._index import render_index
from ukiha_pipeline.reports._page import INDEX_FILENAME, page_fingerprint, write_page
from ukiha_pipeline.reports._trends import TrendsPage, render_trends, trends_pages
from ukiha_pipeline.reports._validation import (
    ValidationPage,
    render_validation,
    validation_pages,
)
from ukiha_pipeline.warehouse.schema import FACT_TABLES  # the rows a page shows


@dataclass(frozen=True)
class _Job:
    filename: str
    fingerprint: str
    render: Callable[[str], str]  # fingerprint → page


def render_all(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    *,
    fiscal_year: int | None = None,
    rating_legend: Mapping[str, str] | None = None,
    force: bool = False,
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
    """
    legend = dict(rating_legend or DEFAULT_RATING_LEGEND)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the reports folder {out_dir}: {exc}") from exc

    base = _code_version() + repr(sorted(legend.items()))
    years = _year_hashes(con)
    files = _file_hashes(con)

    def fingerprint(*parts: object) -> str:
        return hashlib.sha256(repr((base, *parts)).encode()).hexdigest()[:32]

    jobs: list[_Job] = []
    annual = annual_pages(con)
    for page in annual:
        if fiscal_year is None or page.fiscal_year == fiscal_year:
            facts = years.get((page.municipality, page.fiscal_year))
            jobs.append(
                _Job(
                    page.filename,
                    fingerprint("annual", page, facts),
                    partial(_annual, con, page, legend),
                )
            )
    validation = validation_pages(con)
    for vpage in validation:
        runs = [(run, files.get(run.source_file)) for run in vpage.runs]
        jobs.append(
            _Job(
                vpage.filename,
                fingerprint("validation", vpage.stem, runs),
                partial(_validation, con, vpage),
            )
        )
    trends = trends_pages(con)
    for tpage in trends:
        shown = sorted((k, v) for k, v in years.items() if tpage.municipality in (None, k[0]))
        others = [p.filename for p in trends] if tpage.municipality is None else []
        jobs.append(
            _Job(
                tpage.filename,
                fingerprint("trends", tpage, shown, others),
                partial(_trends, con, tpage, legend, trends),
            )
        )

    written: list[Path] = []
    for job in jobs:
        path = out_dir / job.filename
        if force or page_fingerprint(path) != job.fingerprint:
            write_page(path, job.render(job.fingerprint))
        written.append(path)

    present = {p.name for p in written}
    index = render_index(
        con,
        annual=[p for p in annual if p.filename in present or (out_dir / p.filename).is_file()],
        trends=trends,
        validation=validation,
    )
    written.append(write_page(out_dir / INDEX_FILENAME, index))
    return written


def _annual(
    con: duckdb.DuckDBPyConnection, page: AnnualPage, legend: Mapping[str, str], fp: str
) -> str:
    return render_annual(con, page, legend, fingerprint=fp)


def _validation(con: duckdb.DuckDBPyConnection, page: ValidationPage, fp: str) -> str:
    return render_validation(con, page, fingerprint=fp)


def _trends(
    con: duckdb.DuckDBPyConnection,
    page: TrendsPage,
    legend: Mapping[str, str],
    pages: Sequence[TrendsPage],
    fp: str,
) -> str:
    return render_trends(con, page, legend, pages=pages, fingerprint=fp)


@cache
def _code_version() -> str:
    """This package's code (as loaded) and the great-tables version: a change re-renders
    every page."""
    digest = hashlib.sha256(great_tables.__version__.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


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
    """A content hash per sheet file of its failures (every run) and its loads."""
    rows = con.execute(
        """
        SELECT source_file, count(*), sum(h::HUGEINT)::VARCHAR FROM (
            SELECT source_file, hash(t) AS h FROM validation_failures t
            UNION ALL
            SELECT source_file, hash(t) FROM sheets t
        ) GROUP BY ALL
        """
    ).fetchall()
    return {f: f"{n}:{h}" for f, n, h in rows}
