"""Trends across fiscal years: KPI series, rating transitions, departments (DESIGN §6).

One municipality: everything is on `trends.html`. Several: `trends.html` compares them in one
table and links one page per municipality (`trends_<municipality>.html`), so that each page
stays readable and fast however many sheets the warehouse holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
from great_tables import GT, loc

from ukiha_pipeline.normalize import RATINGS
from ukiha_pipeline.reports import _batch, _cells, _page
from ukiha_pipeline.reports._format import (
    LEVEL_LABELS,
    format_as_written,
    format_quantity,
    is_missing,
    legend_note,
)

TRENDS_FILENAME = "trends.html"
TRENDS_TITLE = "年度別の推移"

#: Transitions of a project's rating from one year's sheet to the next, in display order.
UP, DOWN, SAME, STOPPED, NEW, GONE = "改善", "悪化", "変化なし", "中止", "新規", "掲載なし"
TRANSITIONS: tuple[str, ...] = (UP, DOWN, SAME, STOPPED, NEW, GONE)
_TRANSITION_MARKS: Mapping[str, tuple[str, str]] = {
    UP: ("改善 ↑", "up"),
    DOWN: ("悪化 ↓", "down"),
    SAME: ("変化なし", "na"),
    STOPPED: ("中止 →E", "stop"),
    NEW: ("新規", "na"),
    GONE: ("掲載なし", "na"),
}
_TRANSITION_NOTE = (
    "改善 ↑ / 悪化 ↓: 進捗状況が上がった / 下がった(A が最も良い)。"
    "中止 →E: E(未実施・中止)になった。新規: 前年度のシートになかった。"
    "掲載なし: 前年度にあったが、その年度のシートにない。"
)


@dataclass(frozen=True)
class TrendsPage:
    """`trends.html` (one municipality, or the comparison of several) or one municipality's."""

    filename: str
    title: str
    municipality: str | None  # None: the comparison page of several municipalities

    @property
    def link_text(self) -> str:
        return self.title


def trends_pages(con: duckdb.DuckDBPyConnection) -> list[TrendsPage]:
    municipalities = _municipalities(con)
    if len(municipalities) <= 1:
        only = municipalities[0] if municipalities else None
        return [TrendsPage(TRENDS_FILENAME, TRENDS_TITLE, only)]
    pages = [TrendsPage(TRENDS_FILENAME, f"{TRENDS_TITLE}(自治体別の比較)", None)]
    for m in municipalities:
        name = f"trends_{_page.file_name_part(m)}.html"
        pages.append(TrendsPage(name, f"{m} {TRENDS_TITLE}", m))
    return pages


def _municipalities(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        m
        for (m,) in con.execute(
            "SELECT municipality FROM kpis UNION SELECT municipality FROM projects ORDER BY 1"
        ).fetchall()
    ]


_SECTIONS: tuple[tuple[str, str], ...] = (
    ("kpis", "KPIの推移"),
    ("transitions", "進捗状況の変化(年度間)"),
    ("departments", "担当課別の変化"),
    ("projects", "事業別の進捗状況の推移"),
)


@dataclass(frozen=True)
class TrendsRows:
    """What one municipality's trends page shows, every year (`read_trends`)."""

    kpis: list[_batch.Row]
    projects: list[_batch.Row]
    departments: list[_batch.Row]


@dataclass(frozen=True)
class ComparisonRows:
    """What the comparison of municipalities shows (`read_trends`)."""

    ratings: list[_batch.Row]
    kpis: list[_batch.Row]


def read_trends(
    con: duckdb.DuckDBPyConnection, pages: Sequence[TrendsPage]
) -> dict[TrendsPage, TrendsRows | ComparisonRows]:
    """The rows of many trends pages: one query per section for all their municipalities."""
    out: dict[TrendsPage, TrendsRows | ComparisonRows] = {}
    if any(p.municipality is None for p in pages):
        comparison = ComparisonRows(
            ratings=con.execute(_COMPARISON_RATINGS_SQL).fetchall(),
            kpis=con.execute(_COMPARISON_KPIS_SQL).fetchall(),
        )
        out.update({p: comparison for p in pages if p.municipality is None})
    params = {"m": sorted({p.municipality for p in pages if p.municipality is not None})}
    if params["m"]:
        _, kpis = _batch.rows_by_key(con, _KPI_SERIES_SQL, params, 1)
        _, projects = _batch.rows_by_key(con, _HISTORY_SQL, params, 1)
        _, departments = _batch.rows_by_key(con, _DEPARTMENT_CHANGE_SQL, params, 1)
        for p in pages:
            if p.municipality is not None:
                m = p.municipality
                out[p] = TrendsRows(kpis.get(m, []), projects.get(m, []), departments.get(m, []))
    return out


def render_trends(
    con: duckdb.DuckDBPyConnection,
    page: TrendsPage,
    legend: Mapping[str, str],
    *,
    pages: Sequence[TrendsPage] = (),
    fingerprint: str | None = None,
) -> str:
    """One trends page, read and rendered (`read_trends` + `trends_html`)."""
    rows = read_trends(con, [page])[page]
    return trends_html(page, rows, legend, pages=pages, fingerprint=fingerprint)


def trends_html(
    page: TrendsPage,
    rows: TrendsRows | ComparisonRows,
    legend: Mapping[str, str],
    *,
    pages: Sequence[TrendsPage] = (),
    fingerprint: str | None = None,
) -> str:
    """`pages`: every trends page (the comparison links the municipalities' pages)."""
    if isinstance(rows, ComparisonRows) and not pages[1:]:
        parts = [_page.paragraph("まだ読み込まれた年度がありません。", css_class="note")]
    elif isinstance(rows, ComparisonRows):
        parts = [_comparison(rows, [p for p in pages if p.municipality is not None], legend)]
    else:
        titles = dict(_SECTIONS)
        history = _history(rows.projects)
        parts = [
            _page.toc(_SECTIONS),
            _page.heading(titles["kpis"], anchor="kpis"),
            _kpi_series(rows.kpis, "trends-kpis"),
            _page.heading(titles["transitions"], anchor="transitions"),
            _transition_summary(history, "trends-transitions"),
            _page.heading(titles["departments"], anchor="departments"),
            _department_change(rows.departments, legend, "trends-departments"),
            _page.heading(titles["projects"], anchor="projects"),
            _rating_history(history, legend, "trends-projects"),
        ]
    return _page.page(page.title, parts, fingerprint=fingerprint)


def _year_col(fiscal_year: int) -> str:
    return f"fy{fiscal_year}"


def _year_labels(years: Sequence[int]) -> dict[str, str]:
    return {_year_col(y): f"{y}年度" for y in years}


# KPI series -------------------------------------------------------------------------------


_KPI_SERIES_SQL = """
    SELECT v.municipality,
           v.kpi_key, v.fiscal_year, v.latest_value, coalesce(k.latest_unit, v.unit),
           k.raw_latest, v.name, v.level, v.policy_no, v.measure_no, k.source_line,
           v.target_value, coalesce(k.target_unit, v.unit), k.raw_target,
           v.progress, v.elapsed_share, v.on_track
    FROM v_kpi_progress v JOIN kpis k USING (municipality, fiscal_year, kpi_key)
    WHERE list_contains($m, v.municipality)
    ORDER BY v.municipality, v.kpi_key, v.fiscal_year
    """


def _kpi_series(rows: Sequence[_batch.Row], table_id: str) -> _page.SafeHtml:
    if not rows:
        return _page.paragraph("KPIはありません。", css_class="note")
    years = sorted({row[1] for row in rows})
    series: dict[str, dict[str, object]] = {}
    values: dict[str, dict[int, float | None]] = {}
    order: dict[str, tuple[int, int, int, str]] = {}
    for (
        key, fiscal_year, latest, unit, raw_latest, name, level, policy_no, measure_no, line,
        target, t_unit, raw_target, progress, elapsed, on_track,
    ) in rows:  # fmt: skip
        record = series.setdefault(key, {_year_col(y): None for y in years})
        record[_year_col(fiscal_year)] = _cells.with_note(
            format_as_written(latest, unit, raw_latest) or _raw(raw_latest), None, title=raw_latest
        )
        values.setdefault(key, {})[fiscal_year] = None if is_missing(latest) else latest
        # Name, place, target and progress as of the newest year that has the KPI (rows come
        # in year order, so later years overwrite).
        record["level"] = LEVEL_LABELS.get(level, level) + (
            f"{policy_no}-{measure_no}" if level == "measure" else f"{policy_no}"
        )
        record["name"] = name
        record["target"] = _cells.with_note(
            format_as_written(target, t_unit, raw_target) or _raw(raw_target),
            None,
            title=raw_target,
        )
        record["_target"] = None if is_missing(target) else target
        record["_unit"] = unit
        record["progress"] = _cells.progress(progress, elapsed, on_track)
        record["on_track"] = _cells.on_track(on_track)
        order[key] = (policy_no, -1 if measure_no is None else measure_no, line, key)
    for key, record in series.items():
        points = [values[key].get(y) for y in years]
        labels = [
            f"{y}年度 {format_quantity(v, str(record['_unit'] or '')) or '—'}"
            for y, v in zip(years, points, strict=True)
        ]
        target = record["_target"]
        if isinstance(target, float):
            labels.append(f"目標 {format_quantity(target, str(record['_unit'] or ''))}")
        record["spark"] = _cells.sparkline(
            points, target if isinstance(target, float) else None, labels
        )
    keys = sorted(series, key=lambda k: order[k])
    year_cols = list(_year_labels(years))
    columns = ["level", "name", *year_cols, "target", "spark", "progress", "on_track"]
    df = pd.DataFrame.from_records([series[k] for k in keys], columns=columns)
    newest = f"{years[-1]}年度"
    gt = (
        GT(df, id=table_id)
        .cols_label(
            cases={
                "level": "区分",
                "name": "KPI",
                "target": "目標値",
                "spark": "推移",
                "progress": f"進捗率({newest})",
                "on_track": "判定",
                **_year_labels(years),
            }
        )
        .tab_spanner(label="最新値(各年度のシート)", columns=year_cols)
        .cols_align(align="right", columns=[*year_cols, "target"])
        .cols_align(align="center", columns="on_track")
        .tab_source_note(
            "各年度のシートに載った最新値です。目標値・進捗率・判定は最も新しい年度のシートの"
            "ものです。推移の点線は目標値です。"
        )
        .tab_source_note(
            "判定: ○ 進捗率が戦略期間の経過割合(棒の縦線)以上、× 未満、— 判定できない。"
        )
    )
    return _page.table(gt, html_columns=[*year_cols, "target", "spark", "progress", "on_track"])


def _raw(raw: object) -> str | None:
    return None if raw is None or is_missing(raw) else str(raw)


# Rating transitions -----------------------------------------------------------------------


@dataclass(frozen=True)
class _History:
    years: tuple[int, ...]
    ratings: Mapping[str, Mapping[int, str | None]]  # project_key → year → rating
    latest: Mapping[str, tuple[int, int, int, int, str]]  # key → (policy, measure, sub, seq, ...)
    content: Mapping[str, str]


_HISTORY_SQL = """
    SELECT municipality, project_key, fiscal_year, coalesce(rating, raw_rating), content,
           policy_no, measure_no, submeasure_no, seq
    FROM projects WHERE list_contains($m, municipality)
    ORDER BY municipality, project_key, fiscal_year
    """


def _history(rows: Sequence[_batch.Row]) -> _History:
    ratings: dict[str, dict[int, str | None]] = {}
    latest: dict[str, tuple[int, int, int, int, str]] = {}
    content: dict[str, str] = {}
    for key, fiscal_year, rating, text, policy_no, measure_no, sub_no, seq in rows:
        ratings.setdefault(key, {})[fiscal_year] = rating
        latest[key] = (policy_no, measure_no, sub_no, seq, key)  # newest year wins
        content[key] = text
    years = tuple(sorted({row[1] for row in rows}))
    return _History(years, ratings, latest, content)


def transition(before: str | None, after: str | None, *, had: bool, has: bool) -> str | None:
    """How a project moved between two consecutive sheets; None if it is in neither.

    `had` / `has`: the project is in the earlier / later sheet (its rating may be missing).
    """
    if not had and not has:
        return None
    if not had:
        return NEW
    if not has:
        return GONE
    if before not in RATINGS or after not in RATINGS:
        return None
    if after == "E" and before != "E":
        return STOPPED
    step = RATINGS.index(str(before)) - RATINGS.index(str(after))
    if step > 0:
        return UP
    if step < 0:
        return DOWN
    return SAME


def _pair_transitions(history: _History, y1: int, y2: int) -> dict[str, str]:
    out = {}
    for key, by_year in history.ratings.items():
        change = transition(by_year.get(y1), by_year.get(y2), had=y1 in by_year, has=y2 in by_year)
        if change is not None:
            out[key] = change
    return out


def _transition_summary(history: _History, table_id: str) -> _page.SafeHtml:
    if len(history.years) < 2:
        return _page.paragraph(
            "年度が1つだけなので、変化はまだありません(次の年度のシートを読み込むと表示されます)。",
            css_class="note",
        )
    records = []
    for y1, y2 in zip(history.years, history.years[1:], strict=False):
        counts = Counter(_pair_transitions(history, y1, y2).values())
        records.append(
            {"pair": f"{y1}年度 → {y2}年度", **{t: counts.get(t, 0) for t in TRANSITIONS}}
        )
    df = pd.DataFrame.from_records(records[::-1])  # newest pair first
    gt = (
        GT(df, id=table_id)
        .cols_label(cases={"pair": "年度", **{t: _TRANSITION_MARKS[t][0] for t in TRANSITIONS}})
        .tab_spanner(label="事業数", columns=list(TRANSITIONS))
        .fmt_integer(columns=list(TRANSITIONS))
        .tab_source_note(_TRANSITION_NOTE)
    )
    return _page.table(gt)


def _rating_history(history: _History, legend: Mapping[str, str], table_id: str) -> _page.SafeHtml:
    if not history.ratings:
        return _page.paragraph("事業はありません。", css_class="note")
    years = history.years
    year_cols = list(_year_labels(years))
    changes = _pair_transitions(history, years[-2], years[-1]) if len(years) > 1 else {}
    records = []
    for key in sorted(history.ratings, key=lambda k: history.latest[k]):
        policy_no, measure_no, sub_no, _seq, _key = history.latest[key]
        by_year = history.ratings[key]
        record: dict[str, object] = {
            "group": f"基本方針{policy_no}",
            "place": f"{policy_no}-{measure_no}-{sub_no}",
            "content": history.content[key],
        }
        for y in years:
            record[_year_col(y)] = _cells.chip(by_year[y], legend) if y in by_year else ""
        if len(years) > 1:
            record["change"] = _change_cell(changes.get(key))
        records.append(record)
    columns = ["group", "place", "content", *year_cols, *(["change"] if len(years) > 1 else [])]
    df = pd.DataFrame.from_records(records, columns=columns)
    gt = (
        GT(df, id=table_id, groupname_col="group")
        .cols_label(
            cases={
                "place": "方針-施策-取組",
                "content": "事業",
                **_year_labels(years),
                **({"change": f"{years[-2]}→{years[-1]}年度"} if len(years) > 1 else {}),
            }
        )
        .tab_spanner(label="進捗状況", columns=year_cols, id="ratings")
        .cols_align(align="center", columns=year_cols)
        .tab_footnote(legend_note(legend), locations=loc.spanner_labels(ids=["ratings"]))
        .tab_source_note("区分と事業内容は、その事業が載った最も新しい年度のシートのものです。")
    )
    if len(years) > 1:
        gt = gt.tab_source_note(_TRANSITION_NOTE)
    html_cols = [*year_cols, *(["change"] if len(years) > 1 else [])]
    return _page.table(gt, html_columns=html_cols)


def _change_cell(change: str | None) -> _page.SafeHtml:
    if change is None:
        return _cells.text(None)
    words, css = _TRANSITION_MARKS[change]
    return _page.SafeHtml(f'<span class="{css}">{words}</span>')


# Departments ------------------------------------------------------------------------------


_DEPARTMENT_CHANGE_SQL = """
    SELECT municipality, department, fiscal_year, n_projects, n_a, n_b, n_c, n_d, n_e
    FROM v_department_summary WHERE list_contains($m, municipality)
    ORDER BY municipality, department, fiscal_year
    """


def _department_change(
    rows: Sequence[_batch.Row], legend: Mapping[str, str], table_id: str
) -> _page.SafeHtml:
    if not rows:
        return _page.paragraph("担当課はありません。", css_class="note")
    years = sorted({row[1] for row in rows})
    table: dict[str, dict[str, object]] = {}
    shares: dict[str, dict[int, float]] = {}
    sizes: dict[str, int] = {}
    for department, fiscal_year, n, *counts in rows:
        record = table.setdefault(department, {"department": department})
        by_rating = dict(zip(RATINGS, counts, strict=True))
        rated = sum(counts)
        good = by_rating["A"] + by_rating["B"]
        share = good / rated if rated else None
        record[_year_col(fiscal_year)] = _page.SafeHtml(
            _cells.distribution(by_rating, legend)
            + f' <span class="sub">{n:,} 事業・A+B '
            + (f"{share * 100:.0f}%" if share is not None else "—")
            + "</span>"
        )
        if share is not None:
            shares.setdefault(department, {})[fiscal_year] = share
        sizes[department] = n  # newest year last
    year_cols = list(_year_labels(years))
    for department, record in table.items():
        for col in year_cols:
            record.setdefault(col, _cells.text(None))
        if len(years) > 1:
            record["change"] = _share_change(shares.get(department, {}), years[-2], years[-1])
    columns = ["department", *year_cols, *(["change"] if len(years) > 1 else [])]
    ordered = sorted(table, key=lambda d: (-sizes[d], d))
    df = pd.DataFrame.from_records([table[d] for d in ordered], columns=columns)
    gt = (
        GT(df, id=table_id)
        .cols_label(
            cases={
                "department": "担当課",
                **_year_labels(years),
                **({"change": f"A+B の割合 {years[-2]}→{years[-1]}年度"} if len(years) > 1 else {}),
            }
        )
        .tab_spanner(label="進捗状況の分布", columns=year_cols, id="ratings")
        .tab_footnote(legend_note(legend), locations=loc.spanner_labels(ids=["ratings"]))
        .tab_source_note(
            "A+B: 順調・概ね順調の事業の割合。複数の課が担当する事業は、それぞれの課に数えています。"
        )
    )
    html_cols = [*year_cols, *(["change"] if len(years) > 1 else [])]
    return _page.table(gt, html_columns=html_cols)


def _share_change(shares: Mapping[int, float], y1: int, y2: int) -> _page.SafeHtml:
    if y1 not in shares or y2 not in shares:
        return _cells.text(None)
    points = (shares[y2] - shares[y1]) * 100
    if abs(points) < 0.05:
        return _page.SafeHtml('<span class="na">±0pt</span>')
    css, arrow = ("up", "↑") if points > 0 else ("down", "↓")
    sign = "+" if points > 0 else "\u2212"
    return _page.SafeHtml(f'<span class="{css}">{sign}{abs(points):.1f}pt {arrow}</span>')


# Several municipalities -------------------------------------------------------------------


_COMPARISON_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE rating = '{r}') AS n_{r.lower()}" for r in RATINGS
)
_COMPARISON_RATINGS_SQL = f"""
    SELECT municipality, fiscal_year, count(*) AS n, {_COMPARISON_COUNTS}
    FROM projects GROUP BY ALL ORDER BY municipality, fiscal_year
    """
_COMPARISON_KPIS_SQL = """
    WITH newest AS (SELECT municipality, max(fiscal_year) AS fy FROM kpis GROUP BY ALL)
    SELECT n.municipality, n.fy,
           count(*) FILTER (WHERE v.on_track) AS ok,
           count(*) FILTER (WHERE NOT v.on_track) AS behind,
           count(*) FILTER (WHERE v.on_track IS NULL) AS na
    FROM newest n
    JOIN v_kpi_progress v ON v.municipality = n.municipality AND v.fiscal_year = n.fy
    GROUP BY ALL
    """


def _comparison(
    rows: ComparisonRows, pages: Sequence[TrendsPage], legend: Mapping[str, str]
) -> _page.SafeHtml:
    """One row per municipality: its rating distribution per year and its KPIs on track."""
    ratings, kpis = rows.ratings, rows.kpis
    years = sorted({row[1] for row in ratings})
    by_name = {p.municipality: p for p in pages}
    table: dict[str, dict[str, object]] = {}
    for m, fy, n, *by in ratings:
        record = table.setdefault(m, {})
        record[_year_col(fy)] = _page.SafeHtml(
            _cells.distribution(dict(zip(RATINGS, by, strict=True)), legend)
            + f' <span class="sub">{n:,} 事業</span>'
        )
    kpi_cells = {m: f"{fy}年度: ○ {ok:,}・× {behind:,}・— {na:,}" for m, fy, ok, behind, na in kpis}
    records = []
    for m, page in by_name.items():
        assert m is not None
        record = {"municipality": _cells.link(page.filename, m), "kpis": kpi_cells.get(m)}
        for y in years:
            record[_year_col(y)] = table.get(m, {}).get(_year_col(y), _cells.text(None))
        records.append(record)
    year_cols = list(_year_labels(years))
    df = pd.DataFrame.from_records(records, columns=["municipality", *year_cols, "kpis"])
    gt = (
        GT(df, id="trends-municipalities")
        .cols_label(cases={"municipality": "自治体", "kpis": "KPIの判定", **_year_labels(years)})
        .tab_spanner(label="事業の進捗状況の分布", columns=year_cols, id="ratings")
        .tab_footnote(legend_note(legend), locations=loc.spanner_labels(ids=["ratings"]))
        .tab_source_note(
            "自治体名から、その自治体のKPIの推移・進捗状況の変化・担当課別の変化へ進めます。"
        )
        .tab_source_note("KPIの判定: 最も新しい年度の ○ 順調・× 遅れ・— 判定できない の数。")
    )
    return _page.table(gt, html_columns=["municipality", *year_cols])
