"""`index.html`: links to every report and one status line per loaded sheet (DESIGN §6)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd
from great_tables import GT

from ukiha_pipeline.reports import _page
from ukiha_pipeline.reports._format import STATUS_LABELS, format_timestamp


def render_index(
    con: duckdb.DuckDBPyConnection,
    *,
    annual: Sequence[tuple[str, str]],
    trends: Sequence[tuple[str, str]],
    validation: Sequence[tuple[str, str]],
) -> str:
    """Links are `(file name, text)` pairs, already in display order (newest year first)."""
    parts = [
        _page.heading("年次報告"),
        _page.link_list(annual),
        _page.heading("年度別の推移"),
        _page.link_list(trends),
        _page.heading("検証結果(シートごと)"),
        _page.link_list(validation),
        _page.heading("読み込んだシート"),
        _sheet_status(con),
    ]
    return _page.page(_title(con), parts, home=False)


def _title(con: duckdb.DuckDBPyConnection) -> str:
    municipalities = [
        m for (m,) in con.execute("SELECT DISTINCT municipality FROM sheets ORDER BY 1").fetchall()
    ]
    if len(municipalities) == 1:
        return f"{municipalities[0]} PDCAシート レポート一覧"
    return "PDCAシート レポート一覧"


def _sheet_status(con: duckdb.DuckDBPyConnection) -> _page.SafeHtml:
    rows = con.execute(
        """
        SELECT source_file, municipality, fiscal_year, status, n_projects, n_kpis,
               n_errors, n_warnings, epoch_us(ingested_at)
        FROM sheets
        ORDER BY fiscal_year DESC, municipality, ingested_at DESC, sheet_id
        """
    ).fetchall()
    if not rows:
        return _page.paragraph("まだシートは読み込まれていません。", css_class="note")
    df = pd.DataFrame.from_records(
        [
            {
                "file": file,
                "municipality": municipality,
                "fiscal_year": fiscal_year,
                "status": STATUS_LABELS.get(status, status),
                "n_projects": n_projects,
                "n_kpis": n_kpis,
                "n_errors": n_errors,
                "n_warnings": n_warnings,
                "ingested_at": format_timestamp(ingested),
            }
            for (
                file,
                municipality,
                fiscal_year,
                status,
                n_projects,
                n_kpis,
                n_errors,
                n_warnings,
                ingested,
            ) in rows
        ]
    )
    if df["municipality"].nunique() == 1:
        df = df.drop(columns="municipality")
    counts = ["n_projects", "n_kpis", "n_errors", "n_warnings"]
    labels = {
        "file": "シート",
        "municipality": "自治体",
        "fiscal_year": "年度",
        "status": "状態",
        "n_projects": "事業",
        "n_kpis": "KPI",
        "n_errors": "エラー",
        "n_warnings": "警告",
        "ingested_at": "取込日時",
    }
    gt = (
        GT(df, id="index-sheets")
        .cols_label(cases={c: label for c, label in labels.items() if c in df.columns})
        .fmt_integer(columns="fiscal_year", use_seps=False)
        .fmt_integer(columns=counts)
        .tab_source_note(
            "状態: 現行 = その年度の集計に使われているシート、"
            "置換済み = 後の読込で置き換えられたシート。"
        )
    )
    return _page.table(gt)
