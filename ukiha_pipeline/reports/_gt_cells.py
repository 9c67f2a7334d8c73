"""great-tables' per-cell access to pandas frames, by position with `iat` instead of `iloc`.

great-tables 1.1 renders a table cell by cell: it reads each visible cell of the data and writes
each formatted or escaped value into its body frame with `DataFrame.iloc[row, column]`, pandas'
general indexer: about half of the reports' time went there. `DataFrame.iat` is pandas'
accessor for one cell by position: the same cell, the same value, and when a value does not fit
the column's dtype it hands over to `iloc` itself (`DataFrame._set_value`). Registered for
pandas frames on great-tables' own dispatch (`functools.singledispatch`), the pages are byte for
byte the same and render 1.3-1.5x faster (README *Speed*).

`_get_cell` and `_set_cell` are great-tables' private functions. `install()` leaves
great-tables alone when they are not there (another version: the pages are the same, only
slower), and `tests/reports/test_gt_cells.py` fails then, so an upgrade gets looked at.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def _position(data: pd.DataFrame, column: str) -> int:
    col = data.columns.get_loc(column)
    if not isinstance(col, int):  # a repeated column name: great-tables' own _get_cell refuses it
        raise ValueError(f"Column named {column} matches multiple columns.")
    return col


def _get_cell(data: pd.DataFrame, row: int, column: str) -> Any:
    return data.iat[row, _position(data, column)]


def _set_cell(data: pd.DataFrame, row: int, column: str, value: Any) -> None:
    data.iat[row, _position(data, column)] = value


def install() -> bool:
    """Register the accessors for pandas frames; False (nothing changed) if great-tables has no
    such dispatch functions."""
    try:
        from great_tables._tbl_data import _get_cell as get_cell
        from great_tables._tbl_data import _set_cell as set_cell
    except ImportError:
        return False
    if not (hasattr(get_cell, "register") and hasattr(set_cell, "register")):
        return False
    get_cell.register(pd.DataFrame, _get_cell)
    set_cell.register(pd.DataFrame, _set_cell)
    return True
