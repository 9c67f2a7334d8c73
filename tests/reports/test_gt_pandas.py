"""great-tables' pandas access is replaced for speed (`reports/_gt_pandas.py`), and nothing
else changes: the same frames from the casts, the same pages byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from great_tables import _tbl_data
from hypothesis import given
from hypothesis import strategies as st
from report_helpers import Rendered
from test_parallel import _pages, _synthetic

from ukiha_pipeline.reports import _gt_pandas, render_all

DISPATCHERS = ("_get_cell", "_set_cell", "cast_frame_to_string", "replace_null_frame")


def test_the_reports_use_the_pandas_access_here() -> None:
    """Fails when great-tables no longer has these dispatch functions (an upgrade): look at
    `_gt_pandas` again, the reports would be slower."""
    for name in DISPATCHERS:
        assert getattr(_tbl_data, name).dispatch(pd.DataFrame) is _gt_pandas._REGISTERED[name]


_own = _gt_pandas.great_tables_own


@contextmanager
def great_tables_own_access() -> Iterator[None]:
    for name in DISPATCHERS:
        getattr(_tbl_data, name).register(pd.DataFrame, _own(name))
    try:
        yield
    finally:
        _gt_pandas.install()


@pytest.mark.parametrize("warehouse", ["multi_year", "synthetic"])
def test_pages_are_those_of_great_tables_own_access(
    warehouse: str, multi_year_reports: Rendered, tmp_path: Path
) -> None:
    path = multi_year_reports.warehouse if warehouse == "multi_year" else _synthetic(tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        # one process: worker processes would import `_gt_pandas` afresh
        render_all(con, tmp_path / "here", workers=1)
        with great_tables_own_access():
            assert _tbl_data._set_cell.dispatch(pd.DataFrame) is _own("_set_cell")
            assert _tbl_data.cast_frame_to_string.dispatch(pd.DataFrame) is _own(
                "cast_frame_to_string"
            )
            render_all(con, tmp_path / "own", workers=1)
    here, own = _pages(tmp_path / "here"), _pages(tmp_path / "own")
    assert len(here) >= 5
    assert here == own
    test_the_reports_use_the_pandas_access_here()  # restored for the other tests


def _cells(df: pd.DataFrame) -> list[list[tuple[str, str]]]:
    """Every cell as (type, repr): None, NaN and pd.NA, "1" and 1 all differ."""
    return [[(type(v).__name__, repr(v)) for v in row] for row in df.itertuples(index=False)]


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.dtypes) == list(want.dtypes)
    assert got.index.equals(want.index) and type(got.index) is type(want.index)
    assert list(got.columns) == list(want.columns)
    assert _cells(got) == _cells(want)


def mixed_frame() -> pd.DataFrame:
    """One column of each kind the report tables have (and a few they might), each with a
    missing value where the type allows one; an index that is not 0..n-1."""
    return pd.DataFrame(
        {
            "name": pd.array(["企画課", None, "<b>", ""], dtype="str"),
            "text": pd.array(["a", "b", None, "d"], dtype="string"),
            "n": np.array([0, -3, 12_345_678_901, 7], dtype=np.int64),
            "n_or_none": pd.array([1, None, 0, -2], dtype="Int64"),
            "x": np.array([-0.0, 0.1, np.nan, 1e20]),
            "x_or_none": pd.array([0.0, None, -0.0, 1 / 3], dtype="Float64"),
            "flag": np.array([True, False, True, False]),
            "flag_or_none": pd.array([True, None, False, True], dtype="boolean"),
            "small": np.array([1, 2, 3, 250], dtype=np.uint8),
        },
        index=pd.Index([3, 1, 2, 0]),
    )


def test_cast_frame_to_string_is_great_tables_own() -> None:
    df = mixed_frame()
    before = df.copy()
    assert_same_frame(_gt_pandas._cast_frame_to_string(df), _own("cast_frame_to_string")(df.copy()))
    assert_same_frame(df, before)  # the input is left as it was


@pytest.mark.parametrize(
    "quirk",
    [
        pd.DataFrame({"when": pd.to_datetime(["2021-04-01", None]), "n": [1, 2]}),
        pd.DataFrame({"mixed": pd.Series([1, "a"], dtype=object)}),
        pd.DataFrame([["a", "b"]], columns=["same", "same"]),
        pd.DataFrame(index=pd.RangeIndex(2)),
    ],
    ids=["datetime_column", "object_column", "repeated_column", "no_columns"],
)
def test_frames_not_handled_here_go_to_great_tables(quirk: pd.DataFrame) -> None:
    want = _own("cast_frame_to_string")(quirk.copy())
    assert_same_frame(_gt_pandas._cast_frame_to_string(quirk), want)
    body = quirk.astype(object).where(np.zeros(quirk.shape, dtype=bool), None)  # none formatted
    assert_same_frame(
        _gt_pandas._replace_null_frame(body, want),
        _own("replace_null_frame")(body.copy(), want),
    )


def test_replace_null_frame_is_great_tables_own() -> None:
    data = mixed_frame()
    strings = _own("cast_frame_to_string")(data.copy())
    # a body as great-tables leaves it after formatting: some cells written, the rest missing
    body = pd.DataFrame(pd.NA, index=data.index, columns=data.columns, dtype=object)
    body.iat[0, 0], body.iat[1, 2], body.iat[3, 4] = "<b>整形済み</b>", "−3", None
    body.iat[2, 5] = np.nan
    got = _gt_pandas._replace_null_frame(body, strings)
    assert_same_frame(got, _own("replace_null_frame")(body.copy(), strings))
    assert got.iat[0, 0] == "<b>整形済み</b>"  # written cells are kept
    assert (got.iat[1, 1], got.iat[2, 1]) == ("b", None)  # the others filled, not shifted


def test_replace_null_frame_with_other_rows_goes_to_great_tables() -> None:
    """Different row labels: great-tables aligns by label, so that case stays with it."""
    body = pd.DataFrame({"a": [None, "x"]}, index=[0, 1], dtype=object)
    strings = pd.DataFrame({"a": ["1", "2"]}, index=[1, 0], dtype=object)
    assert_same_frame(
        _gt_pandas._replace_null_frame(body, strings),
        _own("replace_null_frame")(body.copy(), strings),
    )


_VALUES = {
    "str": st.one_of(st.none(), st.text(max_size=5)),
    "Int64": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
    "int64": st.integers(-(2**62), 2**62),
    "float64": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(-0.0)),
    "Float64": st.one_of(st.none(), st.floats(allow_nan=False), st.just(-0.0)),
    "bool": st.booleans(),
}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    kinds = draw(st.lists(st.sampled_from(sorted(_VALUES)), min_size=1, max_size=5))
    return pd.DataFrame(
        {
            f"c{i}": pd.array(draw(st.lists(_VALUES[k], min_size=n, max_size=n)), dtype=k)
            for i, k in enumerate(kinds)
        }
    )


@given(frames())
def test_casts_agree_with_great_tables_on_random_frames(df: pd.DataFrame) -> None:
    strings = _own("cast_frame_to_string")(df.copy())
    assert_same_frame(_gt_pandas._cast_frame_to_string(df), strings)
    formatted = np.zeros(df.shape, dtype=bool)
    formatted[::2] = True  # every other row formatted, the others left missing
    body = df.astype(object).where(formatted, None)
    assert_same_frame(
        _gt_pandas._replace_null_frame(body, strings),
        _own("replace_null_frame")(body.copy(), strings),
    )
