"""The one owner of the warehouse DDL (DESIGN §4). Every table, view and comment is declared here.

Column lists are exported (`TABLE_COLUMNS`) so the loader and the validation stage agree on
shapes without repeating them.
"""

from __future__ import annotations

import duckdb

#: The strategy period used by `v_kpi_progress` to compute the share of time elapsed.
STRATEGY_START_FY = 2021
STRATEGY_YEARS = 5
#: `on_track` allows this much below the elapsed share (floating-point noise only).
ON_TRACK_TOLERANCE = 1e-9

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
            source_worksheet VARCHAR,
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
            source_worksheet VARCHAR,
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
            source_worksheet VARCHAR,
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
            source_worksheet VARCHAR,
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
            source_worksheet    VARCHAR,
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
    "restored_files": """
        CREATE TABLE IF NOT EXISTS restored_files (
            run_id         VARCHAR NOT NULL,
            source_file    VARCHAR NOT NULL,
            source_sha256  VARCHAR,
            municipality   VARCHAR,
            fiscal_year    INTEGER,
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
            -- share of the way from baseline to target, so it works for falling targets too
            -- (5→0, latest 2: 0.6); not computed when the values are in different units
            CASE WHEN target_value IS NOT NULL AND baseline_value IS NOT NULL
                      AND latest_value IS NOT NULL AND target_value <> baseline_value
                      -- (a value without a unit among values with one is a mismatch too)
                      AND len(list_distinct([coalesce(baseline_unit, ''), coalesce(target_unit, ''),
                                             coalesce(latest_unit, '')])) = 1
                 THEN (latest_value - baseline_value) / (target_value - baseline_value)
            END AS progress,
            -- share of the strategy period elapsed at the latest value's as-of year; a value
            -- from before the period is not judged (NULL), one after it counts as the end
            CASE WHEN latest_year >= {STRATEGY_START_FY}
                 THEN least((latest_year - {STRATEGY_START_FY} + 1) / {STRATEGY_YEARS}.0, 1.0)
            END AS elapsed_share,
            CASE WHEN progress IS NULL OR elapsed_share IS NULL THEN NULL
                 ELSE progress >= elapsed_share - {ON_TRACK_TOLERANCE}
            END AS on_track,
            coalesce(latest_year < fiscal_year, false) AS latest_is_stale,
            definition,
            CASE WHEN target_value > baseline_value THEN 'increase'
                 WHEN target_value < baseline_value THEN 'decrease'
            END AS direction,
            latest_year_range
        FROM kpis""",
    "v_rating_summary": """
        CREATE OR REPLACE VIEW v_rating_summary AS
        SELECT municipality, fiscal_year, policy_no, rating, count(*) AS n
        FROM projects
        GROUP BY ALL""",
    "v_project_history": """
        CREATE OR REPLACE VIEW v_project_history AS
        WITH path AS (
            SELECT municipality, project_key,
                   min(fiscal_year) AS first_fiscal_year,
                   count(*) AS n_years,
                   string_agg(CAST(fiscal_year AS VARCHAR) || ' ' || coalesce(rating, '-'), ' → '
                              ORDER BY fiscal_year) AS rating_path
            FROM projects
            GROUP BY municipality, project_key
        )
        SELECT p.municipality, p.project_key, p.fiscal_year, p.rating, p.commercialized,
               p.content, p.policy_no, p.measure_no, p.submeasure_no,
               q.rating AS previous_rating,
               CASE WHEN p.rating IS NULL OR q.rating IS NULL THEN NULL
                    WHEN p.rating < q.rating THEN 'improved'
                    WHEN p.rating > q.rating THEN 'slipped'
                    ELSE 'unchanged'
               END AS rating_change,
               path.first_fiscal_year, path.n_years, path.rating_path
        FROM projects p
        JOIN path ON path.municipality = p.municipality AND path.project_key = p.project_key
        LEFT JOIN projects q
               ON q.municipality = p.municipality AND q.project_key = p.project_key
              AND q.fiscal_year = p.fiscal_year - 1""",
    "v_rating_transitions": """
        CREATE OR REPLACE VIEW v_rating_transitions AS
        SELECT p.municipality, q.fiscal_year AS from_fiscal_year, p.fiscal_year AS to_fiscal_year,
               q.rating AS from_rating, p.rating AS to_rating, count(*) AS n
        FROM projects p
        JOIN projects q
          ON q.municipality = p.municipality AND q.project_key = p.project_key
         AND q.fiscal_year = p.fiscal_year - 1
        GROUP BY ALL""",
    "v_department_summary": """
        CREATE OR REPLACE VIEW v_department_summary AS
        SELECT d.municipality, d.fiscal_year, d.department,
               count(DISTINCT p.project_key) AS n_projects,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'A') AS n_a,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'B') AS n_b,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'C') AS n_c,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'D') AS n_d,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating = 'E') AS n_e,
               count(DISTINCT p.project_key) FILTER (WHERE p.rating IS NULL) AS n_unrated
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

#: Data dictionary, table and view level: Japanese term, then English. `docs/warehouse.md` is
#: generated from the database (`python -m ukiha_pipeline.warehouse.dictionary`), which reads
#: these back through duckdb_tables(), duckdb_views() and duckdb_columns().
COMMENTS: dict[str, str] = {
    "sheets": "読み込んだシート — one row per distinct sheet content loaded (every version kept)",
    "policies": "基本方針 — basic policies of the strategy, per fiscal year",
    "measures": "施策 — measures under each basic policy, per fiscal year",
    "submeasures": "取組 — sub-measures (①, ②, …) under each measure, per fiscal year",
    "projects": "事業 — projects with 事業化 flag and 進捗状況 rating, per fiscal year",
    "project_departments": "事業の担当課・係 — departments and sections of each project",
    "kpis": "KPI (重要業績評価指標) — policy and measure KPIs: baseline, target, latest value",
    "kpi_departments": "KPIの担当課・係 — departments and sections of each measure KPI",
    "validation_failures": "検証結果 — every failure of every run (history, never replaced)",
    "quarantine": (
        "隔離行 — rows kept out of the fact tables by an error, raw, of every sheet version "
        "loaded (the current one's: join sheets on source_sha256 with status = 'current')"
    ),
    "restored_files": (
        "復旧したファイル — a file whose latest run was fatal, found by a later run holding a "
        "content already loaded (unchanged, so not loaded again): from then on the file counts "
        "as fine, its failures those of that content's load (ukiha failures, the reports)"
    ),
    "v_kpi_progress": "KPI進捗 — each KPI's progress from baseline to target and whether on track",
    "v_rating_summary": "進捗状況の集計 — projects per rating, per basic policy and fiscal year",
    "v_project_history": "事業の履歴 — each project's rating per year, with the year before and "
    "its whole rating path",
    "v_rating_transitions": "進捗状況の推移 — how many projects went from one rating to another "
    "between consecutive fiscal years",
    "v_department_summary": "担当課別の集計 — projects per department and rating, per fiscal year",
}

#: Column meanings shared by every table and view that has the column (overridden below).
_GLOSSARY: dict[str, str] = {
    "municipality": "自治体 — municipality, from the sheet title (第2期うきは市… → うきは市) or "
    "--municipality; part of every key",
    "fiscal_year": "年度 — fiscal year of the sheet, as the Gregorian year it starts in "
    "(R3年度 → 2021)",
    "policy_no": "基本方針の番号 — basic policy number (1) …)",
    "measure_no": "施策の番号 — measure number, restarting in each basic policy",
    "submeasure_no": "取組の番号 — sub-measure number (① → 1)",
    "project_key": "事業キー — stable project key: the same project has the same key in "
    "every fiscal year (README, Warehouse)",
    "kpi_key": "KPIキー — stable KPI key: the same KPI has the same key in every fiscal year",
    "source_line": "元の行 — 1-based line of the text file (or row of the workbook) it came from",
    "source_worksheet": "元のワークシート — worksheet of the workbook it came from, with "
    "source_line its row (NULL for text files)",
    "source_file": "ファイル — path of the sheet file as given to the run",
    "source_sha256": "ファイルのハッシュ — SHA-256 of the sheet file's bytes",
    "run_id": "実行ID — id of the ingest run that wrote the row",
    "recorded_at": "記録日時 — when the row was written (UTC)",
    "entity": "対象 — what the row is: policy, measure, project, kpi, kpi_value (one of a KPI's values), sheet or row",
    "department": "課 — department, as written in the sheet",
    "section": "係 — section of that department (NULL: the department was named without one)",
    "rating": "進捗状況 — progress rating A 順調, B 概ね順調, C やや遅れ, D 遅れ, "
    "E 未実施・中止 (NULL: an invalid rating a steward waived)",
    "commercialized": "事業化 — ○ carried out as a project this year (true), × not (false); "
    "NULL: an invalid flag a steward waived",
    "content": "事業内容 — the project as written",
    "title": "名称 — title as written",
    "name": "KPI名 — KPI name as written",
    "level": "KPIの階層 — 'policy' (基本方針のKPI) or 'measure' (施策のKPI)",
    "line": "行 — 1-based line of the text file, or row of the workbook",
    "n": "件数 — number of projects",
}

_VALUE_JA = {"baseline": "現状値", "target": "目標値", "latest": "最新値"}
_VALUE_EN = {"baseline": "baseline", "target": "target", "latest": "latest value"}


def _kpi_value_columns() -> dict[str, str]:
    out: dict[str, str] = {}
    for which, ja in _VALUE_JA.items():
        en = _VALUE_EN[which]
        out |= {
            f"{which}_value": f"{ja} — {en} as a number, multipliers folded in "
            "(2,398千円 → 2398000)",
            f"{which}_unit": f"{ja}の単位 — unit of the {en} (円, 人, %, 件, …; NULL: none); "
            "人 and 名 are the same unit",
            f"{which}_note": f"{ja}の注記 — parenthesised note of the {en} "
            "(うち人的交流を伴うもの19件)",
            f"{which}_year": f"{ja}の時点 — as-of year of the {en} (the end year of a range)",
            f"{which}_year_kind": f"{ja}の年の種類 — 'fiscal' (年度) or 'calendar' (年)",
            f"{which}_year_range": f"{ja}の期間 — the range as written when the as-of is a "
            "range (平成25～29年)",
            f"raw_{which}": f"{ja} (原文) — the {en} as written",
            f"raw_{which}_year": f"{ja}の時点 (原文) — the as-of year as written",
        }
    return out


#: Column comments per table and view, over the glossary. Every column must have one
#: (`column_comment` raises otherwise; a test checks the whole database).
COLUMN_COMMENTS: dict[str, dict[str, str]] = {
    "sheets": {
        "sheet_id": "シートID — first 16 hex digits of source_sha256",
        "ingested_at": "取込日時 — when this content was loaded (UTC)",
        "flow_run_id": "フロー実行ID — Prefect flow run id of the load (NULL outside a flow)",
        "status": "状態 — 'current' (the loaded version of its municipality and year) or "
        "'superseded'",
        "n_projects": "事業数 — projects loaded from the sheet",
        "n_kpis": "KPI数 — KPIs loaded from the sheet",
        "n_quarantined": "隔離数 — records kept out by errors",
        "n_errors": "エラー数 — errors (and fatal failures) found by validation",
        "n_warnings": "警告数 — warnings found by validation",
    },
    "policies": {
        "title": "基本方針 — the policy title, without number and page",
        "strategy_page": "戦略のページ — page of the strategy document ((戦略P119) → 119)",
        "overview": "概要 — overview text",
        "aim": "ねらい — aim text",
    },
    "measures": {"title": "施策 — the measure title, without its number"},
    "submeasures": {"title": "取組 — the sub-measure title, without its circled number"},
    "projects": {
        "seq": "取組内の順番 — position of the project within its sub-measure (1, 2, …)",
        "action": "具体的な取組内容 — what was done, or why not (又は取り組まない理由)",
        "raw_flag": "事業化 (原文) — the flag as written (○, 〇, ×, …)",
        "raw_rating": "進捗状況 (原文) — the rating as written",
    },
    "kpis": {
        "definition": "定義・条件 — qualifier or definition written before the values "
        "(平成22年度以降累計: cumulative since FY2010)",
        **_kpi_value_columns(),
    },
    "validation_failures": {
        "worksheet": "ワークシート — worksheet of a workbook (NULL for text files)",
        "fiscal_year": "年度 — fiscal year of the sheet (NULL when a fatal sheet's year is "
        "unknown)",
        "municipality": "自治体 — municipality of the sheet (NULL for a fatal sheet)",
        "column": "列 — the sheet column concerned (進捗状況, 課, …)",
        "check": "チェック — check id (DESIGN §3, e.g. flag_rating_mismatch)",
        "severity": "重大度 — fatal, error or warning",
        "value": "値 — the value as written",
        "message": "内容 — what is wrong",
        "hint": "対処 — what to do",
        "row_text": "行の原文 — the whole row as written",
        "row_key": "行キー — the failure's place, stable across edits elsewhere in the sheet "
        "(what waivers and history match)",
        "waived": "免除 — the waiver's reason and who, when a steward accepted the failure",
    },
    "quarantine": {
        "raw": "原文 — the row at `line` as written (for a policy KPI, its 現状値 / 目標値 / 最新値 "
        "line)",
        "reason": "理由 — the failures that kept it out (check: message | …)",
    },
    "v_kpi_progress": {
        "unit": "単位 — unit of the values (latest, else target, else baseline)",
        "baseline_value": "現状値 — baseline as a number",
        "target_value": "目標値 — target as a number",
        "latest_value": "最新値 — latest value as a number",
        "latest_year": "最新値の時点 — as-of year of the latest value",
        "latest_year_kind": "最新値の年の種類 — 'fiscal' (年度) or 'calendar' (年)",
        "latest_year_range": "最新値の期間 — the as-of range as written (平成25～29年)",
        "progress": "進捗率 — (latest − baseline) / (target − baseline): the share of the way "
        "from baseline to target, also for falling targets (5人→0人, latest 2人: 0.6); NULL "
        "when a value is missing, target = baseline, or the units differ",
        "elapsed_share": "経過割合 — share of the strategy period FY2021-2025 elapsed at the "
        "latest value's as-of year: (year − 2021 + 1) / 5, at most 1; NULL before 2021",
        "on_track": "順調か — progress ≥ elapsed_share; NULL when either is NULL",
        "latest_is_stale": "最新値が古い — the latest value's as-of year is before the "
        "sheet's fiscal year",
        "definition": "定義・条件 — qualifier or definition of the KPI (平成22年度以降累計: a "
        "cumulative count, compared as written)",
        "direction": "目標の向き — 'increase' or 'decrease' (target above or below baseline)",
    },
    "v_rating_summary": {},
    "v_project_history": {
        "previous_rating": "前年度の進捗状況 — rating in the fiscal year before (NULL: not "
        "in that year's sheet)",
        "rating_change": "前年度からの変化 — 'improved', 'slipped' or 'unchanged' against "
        "the year before (A is best, E worst); NULL without both ratings",
        "first_fiscal_year": "初出年度 — first fiscal year the project appears in",
        "n_years": "年数 — number of fiscal years the project appears in",
        "rating_path": "進捗状況の推移 — every year's rating in order ('2021 A → 2022 B')",
    },
    "v_rating_transitions": {
        "from_fiscal_year": "前の年度 — fiscal year of the first rating",
        "to_fiscal_year": "次の年度 — the next fiscal year (from_fiscal_year + 1)",
        "from_rating": "前の進捗状況 — rating in from_fiscal_year",
        "to_rating": "次の進捗状況 — rating in to_fiscal_year",
        "n": "事業数 — projects (same project_key in both years) with this transition",
    },
    "v_department_summary": {
        "n_projects": "事業数 — projects naming the department (a project of two "
        "departments counts for both)",
        **{f"n_{r.lower()}": f"進捗状況{r}の事業数 — of them, projects rated {r}" for r in "ABCDE"},
        "n_unrated": "進捗状況なしの事業数 — of them, projects without a valid rating (an "
        "invalid rating a steward waived loads as NULL): n_a..n_e + n_unrated = n_projects",
    },
}


def column_comment(relation: str, column: str) -> str:
    """The data-dictionary comment of a table's or view's column; KeyError when there is none."""
    own = COLUMN_COMMENTS.get(relation, {})
    if column in own:
        return own[column]
    return _GLOSSARY[column]


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
    # the worksheet of a workbook row (source_line alone restarts on every worksheet)
    *(
        f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS source_worksheet VARCHAR"
        for t in ("policies", "measures", "submeasures", "projects", "kpis")
    ),
)


def _column_types(ddl: str) -> dict[str, str]:
    """Each column of a CREATE TABLE and its SQL type (the type's first word: VARCHAR, INTEGER,
    DOUBLE, BOOLEAN, TIMESTAMPTZ), in the order of the DDL."""
    types = {}
    for line in ddl.splitlines()[2:]:
        words = line.strip().split()
        name = words[0].strip('"') if words else ""
        if name.isidentifier() and name.upper() not in {"PRIMARY", "UNIQUE"}:
            types[name] = words[1].rstrip(",").upper()
    return types


#: Column → SQL type of each table (the loader builds each column with a matching dtype).
TABLE_TYPES: dict[str, dict[str, str]] = {name: _column_types(ddl) for name, ddl in TABLES.items()}
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(t) for name, t in TABLE_TYPES.items()}


#: Output columns of each view, in order (a test compares them with duckdb_columns()).
VIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "v_kpi_progress": (
        "municipality",
        "fiscal_year",
        "kpi_key",
        "level",
        "policy_no",
        "measure_no",
        "name",
        "unit",
        "baseline_value",
        "target_value",
        "latest_value",
        "latest_year",
        "latest_year_kind",
        "progress",
        "elapsed_share",
        "on_track",
        "latest_is_stale",
        "definition",
        "direction",
        "latest_year_range",
    ),
    "v_rating_summary": ("municipality", "fiscal_year", "policy_no", "rating", "n"),
    "v_project_history": (
        "municipality",
        "project_key",
        "fiscal_year",
        "rating",
        "commercialized",
        "content",
        "policy_no",
        "measure_no",
        "submeasure_no",
        "previous_rating",
        "rating_change",
        "first_fiscal_year",
        "n_years",
        "rating_path",
    ),
    "v_rating_transitions": (
        "municipality",
        "from_fiscal_year",
        "to_fiscal_year",
        "from_rating",
        "to_rating",
        "n",
    ),
    "v_department_summary": (
        "municipality",
        "fiscal_year",
        "department",
        "n_projects",
        "n_a",
        "n_b",
        "n_c",
        "n_d",
        "n_e",
        "n_unrated",
    ),
}


def comments() -> dict[tuple[str, str | None], str]:
    """(relation, column or None) → comment, for every table, view and column."""
    out: dict[tuple[str, str | None], str] = {(name, None): text for name, text in COMMENTS.items()}
    for name, cols in {**TABLE_COLUMNS, **VIEW_COLUMNS}.items():
        for col in cols:
            out[(name, col)] = column_comment(name, col)
    return out


def comment_sql(current: dict[tuple[str, str | None], str | None] | None = None) -> list[str]:
    """COMMENT ON every table, view and column whose comment differs from `current` (all of
    them without it); run after the views are (re)created."""
    stmts = []
    for (name, col), text in comments().items():
        if current is not None and current.get((name, col)) == text:
            continue
        if col is None:
            kind = "VIEW" if name in VIEWS else "TABLE"
            stmts.append(f"COMMENT ON {kind} {name} IS {_sql_text(text)}")
        else:
            stmts.append(f'COMMENT ON COLUMN {name}."{col}" IS {_sql_text(text)}')
    return stmts


#: The comments a database has now, as `comment_sql(current=...)` takes them.
CURRENT_COMMENTS_SQL = """
    SELECT table_name, NULL, comment FROM duckdb_tables()
    WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
    UNION ALL
    SELECT view_name, NULL, comment FROM duckdb_views()
    WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
    UNION ALL
    SELECT table_name, column_name, comment FROM duckdb_columns()
    WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
"""


def table_or_empty(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """`table`, or a relation with its columns and no rows when the warehouse was written by an
    earlier version without it and is open read-only (opened for writing, it gains the table)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [table],
    ).fetchone()
    if found and found[0]:
        return table
    columns = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in TABLE_TYPES[table].items())
    return f"(SELECT {columns} LIMIT 0)"


def create_sql() -> list[str]:
    """Statements that create (or migrate) every table and view (idempotent), no comments."""
    stmts = [ddl.strip() for ddl in TABLES.values()]
    stmts += list(MIGRATIONS)
    stmts += [ddl.strip() for ddl in VIEWS.values()]
    return stmts


def create_all_sql() -> list[str]:
    """Statements that create every table, view and comment (idempotent)."""
    return create_sql() + comment_sql()
