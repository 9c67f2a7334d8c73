"""The one owner of the warehouse DDL (DESIGN §4). Every table, view and comment is declared here.

Column lists are exported (`TABLE_COLUMNS`) so the loader and the validation stage agree on
shapes without repeating them.
"""

from __future__ import annotations

#: The strategy period used by `v_kpi_progress` to compute the share of time elapsed.
STRATEGY_START_FY = 2021
STRATEGY_YEARS = 5

TABLES: dict[str, str] = {
    "sheets": """
        CREATE TABLE IF NOT EXISTS sheets (
            sheet_id       VARCHAR NOT NULL PRIMARY KEY,
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            source_file    VARCHAR NOT NULL,
            source_sha256  VARCHAR NOT NULL UNIQUE,
            ingested_at    TIMESTAMPTZ NOT NULL,
            run_id         VARCHAR NOT NULL,
            flow_run_id    VARCHAR,
            status         VARCHAR NOT NULL CHECK (status IN ('current', 'superseded')),
            n_projects     INTEGER NOT NULL,
            n_kpis         INTEGER NOT NULL,
            n_quarantined  INTEGER NOT NULL,
            n_errors       INTEGER NOT NULL,
            n_warnings     INTEGER NOT NULL
        )""",
    "policies": """
        CREATE TABLE IF NOT EXISTS policies (
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            policy_no      INTEGER NOT NULL,
            title          VARCHAR NOT NULL,
            strategy_page  INTEGER,
            overview       VARCHAR,
            aim            VARCHAR,
            source_line    INTEGER NOT NULL,
            PRIMARY KEY (municipality, fiscal_year, policy_no)
        )""",
    "measures": """
        CREATE TABLE IF NOT EXISTS measures (
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            policy_no      INTEGER NOT NULL,
            measure_no     INTEGER NOT NULL,
            title          VARCHAR NOT NULL,
            source_line    INTEGER NOT NULL,
            PRIMARY KEY (municipality, fiscal_year, policy_no, measure_no)
        )""",
    "submeasures": """
        CREATE TABLE IF NOT EXISTS submeasures (
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            policy_no      INTEGER NOT NULL,
            measure_no     INTEGER NOT NULL,
            submeasure_no  INTEGER NOT NULL,
            title          VARCHAR NOT NULL,
            source_line    INTEGER NOT NULL,
            PRIMARY KEY (municipality, fiscal_year, policy_no, measure_no, submeasure_no)
        )""",
    "projects": """
        CREATE TABLE IF NOT EXISTS projects (
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            project_key    VARCHAR NOT NULL,
            policy_no      INTEGER NOT NULL,
            measure_no     INTEGER NOT NULL,
            submeasure_no  INTEGER NOT NULL,
            seq            INTEGER NOT NULL,
            content        VARCHAR NOT NULL,
            commercialized BOOLEAN,  -- NULL: flag invalid (a waived flag_invalid error)
            rating         VARCHAR CHECK (rating IN ('A', 'B', 'C', 'D', 'E')),  -- NULL: waived
            action         VARCHAR,
            raw_flag       VARCHAR,
            raw_rating     VARCHAR,
            source_line    INTEGER NOT NULL,
            PRIMARY KEY (municipality, fiscal_year, project_key)
        )""",
    "project_departments": """
        CREATE TABLE IF NOT EXISTS project_departments (
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            project_key    VARCHAR NOT NULL,
            department     VARCHAR NOT NULL,
            section        VARCHAR
        )""",
    "kpis": """
        CREATE TABLE IF NOT EXISTS kpis (
            municipality        VARCHAR NOT NULL,
            fiscal_year         INTEGER NOT NULL,
            kpi_key             VARCHAR NOT NULL,
            level               VARCHAR NOT NULL CHECK (level IN ('policy', 'measure')),
            policy_no           INTEGER NOT NULL,
            measure_no          INTEGER,
            name                VARCHAR NOT NULL,
            definition          VARCHAR,
            baseline_value      DOUBLE,
            baseline_unit       VARCHAR,
            baseline_note       VARCHAR,
            baseline_year       INTEGER,
            baseline_year_kind  VARCHAR CHECK (baseline_year_kind IN ('fiscal', 'calendar')),
            baseline_year_range VARCHAR,
            target_value        DOUBLE,
            target_unit         VARCHAR,
            target_note         VARCHAR,
            target_year         INTEGER,
            target_year_kind    VARCHAR CHECK (target_year_kind IN ('fiscal', 'calendar')),
            target_year_range   VARCHAR,
            latest_value        DOUBLE,
            latest_unit         VARCHAR,
            latest_note         VARCHAR,
            latest_year         INTEGER,
            latest_year_kind    VARCHAR CHECK (latest_year_kind IN ('fiscal', 'calendar')),
            latest_year_range   VARCHAR,
            raw_baseline        VARCHAR,
            raw_target          VARCHAR,
            raw_latest          VARCHAR,
            raw_baseline_year   VARCHAR,
            raw_target_year     VARCHAR,
            raw_latest_year     VARCHAR,
            source_line         INTEGER NOT NULL,
            PRIMARY KEY (municipality, fiscal_year, kpi_key)
        )""",
    "kpi_departments": """
        CREATE TABLE IF NOT EXISTS kpi_departments (
            municipality   VARCHAR NOT NULL,
            fiscal_year    INTEGER NOT NULL,
            kpi_key        VARCHAR NOT NULL,
            department     VARCHAR NOT NULL,
            section        VARCHAR
        )""",
    "validation_failures": """
        CREATE TABLE IF NOT EXISTS validation_failures (
            run_id         VARCHAR NOT NULL,
            source_file    VARCHAR NOT NULL,
            source_sha256  VARCHAR,
            worksheet      VARCHAR,
            line           INTEGER,
            municipality   VARCHAR,
            fiscal_year    INTEGER,
            entity         VARCHAR NOT NULL,
            "column"       VARCHAR,
            "check"        VARCHAR NOT NULL,
            severity       VARCHAR NOT NULL CHECK (severity IN ('fatal', 'error', 'warning')),
            value          VARCHAR,
            message        VARCHAR NOT NULL,
            hint           VARCHAR,
            row_text       VARCHAR,
            recorded_at    TIMESTAMPTZ NOT NULL,
            row_key        VARCHAR,  -- stable across edits elsewhere: what waivers and history match
            waived         VARCHAR   -- the waiver's reason and who, when a steward accepted it
        )""",
    "quarantine": """
        CREATE TABLE IF NOT EXISTS quarantine (
            run_id         VARCHAR NOT NULL,
            source_file    VARCHAR NOT NULL,
            source_sha256  VARCHAR,
            municipality   VARCHAR,
            fiscal_year    INTEGER,
            entity         VARCHAR NOT NULL,
            line           INTEGER NOT NULL,
            raw            VARCHAR NOT NULL,
            reason         VARCHAR NOT NULL,
            recorded_at    TIMESTAMPTZ NOT NULL
        )""",
}

VIEWS: dict[str, str] = {
    "v_kpi_progress": f"""
        CREATE OR REPLACE VIEW v_kpi_progress AS
        SELECT
            municipality, fiscal_year, kpi_key, level, policy_no, measure_no, name,
            coalesce(latest_unit, target_unit, baseline_unit) AS unit,
            baseline_value, target_value, latest_value, latest_year, latest_year_kind,
            CASE WHEN target_value IS NOT NULL AND baseline_value IS NOT NULL
                      AND latest_value IS NOT NULL AND target_value <> baseline_value
                 THEN (latest_value - baseline_value) / (target_value - baseline_value)
            END AS progress,
            -- share of the strategy period elapsed at the latest value's as-of year; a value
            -- from before the period is not judged (NULL), one after it counts as the end
            CASE WHEN latest_year >= {STRATEGY_START_FY}
                 THEN least((latest_year - {STRATEGY_START_FY} + 1) / {STRATEGY_YEARS}.0, 1.0)
            END AS elapsed_share,
            CASE WHEN progress IS NULL OR elapsed_share IS NULL THEN NULL
                 ELSE progress >= elapsed_share
            END AS on_track,
            coalesce(latest_year < fiscal_year, false) AS latest_is_stale
        FROM kpis""",
    "v_rating_summary": """
        CREATE OR REPLACE VIEW v_rating_summary AS
        SELECT municipality, fiscal_year, policy_no, rating, count(*) AS n
        FROM projects
        GROUP BY ALL""",
    "v_project_history": """
        CREATE OR REPLACE VIEW v_project_history AS
        SELECT municipality, project_key, fiscal_year, rating, commercialized, content
        FROM projects""",
    "v_department_summary": """
        CREATE OR REPLACE VIEW v_department_summary AS
        SELECT d.municipality, d.fiscal_year, d.department,
               count(DISTINCT p.project_key) AS n_projects,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'A') AS n_a,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'B') AS n_b,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'C') AS n_c,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'D') AS n_d,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'E') AS n_e
        FROM project_departments d
        JOIN projects p USING (municipality, fiscal_year, project_key)
        GROUP BY ALL""",
}

#: Tables replaced per (municipality, fiscal year) when a sheet is loaded.
FACT_TABLES = (
    "policies",
    "measures",
    "submeasures",
    "projects",
    "project_departments",
    "kpis",
    "kpi_departments",
)

COMMENTS: dict[str, str] = {
    "sheets": "読み込んだシート (one row per distinct sheet content loaded)",
    "policies": "基本方針 (basic policies)",
    "measures": "施策 (measures)",
    "submeasures": "取組 (sub-measures)",
    "projects": "事業 (projects) with 事業化 flag and 進捗状況 rating",
    "project_departments": "事業の担当課・係 (project departments and sections)",
    "kpis": "KPI (policy and measure KPIs with baseline, target, latest)",
    "kpi_departments": "KPIの担当課・係 (KPI departments and sections)",
    "validation_failures": "検証結果 (every failure of every run)",
    "quarantine": "隔離行 (rows kept out of the fact tables, raw)",
}


#: Changes made after the tables were first released, run on every writable open (each is
#: idempotent) so that a warehouse created before matches `TABLES`. `ADD COLUMN` appends: added
#: columns are declared last in `TABLES` too, and the shapes of old and new warehouses agree.
MIGRATIONS: tuple[str, ...] = (
    "ALTER TABLE validation_failures ADD COLUMN IF NOT EXISTS row_key VARCHAR",
    "ALTER TABLE validation_failures ADD COLUMN IF NOT EXISTS waived VARCHAR",
    # a row whose rating_invalid / flag_invalid error a steward waived is loaded with NULL
    # there (raw_rating / raw_flag keep the text)
    "ALTER TABLE projects ALTER COLUMN rating DROP NOT NULL",
    "ALTER TABLE projects ALTER COLUMN commercialized DROP NOT NULL",
)


def _columns_of(ddl: str) -> tuple[str, ...]:
    cols = []
    for line in ddl.splitlines()[2:]:
        word = line.strip().split(" ")[0].strip('"')
        if word and word.isidentifier() and word.upper() not in {"PRIMARY", "UNIQUE"}:
            cols.append(word)
    return tuple(cols)


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {name: _columns_of(ddl) for name, ddl in TABLES.items()}


def create_all_sql() -> list[str]:
    """Statements that create every table, view and comment (idempotent)."""
    stmts = [ddl.strip() for ddl in TABLES.values()]
    stmts += list(MIGRATIONS)
    stmts += [ddl.strip() for ddl in VIEWS.values()]
    stmts += [f"COMMENT ON TABLE {t} IS '{c}'" for t, c in COMMENTS.items()]
    return stmts
