"""The warehouse's data dictionary, generated from the database itself.

    python -m ukiha_pipeline.warehouse.dictionary docs/warehouse.md [--warehouse FILE]

Builds the schema in an in-memory DuckDB (or reads an existing warehouse with --warehouse)
and renders every table, view and column with its comment, read back through
`duckdb_tables()`, `duckdb_views()`, `duckdb_columns()` and `duckdb_constraints()`. The
comments are declared in `schema.py`; a test checks that the committed `docs/warehouse.md`
is what this module writes now.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from ukiha_pipeline.warehouse.schema import create_all_sql

COMMAND = "python -m ukiha_pipeline.warehouse.dictionary docs/warehouse.md"

#: Queries an analyst runs (each is executed by a test against a multi-year warehouse).
EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "KPIs behind target in each sheet's latest year (目標に遅れている KPI)",
        """SELECT municipality, fiscal_year, name, latest_value, unit, latest_year,
       round(progress, 2) AS progress, elapsed_share, latest_is_stale
FROM v_kpi_progress
WHERE on_track = false
  AND fiscal_year = (SELECT max(fiscal_year) FROM kpis)
ORDER BY municipality, progress""",
    ),
    (
        "Projects whose rating slipped since the year before (前年度より遅れた事業)",
        """SELECT municipality, fiscal_year, previous_rating, rating, content, rating_path
FROM v_project_history
WHERE rating_change = 'slipped'
ORDER BY municipality, fiscal_year, content""",
    ),
    (
        "Ratings per department per year (担当課別・年度別の進捗状況)",
        """SELECT municipality, department, fiscal_year, n_projects, n_a, n_b, n_c, n_d, n_e
FROM v_department_summary
ORDER BY municipality, department, fiscal_year""",
    ),
    (
        "Rating transitions between consecutive years (進捗状況の推移)",
        """SELECT municipality, from_fiscal_year, to_fiscal_year, from_rating, to_rating, n
FROM v_rating_transitions
ORDER BY ALL""",
    ),
    (
        "One KPI across the years, with the as-of year of each value (KPI の推移): by its "
        "kpi_key, which follows it when it is renamed (its name in any year finds the key)",
        """SELECT fiscal_year, name, latest_value, unit, latest_year, latest_year_kind,
       round(progress, 2) AS progress, on_track, latest_is_stale
FROM v_kpi_progress
WHERE municipality = 'うきは市' AND kpi_key IN (
    SELECT kpi_key FROM kpis WHERE municipality = 'うきは市' AND name = '保育所入所待機児童数')
ORDER BY fiscal_year""",
    ),
    (
        "Projects new in a year, and projects no longer in the next year's sheet (新規・終了事業)",
        """SELECT municipality, fiscal_year, 'new' AS change, content
FROM v_project_history
WHERE fiscal_year = first_fiscal_year
  AND fiscal_year > (SELECT min(fiscal_year) FROM projects p WHERE p.municipality = v_project_history.municipality)
UNION ALL
SELECT p.municipality, p.fiscal_year + 1, 'gone', p.content
FROM projects p
WHERE p.fiscal_year < (SELECT max(fiscal_year) FROM projects q WHERE q.municipality = p.municipality)
  AND NOT EXISTS (SELECT 1 FROM projects n WHERE n.municipality = p.municipality
                  AND n.project_key = p.project_key AND n.fiscal_year = p.fiscal_year + 1)
ORDER BY 1, 2, 3, 4""",
    ),
    (
        "Every version of every sheet loaded (読み込んだシートの履歴)",
        """SELECT municipality, fiscal_year, status, source_file, ingested_at, n_projects,
       n_errors, n_warnings
FROM sheets
ORDER BY municipality, fiscal_year, ingested_at""",
    ),
)


def _cell(text: object) -> str:
    if text is None:
        return ""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(con: duckdb.DuckDBPyConnection) -> str:
    """The data dictionary of the database behind `con`, as Markdown."""
    db = "current_database()"
    tables = con.execute(
        f"SELECT table_name, comment FROM duckdb_tables() WHERE database_name = {db} "
        "AND schema_name = 'main' AND NOT internal AND NOT temporary ORDER BY table_oid"
    ).fetchall()
    views = con.execute(
        f"SELECT view_name, comment FROM duckdb_views() WHERE database_name = {db} "
        "AND schema_name = 'main' AND NOT internal AND NOT temporary ORDER BY view_oid"
    ).fetchall()
    columns: dict[str, list[tuple[str, str, bool, str | None]]] = {}
    for table, column, data_type, nullable, comment in con.execute(
        f"SELECT table_name, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
        f"WHERE database_name = {db} AND schema_name = 'main' AND NOT internal "
        "ORDER BY table_name, column_index"
    ).fetchall():
        columns.setdefault(table, []).append((column, data_type, nullable, comment))
    keys: dict[str, list[str]] = {}
    for table, ctype, cols in con.execute(
        f"SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
        f"WHERE database_name = {db} AND schema_name = 'main' "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY table_name, constraint_index"
    ).fetchall():
        label = "primary key" if ctype == "PRIMARY KEY" else "unique"
        keys.setdefault(table, []).append(f"{label} ({', '.join(cols)})")

    out = [
        "# Warehouse data dictionary (倉庫のデータ辞書)",
        "",
        f"<!-- Generated by `{COMMAND}` from the database itself",
        "     (duckdb_tables(), duckdb_views(), duckdb_columns(), duckdb_constraints()).",
        "     Do not edit by hand: change the comments in ukiha_pipeline/warehouse/schema.py",
        "     and run the command again; a test compares this file with its output. -->",
        "",
        "The DuckDB warehouse (default `data/warehouse/ukiha.duckdb`) of the Ukiha PDCA",
        "pipeline: the contract of DESIGN §4 and the additions listed in the README",
        '("Warehouse"). Every table carries `municipality` and every key includes it; fiscal',
        "years are integers (R3年度 → 2021). Open it read-only with",
        '`ukiha sql "QUERY" [--format table|csv|json]`, or export every table and view with',
        "`ukiha export --parquet DIR`.",
        "",
        "## Contents",
        "",
    ]
    for name, comment in [*tables, *views]:
        out.append(f"- [`{name}`](#{name}) — {_cell(comment)}")
    out += ["- [Example queries](#example-queries)", ""]

    for heading, rows, is_view in (("Tables", tables, False), ("Views", views, True)):
        out += [f"## {heading}", ""]
        for name, comment in rows:
            out += [f"### {name}", "", _cell(comment), ""]
            if keys.get(name):
                out += ["Keys: " + "; ".join(f"`{k}`" for k in keys[name]) + ".", ""]
            if is_view:
                out += ["| column | type | description |", "|---|---|---|"]
                out += [f"| `{c}` | {t} | {_cell(m)} |" for c, t, _n, m in columns.get(name, [])]
            else:
                out += ["| column | type | null | description |", "|---|---|---|---|"]
                out += [
                    f"| `{c}` | {t} | {'yes' if n else 'no'} | {_cell(m)} |"
                    for c, t, n, m in columns.get(name, [])
                ]
            out.append("")

    out += [
        "## Example queries",
        "",
        'Run any of them with `ukiha sql "…"` (read-only), or on the Parquet export.',
        "",
    ]
    for title, sql in EXAMPLES:
        out += [f"### {title}", "", "```sql", sql, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_schema() -> str:
    """The data dictionary of a fresh warehouse built from `schema.py` (what the docs show)."""
    con = duckdb.connect()
    try:
        for stmt in create_all_sql():
            con.execute(stmt)
        return render(con)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="Markdown file to write (e.g. docs/warehouse.md)")
    parser.add_argument("--warehouse", type=Path, help="document this warehouse instead")
    args = parser.parse_args(argv)
    if args.warehouse:
        from ukiha_pipeline.warehouse.load import open_warehouse

        with open_warehouse(args.warehouse, read_only=True) as con:
            text = render(con)
    else:
        text = render_schema()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
