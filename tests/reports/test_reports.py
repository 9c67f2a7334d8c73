"""Reports stage: render a small, hand-built, SYNTHETIC warehouse and check the HTML.

None of the rows below come from a real sheet; values are made up to exercise formatting,
escaping, grouping and file naming.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest

from ukiha_pipeline.errors import ReportError
from ukiha_pipeline.reports import _cells, _page, render_all
from ukiha_pipeline.reports._format import format_as_written
from ukiha_pipeline.reports._trends import transition
from ukiha_pipeline.warehouse.schema import create_all_sql

MARKUP = "<img src=x onerror=alert(1)>"
CITY = "うきは市"


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, object]]
) -> None:
    for row in rows:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


def _sheet(
    sheet_id: str, fy: int, source: str, run_id: str, at: str, **kw: object
) -> dict[str, object]:
    row: dict[str, object] = {
        "sheet_id": sheet_id,
        "municipality": CITY,
        "fiscal_year": fy,
        "source_file": source,
        "source_sha256": f"{sheet_id:0<12}" + "ab" * 26,
        "ingested_at": at,
        "run_id": run_id,
        "status": "current",
        "n_projects": 3,
        "n_kpis": 2,
        "n_quarantined": 0,
        "n_errors": 0,
        "n_warnings": 1,
    }
    row.update(kw)
    return row


def _failure(run_id: str, source: str, at: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "run_id": run_id,
        "source_file": source,
        "line": 1,
        "municipality": CITY,
        "fiscal_year": 2021,
        "entity": "project",
        "column": "rating",
        "check": "flag_rating_mismatch",
        "severity": "warning",
        "value": "A",
        "message": "synthetic message",
        "recorded_at": at,
    }
    row.update(kw)
    return row


def _project(fy: int, key: str, content: str, rating: str, seq: int) -> dict[str, object]:
    return {
        "municipality": CITY,
        "fiscal_year": fy,
        "project_key": key,
        "policy_no": 1,
        "measure_no": 1,
        "submeasure_no": 1,
        "seq": seq,
        "content": content,
        "commercialized": rating != "E",
        "rating": rating,
        "source_line": 80 + seq,
    }


def _kpi(fy: int, key: str, level: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "municipality": CITY,
        "fiscal_year": fy,
        "kpi_key": key,
        "level": level,
        "policy_no": 1,
        "measure_no": 1 if level == "measure" else None,
        "name": f"合成KPI {key}",
        "source_line": 10,
    }
    row.update(kw)
    return row


def build_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """A synthetic two-year warehouse: FY2021 (with failures) and FY2022 (clean)."""
    for stmt in create_all_sql():
        con.execute(stmt)
    _insert(con, "sheets", [
        _sheet("s21old", 2021, "data/raw/r3_sheet.txt", "run-0", "2024-04-01 09:00:00+09",
               status="superseded"),
        _sheet("s21", 2021, "data/raw/r3_sheet.txt", "run-2", "2024-05-01 10:00:00+09"),
        _sheet("s22", 2022, "data/raw/r4_sheet.txt", "run-3", "2024-06-01 10:00:00+09",
               n_warnings=0),
    ])  # fmt: skip
    for fy in (2021, 2022):
        _insert(con, "policies", [{
            "municipality": CITY, "fiscal_year": fy, "policy_no": 1,
            "title": "合成の基本方針", "source_line": 5,
        }])  # fmt: skip
        _insert(con, "measures", [{
            "municipality": CITY, "fiscal_year": fy, "policy_no": 1, "measure_no": 1,
            "title": "合成の施策" + MARKUP, "source_line": 6,
        }])  # fmt: skip
    _insert(con, "projects", [
        _project(2021, "p1", MARKUP, "A", 1),
        _project(2021, "p2", "合成事業その2", "A", 2),
        _project(2021, "p3", "合成事業その3", "E", 3),
        _project(2022, "p1", MARKUP, "B", 1),
        _project(2022, "p2", "合成事業その2", "A", 2),
    ])  # fmt: skip
    _insert(
        con,
        "project_departments",
        [
            {"municipality": CITY, "fiscal_year": 2021, "project_key": k, "department": "合成課"}
            for k in ("p1", "p2", "p3")
        ],
    )
    _insert(con, "kpis", [
        _kpi(2021, "k1", "policy", baseline_value=1_500_000.0, baseline_unit="円",
             target_value=2_000_000.0, target_unit="円", latest_value=1_900_000.0,
             latest_unit="円", latest_year=2021, latest_year_kind="fiscal"),
        _kpi(2021, "k2", "measure", baseline_value=35.9, baseline_unit="%",
             target_value=40.0, target_unit="%"),
        _kpi(2022, "k1", "policy", baseline_value=1_500_000.0, baseline_unit="円",
             target_value=2_000_000.0, target_unit="円", latest_value=2_100_000.0,
             latest_unit="円", latest_year=2022, latest_year_kind="fiscal"),
    ])  # fmt: skip
    _insert(con, "validation_failures", [
        # An older run of the same file: must not show.
        _failure("run-1", "data/raw/r3_sheet.txt", "2024-04-30 10:00:00+09",
                 message="古い実行の合成メッセージ", line=7),
        _failure("run-2", "data/raw/r3_sheet.txt", "2024-05-01 10:00:00+09", line=90,
                 value=MARKUP, message="合成: 事業化フラグと進捗状況が一致しません",
                 hint="フラグか進捗状況を直してください", row_text="①\t合成課\t" + MARKUP),
        _failure("run-2", "data/raw/r3_sheet.txt", "2024-05-01 10:00:00+09", line=120,
                 severity="error", check="rating_invalid", value="Ｚ",
                 message="合成: 進捗状況がA-Eではありません"),
        # Failures of r4 fixed by a later, clean load (run-3): the page must say it is clean.
        _failure("run-2b", "data/raw/r4_sheet.txt", "2024-05-31 10:00:00+09",
                 fiscal_year=2022, message="解消済みの合成メッセージ"),
        _failure("run-9", "data/raw/broken.txt", "2024-05-02 10:00:00+09", line=None,
                 fiscal_year=None, entity="sheet", column=None, severity="fatal",
                 check="unreadable_file", value=None, message="合成: 読めないファイル"),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Path], Path]]:
    """Render once per module: the tests below only read the pages."""
    tmp = tmp_path_factory.mktemp("synthetic")
    con = duckdb.connect(str(tmp / "synthetic.duckdb"))
    build_warehouse(con)
    out = tmp / "reports"
    yield render_all(con, out), out
    con.close()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_expected_files(rendered: tuple[list[Path], Path]) -> None:
    written, out = rendered
    names = {p.name for p in written}
    assert names == {
        "annual_2021.html",
        "annual_2022.html",
        "validation_r3_sheet.html",
        "validation_r4_sheet.html",
        "validation_broken.html",
        "trends.html",
        "index.html",
    }
    assert all(p.parent == out and p.is_file() for p in written)
    assert written[-1].name == "index.html"


def test_annual_page(rendered: tuple[list[Path], Path]) -> None:
    page = _read(rendered[1] / "annual_2021.html")
    assert '<meta charset="utf-8">' in page
    assert "1,900,000円" in page  # KPI latest value with thousands separators and unit
    assert "1,500,000円" in page and "2,000,000円" in page
    assert "80.0%" in page  # progress (1.9M - 1.5M) / (2.0M - 1.5M)
    assert "2021年度" in page
    assert "○" in page  # 0.8 >= elapsed share 0.2 in FY2021
    assert not re.search(r">\s*(None|nan|NaN|NaT|&lt;NA&gt;)\s*<", page)
    # Policy 1 has 2 A and 1 E projects of 3.
    policy = re.search(r'<div id="annual-policies".*?</table>', page, re.S)
    assert policy is not None
    cells = re.findall(r'<td headers="[^"]*-(a|b|c|d|e|total)"[^>]*>([^<]*)</td>', policy.group(0))
    assert ("a", "2") in cells and ("e", "1") in cells and ("total", "3") in cells
    assert "A 順調" in page and "E 未実施・中止" in page
    assert "data/raw/r3_sheet.txt" in page
    full_sha = "s21000000000" + "ab" * 26
    assert f"<dd>{full_sha}</dd>" in page  # the sheet's whole hash in the facts
    assert "sha256 s21000000000," in page  # cut to 12 in each table's source note
    assert "run-2" in page
    assert "合成課" in page


def test_validation_page(rendered: tuple[list[Path], Path]) -> None:
    page = _read(rendered[1] / "validation_r3_sheet.html")
    assert "合成: 事業化フラグと進捗状況が一致しません" in page
    assert ">90<" in page and ">120<" in page
    assert "古い実行の合成メッセージ" not in page  # only the latest run
    assert page.index("エラー (error)") < page.index("警告 (warning)")  # grouped, in order
    assert "フラグか進捗状況を直してください" in page
    clean = _read(rendered[1] / "validation_r4_sheet.html")
    assert "問題は見つかりませんでした" in clean
    assert "解消済みの合成メッセージ" not in clean  # an earlier run, superseded by a clean load
    fatal = _read(rendered[1] / "validation_broken.html")
    assert "合成: 読めないファイル" in fatal and "致命的" in fatal


def test_sheet_text_is_escaped_everywhere(rendered: tuple[list[Path], Path]) -> None:
    written, _ = rendered
    for name in ("annual_2021.html", "validation_r3_sheet.html", "trends.html"):
        page = _read(next(p for p in written if p.name == name))
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, name
    for path in written:
        page = _read(path)
        assert "<img src=x" not in page, path.name
        assert "<script" not in page.lower(), path.name
        assert "http://" not in page and "https://" not in page, path.name
        assert "<link" not in page.lower() and "@import" not in page, path.name
        assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page


def test_trends_and_index(rendered: tuple[list[Path], Path]) -> None:
    out = rendered[1]
    trends = _read(out / "trends.html")
    assert "1,900,000円" in trends and "2,100,000円" in trends
    assert "2021年度" in trends and "2022年度" in trends
    assert "悪化 ↓" in trends  # p1: A → B
    index = _read(out / "index.html")
    for name in ("annual_2022.html", "annual_2021.html", "trends.html", "validation_r3_sheet.html"):
        assert f'href="{name}"' in index
    assert index.index("annual_2022.html") < index.index("annual_2021.html")  # newest first
    assert "data/raw/r4_sheet.txt" in index and "data/raw/broken.txt" in index
    assert "読み込まれていません(致命的 1 件)" in index  # one status line per sheet file
    assert "✓ 読込済み・事業 3・KPI 2・エラー 0・警告 0" in index


def test_deterministic(rendered: tuple[list[Path], Path], tmp_path: Path) -> None:
    """Same warehouse, same bytes (a fresh connection, another folder)."""
    con = duckdb.connect()
    build_warehouse(con)
    first = {p.name: p.read_bytes() for p in rendered[0]}
    second = {p.name: p.read_bytes() for p in render_all(con, tmp_path)}
    assert first == second


def test_fiscal_year_and_several_municipalities(tmp_path: Path) -> None:
    con = duckdb.connect()
    build_warehouse(con)
    _insert(con, "sheets", [
        _sheet("other", 2021, "data/raw/other.txt", "run-5", "2024-05-03 10:00:00+09",
               municipality="合成町"),
    ])  # fmt: skip
    written = {p.name for p in render_all(con, tmp_path, fiscal_year=2021)}
    assert {"annual_2021_うきは市.html", "annual_2021_合成町.html"} <= written
    assert "annual_2022.html" not in written and "annual_2021.html" not in written
    assert not (tmp_path / "annual_2022.html").exists()
    index = _read(tmp_path / "index.html")
    assert "annual_2022.html" not in index  # not written, so not linked
    assert f'href="{quote("annual_2021_合成町.html")}"' in index
    # Another year's page already in the folder stays linked when only FY2021 is rendered.
    (tmp_path / "annual_2022.html").write_text("<!DOCTYPE html>", encoding="utf-8")
    render_all(con, tmp_path, fiscal_year=2021)
    assert 'href="annual_2022.html"' in _read(tmp_path / "index.html")


def test_same_stem_shares_one_page(tmp_path: Path) -> None:
    """`r3_sheet.txt` and `r3_sheet.xlsx` both map to `validation_r3_sheet.html`."""
    con = duckdb.connect()
    build_warehouse(con)
    _insert(con, "validation_failures", [
        _failure("run-7", "data/raw/r3_sheet.xlsx", "2024-05-05 10:00:00+09", line=12,
                 worksheet="PDCA", message="合成: ブックの問題"),
    ])  # fmt: skip
    written = [p.name for p in render_all(con, tmp_path)]
    assert written.count("validation_r3_sheet.html") == 1
    page = _read(tmp_path / "validation_r3_sheet.html")
    assert "data/raw/r3_sheet.xlsx" in page and "data/raw/r3_sheet.txt" in page
    assert "合成: ブックの問題" in page and "ワークシート" in page and ">PDCA<" in page


def test_single_year(tmp_path: Path) -> None:
    con = duckdb.connect()
    build_warehouse(con)
    for table in ("sheets", "policies", "measures", "projects", "kpis"):
        con.execute(f"DELETE FROM {table} WHERE fiscal_year = 2022")
    render_all(con, tmp_path)
    trends = _read(tmp_path / "trends.html")
    assert "2021年度" in trends and "2022年度" not in trends and "1,900,000円" in trends
    assert "2021→2022年度" not in trends  # no change column with one year
    assert "年度が1つだけなので" in trends


def test_empty_warehouse(tmp_path: Path) -> None:
    con = duckdb.connect()
    for stmt in create_all_sql():
        con.execute(stmt)
    written = {p.name for p in render_all(con, tmp_path)}
    assert written == {"trends.html", "index.html"}


def test_a_thousand_failures_are_all_on_the_page(tmp_path: Path) -> None:
    """Every failure of a big run is listed, in line order (its speed is measured in
    benchmarks/, never asserted here)."""
    con = duckdb.connect()
    for stmt in create_all_sql():
        con.execute(stmt)
    con.execute(
        """
        INSERT INTO validation_failures BY NAME
        SELECT 'run-big' AS run_id, 'data/raw/big.txt' AS source_file, i AS line,
               'project' AS entity, 'rating_invalid' AS "check", 'error' AS severity,
               'Ｚ' AS value, '合成 ' || i AS message, 'hint' AS hint,
               'x' || chr(9) || 'y' AS row_text, TIMESTAMPTZ '2024-07-01 00:00:00+09' AS recorded_at
        FROM range(1, 1001) t(i)
        """
    )
    render_all(con, tmp_path)
    page = _read(tmp_path / "validation_big.html")
    shown = [int(n) for n in re.findall(r"合成 (\d+)<", page)]
    assert shown == list(range(1, 1001))


def test_offline_guard() -> None:
    """A web font @import is dropped; a script or an external url() is refused."""
    font = "<style>@import url('https://fonts.googleapis.com/css2?family=X');p{}</style><p>x</p>"
    assert "@import" not in _page.offline(font) and "https" not in _page.offline(font)
    with pytest.raises(ReportError):
        _page.offline('<script src="a.js"></script>')
    with pytest.raises(ReportError):
        _page.offline("<style>p { background: url(https://example.org/a.png) }</style>")
    # Sheet text mentioning a URL is only text: allowed.
    assert _page.offline("<p>https://example.org/@import</p>")


@pytest.mark.parametrize(
    ("value", "unit", "raw", "shown"),
    [
        (2_398_000.0, "円", "2,398千円", "2,398千円"),
        (2_400_000.0, "人", "240万人", "240万人"),
        (1_900_000.0, "人", "１９０万人", "190万人"),  # full-width digits as typed
        (37.6, "%", "37.60%", "37.6%"),
        (1.65, None, "1.65", "1.65"),
        (1000.0, "人", "1000人", "1,000人"),
        (1_500_000.0, "円", None, "1,500,000円"),
        (None, None, "集計中", None),
    ],
)
def test_values_keep_the_sheets_scale(
    value: float | None, unit: str | None, raw: str | None, shown: str | None
) -> None:
    assert format_as_written(value, unit, raw) == shown


@pytest.mark.parametrize(
    ("before", "after", "had", "has", "change"),
    [
        ("B", "A", True, True, "改善"),
        ("A", "C", True, True, "悪化"),
        ("A", "E", True, True, "中止"),
        ("E", "E", True, True, "変化なし"),
        ("E", "B", True, True, "改善"),
        (None, "A", False, True, "新規"),
        ("A", None, True, False, "掲載なし"),
        (None, "A", True, True, None),  # a rating the steward waived: no judgement
    ],
)
def test_rating_transitions(
    before: str | None, after: str | None, had: bool, has: bool, change: str | None
) -> None:
    assert transition(before, after, had=had, has=has) == change


def test_cells_escape_and_draw_from_numbers_only() -> None:
    assert _cells.chip(MARKUP, {}) == "&lt;img src=x onerror=alert(1)&gt;"
    assert _cells.with_note(MARKUP, MARKUP, title=MARKUP).count("&lt;img") == 2
    bar = _cells.progress(1.5, 0.2, True)
    assert 'style="width:100.0%"' in bar and "150.0%" in bar and "tick" in bar
    assert 'style="width:0.0%"' in _cells.progress(-5.0, 0.2, False)
    spark = _cells.sparkline([1.0, None, 3.0], 4.0, [MARKUP])
    assert spark.startswith("<svg") and "<polyline" in spark and 'class="target"' in spark
    assert "<img" not in spark and "http" not in spark
    assert _cells.sparkline([None], None, []) == "—"
    dist = _cells.distribution({"A": 3, "E": 1}, {"A": "順調"})
    assert 'style="width:75.00%"' in dist and 'style="width:25.00%"' in dist


def test_two_renders_writing_one_page_at_once_leave_it_whole(tmp_path: Path) -> None:
    """A steward's `ukiha report` during the yearly run: both write the same pages. With one
    shared temporary name, one writer's replace found the file gone (ReportError) or moved
    the other's half-written text into place."""
    from concurrent.futures import ThreadPoolExecutor

    page = tmp_path / "annual_2021.html"
    texts = [f"<html>{i}</html>\n" * 20_000 for i in range(4)]

    def write(i: int) -> None:
        for _ in range(30):
            _page.write_page(page, texts[i])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))  # re-raises a writer's ReportError
    assert page.read_text(encoding="utf-8") in texts
    assert [p.name for p in tmp_path.iterdir()] == [page.name]  # no temporary file left
    assert page.stat().st_mode & 0o777 == 0o644


def test_a_check_with_several_hints_says_so_in_the_summary(tmp_path: Path) -> None:
    """R3 with an empty flag (line 37) and an empty rating (line 38): two missing_required with
    different fixes. The summary's 対処 showed the first line's alone (「事業化」を記入)."""
    from ukiha_pipeline.validation import load_context, validate_path
    from ukiha_pipeline.warehouse import load_result, open_warehouse

    r3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
    lines = r3.read_text(encoding="utf-8").split("\n")
    for n, col in ((37, 4), (38, 6)):
        cells = lines[n - 1].split("\t")
        cells[col] = ""
        lines[n - 1] = "\t".join(cells)
    sheet = tmp_path / "r3_empty_cells.txt"
    sheet.write_text("\n".join(lines), encoding="utf-8")
    ctx = load_context()
    result = validate_path(sheet, ctx)
    hints = {f.line: f.hint for f in result.failures if f.check == "missing_required"}
    assert set(hints) == {37, 38} and hints[37] != hints[38]
    with open_warehouse(tmp_path / "w.duckdb") as con:
        load_result(con, result, ctx, run_id="r1")
        render_all(con, tmp_path / "reports")
    page = _read(tmp_path / "reports" / "validation_r3_empty_cells.html")
    summary = page[: page.index("エラー (error)")]
    assert "ほかの行の対処は、下の一覧の各行にあります" in summary
    assert summary.count("ほかの行の対処") == 1  # flag_rating_mismatch has one fix for its 3
