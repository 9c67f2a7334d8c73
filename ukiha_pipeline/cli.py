"""`ukiha` command line (DESIGN §5). Exit codes: 0 success, 1 errors or a fatal sheet, 2 usage.

Heavy imports (Prefect, great-tables) happen inside the commands that need them, so that
`ukiha validate`, the steward's edit-and-check loop, stays near the bare import floor.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ukiha_pipeline.errors import UkihaError, UsageError
from ukiha_pipeline.settings import Settings

if TYPE_CHECKING:
    from ukiha_pipeline.runs import RunTarget
    from ukiha_pipeline.validation import ValidationResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="うきは市 PDCA シートの検証・取り込み (Ukiha PDCA sheet pipeline)",
)


WarehouseOpt = Annotated[Path | None, typer.Option("--warehouse", help="DuckDB warehouse file")]
#: the years a `--fiscal-year` can mean: 平成元年度 (1989) on
FISCAL_YEARS = range(1989, 2101)


def _fiscal_year(value: str) -> int:
    """A Gregorian fiscal year (2021), or one written as on a sheet (R3, 令和3年度, H30, 平成元);
    anything else is a usage error that says how to write one (an era number alone, 3 for
    令和3年度, would otherwise check the sheet against no year's departments)."""
    from ukiha_pipeline.normalize.eras import parse_fiscal_year

    year = parse_fiscal_year(value)
    if year is None or year not in FISCAL_YEARS:
        raise typer.BadParameter(
            f"{value}: 年度は 2021 か R3 (令和3年度) のように指定してください "
            f"({FISCAL_YEARS.start}〜{FISCAL_YEARS.stop - 1})。"
        )
    return year


#: Control characters a sheet or a query result may carry (an ESC sequence in a cell would
#: drive the steward's terminal): shown as `\x1b`, not sent. Tabs and line ends stay.
_CONTROLS = str.maketrans(
    {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (0x09, 0x0A)}
)


def _say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """typer.echo for text that holds sheet or warehouse text (not for JSON or CSV, which
    escape or carry it as data)."""
    typer.echo(text.translate(_CONTROLS), err=err, nl=nl)


FiscalYearOpt = Annotated[
    int | None,
    typer.Option(
        "--fiscal-year",
        help="fiscal year (2021, or R3 / 令和3年度), overrides detection",
        parser=_fiscal_year,
    ),
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class Lang(StrEnum):
    ja = "ja"
    en = "en"


class SqlFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _quiet_prefect() -> None:
    """Prefect's telemetry off unless the user set it (before prefect is imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _settings(warehouse: Path | None) -> Settings:
    s = Settings.from_env()
    return replace(s, warehouse=warehouse) if warehouse else s


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="sheet files or folders")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json")
    ] = OutputFormat.text,
    fiscal_year: FiscalYearOpt = None,
    municipality: Annotated[str | None, typer.Option("--municipality")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="message language")] = Lang.ja,
    annotate: Annotated[
        Path | None,
        typer.Option("--annotate", help="write a copy of the sheet with failing cells marked"),
    ] = None,
) -> None:
    """Check sheets and print every failure; writes nothing but the --annotate copy."""
    from ukiha_pipeline.validation.pandera_import import hidden

    # pandera imports hypothesis (data synthesis, unused here: ~0.1 s) whenever it is
    # installed, partly while validating: keep it out of the steward's edit-and-check loop.
    with hidden("hypothesis"):
        from ukiha_pipeline.ingest import discover, same_year_notes
        from ukiha_pipeline.validation import load_context, validate_path

        settings = _settings(None)
        ctx = load_context(settings)
        worst = 0
        found = discover(paths)
        for note in found.notes():
            _say(f"note: {note}", err=True)
        sheets = found.sheets
        if annotate is not None and (len(sheets) != 1 or annotate.suffix.lower() != ".xlsx"):
            raise UsageError("--annotate はシート 1 つに、.xlsx のファイル名で指定してください。")
        read: list[tuple[str, str | None, int | None]] = []
        for path in sheets:
            result = validate_path(
                path,
                ctx,
                fiscal_year=fiscal_year,
                municipality=municipality,
                default_municipality=settings.municipality,
                lang=lang.value,
            )
            worst = max(worst, result.exit_code)
            if annotate is not None:  # before the output: a reader of it may stop early (`head`)
                from ukiha_pipeline.annotate import annotate_path

                written = annotate_path(result, annotate)
            if result.sheet is not None:
                read.append((str(path), result.sheet.municipality, result.sheet.fiscal_year))
            if output is OutputFormat.json:
                for f in result.failures:
                    typer.echo(json.dumps(f.to_json_dict(), ensure_ascii=False))
                for note in result.notes:  # stdout stays one failure per line
                    _say(f"note: {result.source_file}: {note}", err=True)
                continue
            _echo_text(result, lang.value)
        for note in same_year_notes(read):
            _say(f"note: {note}", err=True)
        if annotate is not None:  # exactly one sheet, annotated above
            _say(f"注釈付きのコピー (annotated copy): {written}", err=True)
        raise typer.Exit(worst)


def _shown_value(value: str | None, check: str) -> str:
    """A failure's value as the text output shows it: 「value」, or "" (none written, or a
    malformed row, whose value is the whole row)."""
    return f"「{value}」" if value and check != "malformed_row" else ""


def _spaced(text: str) -> str:
    return f" {text}" if text else ""


def _row_place(line: int | None, worksheet: str | None) -> str:
    """Where a stored failure is: `90行`, `PDCAシート!30行` in a workbook, "" without a line."""
    if line is None:
        return ""
    return f"{worksheet}!{line}行" if worksheet else f"{line}行"


def _echo_text(result: ValidationResult, lang: str = "ja") -> None:
    """One sheet's failures for a steward: the summary line, what was read (a sheet cut short
    or a year taken wrongly shows there), then by severity, each with its place, value,
    check, message and fix."""
    from ukiha_pipeline.ingest import read_line, summary_line

    _say(summary_line(result))
    if result.sheet is not None:
        _say(f"  {read_line(result.sheet, lang)}")
    for severity in ("fatal", "error", "warning"):
        group = [f for f in result.failures if f.severity == severity]
        n_waived = sum(1 for f in group if f.waived is not None)
        of_them = f" (waived {n_waived})" if n_waived else ""
        if group:
            _say(f"  [{severity}] {len(group)}{of_them}")
        for f in group:
            line = (f"line {f.line}" if lang == "en" else f"{f.line}行") if f.line else "-"
            where = f.cell or line
            column = f" {f.column}" if f.column else ""
            value = _spaced(_shown_value(f.value, f.check))
            waived = f" [waived: {f.waived}]" if f.waived is not None else ""
            key = f" (row_key {f.row_key})" if f.row_key else ""
            _say(f"    {where}{column}{value} [{f.check}]{waived} {f.message} → {f.hint}{key}")
    for note in result.notes:
        _say(f"  note: {note}")


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="files or folders (default data/raw)")
    ] = None,
    warehouse: WarehouseOpt = None,
    reports: Annotated[Path | None, typer.Option("--reports", help="report folder")] = None,
    fiscal_year: FiscalYearOpt = None,
    municipality: Annotated[str | None, typer.Option("--municipality")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="ingest sheets already loaded again (after rules/master/waivers change)"
        ),
    ] = False,
) -> None:
    """The annual run (a Prefect flow): new or changed sheets only, then the reports."""
    _quiet_prefect()
    from ukiha_pipeline.runs import RunTarget, wait_for_warehouse

    settings = _settings(warehouse)
    str_paths = [str(p) for p in paths] if paths else None
    str_reports = str(reports) if reports else None
    # the paths and folders the flow will use, resolved as the flow resolves them
    target = RunTarget.resolve(
        settings, str_paths, str(settings.warehouse), str_reports, fiscal_year, municipality
    )
    _check_ingest_inputs(settings, target)
    # another run holding the warehouse: wait UKIHA_LOCK_TIMEOUT, then one line and exit 1
    wait_for_warehouse(settings.warehouse, settings.lock_timeout_s)
    from flows.annual_ingest import annual_ingest, one_shot

    with one_shot():  # no heartbeat thread to wait for at the end (unless configured)
        outcomes = annual_ingest(
            paths=str_paths,
            warehouse=str(settings.warehouse),
            reports=str_reports,
            fiscal_year=fiscal_year,
            municipality=municipality,
            force=force,
        )
    worst = 0
    for o in outcomes:
        _say(
            f"{o['source_file']}: {o['status']} FY{o['fiscal_year'] or '-'} "
            f"projects {o['n_projects']} quarantined {o['n_quarantined']} "
            f"errors {o['n_errors']} warnings {o['n_warnings']}"
            + (f" ({o['message']})" if o["message"] else "")
        )
        if o["status"] not in ("loaded", "unchanged") or int(o["n_errors"]) > 0:  # type: ignore[call-overload]
            worst = 1
    _say(f"warehouse: {settings.warehouse}  reports: {target.reports}/index.html")
    raise typer.Exit(worst)


def _check_ingest_inputs(settings: Settings, target: RunTarget) -> None:
    """What the flow would refuse at its start, refused before Prefect starts (a mistyped path
    costs no temporary server's start-up): paths, the rules and master, the reports folder."""
    from ukiha_pipeline.ingest import discover
    from ukiha_pipeline.validation import load_context

    discover(target.paths)
    load_context(settings)
    if target.reports.exists() and not target.reports.is_dir():
        raise UsageError(f"{target.reports}: レポートを書くフォルダのはずが、ファイルです。")


@app.command()
def report(
    warehouse: WarehouseOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="report folder")] = None,
    fiscal_year: FiscalYearOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="rewrite every page, even those whose data is unchanged")
    ] = False,
) -> None:
    """Re-render the HTML reports from the warehouse."""
    from ukiha_pipeline.reports import render_all
    from ukiha_pipeline.validation.reference import load_rules
    from ukiha_pipeline.warehouse import open_warehouse

    settings = _settings(warehouse)
    out_dir = out or settings.reports
    legend = load_rules(settings.rules_file).legend()
    with open_warehouse(settings.warehouse, read_only=True) as con:
        written = render_all(
            con,
            out_dir,
            fiscal_year=fiscal_year,
            rating_legend=legend,
            force=force,
            workers=settings.report_workers,
        )
    for p in written:
        typer.echo(str(p))


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run read-only")],
    warehouse: WarehouseOpt = None,
    output: Annotated[SqlFormat, typer.Option("--format")] = SqlFormat.table,
) -> None:
    """Read-only SQL on the warehouse (COPY and EXPORT, which write files, are refused)."""
    from ukiha_pipeline.warehouse import open_warehouse
    from ukiha_pipeline.warehouse.query import as_csv, as_json_lines, as_table, run_query

    settings = _settings(warehouse)
    with open_warehouse(settings.warehouse, read_only=True) as con:
        result = run_query(con, query)
    if output is SqlFormat.csv:
        typer.echo(as_csv(result), nl=False)
    elif output is SqlFormat.json:
        for line in as_json_lines(result):
            typer.echo(line)
    else:
        _say(as_table(result), nl=False)


@app.command()
def export(
    parquet: Annotated[
        Path, typer.Option("--parquet", help="folder for one <name>.parquet per table and view")
    ],
    warehouse: WarehouseOpt = None,
) -> None:
    """Write every table and view of the warehouse as Parquet (opens it read-only)."""
    from ukiha_pipeline.warehouse import open_warehouse
    from ukiha_pipeline.warehouse.export import export_parquet

    settings = _settings(warehouse)
    with open_warehouse(settings.warehouse, read_only=True) as con:
        written = export_parquet(con, parquet)
    for p in written:
        typer.echo(str(p))


@app.command()
def failures(
    fiscal_year: Annotated[
        int | None,
        typer.Option(
            "--fiscal-year", help="only this fiscal year (2021, or R3)", parser=_fiscal_year
        ),
    ] = None,
    municipality: Annotated[
        str | None, typer.Option("--municipality", help="only this municipality")
    ] = None,
    warehouse: WarehouseOpt = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json")
    ] = OutputFormat.text,
) -> None:
    """Per sheet: failures new, still open and resolved in the latest run against the previous."""
    from ukiha_pipeline.normalize.eras import fiscal_year_label
    from ukiha_pipeline.warehouse import open_warehouse
    from ukiha_pipeline.warehouse.history import STATUS_JA, failure_history, fatal_latest

    settings = _settings(warehouse)
    with open_warehouse(settings.warehouse, read_only=True) as con:
        history = failure_history(con, fiscal_year=fiscal_year, municipality=municipality)
        # a fatal file's municipality is unknown, its year too unless the sheet was read (a
        # row check the rules make fatal): shown when no municipality is asked for, and for a
        # year asked for when its failures name that year
        fatal = [
            run
            for run in (fatal_latest(con) if municipality is None else [])
            if fiscal_year is None or any(f.fiscal_year == fiscal_year for f in run.failures)
        ]
    if output is OutputFormat.json:
        for run in fatal:
            for rec in run.json_records():
                typer.echo(json.dumps(rec, ensure_ascii=False))
        for h in history:
            for rec in h.json_records():
                typer.echo(json.dumps(rec, ensure_ascii=False))
        return
    for run in fatal:
        _say(
            f"{run.source_file}: run {run.run_id} ({run.recorded_at:%Y-%m-%d %H:%M %Z}) は致命的 "
            f"(fatal): 何も読み込まれていません。年度の履歴は前の読み込みのままです。"
        )
        for f in run.failures:
            where = _row_place(f.line, f.worksheet)
            parts = (where, _shown_value(f.value, f.check), f"[{f.check}]", f.message)
            _say("  fatal    " + " ".join(p for p in parts if p))
    if not history and not fatal:
        only = "・".join(
            f for f in (fiscal_year_label(fiscal_year) if fiscal_year else "", municipality) if f
        )
        _say(f"(読み込まれたシートはありません{f': {only}' if only else ''})")
    for h in history:
        since = (
            f"前回 {h.previous_run_id} ({h.previous_loaded_at:%Y-%m-%d %H:%M %Z}) と比べて"
            if h.previous_run_id
            else "初回"
        )
        at = f"{h.loaded_at:%Y-%m-%d %H:%M %Z}"
        _say(
            f"{h.municipality} {fiscal_year_label(h.fiscal_year)} {h.source_file}: "
            f"実行 {h.run_id} ({at}), {since}: "
            f"新規 {h.n_new}・継続 {h.n_open}・解消 {h.n_resolved}"
        )
        for c in h.changes:
            where = _row_place(c.line, c.worksheet) or "-"
            value = _spaced(_shown_value(c.value, c.check))
            waived = f" [waived: {c.waived}]" if c.waived is not None else ""
            _say(
                f"  {STATUS_JA[c.status]} {c.severity:<7} {where}{value} [{c.check}]{waived} "
                f"{c.message} (row_key {c.row_key})"
            )


@app.command()
def serve(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the deployment, start nothing")
    ] = False,
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", help="the warehouse every scheduled run writes")
    ] = None,
) -> None:
    """Serve the annual ingest on its cron schedule (needs a Prefect server)."""
    _quiet_prefect()
    from flows.deployments import annual_deployment, describe

    deployment = annual_deployment(str(warehouse.resolve()) if warehouse else None)
    if dry_run:
        typer.echo(json.dumps(describe(deployment), ensure_ascii=False, indent=2))
        return
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    # Without a server Prefect would serve against a temporary one that lives and dies with
    # this process: the schedule, the runs and their logs would be nowhere to be seen.
    if not get_current_settings().api.url:
        raise UsageError(
            "ukiha serve には Prefect サーバーが必要です: `prefect server start` などで起動し、"
            "PREFECT_API_URL (例: http://127.0.0.1:4200/api) を設定してください。"
        )
    prefect_serve(deployment)


def main() -> None:
    """Entry point: our errors become one line and exit 1; usage errors exit 2 (click)."""
    # Registered first, so it runs last: what is still alive at exit is frozen, and the
    # interpreter's final garbage collection does not walk it (with Prefect imported, ~165,000
    # objects: 0.5-0.8 s of `ukiha ingest`'s exit). Objects freed by reference counting are
    # still finalized; the warehouse and files were closed by their context managers before.
    atexit.register(gc.freeze)
    try:
        app()  # standalone: click prints usage errors and exits 2, typer.Exit sets the code
    except UkihaError as exc:
        _say(f"ukiha: {exc}", err=True)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    except KeyboardInterrupt:
        _say("ukiha: 中断しました", err=True)
        sys.exit(130)
    except Exception as exc:  # the user must never see a traceback
        if os.environ.get("UKIHA_DEBUG"):
            raise
        _say(
            f"ukiha: 内部エラー ({type(exc).__name__}: {exc})。"
            "UKIHA_DEBUG=1 で詳細を表示できます。",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
