"""What the parser finds in a sheet: frozen records pointing at grid rows by index."""

from __future__ import annotations

from dataclasses import dataclass

from ukiha_pipeline.reading.grid import Grid

#: Canonical 7 cells of a project row, as labelled in the table header.
PROJECT_COLUMNS = ("事業一覧", "課", "係", "事業内容", "事業化", "具体的な取組内容", "進捗状況")
PROJECT_WIDTH = len(PROJECT_COLUMNS)


@dataclass(frozen=True)
class PolicyRec:
    row: int
    policy_no: int
    title: str
    strategy_page: int | None
    overview: str = ""
    aim: str = ""


@dataclass(frozen=True)
class MeasureRec:
    row: int
    policy_no: int
    measure_no: int
    title: str


@dataclass(frozen=True)
class SubmeasureRec:
    row: int
    policy_no: int
    measure_no: int
    submeasure_no: int
    title: str


@dataclass(frozen=True)
class ProjectRec:
    row: int
    policy_no: int
    measure_no: int
    submeasure_no: int
    seq: int
    cells: tuple[str, ...]  # exactly PROJECT_WIDTH cells, as written (padded when short)
    n_cells: int  # how many cells the row really had (trailing empties beyond 7 dropped)


@dataclass(frozen=True)
class KpiRec:
    level: str  # 'policy' | 'measure'
    policy_no: int
    measure_no: int | None
    name: str
    departments: str
    sections: str
    baseline_target: str  # measure KPIs: the `baseline→target` cell
    baseline: str  # policy KPIs: 現状値
    baseline_year: str
    target: str
    target_year: str
    latest: str
    latest_year: str
    layout: str  # 'policy' | 'kpi_tab' (`KPI<TAB>name`) | 'kpi_space' (`KPI name`)
    row: int  # the row naming the KPI
    baseline_row: int
    target_row: int
    latest_row: int
    n_cells: int


@dataclass(frozen=True)
class StructuralIssue:
    """A row the parser could not place (malformed_row), found before any schema runs."""

    check: str
    row: int
    entity: str
    column: str | None
    value: str
    reason: str  # why: a key of `validation.messages.STRUCTURE` (its detail and hint)
    fields: tuple[tuple[str, str], ...] = ()  # what its detail names (`cells`, `number`...)
    #: what the failure keeps out: the row's project (`project:<row>`) or KPI (`kpi:<index in
    #: kpis>`), or by default the raw row (`record:<row>`), which is no project or KPI
    project_record: str | None = None

    @property
    def record(self) -> str:
        return self.project_record or f"record:{self.row}"


@dataclass(frozen=True)
class ParsedSheet:
    grid: Grid
    municipality: str
    fiscal_year: int
    fiscal_year_row: int | None
    title: str
    policies: tuple[PolicyRec, ...]
    measures: tuple[MeasureRec, ...]
    submeasures: tuple[SubmeasureRec, ...]
    projects: tuple[ProjectRec, ...]
    kpis: tuple[KpiRec, ...]
    issues: tuple[StructuralIssue, ...]
    notes: tuple[str, ...] = ()  # for the steward, not failures (a heading read loosely)
