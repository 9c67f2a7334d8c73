"""Validation report per sheet file for data stewards: the latest run's failures (DESIGN §6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import duckdb
import pandas as pd
from great_tables import GT

from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.reports import _batch, _cells, _page
from ukiha_pipeline.reports._format import SEVERITY_LABELS, STATUS_LABELS, format_timestamp
from ukiha_pipeline.warehouse.schema import table_or_empty

#: Failure columns shown, with their labels (worksheet only when a workbook has one).
_FAILURE_COLUMNS: dict[str, str] = {
    "line": "行",
    "worksheet": "ワークシート",
    "column": "列",
    "check": "チェック",
    "value": "値",
    "message": "内容と対処",
    "row_text": "元の行",
}

_SEVERITY_SHORT: dict[str, str] = {"fatal": "致命的", "error": "エラー", "warning": "警告"}

#: How a tab (a cell boundary of the sheet) shows in the original row.
TAB_MARK = " ⇥ "


@dataclass(frozen=True)
class LatestRun:
    """The latest run that looked at one source file, and what it found."""

    source_file: str
    run_id: str
    at_us: int
    fiscal_year: int | None
    n_fatal: int
    n_error: int
    n_warning: int

    @property
    def n_failures(self) -> int:
        return self.n_fatal + self.n_error + self.n_warning


@dataclass(frozen=True)
class ValidationPage:
    """`validation_<stem>.html`: every source file with that stem (normally one)."""

    stem: str
    filename: str
    runs: tuple[LatestRun, ...]

    @property
    def fiscal_year(self) -> int | None:
        years = [r.fiscal_year for r in self.runs if r.fiscal_year is not None]
        return max(years) if years else None

    @property
    def title(self) -> str:
        return f"検証結果 {self.stem}"

    @property
    def link_text(self) -> str:
        year = fiscal_year_label(self.fiscal_year) if self.fiscal_year is not None else "年度不明"
        fatal = sum(r.n_fatal for r in self.runs)
        errors = sum(r.n_error for r in self.runs)
        warnings = sum(r.n_warning for r in self.runs)
        counts = f"エラー {errors:,} 件、警告 {warnings:,} 件"
        if fatal:
            counts = f"致命的 {fatal:,} 件、" + counts
        return f"{self.stem}({year}): {counts}"


def sheet_stem(source_file: str) -> str:
    """`data/raw/r3.txt` → `r3` (backslash-separated paths too)."""
    return PurePosixPath(source_file.replace("\\", "/")).stem


def validation_filename(source_file: str) -> str:
    """The report of a sheet file: `data/raw/r3.txt` → `validation_r3.html` (DESIGN §6)."""
    return f"validation_{_page.file_name_part(sheet_stem(source_file))}.html"


def validation_pages(con: duckdb.DuckDBPyConnection) -> list[ValidationPage]:
    """One page per sheet file stem found in `validation_failures` or `sheets`.

    The latest run of a file is the one with the latest time among its failures
    (`recorded_at`) and its loads (`ingested_at`): a clean later run shows as clean, not as
    the failures of an earlier one. A file a run found unchanged after a fatal run
    (`restored_files`) shows, from that time on, the run that loaded its content.
    """
    rows = con.execute(
        f"""
        WITH runs AS (
            SELECT source_file, run_id, recorded_at AS seen_at, NULL AS restored_at,
                   NULL AS restored_fy
            FROM validation_failures
            UNION ALL
            SELECT source_file, run_id, ingested_at, NULL, NULL FROM sheets
            UNION ALL
            SELECT r.source_file, coalesce(s.run_id, r.run_id), NULL, r.recorded_at,
                   r.fiscal_year
            FROM {table_or_empty(con, "restored_files")} r
            LEFT JOIN sheets s USING (source_sha256)
        ),
        per_run AS (
            SELECT source_file, run_id, max(seen_at) AS seen_at,
                   greatest(max(seen_at), max(restored_at)) AS latest_at,
                   max(restored_fy) AS restored_fy
            FROM runs
            GROUP BY source_file, run_id
        ),
        latest AS (
            SELECT * FROM per_run
            QUALIFY row_number() OVER (
                PARTITION BY source_file ORDER BY latest_at DESC, run_id DESC) = 1
        ),
        counts AS (
            SELECT source_file, run_id, max(fiscal_year) AS fiscal_year,
                   count(*) FILTER (WHERE severity = 'fatal') AS n_fatal,
                   count(*) FILTER (WHERE severity = 'error') AS n_error,
                   count(*) FILTER (WHERE severity = 'warning') AS n_warning
            FROM validation_failures GROUP BY ALL
        ),
        run_sheets AS (
            SELECT source_file, run_id, max(fiscal_year) AS fiscal_year FROM sheets GROUP BY ALL
        ),
        file_sheets AS (
            SELECT source_file, arg_max(fiscal_year, ingested_at) AS fiscal_year
            FROM sheets GROUP BY ALL
        )
        SELECT l.source_file, l.run_id, epoch_us(coalesce(l.seen_at, l.latest_at)),
               coalesce(rs.fiscal_year, c.fiscal_year, l.restored_fy, fs.fiscal_year),
               coalesce(c.n_fatal, 0), coalesce(c.n_error, 0), coalesce(c.n_warning, 0)
        FROM latest l
        LEFT JOIN counts c USING (source_file, run_id)
        LEFT JOIN run_sheets rs USING (source_file, run_id)
        LEFT JOIN file_sheets fs USING (source_file)
        ORDER BY l.source_file
        """
    ).fetchall()
    by_name: dict[str, tuple[str, list[LatestRun]]] = {}
    for row in rows:
        run = LatestRun(*row)
        stem = sheet_stem(run.source_file)
        filename = validation_filename(run.source_file)
        by_name.setdefault(filename, (stem, []))[1].append(run)
    pages = [ValidationPage(stem, name, tuple(runs)) for name, (stem, runs) in by_name.items()]
    return sorted(pages, key=lambda p: (-(p.fiscal_year or 0), p.filename))


@dataclass(frozen=True)
class ValidationRows:
    """What one validation report shows of one run (`read_validation`)."""

    sheet: _batch.Row | None  # the file's newest load: run, status, sha256, municipality, time
    failure_sha: str | None  # the sha256 its failures name (when it was not loaded)
    checks: pd.DataFrame
    failures: pd.DataFrame


def read_validation(
    con: duckdb.DuckDBPyConnection, pages: Sequence[ValidationPage]
) -> dict[LatestRun, ValidationRows]:
    """The rows of many validation reports: one query per section for all their runs."""
    runs = [run for page in pages for run in page.runs]
    params = {"f": sorted({r.source_file for r in runs}), "r": sorted({r.run_id for r in runs})}
    _, sheets = _batch.rows_by_key(con, _SHEET_SQL, {"f": params["f"]}, 1)
    _, shas = _batch.rows_by_key(con, _FAILURE_SHA_SQL, params, 2)
    no_checks, checks = _batch.frames_by_key(con, _CHECKS_SQL, params, 2)
    no_failures, failures = _batch.frames_by_key(con, _FAILURES_SQL, params, 2)
    out = {}
    for run in runs:
        key = (run.source_file, run.run_id)
        sheet = sheets.get(run.source_file)
        sha = shas.get(key)
        out[run] = ValidationRows(
            sheet=sheet[0] if sheet else None,
            failure_sha=sha[0][0] if sha else None,
            checks=checks.get(key, no_checks),
            failures=failures.get(key, no_failures),
        )
    return out


def validation_html(
    page: ValidationPage,
    rows: Mapping[LatestRun, ValidationRows],
    *,
    fingerprint: str | None = None,
) -> str:
    """`rows` hold (at least) those of the page's runs."""
    parts: list[_page.SafeHtml] = [
        _page.paragraph(
            "シートを検証した最新の実行で見つかった問題です。"
            "エラーの行は集計に含まれていません。シートを直して、もう一度取り込んでください。",
            css_class="note",
        )
    ]
    for i, run in enumerate(page.runs, start=1):
        if len(page.runs) > 1:
            parts.append(_page.heading(run.source_file))
        parts.append(_page.facts(_run_facts(run, rows[run])))
        if run.n_failures == 0:
            parts.append(_page.paragraph("問題は見つかりませんでした。", css_class="empty"))
        else:
            table_id = f"validation-{i}" if len(page.runs) > 1 else "validation"
            parts.append(_check_summary(rows[run].checks, f"{table_id}-checks"))
            parts.append(_failure_table(run, rows[run].failures, table_id))
    return _page.page(page.title, parts, fingerprint=fingerprint)


#: Each file's newest load (the rows of a batch's files).
_SHEET_SQL = """
    SELECT source_file, run_id, status, source_sha256, municipality, epoch_us(ingested_at)
    FROM sheets WHERE list_contains($f, source_file)
    QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY ingested_at DESC, sheet_id) = 1
    """

#: The rows of a batch of runs: their files in all their runs (rows of other (file, run) pairs
#: are dropped when the rows are split per run).
_IN_BATCH = "list_contains($f, source_file) AND list_contains($r, run_id)"


def _run_facts(run: LatestRun, rows: ValidationRows) -> list[tuple[str, str | None]]:
    sheet = rows.sheet
    if run.n_fatal:
        loaded = "読み込まれていません(致命的な問題のため。この年度の前回の読込はそのままです)"
    elif sheet is None:
        loaded = "読み込まれていません"
    else:
        sheet_run, status, _sha, municipality, ingested = sheet
        loaded = (
            f"{municipality} {STATUS_LABELS.get(status, status)}"
            f"(実行ID {sheet_run}、取込 {format_timestamp(ingested)})"
        )
    return [
        ("シート", run.source_file),
        ("年度", fiscal_year_label(run.fiscal_year) if run.fiscal_year is not None else None),
        ("実行ID", run.run_id),
        ("検証日時", format_timestamp(run.at_us)),
        ("読込", loaded),
        (
            "件数",
            f"致命的 {run.n_fatal:,} 件、エラー {run.n_error:,} 件、警告 {run.n_warning:,} 件",
        ),
        ("SHA-256", sheet[2] if sheet is not None else rows.failure_sha),
    ]


_FAILURE_SHA_SQL = f"""
    SELECT source_file, run_id, max(source_sha256) FROM validation_failures
    WHERE {_IN_BATCH} GROUP BY source_file, run_id
    """

_CHECKS_SQL = f"""
    SELECT source_file, run_id, severity, "check", count(*) AS n, min(line) AS first_line,
           -- the first line's hint (ties by text), and a pointer when other lines have others
           concat(arg_min(hint, (coalesce(line, 0), hint)),
                  CASE WHEN count(DISTINCT hint) > 1
                       THEN ' (ほかの行の対処は、下の一覧の各行にあります)' END) AS hint
    FROM validation_failures
    WHERE {_IN_BATCH}
    GROUP BY source_file, run_id, severity, "check"
    ORDER BY source_file, run_id,
             CASE severity WHEN 'fatal' THEN 0 WHEN 'error' THEN 1 ELSE 2 END, n DESC, "check"
    """


def _check_summary(df: pd.DataFrame, table_id: str) -> _page.SafeHtml:
    """How many failures of each check, with what to do: the overview before the details."""
    df = df.copy()
    df["severity"] = df["severity"].map(lambda s: _SEVERITY_SHORT.get(s, s))
    df["first_line"] = df["first_line"].astype("Int64")
    gt = (
        GT(df, id=table_id)
        .cols_label(
            severity="重大度", check="チェック", n="件数", first_line="最初の行", hint="対処"
        )
        .fmt_integer(columns="n")
        .fmt_integer(columns="first_line", use_seps=False)
        .cols_align(align="right", columns=["n", "first_line"])
    )
    return _page.table(gt)


_FAILURES_SQL = f"""
    SELECT source_file, run_id,
           severity, line, worksheet, "column", "check", value, message, hint, waived, row_text
    FROM validation_failures
    WHERE {_IN_BATCH}
    ORDER BY source_file, run_id,
             CASE severity WHEN 'fatal' THEN 0 WHEN 'error' THEN 1 ELSE 2 END,
             line NULLS FIRST, worksheet, "column", "check", value, message, hint, row_text
    """


def _failure_table(run: LatestRun, df: pd.DataFrame, table_id: str) -> _page.SafeHtml:
    df = df.copy()
    df["severity"] = df["severity"].map(lambda s: SEVERITY_LABELS.get(s, s))
    df["row_text"] = df["row_text"].map(
        lambda t: t.replace("\t", TAB_MARK) if isinstance(t, str) else t
    )
    df["line"] = df["line"].astype("Int64")
    df["message"] = [
        _cells.with_note(message, _what_to_do(hint, waived))
        for message, hint, waived in zip(df["message"], df["hint"], df["waived"], strict=True)
    ]
    labels = {c: label for c, label in _FAILURE_COLUMNS.items() if c != "worksheet"}
    if df["worksheet"].notna().any():
        labels = dict(_FAILURE_COLUMNS)
    df = df[["severity", *labels]]
    present = [label for label in SEVERITY_LABELS.values() if label in set(df["severity"])]
    gt = (
        GT(df, id=table_id, groupname_col="severity")
        .row_group_order(present)
        .cols_label(cases={**labels})
        .fmt_integer(columns="line", use_seps=False)
        .cols_align(align="right", columns="line")
        .cols_align(align="left", columns=[c for c in labels if c != "line"])
        .tab_source_note("内容の下の行は、対処のしかたです。")
        .tab_source_note(
            "行: テキストファイルの行番号、またはブックの行番号。"
            f"元の行の「{TAB_MARK.strip()}」はタブ(セルの区切り)です。"
        )
        .tab_source_note(f"出典: {run.source_file}(実行ID {run.run_id})")
    )
    return _page.table(gt, html_columns=["message"])


def _what_to_do(hint: object, waived: object) -> str | None:
    lines = []
    if isinstance(hint, str) and hint:
        lines.append(f"→ {hint}")
    if isinstance(waived, str) and waived:
        lines.append(f"許容済み: {waived}")
    return " ".join(lines) or None
