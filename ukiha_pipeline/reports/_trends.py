"""Trends across fiscal years: KPI series and project ratings per year (DESIGN §6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd
from great_tables import GT

from ukiha_pipeline.reports import _page
from ukiha_pipeline.reports._format import (
    LEVEL_LABELS,
    RATING_PALETTE,
    RATINGS,
    format_quantity,
    legend_note,
)

TRENDS_FILENAME = "trends.html"
TRENDS_TITLE = "年度別の推移"

#: great-tables keeps one style per coloured cell and scans them all for every cell, so
#: colouring costs grow with the square of the cells; bigger tables stay plain to stay fast
#: (a real sheet has about 100 projects: 5 years are 500 cells).
MAX_COLOURED_CELLS = 1_000


def render_trends(con: duckdb.DuckDBPyConnection, legend: Mapping[str, str]) -> str:
    municipalities = [
        m
        for (m,) in con.execute(
            "SELECT municipality FROM kpis UNION SELECT municipality FROM projects ORDER BY 1"
        ).fetchall()
    ]
    parts: list[_page.SafeHtml] = []
    if not municipalities:
        parts.append(_page.paragraph("まだ読み込まれた年度がありません。", css_class="note"))
    for i, municipality in enumerate(municipalities, start=1):
        suffix = f"-{i}" if len(municipalities) > 1 else ""
        prefix = f"{municipality} " if len(municipalities) > 1 else ""
        parts += [
            _page.heading(f"{prefix}KPIの推移(最新値)"),
            _kpi_series(con, municipality, f"trends-kpis{suffix}"),
            _page.heading(f"{prefix}事業の進捗状況の推移"),
            _rating_history(con, municipality, legend, f"trends-projects{suffix}"),
        ]
    return _page.page(TRENDS_TITLE, parts)


def _year_col(fiscal_year: int) -> str:
    return f"fy{fiscal_year}"


def _year_labels(years: Sequence[int]) -> dict[str, str]:
    return {_year_col(y): f"{y}年度" for y in years}


def _kpi_series(con: duckdb.DuckDBPyConnection, municipality: str, table_id: str) -> _page.SafeHtml:
    rows = con.execute(
        """
        SELECT v.kpi_key, v.fiscal_year, v.latest_value, coalesce(k.latest_unit, v.unit),
               v.name, v.level, v.policy_no, v.measure_no, k.source_line,
               v.target_value, coalesce(k.target_unit, v.unit)
        FROM v_kpi_progress v JOIN kpis k USING (municipality, fiscal_year, kpi_key)
        WHERE v.municipality = $m
        ORDER BY v.kpi_key, v.fiscal_year
        """,
        {"m": municipality},
    ).fetchall()
    if not rows:
        return _page.paragraph("KPIはありません。", css_class="note")
    years = sorted({row[1] for row in rows})
    series: dict[str, dict[str, object]] = {}
    order: dict[str, tuple[int, int, int, str]] = {}
    for (
        key, fiscal_year, latest, unit, name, level, policy_no, measure_no, line, target, t_unit,
    ) in rows:  # fmt: skip
        record = series.setdefault(key, {_year_col(y): None for y in years})
        record[_year_col(fiscal_year)] = format_quantity(latest, unit)
        # Name, place and target as of the newest year that has the KPI (rows come in year order).
        record["level"] = LEVEL_LABELS.get(level, level) + (
            f"{policy_no}-{measure_no}" if level == "measure" else f"{policy_no}"
        )
        record["name"] = name
        record["target"] = format_quantity(target, t_unit)
        order[key] = (policy_no, -1 if measure_no is None else measure_no, line, key)
    keys = sorted(series, key=lambda k: order[k])
    df = pd.DataFrame.from_records(
        [series[k] for k in keys], columns=["level", "name", *_year_labels(years), "target"]
    )
    gt = (
        GT(df, id=table_id)
        .cols_label(
            cases={"level": "区分", "name": "KPI", "target": "目標値", **_year_labels(years)}
        )
        .tab_spanner(label="最新値", columns=list(_year_labels(years)))
        .cols_align(align="right", columns=[*_year_labels(years), "target"])
        .tab_source_note(
            "各年度のシートに載った最新値です。目標値は最も新しい年度のシートのものです。"
        )
    )
    return _page.table(gt)


def _rating_history(
    con: duckdb.DuckDBPyConnection, municipality: str, legend: Mapping[str, str], table_id: str
) -> _page.SafeHtml:
    rows = con.execute(
        """
        SELECT h.project_key, h.fiscal_year, h.rating, h.content,
               p.policy_no, p.measure_no, p.submeasure_no, p.seq
        FROM v_project_history h
        JOIN projects p USING (municipality, fiscal_year, project_key)
        WHERE h.municipality = $m
        ORDER BY h.project_key, h.fiscal_year
        """,
        {"m": municipality},
    ).fetchall()
    if not rows:
        return _page.paragraph("事業はありません。", css_class="note")
    years = sorted({row[1] for row in rows})
    history: dict[str, dict[str, object]] = {}
    order: dict[str, tuple[int, int, int, int, str]] = {}
    for key, fiscal_year, rating, content, policy_no, measure_no, sub_no, seq in rows:
        record = history.setdefault(key, {_year_col(y): None for y in years})
        record[_year_col(fiscal_year)] = rating
        # Content and place as of the newest year that has the project (rows in year order).
        record["group"] = f"基本方針{policy_no}"
        record["place"] = f"{policy_no}-{measure_no}-{sub_no}"
        record["content"] = content
        order[key] = (policy_no, measure_no, sub_no, seq, key)
    year_cols = list(_year_labels(years))
    columns = ["group", "place", "content", *year_cols]
    if len(years) > 1:
        for record in history.values():
            record["change"] = _change(record.get(year_cols[-2]), record.get(year_cols[-1]))
        columns.append("change")
    keys = sorted(history, key=lambda k: order[k])
    df = pd.DataFrame.from_records([history[k] for k in keys], columns=columns)
    gt = (
        GT(df, id=table_id, groupname_col="group")
        .cols_label(
            cases={
                "place": "施策-取組",
                "content": "事業",
                **_year_labels(years),
                **({"change": "前年度から"} if "change" in columns else {}),
            }
        )
        .tab_spanner(label="進捗状況", columns=year_cols)
        .cols_align(align="center", columns=year_cols)
        .tab_source_note(legend_note(legend))
        .tab_source_note("区分と事業内容は、最も新しい年度のシートのものです。")
    )
    if len(df) * len(year_cols) <= MAX_COLOURED_CELLS:
        gt = gt.data_color(
            columns=year_cols,
            palette=list(RATING_PALETTE),
            domain=list(RATINGS),
            na_color="#FFFFFF",
        )
    return _page.table(gt)


def _change(before: object, after: object) -> str | None:
    """改善 / 悪化 / 変化なし between two years' ratings (A is best); None if either is missing."""
    if before not in RATINGS or after not in RATINGS:
        return None
    step = RATINGS.index(str(before)) - RATINGS.index(str(after))
    if step > 0:
        return "改善 ↑"
    if step < 0:
        return "悪化 ↓"
    return "変化なし"
