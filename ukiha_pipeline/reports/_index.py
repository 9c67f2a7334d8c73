"""`index.html`: links to every report, newest year first, and one status line per sheet file
(DESIGN §6)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
from great_tables import GT

from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.reports import _cells, _page
from ukiha_pipeline.reports._annual import AnnualPage
from ukiha_pipeline.reports._format import STATUS_LABELS, format_timestamp
from ukiha_pipeline.reports._trends import TrendsPage
from ukiha_pipeline.reports._validation import LatestRun, ValidationPage

_UNKNOWN_YEAR = "年度不明"


@dataclass(frozen=True)
class _Loaded:
    """What the warehouse holds of one sheet file: its newest load."""

    municipality: str
    fiscal_year: int
    status: str
    n_projects: int
    n_kpis: int
    n_quarantined: int


def render_index(
    con: duckdb.DuckDBPyConnection,
    *,
    annual: Sequence[AnnualPage],
    trends: Sequence[TrendsPage],
    validation: Sequence[ValidationPage],
    fingerprint: str | None = None,
) -> str:
    """`annual` are the pages that exist (in display order: newest year first)."""
    parts = [
        _page.facts(_run_facts(con)),
        _page.heading("年次報告", anchor="annual"),
        _annual_links(annual),
        _page.heading("年度別の推移", anchor="trends"),
        _page.link_list([(p.filename, p.link_text) for p in trends[:1]]),
        _page.heading("シートごとの状態", anchor="sheets"),
        _sheet_status(con, validation, {(p.municipality, p.fiscal_year): p for p in annual}),
    ]
    if len(trends) > 1:
        parts.insert(
            5,
            _page.paragraph(
                f"{len(trends) - 1:,} 自治体の推移は、上のページから自治体ごとに開けます。",
                css_class="note",
            ),
        )
    return _page.page(_title(con), parts, home=False, fingerprint=fingerprint)


def _title(con: duckdb.DuckDBPyConnection) -> str:
    municipalities = [
        m for (m,) in con.execute("SELECT DISTINCT municipality FROM sheets ORDER BY 1").fetchall()
    ]
    if len(municipalities) == 1:
        return f"{municipalities[0]} PDCAシート レポート一覧"
    return "PDCAシート レポート一覧"


def _run_facts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None]]:
    """The newest run that touched the warehouse (a load or a check), and the totals."""
    last = con.execute(
        """
        SELECT run_id, epoch_us(seen_at) FROM (
            SELECT run_id, ingested_at AS seen_at FROM sheets
            UNION ALL SELECT run_id, recorded_at AS seen_at FROM validation_failures
        ) ORDER BY seen_at DESC, run_id DESC LIMIT 1
        """
    ).fetchone()
    totals = con.execute(
        """
        SELECT count(*) FILTER (WHERE status = 'current'), count(DISTINCT municipality),
               min(fiscal_year) FILTER (WHERE status = 'current'),
               max(fiscal_year) FILTER (WHERE status = 'current')
        FROM sheets
        """
    ).fetchone()
    items: list[tuple[str, str | None]] = []
    if last is not None:
        items += [("最終実行", format_timestamp(last[1])), ("実行ID", last[0])]
    if totals is not None and totals[0]:
        n_current, n_municipalities, first, newest = totals
        span = fiscal_year_label(newest)
        if first != newest:
            span = f"{fiscal_year_label(first)} 〜 {fiscal_year_label(newest)}"
        items += [
            ("集計中のシート", f"{n_current:,} 件({n_municipalities:,} 自治体)"),
            ("年度", span),
        ]
    return items


def _annual_links(annual: Sequence[AnnualPage]) -> _page.SafeHtml:
    """One line per fiscal year, newest first; with several municipalities, one link each."""
    if not annual:
        return _page.paragraph("ありません", css_class="note")
    per_year: dict[int, list[AnnualPage]] = {}
    for p in annual:
        per_year.setdefault(p.fiscal_year, []).append(p)
    items = []
    for fiscal_year, pages in sorted(per_year.items(), reverse=True):
        if len(pages) == 1 and not pages[0].several_municipalities:
            items.append(f"<li>{_cells.link(pages[0].filename, pages[0].link_text)}</li>")
            continue
        links = " · ".join(_cells.link(p.filename, p.municipality) for p in pages)
        label = html.escape(fiscal_year_label(fiscal_year))
        items.append(f"<li><strong>{label}</strong>: {links}</li>")
    return _page.SafeHtml(f"<ul>{''.join(items)}</ul>")


def _loaded(con: duckdb.DuckDBPyConnection) -> dict[str, _Loaded]:
    rows = con.execute(
        """
        SELECT source_file, municipality, fiscal_year, status, n_projects, n_kpis, n_quarantined
        FROM sheets
        QUALIFY row_number() OVER (
            PARTITION BY source_file ORDER BY ingested_at DESC, sheet_id DESC) = 1
        """
    ).fetchall()
    return {row[0]: _Loaded(*row[1:]) for row in rows}


def _status_line(run: LatestRun, loaded: _Loaded | None) -> _page.SafeHtml:
    """One line: loaded or not, and what the latest check found."""
    counts = f"エラー {run.n_error:,}・警告 {run.n_warning:,}"
    if run.n_fatal:
        text, css = f"✗ 読み込まれていません(致命的 {run.n_fatal:,} 件)", "behind"
    elif loaded is None:
        text, css = f"未読込・{counts}", "na"
    elif loaded.status == "current":
        mark, css = ("✓", "ok") if run.n_error == 0 else ("△", "warn")
        text = f"{mark} 読込済み・事業 {loaded.n_projects:,}・KPI {loaded.n_kpis:,}・{counts}" + (
            f"(隔離 {loaded.n_quarantined:,} 行)" if loaded.n_quarantined else ""
        )
    else:
        text, css = f"{STATUS_LABELS.get(loaded.status, loaded.status)}・{counts}", "na"
    return _page.SafeHtml(f'<span class="{css}">{html.escape(text)}</span>')


def _sheet_status(
    con: duckdb.DuckDBPyConnection,
    validation: Sequence[ValidationPage],
    annual: dict[tuple[str, int], AnnualPage],
) -> _page.SafeHtml:
    if not validation:
        return _page.paragraph("まだシートは読み込まれていません。", css_class="note")
    loaded = _loaded(con)
    several = len({s.municipality for s in loaded.values()}) > 1
    records: list[tuple[tuple[int, str, str], dict[str, object]]] = []
    for vpage in validation:
        for run in vpage.runs:
            sheet = loaded.get(run.source_file)
            fiscal_year = sheet.fiscal_year if sheet else run.fiscal_year
            municipality = sheet.municipality if sheet else None
            page = annual.get((municipality, fiscal_year)) if municipality and fiscal_year else None
            where = f"{municipality} " if municipality and several else ""
            records.append(
                (
                    (-(fiscal_year or 0), municipality or "", run.source_file),
                    {
                        "group": fiscal_year_label(fiscal_year) if fiscal_year else _UNKNOWN_YEAR,
                        "file": _page.SafeHtml(
                            html.escape(where) + _cells.link(vpage.filename, run.source_file)
                        ),
                        "status": _page.SafeHtml(
                            _status_line(run, sheet)
                            + f' <span class="sub">{html.escape(format_timestamp(run.at_us) or "")}'
                            "</span>"
                        ),
                        "annual": _cells.link(page.filename, "年次報告")
                        if page and sheet and sheet.status == "current"
                        else _cells.text(None),
                    },
                )
            )
    records.sort(key=lambda r: r[0])
    df = pd.DataFrame.from_records([r for _, r in records])
    gt = (
        GT(df, id="index-sheets", groupname_col="group")
        .cols_label(file="シート(検証結果)", status="状態(最新の実行)", annual="年次報告")
        .tab_source_note(
            "状態: ✓ 読込済み(エラーなし)、△ 読込済み(エラーの行は隔離)、"
            "✗ 致命的な問題で読み込まれていません、置換済み = 同じ年度の後のシートで置き換え。"
            "件数と日時は、そのシートを検証した最新の実行のものです。"
        )
    )
    return _page.table(gt, html_columns=["file", "status", "annual"])
