"""great-tables' pandas access, done column by column and cell by position.

great-tables 1.1 renders a table cell by cell, and most of the reports' time went into its
pandas calls rather than into the HTML:

- It reads each visible cell and writes each formatted or escaped value into its body frame
  with `DataFrame.iloc[row, column]`, pandas' general indexer (about half of the time).
  `DataFrame.iat` is pandas' accessor for one cell by position: the same cell, the same value,
  and when a value does not fit the column's dtype it hands over to `iloc` itself
  (`DataFrame._set_value`).
- Before writing the body's HTML it turns the data into strings (`cast_frame_to_string`) and
  fills the body's empty cells from them (`replace_null_frame`) with frame-wide pandas calls,
  which cost ~4 ms and ~2 ms on a table of a dozen rows (a third of what was left). Here they
  are a loop over each column's values, giving the same frame: the same strings (`str()` of
  each value is what pandas' `astype("string")` writes), `None` for a missing value, -0.0
  shown as "0.0". Frames with other column types (object, dates, categories...) or repeated
  column names go to great-tables' own functions.

Registered for pandas frames on great-tables' own dispatch (`functools.singledispatch`), the
pages are byte for byte the same and render faster (README *Speed*). These are great-tables'
private functions: `install()` leaves great-tables alone when they are not there (another
version: the pages are the same, only slower), and `tests/reports/test_gt_pandas.py` fails
then, so an upgrade gets looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def great_tables_own(name: str) -> Callable[..., Any]:
    """great-tables' own pandas implementation of its dispatch function `name`, for the frames
    not handled here. great-tables registers it on its pandas backend class
    (`_tbl_data.PdDataFrame`), not on `pd.DataFrame`, so `install()` leaves it in place."""
    from great_tables import _tbl_data

    return getattr(_tbl_data, name).registry[_tbl_data.PdDataFrame]


def _position(data: pd.DataFrame, column: str) -> int:
    col = data.columns.get_loc(column)
    if not isinstance(col, int):  # a repeated column name: great-tables' own _get_cell refuses it
        raise ValueError(f"Column named {column} matches multiple columns.")
    return col


def _get_cell(data: pd.DataFrame, row: int, column: str) -> Any:
    return data.iat[row, _position(data, column)]


def _set_cell(data: pd.DataFrame, row: int, column: str, value: Any) -> None:
    data.iat[row, _position(data, column)] = value


def _plain_dtype(dtype: Any) -> bool:
    """Integers, floats and booleans (NumPy or pandas' nullable ones) and pandas strings: the
    types whose `astype("string")` is `str()` of each value."""
    if isinstance(dtype, pd.StringDtype):
        return True
    return isinstance(dtype, np.dtype | pd.api.extensions.ExtensionDtype) and dtype.kind in "iufb"


def _object_frame(columns: list[list[Any] | np.ndarray], like: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(dict(enumerate(columns)), index=like.index, dtype=object, copy=False)
    out.columns = like.columns
    return out


def _cast_frame_to_string(df: pd.DataFrame) -> pd.DataFrame:
    """great-tables' `cast_frame_to_string` for pandas: every value as `str`, missing as None,
    a float zero (-0.0 too) as "0.0"."""
    if df.shape[1] == 0 or not df.columns.is_unique or not all(map(_plain_dtype, df.dtypes)):
        return great_tables_own("cast_frame_to_string")(df)
    columns: list[list[Any] | np.ndarray] = []
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        pairs = zip(col.tolist(), col.isna().to_numpy().tolist(), strict=True)
        if col.dtype.kind == "f":  # great-tables masks == 0 with 0: -0.0 is shown as 0.0
            columns.append([None if m else str(0.0 if v == 0 else v) for v, m in pairs])
        else:
            columns.append([None if m else str(v) for v, m in pairs])
    return _object_frame(columns, df)


def _replace_null_frame(df: pd.DataFrame, replacement: Any) -> pd.DataFrame:
    """great-tables' `replace_null_frame` for pandas: `df` as objects, each missing value taken
    from the same cell of `replacement` (same rows and columns, as great-tables passes them)."""
    if not (
        isinstance(replacement, pd.DataFrame)
        and df.shape[1] > 0
        and df.columns.is_unique
        and df.columns.equals(replacement.columns)
        and df.index.equals(replacement.index)
    ):
        return great_tables_own("replace_null_frame")(df, replacement)
    columns: list[list[Any] | np.ndarray] = []
    for i in range(df.shape[1]):
        values = df.iloc[:, i].to_numpy(dtype=object, copy=True)
        missing = pd.isna(values)
        if missing.any():
            values[missing] = replacement.iloc[:, i].to_numpy(dtype=object)[missing]
        columns.append(values)
    return _object_frame(columns, df)


#: great-tables' dispatch function → the implementation for pandas frames here.
_REGISTERED: dict[str, Callable[..., Any]] = {
    "_get_cell": _get_cell,
    "_set_cell": _set_cell,
    "cast_frame_to_string": _cast_frame_to_string,
    "replace_null_frame": _replace_null_frame,
}


def install() -> bool:
    """Register the implementations for pandas frames; False (nothing changed) if great-tables
    does not have all of these dispatch functions with its own pandas implementation."""
    try:
        from great_tables import _tbl_data
    except ImportError:
        return False
    dispatchers = {name: getattr(_tbl_data, name, None) for name in _REGISTERED}
    backend = getattr(_tbl_data, "PdDataFrame", None)
    if not all(backend in getattr(f, "registry", {}) for f in dispatchers.values()):
        return False
    for name, f in dispatchers.items():
        f.register(pd.DataFrame, _REGISTERED[name])  # type: ignore[union-attr]
    return True
