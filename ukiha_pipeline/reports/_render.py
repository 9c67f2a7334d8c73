"""Render every report from the warehouse into one folder (DESIGN §6)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from ukiha_pipeline.errors import ReportError
from ukiha_pipeline.reports._annual import annual_pages, render_annual
from ukiha_pipeline.reports._format import DEFAULT_RATING_LEGEND
from ukiha_pipeline.reports._index import render_index
from ukiha_pipeline.reports._page import INDEX_FILENAME, write_page
from ukiha_pipeline.reports._trends import TRENDS_FILENAME, TRENDS_TITLE, render_trends
from ukiha_pipeline.reports._validation import render_validation, validation_pages


def render_all(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    *,
    fiscal_year: int | None = None,
    rating_legend: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the HTML reports into `out_dir` (created) and return the paths written.

    - `annual_<FY>.html` per fiscal year with a current sheet (`annual_<FY>_<municipality>.html`
      when that year holds several municipalities); with `fiscal_year`, only that year's;
    - `validation_<stem>.html` per sheet file in `validation_failures` or `sheets`;
    - `trends.html` and `index.html`, always. The index links the annual pages written now
      and those of other years already in `out_dir`.

    Output depends only on the warehouse (times shown are the warehouse's, in JST).
    `rating_legend` maps A-E to their words (default: DESIGN §2).
    """
    legend = dict(rating_legend or DEFAULT_RATING_LEGEND)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the reports folder {out_dir}: {exc}") from exc

    written: list[Path] = []
    annual = annual_pages(con)
    for page in annual:
        if fiscal_year is None or page.fiscal_year == fiscal_year:
            written.append(write_page(out_dir / page.filename, render_annual(con, page, legend)))

    validation = validation_pages(con)
    for vpage in validation:
        written.append(write_page(out_dir / vpage.filename, render_validation(con, vpage)))

    written.append(write_page(out_dir / TRENDS_FILENAME, render_trends(con, legend)))

    present = {p.name for p in written}
    index = render_index(
        con,
        annual=[
            (p.filename, p.link_text)
            for p in annual
            if p.filename in present or (out_dir / p.filename).is_file()
        ],
        trends=[(TRENDS_FILENAME, TRENDS_TITLE)],
        validation=[(p.filename, p.link_text) for p in validation],
    )
    written.append(write_page(out_dir / INDEX_FILENAME, index))
    return written
