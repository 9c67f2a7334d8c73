"""Failure history per sheet: what is new, still open and resolved since the previous run.

`validation_failures` keeps every failure of every run. For each sheet, i.e. each
(municipality, fiscal year), the latest load is compared with the one before it. A load is
one (run_id, source_sha256) seen in `sheets` or `validation_failures` (a load without any
failure is known from `sheets` only). Failures are matched by (check, row_key): the row key
survives edits elsewhere in the sheet, so a failure whose line moved is still the same one.
When one row has the same check twice (two unknown 課 in one cell), the occurrences are
matched in order of value.

Failures of a fatal sheet have no fiscal year (the sheet was not read far enough to know it)
and are not part of any sheet's history; `fatal_latest` lists the files whose latest run was
fatal, so that the history of their year is not taken for their state, until the file is
loaded again or a later run finds it holding a content already loaded (`restored_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ukiha_pipeline.warehouse.schema import table_or_empty

STATUSES = ("new", "open", "resolved")
#: How `ukiha failures` words them for a steward (JSON keeps the ids above).
STATUS_JA = {"new": "新規", "open": "継続", "resolved": "解消"}


@dataclass(frozen=True)
class FailureChange:
    """One failure of the latest load (new or still open) or of the previous one (resolved).

    For a resolved failure, line, value and message are those of the previous load.
    """

    status: str  # 'new' | 'open' | 'resolved'
    check: str
    severity: str
    row_key: str
    line: int | None
    worksheet: str | None
    column: str | None
    value: str | None
    message: str
    waived: str | None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "check": self.check,
            "severity": self.severity,
            "row_key": self.row_key,
            "line": self.line,
            "sheet": self.worksheet,
            "column": self.column,
            "value": self.value,
            "message": self.message,
            "waived": self.waived,
        }


@dataclass(frozen=True)
class SheetFailureHistory:
    """The latest load of one (municipality, fiscal year) against the load before it."""

    municipality: str
    fiscal_year: int
    run_id: str
    source_file: str
    loaded_at: datetime
    previous_run_id: str | None  # None: the first load of this sheet (everything is new)
    previous_source_file: str | None
    previous_loaded_at: datetime | None
    changes: tuple[FailureChange, ...]

    def of(self, status: str) -> tuple[FailureChange, ...]:
        return tuple(c for c in self.changes if c.status == status)

    @property
    def n_new(self) -> int:
        return len(self.of("new"))

    @property
    def n_open(self) -> int:
        return len(self.of("open"))

    @property
    def n_resolved(self) -> int:
        return len(self.of("resolved"))

    def json_records(self) -> list[dict[str, object]]:
        """One object per change, each naming its sheet and the two runs compared."""
        head: dict[str, object] = {
            "municipality": self.municipality,
            "fiscal_year": self.fiscal_year,
            "run_id": self.run_id,
            "previous_run_id": self.previous_run_id,
            "source_file": self.source_file,
        }
        return [head | c.to_json_dict() for c in self.changes]


_LOADS_SQL = """
WITH loads AS (
    SELECT municipality, fiscal_year, run_id, source_sha256,
           max(loaded_at) AS loaded_at, max(source_file) AS source_file
    FROM (
        SELECT municipality, fiscal_year, run_id, source_sha256, ingested_at AS loaded_at,
               source_file
        FROM sheets
        UNION ALL
        SELECT municipality, fiscal_year, run_id, source_sha256, recorded_at AS loaded_at,
               source_file
        FROM validation_failures
        WHERE municipality IS NOT NULL AND fiscal_year IS NOT NULL
    )
    WHERE {where}
    GROUP BY ALL
)
SELECT l.municipality, l.fiscal_year, l.run_id, l.source_sha256, l.loaded_at, l.source_file,
       row_number() OVER (
           -- two versions of one year in one batch share the run and the time: the one the
           -- batch left current is the later
           PARTITION BY l.municipality, l.fiscal_year
           ORDER BY l.loaded_at DESC, l.run_id DESC, s.source_sha256 IS NOT NULL DESC
       ) AS nth
FROM loads l
LEFT JOIN sheets s
  ON s.status = 'current' AND s.source_sha256 = l.source_sha256
 AND s.municipality = l.municipality AND s.fiscal_year = l.fiscal_year AND s.run_id = l.run_id
QUALIFY nth <= 2
ORDER BY l.municipality, l.fiscal_year, nth
"""

_FAILURES_SQL = """
SELECT "check", severity, {row_key} AS row_key, line, worksheet, "column", value, message,
       {waived} AS waived
FROM validation_failures
WHERE municipality = ? AND fiscal_year = ? AND run_id = ?
  AND source_sha256 IS NOT DISTINCT FROM ?
ORDER BY "check", row_key, value NULLS FIRST, worksheet NULLS FIRST, line NULLS FIRST
"""

_Row = tuple[str, str, str, int | None, str | None, str | None, str | None, str, str | None]


@dataclass(frozen=True)
class FatalFailure:
    """One fatal failure of a fatal run: an unreadable file has no line; a row check the rules
    file makes fatal has its line, cell and the sheet's fiscal year."""

    line: int | None
    worksheet: str | None
    column: str | None
    value: str | None
    check: str
    message: str
    fiscal_year: int | None


@dataclass(frozen=True)
class FatalRun:
    """A file whose latest run was fatal (nothing of it loaded): until it is loaded again, the
    history of its year shows an earlier load."""

    source_file: str
    run_id: str
    recorded_at: datetime
    check: str  # the first fatal failure's (by line)
    message: str
    failures: tuple[FatalFailure, ...] = ()  # every fatal failure of the run, by line

    def json_records(self) -> list[dict[str, object]]:
        """In the shape of `SheetFailureHistory.json_records` (status fatal), one per fatal
        failure (the year of a sheet that was read: a row check the rules make fatal)."""
        return [
            {
                "municipality": None,
                "fiscal_year": f.fiscal_year,
                "run_id": self.run_id,
                "previous_run_id": None,
                "source_file": self.source_file,
                "status": "fatal",
                "check": f.check,
                "severity": "fatal",
                "row_key": None,
                "line": f.line,
                "sheet": f.worksheet,
                "column": f.column,
                "value": f.value,
                "message": f.message,
                "waived": None,
            }
            for f in self.failures
        ]


_FATAL_LATEST_SQL = """
WITH runs AS (
    SELECT source_file, run_id, max(recorded_at) AS recorded_at,
           -- (a fatal sheet has one failure: min() picks it; its line may be NULL)
           min("check") FILTER (WHERE severity = 'fatal') AS fatal_check,
           min(message) FILTER (WHERE severity = 'fatal') AS fatal_message
    FROM validation_failures
    WHERE {files}
    GROUP BY ALL
    UNION ALL
    SELECT source_file, run_id, ingested_at, NULL, NULL FROM sheets WHERE {files}
    UNION ALL  -- a later run found the file holding a content already loaded: fine again
    SELECT source_file, run_id, recorded_at, NULL, NULL FROM {restored} r WHERE {files}
)
SELECT source_file, run_id, recorded_at, fatal_check, fatal_message
FROM runs
QUALIFY row_number() OVER (
    PARTITION BY source_file ORDER BY recorded_at DESC, fatal_check IS NULL DESC
) = 1 AND fatal_check IS NOT NULL
ORDER BY source_file
"""


def fatal_latest(
    con: duckdb.DuckDBPyConnection, files: Sequence[str] | None = None
) -> list[FatalRun]:
    """Files whose latest recorded run was fatal, by name (only those of `files` if given).

    A file's runs are its failures, its loads (`sheets`) and the runs that found it unchanged
    after a fatal one (`restored_files`)."""
    where = "TRUE" if files is None else "list_contains($files, source_file)"
    sql = _FATAL_LATEST_SQL.format(files=where, restored=table_or_empty(con, "restored_files"))
    params = {} if files is None else {"files": list(files)}
    runs = con.execute(sql, params).fetchall()
    if not runs:
        return []
    by_run: dict[tuple[str, str], list[FatalFailure]] = {(f, r): [] for f, r, *_ in runs}
    for source_file, run_id, *rest in con.execute(
        'SELECT source_file, run_id, line, worksheet, "column", value, "check", message, '
        "fiscal_year FROM validation_failures WHERE severity = 'fatal' "
        "AND list_contains($runs, run_id) "
        'ORDER BY worksheet NULLS FIRST, line NULLS FIRST, "check"',
        {"runs": sorted({r for _, r, *_ in runs})},
    ).fetchall():
        if (source_file, run_id) in by_run:
            by_run[(source_file, run_id)].append(FatalFailure(*rest))
    out = []
    for source_file, run_id, recorded_at, *_ in runs:
        failures = tuple(by_run[(source_file, run_id)])
        first = failures[0]
        out.append(FatalRun(source_file, run_id, recorded_at, first.check, first.message, failures))
    return out


def failure_history(
    con: duckdb.DuckDBPyConnection,
    *,
    fiscal_year: int | None = None,
    municipality: str | None = None,
) -> list[SheetFailureHistory]:
    """Per (municipality, fiscal year), sorted: the latest load's failures against the previous.

    Changes are ordered new, open, resolved, each by sheet position (worksheet, line).
    """
    where: list[str] = ["TRUE"]
    params: list[object] = []
    if fiscal_year is not None:
        where.append("fiscal_year = ?")
        params.append(fiscal_year)
    if municipality is not None:
        where.append("municipality = ?")
        params.append(municipality)
    loads = con.execute(_LOADS_SQL.format(where=" AND ".join(where)), params).fetchall()
    failures_sql = _failures_sql(con)

    by_sheet: dict[tuple[str, int], list[tuple[str, str | None, datetime, str]]] = {}
    for mun, fy, run_id, sha, loaded_at, source_file, _nth in loads:
        by_sheet.setdefault((mun, fy), []).append((run_id, sha, loaded_at, source_file))

    out = []
    for (mun, fy), sheet_loads in by_sheet.items():
        latest = sheet_loads[0]
        previous = sheet_loads[1] if len(sheet_loads) > 1 else None
        now_rows = _failures(con, failures_sql, mun, fy, latest)
        before_rows = _failures(con, failures_sql, mun, fy, previous) if previous else {}
        changes = [
            _change("open" if key in before_rows else "new", row) for key, row in now_rows.items()
        ]
        changes += [
            _change("resolved", row) for key, row in before_rows.items() if key not in now_rows
        ]
        changes.sort(
            key=lambda c: (STATUSES.index(c.status), c.worksheet or "", c.line or 0, c.check)
        )
        out.append(
            SheetFailureHistory(
                municipality=mun,
                fiscal_year=fy,
                run_id=latest[0],
                source_file=latest[3],
                loaded_at=latest[2],
                previous_run_id=previous[0] if previous else None,
                previous_source_file=previous[3] if previous else None,
                previous_loaded_at=previous[2] if previous else None,
                changes=tuple(changes),
            )
        )
    return out


def _failures_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Warehouses written before row keys and waivers were recorded lack those columns."""
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'validation_failures'"
        ).fetchall()
    }
    # without a row key, a failure can only be matched by its line
    fallback = "'line:' || coalesce(CAST(line AS VARCHAR), '')"
    row_key = f"coalesce(row_key, {fallback})" if "row_key" in have else fallback
    waived = "waived" if "waived" in have else "CAST(NULL AS VARCHAR)"
    return _FAILURES_SQL.format(row_key=row_key, waived=waived)


def _failures(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    municipality: str,
    fiscal_year: int,
    load: tuple[str, str | None, datetime, str],
) -> dict[tuple[str, str, int], _Row]:
    """One load's failures keyed by (check, row_key, occurrence on that key)."""
    rows: list[_Row] = con.execute(sql, [municipality, fiscal_year, load[0], load[1]]).fetchall()
    keyed: dict[tuple[str, str, int], _Row] = {}
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        base = (row[0], row[2])
        seen[base] = seen.get(base, 0) + 1
        keyed[(*base, seen[base])] = row
    return keyed


def _change(status: str, row: _Row) -> FailureChange:
    check, severity, row_key, line, worksheet, column, value, message, waived = row
    return FailureChange(
        status, check, severity, row_key, line, worksheet, column, value, message, waived
    )
