"""Annual summary of one municipality's fiscal year: ratings, KPIs, departments (DESIGN §6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pandas as pd
from great_tables import GT

from ukiha_pipeline.reports import _page
from ukiha_pipeline.reports._format import (
    LEVEL_LABELS,
    RATINGS,
    fiscal_year_label,
    format_quantity,
    format_timestamp,
    format_year,
    is_missing,
    legend_note,
    on_track_mark,
    rating_label,
    short_sha,
)


@dataclass(frozen=True)
class AnnualPage:
    """One annual summary: whose, which year, and its stable file name."""

    municipality: str
    fiscal_year: int
    filename: str
    several_municipalities: bool

    @property
    def title(self) -> str:
        return f"{self.municipality} {fiscal_year_label(self.fiscal_year)} 進捗状況年次報告"

    @property
    def link_text(self) -> str:
        if self.several_municipalities:
            return f"{fiscal_year_label(self.fiscal_year)} {self.municipality}"
        return fiscal_year_label(self.fiscal_year)


def annual_pages(con: duckdb.DuckDBPyConnection) -> list[AnnualPage]:
    """Every annual summary the warehouse holds: current sheets, newest year first."""
    rows = con.execute(
        """
        SELECT DISTINCT fiscal_year, municipality FROM sheets WHERE status = 'current'
        ORDER BY fiscal_year DESC, municipality
        """
    ).fetchall()
    per_year: dict[int, list[str]] = {}
    for fiscal_year, municipality in rows:
        per_year.setdefault(fiscal_year, []).append(municipality)
    pages = []
    for fiscal_year, municipalities in per_year.items():
        several = len(municipalities) > 1
        for municipality in municipalities:
            name = (
                f"annual_{fiscal_year}_{_page.file_name_part(municipality)}"
                if several
                else f"annual_{fiscal_year}"
            )
            pages.append(AnnualPage(municipality, fiscal_year, f"{name}.html", several))
    return pages


def render_annual(
    con: duckdb.DuckDBPyConnection, annual: AnnualPage, legend: Mapping[str, str]
) -> str:
    params = {"m": annual.municipality, "fy": annual.fiscal_year}
    sources = _sources(con, params)
    source_note = "出典: " + " / ".join(sources) if sources else "出典: —"
    parts = [
        _page.facts(_sheet_facts(con, params)),
        _page.heading("基本方針別の進捗状況"),
        _policy_table(con, params, legend, source_note, "annual-policies"),
        _page.heading("施策別の進捗状況"),
        _measure_table(con, params, legend, source_note, "annual-measures"),
        _page.heading("KPI(重要業績評価指標)"),
        _kpi_table(con, params, source_note, "annual-kpis"),
        _page.heading("担当課別の進捗状況"),
        _department_table(con, params, legend, source_note, "annual-departments"),
    ]
    return _page.page(annual.title, parts)


def _sources(con: duckdb.DuckDBPyConnection, params: Mapping[str, object]) -> list[str]:
    rows = con.execute(
        """
        SELECT source_file, source_sha256, run_id FROM sheets
        WHERE municipality = $m AND fiscal_year = $fy AND status = 'current'
        ORDER BY source_file, source_sha256
        """,
        params,
    ).fetchall()
    return [f"{file} (sha256 {short_sha(sha)}, 実行ID {run_id})" for file, sha, run_id in rows]


def _sheet_facts(
    con: duckdb.DuckDBPyConnection, params: Mapping[str, object]
) -> list[tuple[str, str | None]]:
    rows = con.execute(
        """
        SELECT source_file, n_projects, n_kpis, n_errors, n_warnings, n_quarantined,
               epoch_us(ingested_at)
        FROM sheets WHERE municipality = $m AND fiscal_year = $fy AND status = 'current'
        ORDER BY source_file, source_sha256
        """,
        params,
    ).fetchall()
    items: list[tuple[str, str | None]] = []
    for file, n_projects, n_kpis, n_errors, n_warnings, n_quarantined, ingested in rows:
        items += [
            ("シート", file),
            ("取込日時", format_timestamp(ingested)),
            ("件数", f"事業 {n_projects:,} 件、KPI {n_kpis:,} 件"),
            ("検証", f"エラー {n_errors:,} 件(隔離 {n_quarantined:,} 行)、警告 {n_warnings:,} 件"),
        ]
    return items


def _rating_sums(alias: str) -> str:
    """`sum(n) FILTER (rating = 'A') AS a, ...` over `v_rating_summary` rows named `alias`."""
    cols = [
        f"coalesce(sum({alias}.n) FILTER (WHERE {alias}.rating = '{r}'), 0)::BIGINT AS {r.lower()}"
        for r in RATINGS
    ]
    return ", ".join([*cols, f"coalesce(sum({alias}.n), 0)::BIGINT AS total"])


def _rating_columns(gt: GT, legend: Mapping[str, str], first: str) -> GT:
    """Label the A-E count columns with the legend and give them thousands separators."""
    labels = {r.lower(): rating_label(r, legend) for r in RATINGS}
    count_cols = [*labels, "total"]
    return (
        gt.cols_label(cases={**labels, "total": "計"})
        .tab_spanner(label="進捗状況(事業数)", columns=count_cols)
        .fmt_integer(columns=count_cols)
        .cols_align(align="right", columns=count_cols)
        .cols_align(align="left", columns=first)
    )


def _policy_table(
    con: duckdb.DuckDBPyConnection,
    params: Mapping[str, object],
    legend: Mapping[str, str],
    source_note: str,
    table_id: str,
) -> _page.SafeHtml:
    df = con.execute(
        f"""
        WITH keys AS (
            SELECT policy_no FROM policies WHERE municipality = $m AND fiscal_year = $fy
            UNION
            SELECT policy_no FROM v_rating_summary WHERE municipality = $m AND fiscal_year = $fy
        )
        SELECT k.policy_no, p.title, {_rating_sums("r")}
        FROM keys k
        LEFT JOIN policies p
               ON p.municipality = $m AND p.fiscal_year = $fy AND p.policy_no = k.policy_no
        LEFT JOIN v_rating_summary r
               ON r.municipality = $m AND r.fiscal_year = $fy AND r.policy_no = k.policy_no
        GROUP BY k.policy_no, p.title
        ORDER BY k.policy_no
        """,
        params,
    ).df()
    if df.empty:
        return _page.paragraph("この年度の事業はありません。", css_class="note")
    df["policy"] = [
        _numbered(no, title) for no, title in zip(df["policy_no"], df["title"], strict=True)
    ]
    totals = {c: int(df[c].sum()) for c in [r.lower() for r in RATINGS] + ["total"]}
    df = pd.concat([df, pd.DataFrame([{"policy": "合計", **totals}])], ignore_index=True)
    df = df[["policy", *[r.lower() for r in RATINGS], "total"]]
    gt = GT(df, id=table_id).cols_label(policy="基本方針")
    gt = _rating_columns(gt, legend, "policy")
    gt = gt.tab_source_note(legend_note(legend)).tab_source_note(source_note)
    return _page.table(gt)


def _measure_table(
    con: duckdb.DuckDBPyConnection,
    params: Mapping[str, object],
    legend: Mapping[str, str],
    source_note: str,
    table_id: str,
) -> _page.SafeHtml:
    counts = ", ".join(
        f"count(p.project_key) FILTER (WHERE p.rating = '{r}') AS {r.lower()}" for r in RATINGS
    )
    df = con.execute(
        f"""
        WITH keys AS (
            SELECT policy_no, measure_no FROM measures WHERE municipality = $m AND fiscal_year = $fy
            UNION
            SELECT policy_no, measure_no FROM projects WHERE municipality = $m AND fiscal_year = $fy
        )
        SELECT k.policy_no, k.measure_no, pol.title AS policy_title, m.title,
               {counts}, count(p.project_key) AS total
        FROM keys k
        LEFT JOIN policies pol
               ON pol.municipality = $m AND pol.fiscal_year = $fy AND pol.policy_no = k.policy_no
        LEFT JOIN measures m
               ON m.municipality = $m AND m.fiscal_year = $fy
              AND m.policy_no = k.policy_no AND m.measure_no = k.measure_no
        LEFT JOIN projects p
               ON p.municipality = $m AND p.fiscal_year = $fy
              AND p.policy_no = k.policy_no AND p.measure_no = k.measure_no
        GROUP BY ALL
        ORDER BY k.policy_no, k.measure_no
        """,
        params,
    ).df()
    if df.empty:
        return _page.paragraph("この年度の施策はありません。", css_class="note")
    df["group"] = [
        f"基本方針{_numbered(no, title)}"
        for no, title in zip(df["policy_no"], df["policy_title"], strict=True)
    ]
    df["measure"] = [
        _numbered(no, title) for no, title in zip(df["measure_no"], df["title"], strict=True)
    ]
    df = df[["group", "measure", *[r.lower() for r in RATINGS], "total"]]
    gt = GT(df, id=table_id, groupname_col="group").cols_label(measure="施策")
    gt = _rating_columns(gt, legend, "measure")
    gt = gt.tab_source_note(legend_note(legend)).tab_source_note(source_note)
    return _page.table(gt)


def _kpi_table(
    con: duckdb.DuckDBPyConnection,
    params: Mapping[str, object],
    source_note: str,
    table_id: str,
) -> _page.SafeHtml:
    rows = con.execute(
        """
        SELECT v.policy_no, pol.title AS policy_title, v.level, v.measure_no, v.name,
               v.baseline_value, coalesce(k.baseline_unit, v.unit) AS baseline_unit,
               v.target_value, coalesce(k.target_unit, v.unit) AS target_unit,
               v.latest_value, coalesce(k.latest_unit, v.unit) AS latest_unit,
               v.latest_year, v.latest_year_kind, k.latest_year_range,
               v.progress, v.on_track
        FROM v_kpi_progress v
        JOIN kpis k USING (municipality, fiscal_year, kpi_key)
        LEFT JOIN policies pol
               ON pol.municipality = v.municipality AND pol.fiscal_year = v.fiscal_year
              AND pol.policy_no = v.policy_no
        WHERE v.municipality = $m AND v.fiscal_year = $fy
        ORDER BY v.policy_no, v.measure_no NULLS FIRST, k.source_line, v.kpi_key
        """,
        params,
    ).fetchall()
    if not rows:
        return _page.paragraph("この年度のKPIはありません。", css_class="note")
    records = []
    for (
        policy_no, policy_title, level, measure_no, name,
        baseline, baseline_unit, target, target_unit, latest, latest_unit,
        latest_year, latest_kind, latest_range, progress, on_track,
    ) in rows:  # fmt: skip
        records.append(
            {
                "group": f"基本方針{_numbered(policy_no, policy_title)}",
                "level": LEVEL_LABELS.get(level, level)
                + (f"{measure_no}" if level == "measure" and measure_no is not None else ""),
                "name": name,
                "baseline": format_quantity(baseline, baseline_unit),
                "target": format_quantity(target, target_unit),
                "latest": format_quantity(latest, latest_unit),
                "latest_year": format_year(latest_year, latest_kind, latest_range),
                "progress": progress,
                "on_track": on_track_mark(on_track),
            }
        )
    df = pd.DataFrame.from_records(records)
    gt = (
        GT(df, id=table_id, groupname_col="group")
        .cols_label(
            level="区分",
            name="KPI",
            baseline="現状値",
            target="目標値",
            latest="最新値",
            latest_year="時点",
            progress="進捗率",
            on_track="順調",
        )
        .fmt_percent(columns="progress", decimals=1)
        .cols_align(align="right", columns=["baseline", "target", "latest", "progress"])
        .cols_align(align="center", columns="on_track")
        .tab_source_note(
            "進捗率 = (最新値 − 現状値) ÷ (目標値 − 現状値)。"
            "順調: ○ 進捗率が最新値の時点までの戦略期間の経過割合以上、× 未満、— 判定できない。"
        )
        .tab_source_note(source_note)
    )
    return _page.table(gt)


def _department_table(
    con: duckdb.DuckDBPyConnection,
    params: Mapping[str, object],
    legend: Mapping[str, str],
    source_note: str,
    table_id: str,
) -> _page.SafeHtml:
    df = con.execute(
        """
        SELECT department, n_a AS a, n_b AS b, n_c AS c, n_d AS d, n_e AS e,
               n_projects AS total
        FROM v_department_summary
        WHERE municipality = $m AND fiscal_year = $fy
        ORDER BY n_projects DESC, department
        """,
        params,
    ).df()
    if df.empty:
        return _page.paragraph("この年度の担当課はありません。", css_class="note")
    gt = GT(df, id=table_id).cols_label(department="担当課")
    gt = _rating_columns(gt, legend, "department")
    gt = (
        gt.tab_source_note(legend_note(legend))
        .tab_source_note("複数の課が担当する事業は、それぞれの課に数えています。")
        .tab_source_note(source_note)
    )
    return _page.table(gt)


def _numbered(no: float | None, title: str | float | None) -> str:
    """`1 うきはの資源活用…`; the number alone when the title is missing."""
    number = "" if no is None or is_missing(no) else str(int(no))
    if is_missing(title):
        return number
    return f"{number} {title}".strip()
