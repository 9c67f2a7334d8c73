"""Reports at scale, on SYNTHETIC warehouses cloned by SQL from the real R3 load: thousands of
rows on one page, a thousand sheets (200 municipalities x 5 years), and re-rendering only the
pages whose data changed."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest
from report_helpers import Rendered, many_sheets

from ukiha_pipeline.reports import render_all
from ukiha_pipeline.reports._annual import annual_pages
from ukiha_pipeline.reports._format import DEFAULT_RATING_LEGEND
from ukiha_pipeline.reports._index import render_index
from ukiha_pipeline.reports._trends import render_trends, trends_pages
from ukiha_pipeline.reports._validation import validation_pages
from ukiha_pipeline.warehouse.schema import ON_TRACK_TOLERANCE, VIEWS


@pytest.fixture(scope="module")
def thousand_sheets(r3_reports: Rendered, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("scale") / "thousand.duckdb"
    many_sheets(r3_reports.warehouse, target, 200, range(2021, 2026))
    return target


def test_thousands_of_rows_render(r3_reports: Rendered, tmp_path: Path) -> None:
    """One sheet of 3,000 projects in 30 departments: its annual page and trends."""
    target = tmp_path / "big.duckdb"
    many_sheets(r3_reports.warehouse, target, 1, range(2021, 2023))
    with duckdb.connect(str(target)) as con:
        for table in ("projects", "project_departments"):
            con.execute(
                f"""INSERT INTO {table} BY NAME
                SELECT t.* REPLACE (t.project_key || '-' || i AS project_key
                    {", t.department || (i % 3) AS department" if table != "projects" else ""})
                FROM {table} t, range(1, 30) r(i)"""
            )
        assert con.execute("SELECT count(*) FROM projects WHERE fiscal_year = 2022").fetchone() == (
            2970,
        )
        render_all(con, tmp_path / "reports")  # its time is measured in benchmarks/, not here
    page = (tmp_path / "reports" / "annual_2022.html").read_text(encoding="utf-8")
    assert "事業一覧(" in page and "2,970" in page


def test_a_thousand_sheets_stay_readable(thousand_sheets: Path) -> None:
    """The pages that span sheets (the index, the trends) do not grow into one huge table:
    trends compare municipalities on one page and link one page each; the index has one line
    per sheet, grouped by year."""
    with duckdb.connect(str(thousand_sheets), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM sheets").fetchone() == (1000,)
        pages = trends_pages(con)
        assert len(pages) == 201 and pages[0].filename == "trends.html"
        assert pages[1].filename == "trends_うきは市.html"

        comparison = render_trends(con, pages[0], DEFAULT_RATING_LEGEND, pages=pages)
        one = render_trends(con, pages[1], DEFAULT_RATING_LEGEND, pages=pages)
        index = render_index(
            con, annual=annual_pages(con), trends=pages, validation=validation_pages(con)
        )
    assert comparison.count('href="trends_') == 200
    assert comparison.count("<tr") < 250  # one row per municipality
    assert "2021年度 → 2022年度" in one and "2024年度 → 2025年度" in one
    assert index.count(">✓ 読込済み・事業 99・KPI 17・エラー 0・警告 3<") == 1000
    groups = re.findall(r'class="gt_group_heading"[^>]*>([^<]+)<', index)
    assert groups == [f"{fy}年度（令和{fy - 2018}年度）" for fy in range(2025, 2020, -1)]


def test_only_changed_pages_are_rendered_again(r3_reports: Rendered, tmp_path: Path) -> None:
    target = tmp_path / "small.duckdb"
    many_sheets(r3_reports.warehouse, target, 2, range(2021, 2023))
    out = tmp_path / "reports"
    with duckdb.connect(str(target)) as con:
        first = render_all(con, out)
        before = {p.name: p.stat().st_mtime_ns for p in first}
        time.sleep(0.01)
        again = render_all(con, out)
        assert [p.name for p in again] == [p.name for p in first]
        after = {p.name: p.stat().st_mtime_ns for p in again}
        unchanged = {n for n in before if before[n] == after[n]}
        assert unchanged == set(before)

        con.execute(
            "UPDATE projects SET rating = 'A' WHERE municipality = 'うきは市' AND fiscal_year = 2022"
        )
        time.sleep(0.01)
        third = {p.name: p.stat().st_mtime_ns for p in render_all(con, out)}
        changed = {n for n in third if third[n] != after[n]}
        assert changed == {
            "annual_2022_うきは市.html",
            "trends_うきは市.html",
            "trends.html",  # the comparison of municipalities
        }  # not the index: it shows no ratings

        con.execute(
            "UPDATE sheets SET n_warnings = 4 WHERE municipality = 'うきは市' AND fiscal_year = 2022"
        )
        time.sleep(0.01)
        fourth = {p.name: p.stat().st_mtime_ns for p in render_all(con, out)}
        changed = {n for n in fourth if fourth[n] != third[n]}
        assert changed == {  # a sheet's counts: its pages and the index
            "annual_2022_うきは市.html",
            "validation_うきは市_FY2022.html",
            "trends_うきは市.html",
            "trends.html",
            "index.html",
        }
        assert (
            render_all(con, tmp_path / "forced", force=True)[0].read_bytes()
            == (out / first[0].name).read_bytes()
        )

        # a view's SQL changed (the progress tolerance, by a newer version's writer): the
        # pages are computed from the views, so all of them render again
        con.execute(VIEWS["v_kpi_progress"].replace(f"- {ON_TRACK_TOLERANCE}", "- 0.05"))
        time.sleep(0.01)
        fifth = {p.name: p.stat().st_mtime_ns for p in render_all(con, out)}
        assert {n for n in fifth if fifth[n] != fourth[n]} == set(fifth)


def test_a_year_split_by_municipality_leaves_its_old_page_pointing_to_the_new(
    r3_reports: Rendered, tmp_path: Path
) -> None:
    """`annual_2021.html` (one municipality) becomes `annual_2021_<municipality>.html` once a
    second municipality has a FY2021 sheet. The old file kept the old summary's data under a
    bookmarked name; it now says where the year's pages are."""
    out = tmp_path / "reports"
    single = tmp_path / "single.duckdb"
    many_sheets(r3_reports.warehouse, single, 1, range(2021, 2022))
    with duckdb.connect(str(single)) as con:
        render_all(con, out)
    assert "事業一覧(" in (out / "annual_2021.html").read_text(encoding="utf-8")
    two = tmp_path / "two.duckdb"
    many_sheets(r3_reports.warehouse, two, 2, range(2021, 2022))
    with duckdb.connect(str(two)) as con:
        written = {p.name for p in render_all(con, out)}
    assert {"annual_2021_うきは市.html", "annual_2021_合成市0001.html"} <= written
    notice = (out / "annual_2021.html").read_text(encoding="utf-8")
    assert "市町村ごとのページに分かれました" in notice and "事業一覧(" not in notice
    assert notice.count('href="annual_2021_') == 2
    assert 'href="annual_2021_%E3%81%86%E3%81%8D%E3%81%AF%E5%B8%82.html"' in notice
