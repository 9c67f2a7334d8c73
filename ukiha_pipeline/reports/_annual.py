"""Annual summary of one municipality's fiscal year: ratings, KPIs, departments (DESIGN §6)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
from great_tables import GT, loc

from ukiha_pipeline.normalize import RATINGS
from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.reports import _batch, _cells, _page
from ukiha_pipeline.reports._format import (
    LEVEL_LABELS,
    MISSING,
    format_as_written,
    format_timestamp,
    format_year,
    is_missing,
    legend_note,
    short_sha,
)
from ukiha_pipeline.reports._validation import validation_filename


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


def split_notices(annual: Sequence[AnnualPage]) -> dict[str, str]:
    """`annual_<FY>.html` → its text, for each year whose summary is split by municipality:
    the page a bookmark of that year's single summary finds (with the old summary's data
    left in it, it would mislead), linking the municipalities' pages."""
    per_year: dict[int, list[AnnualPage]] = {}
    for page in annual:
        if page.several_municipalities:
            per_year.setdefault(page.fiscal_year, []).append(page)
    notices = {}
    for fiscal_year, pages in per_year.items():
        label = fiscal_year_label(fiscal_year)
        notices[f"annual_{fiscal_year}.html"] = _page.page(
            f"{label} 進捗状況年次報告",
            [
                _page.paragraph(
                    f"{label}は複数の市町村のシートがあるため、年次報告は市町村ごとのページに"
                    "分かれました。"
                ),
                _page.link_list([(p.filename, p.municipality) for p in pages]),
            ],
        )
    return notices


SECTIONS: tuple[tuple[str, str], ...] = (
    ("policies", "基本方針別の進捗状況"),
    ("measures", "施策別の進捗状況"),
    ("kpis", "KPI(重要業績評価指標)"),
    ("departments", "担当課別の進捗状況"),
)


#: The rows of a batch of pages: their municipalities in all their years (the few rows of
#: other (municipality, year) pairs are dropped when the rows are split per page).
_IN_BATCH = "list_contains($m, {0}municipality) AND list_contains($fy, {0}fiscal_year)"


@dataclass(frozen=True)
class AnnualRows:
    """What one annual summary shows, as read from the warehouse (`read_annual`)."""

    sheets: list[_batch.Row]
    policies: pd.DataFrame
    measures: pd.DataFrame
    kpis: list[_batch.Row]
    departments: pd.DataFrame
    department_projects: list[_batch.Row]


def read_annual(
    con: duckdb.DuckDBPyConnection, pages: Sequence[AnnualPage]
) -> dict[AnnualPage, AnnualRows]:
    """The rows of many annual summaries: one query per section for all of them."""
    params = {
        "m": sorted({p.municipality for p in pages}),
        "fy": sorted({p.fiscal_year for p in pages}),
    }
    _, sheets = _batch.rows_by_key(con, _SHEETS_SQL, params, 2)
    no_policies, policies = _batch.frames_by_key(con, _POLICIES_SQL, params, 2)
    no_measures, measures = _batch.frames_by_key(con, _MEASURES_SQL, params, 2)
    _, kpis = _batch.rows_by_key(con, _KPIS_SQL, params, 2)
    no_departments, departments = _batch.frames_by_key(con, _DEPARTMENTS_SQL, params, 2)
    _, projects = _batch.rows_by_key(con, _DEPARTMENT_PROJECTS_SQL, params, 2)
    out = {}
    for page in pages:
        key = (page.municipality, page.fiscal_year)
        out[page] = AnnualRows(
            sheets=sheets.get(key, []),
            policies=policies.get(key, no_policies),
            measures=measures.get(key, no_measures),
            kpis=kpis.get(key, []),
            departments=departments.get(key, no_departments),
            department_projects=projects.get(key, []),
        )
    return out


def annual_html(
    annual: AnnualPage,
    rows: AnnualRows,
    legend: Mapping[str, str],
    *,
    fingerprint: str | None = None,
) -> str:
    sources = _sources(rows.sheets)
    source_note = "出典: " + " / ".join(sources) if sources else "出典: —"
    titles = dict(SECTIONS)
    facts, links = _sheet_facts(rows.sheets)
    parts = [
        _page.facts(facts, html_items=links),
        _page.toc(SECTIONS),
        _page.heading(titles["policies"], anchor="policies"),
        _policy_table(rows.policies, legend, source_note, "annual-policies"),
        _page.heading(titles["measures"], anchor="measures"),
        _measure_table(rows.measures, legend, source_note, "annual-measures"),
        _page.heading(titles["kpis"], anchor="kpis"),
        _kpi_table(rows.kpis, source_note, "annual-kpis"),
        _page.heading(titles["departments"], anchor="departments"),
        _department_table(
            rows.departments, rows.department_projects, legend, source_note, "annual-departments"
        ),
    ]
    return _page.page(annual.title, parts, fingerprint=fingerprint)


_SHEETS_SQL = f"""
    SELECT municipality, fiscal_year, source_file, source_sha256, run_id, n_projects, n_kpis,
           n_errors, n_warnings, n_quarantined, epoch_us(ingested_at)
    FROM sheets WHERE {_IN_BATCH.format("")} AND status = 'current'
    ORDER BY municipality, fiscal_year, source_file, source_sha256
    """


def _sources(sheets: Sequence[_batch.Row]) -> list[str]:
    return [
        f"{file} (sha256 {short_sha(sha)}, 実行ID {run_id})" for file, sha, run_id, *_ in sheets
    ]


def _sheet_facts(
    sheets: Sequence[_batch.Row],
) -> tuple[list[tuple[str, str | None]], list[tuple[str, _page.SafeHtml]]]:
    items: list[tuple[str, str | None]] = []
    links: list[tuple[str, _page.SafeHtml]] = []
    for (
        file, sha, run_id, n_projects, n_kpis, n_errors, n_warnings, n_quarantined, ingested,
    ) in sheets:  # fmt: skip
        items += [
            ("シート", file),
            ("SHA-256", sha),
            ("実行ID", run_id),
            ("取込日時", format_timestamp(ingested)),
            ("件数", f"事業 {n_projects:,} 件、KPI {n_kpis:,} 件"),
        ]
        links.append(
            (
                "検証",
                _cells.link(
                    validation_filename(file),
                    f"エラー {n_errors:,} 件(隔離 {n_quarantined:,} 行)、警告 {n_warnings:,} 件",
                ),
            )
        )
    return items, links


_COUNT_COLS = [r.lower() for r in RATINGS]


def _rating_sums(alias: str) -> str:
    """`sum(n) FILTER (rating = 'A') AS a, ...` over `v_rating_summary` rows named `alias`."""
    cols = [
        f"coalesce(sum({alias}.n) FILTER (WHERE {alias}.rating = '{r}'), 0)::BIGINT AS {r.lower()}"
        for r in RATINGS
    ]
    return ", ".join([*cols, f"coalesce(sum({alias}.n), 0)::BIGINT AS total"])


def _with_distribution(df: pd.DataFrame, legend: Mapping[str, str]) -> pd.DataFrame:
    """Add the coloured A-E bar (`dist`) and, when some projects have no rating, `unrated`."""
    df = df.copy()
    df["unrated"] = df["total"] - df[_COUNT_COLS].sum(axis=1)
    df["dist"] = [
        _cells.distribution(dict(zip(RATINGS, counts, strict=True)), legend)
        for counts in df[_COUNT_COLS].itertuples(index=False, name=None)
    ]
    return df


def _rating_columns(gt: GT, legend: Mapping[str, str], first: str, *, unrated: bool = False) -> GT:
    """Label the A-E count columns, the bar and the total; the legend is the footnote."""
    labels = {r.lower(): r for r in RATINGS}
    count_cols = [*labels, *(["unrated"] if unrated else []), "total"]
    extra = {"unrated": "評価なし"} if unrated else {}
    return (
        gt.cols_label(cases={**labels, **extra, "total": "計", "dist": "分布"})
        .tab_spanner(label="進捗状況(事業数)", columns=[*count_cols, "dist"], id="ratings")
        .fmt_integer(columns=count_cols)
        .cols_align(align="right", columns=count_cols)
        .cols_align(align="left", columns=[first, "dist"])
        .tab_footnote(legend_note(legend), locations=loc.spanner_labels(ids=["ratings"]))
    )


def _count_table(
    df: pd.DataFrame,
    legend: Mapping[str, str],
    first: str,
    first_label: str,
    table_id: str,
    notes: list[str],
    groupname_col: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> _page.SafeHtml:
    """Counts per rating, the bar, and `extra` HTML columns (name → label) after them."""
    extra = dict(extra or {})
    df = _with_distribution(df, legend)
    unrated = bool((df["unrated"] > 0).any())
    cols = [
        *([groupname_col] if groupname_col else []),
        first,
        *_COUNT_COLS,
        *(["unrated"] if unrated else []),
        "total",
        "dist",
        *extra,
    ]
    gt = GT(df[cols], id=table_id, groupname_col=groupname_col).cols_label(
        cases={first: first_label, **extra}
    )
    gt = _rating_columns(gt, legend, first, unrated=unrated)
    for note in notes:
        gt = gt.tab_source_note(note)
    return _page.table(gt, html_columns=["dist", *extra])


_POLICIES_SQL = f"""
    WITH keys AS (
        SELECT municipality, fiscal_year, policy_no FROM policies WHERE {_IN_BATCH.format("")}
        UNION
        SELECT municipality, fiscal_year, policy_no FROM v_rating_summary
        WHERE {_IN_BATCH.format("")}
    )
    SELECT k.municipality, k.fiscal_year, k.policy_no, p.title, {_rating_sums("r")}
    FROM keys k
    LEFT JOIN policies p
           ON p.municipality = k.municipality AND p.fiscal_year = k.fiscal_year
          AND p.policy_no = k.policy_no
    LEFT JOIN v_rating_summary r
           ON r.municipality = k.municipality AND r.fiscal_year = k.fiscal_year
          AND r.policy_no = k.policy_no
    GROUP BY k.municipality, k.fiscal_year, k.policy_no, p.title
    ORDER BY k.municipality, k.fiscal_year, k.policy_no
    """


def _policy_table(
    df: pd.DataFrame, legend: Mapping[str, str], source_note: str, table_id: str
) -> _page.SafeHtml:
    if df.empty:
        return _page.paragraph("この年度の事業はありません。", css_class="note")
    df = df.copy()
    df["policy"] = [
        _numbered(no, title) for no, title in zip(df["policy_no"], df["title"], strict=True)
    ]
    totals = {c: int(df[c].sum()) for c in [*_COUNT_COLS, "total"]}
    df = pd.concat([df, pd.DataFrame([{"policy": "合計", **totals}])], ignore_index=True)
    return _count_table(df, legend, "policy", "基本方針", table_id, [source_note])


_MEASURE_COUNTS = ", ".join(
    f"count(p.project_key) FILTER (WHERE p.rating = '{r}') AS {r.lower()}" for r in RATINGS
)
_MEASURES_SQL = f"""
    WITH keys AS (
        SELECT municipality, fiscal_year, policy_no, measure_no FROM measures
        WHERE {_IN_BATCH.format("")}
        UNION
        SELECT municipality, fiscal_year, policy_no, measure_no FROM projects
        WHERE {_IN_BATCH.format("")}
    )
    SELECT k.municipality, k.fiscal_year, k.policy_no, k.measure_no,
           pol.title AS policy_title, m.title, {_MEASURE_COUNTS}, count(p.project_key) AS total
    FROM keys k
    LEFT JOIN policies pol
           ON pol.municipality = k.municipality AND pol.fiscal_year = k.fiscal_year
          AND pol.policy_no = k.policy_no
    LEFT JOIN measures m
           ON m.municipality = k.municipality AND m.fiscal_year = k.fiscal_year
          AND m.policy_no = k.policy_no AND m.measure_no = k.measure_no
    LEFT JOIN projects p
           ON p.municipality = k.municipality AND p.fiscal_year = k.fiscal_year
          AND p.policy_no = k.policy_no AND p.measure_no = k.measure_no
    GROUP BY ALL
    ORDER BY k.municipality, k.fiscal_year, k.policy_no, k.measure_no
    """


def _measure_table(
    df: pd.DataFrame, legend: Mapping[str, str], source_note: str, table_id: str
) -> _page.SafeHtml:
    if df.empty:
        return _page.paragraph("この年度の施策はありません。", css_class="note")
    df = df.copy()
    df["group"] = [
        f"基本方針{_numbered(no, title)}"
        for no, title in zip(df["policy_no"], df["policy_title"], strict=True)
    ]
    df["measure"] = [
        _numbered(no, title) for no, title in zip(df["measure_no"], df["title"], strict=True)
    ]
    return _count_table(
        df, legend, "measure", "施策", table_id, [source_note], groupname_col="group"
    )


_KPIS_SQL = f"""
    SELECT v.municipality, v.fiscal_year,
           v.policy_no, pol.title AS policy_title, v.level, v.measure_no, v.name,
           k.definition,
           v.baseline_value, coalesce(k.baseline_unit, v.unit), k.raw_baseline,
           k.baseline_note,
           v.target_value, coalesce(k.target_unit, v.unit), k.raw_target, k.target_note,
           v.latest_value, coalesce(k.latest_unit, v.unit), k.raw_latest, k.latest_note,
           v.latest_year, v.latest_year_kind, k.latest_year_range, v.latest_is_stale,
           v.progress, v.elapsed_share, v.on_track
    FROM v_kpi_progress v
    JOIN kpis k USING (municipality, fiscal_year, kpi_key)
    LEFT JOIN policies pol
           ON pol.municipality = v.municipality AND pol.fiscal_year = v.fiscal_year
          AND pol.policy_no = v.policy_no
    WHERE {_IN_BATCH.format("v.")}
    ORDER BY v.municipality, v.fiscal_year,
             v.policy_no, v.measure_no NULLS FIRST, k.source_line, v.kpi_key
    """


def _kpi_table(rows: Sequence[_batch.Row], source_note: str, table_id: str) -> _page.SafeHtml:
    if not rows:
        return _page.paragraph("この年度のKPIはありません。", css_class="note")
    records = []
    for (
        policy_no, policy_title, level, measure_no, name, definition,
        baseline, baseline_unit, raw_baseline, baseline_note,
        target, target_unit, raw_target, target_note,
        latest, latest_unit, raw_latest, latest_note,
        latest_year, latest_kind, latest_range, stale, progress, elapsed, on_track,
    ) in rows:  # fmt: skip
        records.append(
            {
                "group": f"基本方針{_numbered(policy_no, policy_title)}",
                "level": LEVEL_LABELS.get(level, level)
                + (f"{measure_no}" if level == "measure" and measure_no is not None else ""),
                "name": _cells.with_note(name, definition),
                "baseline": _value_cell(baseline, baseline_unit, raw_baseline, baseline_note),
                "target": _value_cell(target, target_unit, raw_target, target_note),
                "latest": _value_cell(latest, latest_unit, raw_latest, latest_note),
                "latest_year": _cells.with_note(
                    format_year(latest_year, latest_kind, latest_range),
                    "前年度以前の値" if stale else None,
                ),
                "progress": _cells.progress(progress, elapsed, on_track),
                "on_track": _cells.on_track(on_track),
            }
        )
    df = pd.DataFrame.from_records(records)
    html_cols = [c for c in df.columns if c not in ("group", "level")]
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
            on_track="判定",
        )
        .cols_align(align="right", columns=["baseline", "target", "latest"])
        .cols_align(align="center", columns="on_track")
        .tab_source_note(
            "進捗率 = (最新値 − 現状値) ÷ (目標値 − 現状値)。棒の縦線は、最新値の時点までに"
            "経過した戦略期間(令和3〜7年度)の割合です。"
        )
        .tab_source_note(
            "判定: ○ 進捗率が経過割合以上(順調)、× 経過割合未満(遅れ)、"
            "— 判定できない(値がない、または時点が戦略期間より前)。"
        )
        .tab_source_note(
            "値はシートの書き方(万・千などの単位)で示し、桁区切りを付けています。"
            "シートに書かれたままの値は、値の上にポインターを置くと表示されます。"
        )
        .tab_source_note(source_note)
    )
    return _page.table(gt, html_columns=html_cols)


def _value_cell(
    value: float | None, unit: str | None, raw: str | None, note: str | None
) -> _page.SafeHtml:
    """A KPI value as the sheet scaled it (`240万人`), its note below, the raw text on hover."""
    shown = format_as_written(value, unit, raw)
    if shown is None:
        shown = raw if raw and not is_missing(raw) else None  # 集計中: show what was written
    return _cells.with_note(shown, note, title=raw)


_DEPARTMENTS_SQL = f"""
    SELECT municipality, fiscal_year,
           department, n_a AS a, n_b AS b, n_c AS c, n_d AS d, n_e AS e, n_projects AS total
    FROM v_department_summary WHERE {_IN_BATCH.format("")}
    ORDER BY municipality, fiscal_year, n_projects DESC, department
    """


def _department_table(
    df: pd.DataFrame,
    project_rows: Sequence[_batch.Row],
    legend: Mapping[str, str],
    source_note: str,
    table_id: str,
) -> _page.SafeHtml:
    """Rating counts per department, each with the list of its projects and their ratings
    (folded: a click on 事業一覧 opens it; no script)."""
    if df.empty:
        return _page.paragraph("この年度の担当課はありません。", css_class="note")
    projects = _department_projects(project_rows, legend)
    df = df.copy()
    df["projects"] = [projects.get(d, _cells.text(None)) for d in df["department"]]
    notes = [
        "事業一覧: 進捗状況、方針-施策-取組の番号、事業内容(括弧内は担当の係)。"
        "事業化が × の事業には「事業化 ×」と示しています。",
        "複数の課が担当する事業は、それぞれの課に数えています。",
        source_note,
    ]
    return _count_table(
        df, legend, "department", "担当課", table_id, notes, extra={"projects": "事業一覧"}
    )


_DEPARTMENT_PROJECTS_SQL = f"""
    SELECT d.municipality, d.fiscal_year,
           d.department, string_agg(DISTINCT d.section, ' ' ORDER BY d.section),
           p.policy_no, p.measure_no, p.submeasure_no, p.content, p.commercialized,
           p.raw_flag, p.rating, p.raw_rating, p.seq, p.project_key
    FROM project_departments d
    JOIN projects p USING (municipality, fiscal_year, project_key)
    WHERE {_IN_BATCH.format("d.")}
    GROUP BY ALL
    ORDER BY d.municipality, d.fiscal_year,
             d.department, p.policy_no, p.measure_no, p.submeasure_no, p.seq, p.project_key
    """


def _department_projects(
    rows: Sequence[_batch.Row], legend: Mapping[str, str]
) -> dict[str, _page.SafeHtml]:
    items: dict[str, list[str]] = {}
    for (
        department, sections, policy_no, measure_no, sub_no, content,
        commercialized, raw_flag, rating, raw_rating, _seq, _key,
    ) in rows:  # fmt: skip
        flag = _flag_text(commercialized, raw_flag)
        line = (
            f"{_cells.chip(rating if rating else raw_rating, legend)} "
            f'<span class="place">{policy_no}-{measure_no}-{sub_no}</span> '
            f"{html.escape(content)}"
            + (f'<span class="na">({html.escape(sections)})</span>' if sections else "")
            + (f' <span class="stop">事業化 {html.escape(flag)}</span>' if flag != "○" else "")
        )
        items.setdefault(department, []).append(f"<li>{line}</li>")
    return {
        department: _page.SafeHtml(
            f"<details><summary>事業一覧({len(lines):,})</summary>"
            f'<ul class="plist">{"".join(lines)}</ul></details>'
        )
        for department, lines in items.items()
    }


def _flag_text(commercialized: bool | None, raw_flag: str | None) -> str:
    if commercialized is None or is_missing(commercialized):
        return raw_flag if raw_flag else MISSING
    return "○" if commercialized else "×"


def _numbered(no: float | None, title: str | float | None) -> str:
    """`1 うきはの資源活用…`; the number alone when the title is missing."""
    number = "" if no is None or is_missing(no) else str(int(no))
    if is_missing(title):
        return number
    return f"{number} {title}".strip()
