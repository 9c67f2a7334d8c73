"""The reports in a real browser: headless Chromium opens each page from disk, offline, and the
DOM it built is checked for key cells, for sheet markup shown as text, and for anything that
would fetch. Each load also takes a screenshot (kept under pytest's tmp folder, and copied to
`UKIHA_SCREENSHOT_DIR` when set).

`r3_reports` is the real FY2021 sheet alone; `multi_year_reports` adds SYNTHETIC FY2022 and
FY2023 sheets made from it (see `conftest.synthetic_year`), with markup in sheet cells.
"""

from __future__ import annotations

from urllib.parse import unquote

import duckdb
import pytest
from report_helpers import MARKUP, Browser, Node, Rendered

#: Attributes that make a browser fetch or run something.
_FETCHING_ATTRS = ("src", "srcset", "data", "action", "formaction", "poster", "background")
_FORBIDDEN_TAGS = ("img", "script", "link", "iframe", "frame", "object", "embed", "base")


def assert_offline_and_safe(dom: Node, rendered: Rendered, name: str) -> None:
    """Nothing in the page can fetch or run: no such elements, attributes or CSS, and every
    link is an in-page anchor or another report in the same folder."""
    for tag in _FORBIDDEN_TAGS:
        assert not dom.find_all(tag), f"{name}: <{tag}> element in the DOM"
    for node in dom.iter():
        for attr, value in node.attrs.items():
            assert attr not in _FETCHING_ATTRS, f"{name}: {attr}= on <{node.tag}>"
            assert not attr.startswith("on"), f"{name}: event handler {attr}= on <{node.tag}>"
            assert "url(" not in value.lower(), f"{name}: url( in {attr}= on <{node.tag}>"
        if "href" in node.attrs:
            target = node.attrs["href"]
            assert target.startswith("#") or (rendered.reports / unquote(target)).is_file(), (
                f"{name}: link to {target!r} is not a report in the folder"
            )
    for style in dom.find_all("style"):
        css = style.text().lower()
        assert "url(" not in css and "@import" not in css, f"{name}: CSS fetches"
    html = dom.find_all("html")
    assert html and html[0].attrs.get("lang") == "ja", name
    assert dom.find_all("meta", charset="utf-8"), name


def _text(node: Node) -> str:
    return " ".join(node.text().split())


def row_with(table: Node, text: str) -> list[str]:
    """The cells of the first body row of `table` with a cell containing `text`."""
    return [_text(td) for td in _row_node(table, text).find_all("td")]


def _row_node(table: Node, text: str) -> Node:
    for tr in table.find_all("tr"):
        tds = tr.find_all("td")
        if tds and not tr.find_all("th") and any(text in _text(td) for td in tds):
            return tr
    raise AssertionError(f"no row with {text!r} in table {table.attrs.get('id')}")


def cell(table: Node, row_text: str, column: str) -> str:
    """The text of the cell in column `column` (its heading) of the first row with `row_text`;
    cells name their column heading in `headers`, so spanners and row groups do not matter."""
    heads = [th for th in table.find_all("th") if _text(th) == column and "id" in th.attrs]
    assert len(heads) == 1, f"{len(heads)} headings {column!r} in {table.attrs.get('id')}"
    column_id = heads[0].attrs["id"]
    for td in _row_node(table, row_text).find_all("td"):
        if td.attrs.get("headers", "").split()[-1:] == [column_id]:
            return _text(td)
    raise AssertionError(f"row {row_text!r} has no cell in column {column!r}")


@pytest.fixture(scope="module")
def r3_doms(r3_reports: Rendered, browser: Browser) -> dict[str, Node]:
    """Every R3 report loaded once in Chromium (with a screenshot each)."""
    return {
        page.name: browser.load(page, screenshot=f"R3_{page.stem}") for page in r3_reports.pages
    }


@pytest.fixture(scope="module")
def multi_doms(multi_year_reports: Rendered, browser: Browser) -> dict[str, Node]:
    return {
        page.name: browser.load(page, screenshot=f"R3-R5_SYNTHETIC_{page.stem}")
        for page in multi_year_reports.pages
    }


def test_r3_pages_are_the_expected_ones(r3_reports: Rendered) -> None:
    assert [p.name for p in r3_reports.pages] == [
        "annual_2021.html",
        "validation_ukiha_pdca_R3_FY2021.html",
        "trends.html",
        "index.html",
    ]


def test_r3_every_page_offline_and_safe(r3_doms: dict[str, Node], r3_reports: Rendered) -> None:
    for name, dom in r3_doms.items():
        assert_offline_and_safe(dom, r3_reports, name)
        assert dom.find_all("h1") and dom.find_all("table"), name


def test_r3_annual_in_browser(r3_doms: dict[str, Node], r3_reports: Rendered) -> None:
    dom = r3_doms["annual_2021.html"]
    kpis = dom.by_id("annual-kpis")
    farmers = "新規就農者数"
    assert cell(kpis, farmers, "最新値") == "207人"
    assert cell(kpis, farmers, "現状値") == "179人"
    assert cell(kpis, farmers, "時点") == "2021年度"
    assert cell(kpis, farmers, "判定") == "○"
    assert cell(kpis, farmers, "進捗率") == "54.9%"
    # Values in the scale the sheet wrote them (万, 千円), with separators.
    assert cell(kpis, "観光入込客数", "最新値") == "190万人"
    income = "市民一人当たりの年間所得額"
    assert cell(kpis, income, "最新値") == "2,439千円"
    assert cell(kpis, income, "判定") == "—"  # as of FY2019: before the period
    assert cell(kpis, "自主防災組織率", "最新値") == "88%"

    policies = dom.by_id("annual-policies")
    first = row_with(policies, "1 うきはの資源活用と新たな雇用の創出")
    assert first[1:7] == ["23", "2", "1", "1", "0", "27"]  # A B C D E 計
    assert row_with(policies, "合計")[1:7] == ["48", "22", "18", "3", "8", "99"]
    with duckdb.connect(str(r3_reports.warehouse), read_only=True) as con:
        n_a = con.execute("SELECT count(*) FROM projects WHERE rating = 'A'").fetchone()
    assert n_a == (48,)
    # The rating legend is the footnote of the rating tables.
    assert "A 順調、B 概ね順調、C やや遅れ、D 遅れ、E 未実施・中止" in policies.text()
    # Source notes: file name, hash, run id.
    assert "ukiha_pdca_R3_FY2021.txt" in policies.text() and "test-run-1" in policies.text()

    departments = dom.by_id("annual-departments")
    brand = row_with(departments, "うきはブランド推進課")
    assert brand[1:7] == ["24", "12", "3", "1", "3", "43"]
    assert "・産地形成による作物栽培支援" in row_with(departments, "農林振興課")[-1]


def test_r3_validation_in_browser(r3_doms: dict[str, Node]) -> None:
    dom = r3_doms["validation_ukiha_pdca_R3_FY2021.html"]
    failures = dom.by_id("validation")
    lines = [row[0] for row in failures.rows() if row and row[0].isdigit()]
    assert lines == ["90", "146", "147"]
    message = "事業化「×」と進捗状況「C」が合いません"
    assert cell(failures, message, "行") == "90"
    assert cell(failures, message, "チェック") == "flag_rating_mismatch"
    summary = dom.by_id("validation-checks")
    assert row_with(summary, "flag_rating_mismatch")[:4] == [
        "警告",
        "flag_rating_mismatch",
        "3",
        "90",
    ]


def test_r3_trends_and_index_in_browser(r3_doms: dict[str, Node]) -> None:
    trends = r3_doms["trends.html"]
    kpis = trends.by_id("trends-kpis")
    assert cell(kpis, "新規就農者数", "2021年度") == "207人"
    assert "年度が1つだけなので" in trends.text()
    index = r3_doms["index.html"]
    links = {a.attrs["href"] for a in index.find_all("a")}
    assert {
        "annual_2021.html",
        "trends.html",
        "validation_ukiha_pdca_R3_FY2021.html",
    } <= links
    status = row_with(index.by_id("index-sheets"), "ukiha_pdca_R3_FY2021.txt")
    assert status[1].startswith("✓ 読込済み・事業 99・KPI 17・エラー 0・警告 3 ")


def test_multi_year_every_page_offline_and_safe(
    multi_doms: dict[str, Node], multi_year_reports: Rendered
) -> None:
    assert set(multi_doms) == {
        "annual_2023.html",
        "annual_2022.html",
        "annual_2021.html",
        "validation_ukiha_pdca_R3_FY2021.html",
        "validation_SYNTHETIC_ukiha_pdca_R4_FY2022.html",
        "validation_SYNTHETIC_ukiha_pdca_R5_FY2023.html",
        "trends.html",
        "index.html",
    }
    for name, dom in multi_doms.items():
        assert_offline_and_safe(dom, multi_year_reports, name)


def test_markup_in_a_sheet_cell_is_text_in_every_report_that_shows_it(
    multi_doms: dict[str, Node],
) -> None:
    showing = [name for name, dom in multi_doms.items() if MARKUP in dom.text()]
    assert sorted(showing) == [
        "annual_2022.html",
        "annual_2023.html",
        "trends.html",
        "validation_SYNTHETIC_ukiha_pdca_R4_FY2022.html",
    ]
    for name, dom in multi_doms.items():
        assert not dom.find_all("img"), name
    failures = multi_doms["validation_SYNTHETIC_ukiha_pdca_R4_FY2022.html"].by_id("validation")
    assert cell(failures, "rating_invalid", "値") == MARKUP
    message = cell(failures, "rating_invalid", "内容と対処")
    assert f"進捗状況「{MARKUP}」は A/B/C/D/E のどれでもありません" in message


def test_multi_year_values_in_browser(multi_doms: dict[str, Node]) -> None:
    kpis = multi_doms["annual_2022.html"].by_id("annual-kpis")
    assert cell(kpis, "新規就農者数", "最新値") == "215人"
    assert cell(kpis, "新規就農者数", "時点") == "2022年度"

    trends = multi_doms["trends.html"]
    series = trends.by_id("trends-kpis")
    assert [cell(series, "新規就農者数", f"{y}年度") for y in (2021, 2022, 2023)] == [
        "207人",
        "215人",
        "223人",
    ]
    assert cell(series, "新規就農者数", "目標値") == "230人"
    assert trends.find_all("svg")  # the series drawn inline

    transitions = trends.by_id("trends-transitions")
    labels = ["改善 ↑", "悪化 ↓", "変化なし", "中止 →E", "新規", "掲載なし"]
    counts = {label: int(cell(transitions, "2021年度 → 2022年度", label)) for label in labels}
    assert counts["掲載なし"] == 1  # the FY2022 row with the markup rating was quarantined
    assert counts["中止 →E"] >= 1 and counts["改善 ↑"] >= 1 and counts["悪化 ↓"] >= 1
    assert sum(counts.values()) == 99
    assert cell(transitions, "2022年度 → 2023年度", "新規") == "1"  # and came back in FY2023

    projects = trends.by_id("trends-projects")
    changes = {row[-1] for row in projects.rows() if len(row) > 3}
    assert {"改善 ↑", "悪化 ↓", "変化なし", "中止 →E", "新規"} <= changes
    assert "−" in trends.by_id("trends-departments").text() or "+" in trends.text()

    index = multi_doms["index.html"]
    annual = [a.attrs["href"] for a in index.find_all("a") if a.attrs["href"].startswith("annual")]
    assert annual[:3] == ["annual_2023.html", "annual_2022.html", "annual_2021.html"]
    status = row_with(index.by_id("index-sheets"), "SYNTHETIC_ukiha_pdca_R4_FY2022.txt")
    assert status[1].startswith("△ 読込済み・事業 98・KPI 17・エラー 1・警告 3(隔離 1 行) ")
