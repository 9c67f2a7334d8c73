"""pandera models of the staged frames, one per entity. Each check's name is a DESIGN §3 id.

Reference data (rating legend, flag-rating rule, department master) is not baked in: the
validation stage puts a `CheckContext` into `df.attrs["context"]` and the checks read it,
so the rules file and the master stay configuration. Index: the row's position in the staged
frame; its `row` column is the grid row of the record, `sheet` its sheet in the batch.
Checks return True for rows they do not judge (an empty cell is `missing_required`'s job).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series


class CheckContext(Protocol):
    """What the checks need to know; provided by ukiha_pipeline.validation."""

    def rating_ok(self, rating: str) -> bool: ...
    def flag_ok(self, flag: str) -> bool: ...
    def flag_rating_ok(self, flag: str, rating: str) -> bool: ...
    def department_ok(self, name: str, fiscal_year: int) -> bool: ...
    def section_ok(self, name: str, fiscal_year: int) -> bool: ...
    def section_belongs(
        self, section: str, departments: tuple[str, ...], fiscal_year: int
    ) -> bool: ...


def _ctx(obj: pd.Series | pd.DataFrame) -> CheckContext:
    return obj.attrs["context"]  # type: ignore[no-any-return]


def _filled(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.len() > 0


def _judge_rows(
    df: pd.DataFrame, columns: tuple[str, ...], judge: Callable[..., bool]
) -> pd.Series:
    """`judge(*values)` of each row's `columns`, called once per distinct combination of values
    (names and years repeat on every row and sheet; iterating lists is far cheaper than a Series)."""
    memo: dict[tuple[Any, ...], bool] = {}
    ok = []
    for values in zip(*(df[c].tolist() for c in columns), strict=True):
        found = memo.get(values)
        if found is None:
            found = memo[values] = bool(judge(*values))
        ok.append(found)
    return pd.Series(ok, index=df.index, dtype=bool)


def _known(df: pd.DataFrame, kind: str, is_known: Callable[[str, int], bool]) -> pd.Series:
    """True where the row is not of `kind`, or its name is known for its fiscal year."""
    return _judge_rows(
        df, ("kind", "name", "fiscal_year"), lambda k, n, fy: k != kind or is_known(n, fy)
    )


class _Base(pa.DataFrameModel):
    record: Series[str]  # "project:36" / "kpi:3": what is quarantined when an error is found
    line: Series[int]
    fiscal_year: Series[int]

    class Config:
        strict = False
        coerce = False


class ProjectModel(_Base):
    """One row per project row of the table (事業一覧)."""

    n_cells: Series[int]
    departments: Series[str]
    sections: Series[str]
    content: Series[str]
    flag: Series[str]
    rating: Series[str]
    action: Series[str]
    duplicate_of: Series[float] = pa.Field(nullable=True)

    @pa.check("n_cells", name="malformed_row")
    def _width(cls, s: Series[int]) -> pd.Series[bool]:
        return s == 7

    @pa.check(
        "departments", "sections", "content", "flag", "rating", "action", name="missing_required"
    )
    def _required(cls, s: Series[str]) -> pd.Series[bool]:
        return _filled(s)

    @pa.check("flag", name="flag_invalid")
    def _flag(cls, s: Series[str]) -> pd.Series[bool]:
        ctx = _ctx(s)
        return s.map(lambda v: v == "" or ctx.flag_ok(v)).astype(bool)

    @pa.check("rating", name="rating_invalid")
    def _rating(cls, s: Series[str]) -> pd.Series[bool]:
        ctx = _ctx(s)
        return s.map(lambda v: v == "" or ctx.rating_ok(v)).astype(bool)

    @pa.dataframe_check(name="flag_rating_mismatch")
    def _flag_rating(cls, df: pd.DataFrame) -> pd.Series[bool]:
        ctx = _ctx(df)
        return _judge_rows(
            df,
            ("flag", "rating"),
            # judged only when both are valid; then they must agree
            lambda f, r: not (ctx.flag_ok(f) and ctx.rating_ok(r)) or ctx.flag_rating_ok(f, r),
        )

    @pa.check("duplicate_of", name="duplicate_project")
    def _duplicate(cls, s: Series[float]) -> pd.Series[bool]:
        return s.isna()


class AssignmentModel(_Base):
    """One row per department (課) or section (係) named on a project or KPI row."""

    kind: Series[str] = pa.Field(isin=["department", "section"])
    name: Series[str]
    # the row's departments, tab-joined (a section must belong to one of them)
    row_departments: Series[str]

    @pa.dataframe_check(name="unknown_department")
    def _department(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return _known(df, "department", _ctx(df).department_ok)

    @pa.dataframe_check(name="unknown_section")
    def _section(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return _known(df, "section", _ctx(df).section_ok)

    @pa.dataframe_check(name="section_department_mismatch")
    def _belongs(cls, df: pd.DataFrame) -> pd.Series[bool]:
        ctx = _ctx(df)

        def ok(kind: str, name: str, row_departments: str, fy: int) -> bool:
            # only a known section on a row whose departments are all known is judged
            if kind != "section" or not ctx.section_ok(name, fy):
                return True
            depts = tuple(d for d in row_departments.split("\t") if d)
            if not all(ctx.department_ok(d, fy) for d in depts):
                return True
            return ctx.section_belongs(name, depts, fy)

        return _judge_rows(df, ("kind", "name", "row_departments", "fiscal_year"), ok)


class KpiModel(_Base):
    """One row per KPI (policy or measure)."""

    n_cells: Series[int]
    level: Series[str] = pa.Field(isin=["policy", "measure"])
    name: Series[str]
    n_units: Series[int]

    @pa.dataframe_check(name="malformed_row")
    def _width(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return (df["level"] == "policy") | (df["n_cells"] == 7)

    @pa.check("name", name="missing_required")
    def _name(cls, s: Series[str]) -> pd.Series[bool]:
        return _filled(s)

    @pa.check("n_units", name="kpi_unit_mismatch")
    def _units(cls, s: Series[int]) -> pd.Series[bool]:
        return s <= 1


class KpiValueModel(_Base):
    """One row per KPI value (baseline, target, latest), on the line the value is written."""

    which: Series[str] = pa.Field(isin=["baseline", "target", "latest"])
    raw: Series[str]
    value: Series[float] = pa.Field(nullable=True)

    @pa.check("raw", name="missing_required")
    def _required(cls, s: Series[str]) -> pd.Series[bool]:
        return _filled(s)

    @pa.dataframe_check(name="kpi_value_not_numeric")
    def _numeric(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return ~_filled(df["raw"]) | df["value"].notna()

    @pa.dataframe_check(name="kpi_as_of_invalid")
    def _as_of(cls, df: pd.DataFrame) -> pd.Series[bool]:
        # judged for a number only: an empty or non-numeric value has its own failure
        return (df["year_ok"] == 1) | df["value"].isna()


#: entity name → model, in the order failures are reported.
MODELS: dict[str, type[_Base]] = {
    "project": ProjectModel,
    "assignment": AssignmentModel,
    "kpi": KpiModel,
    "kpi_value": KpiValueModel,
}
