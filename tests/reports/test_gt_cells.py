"""The reports read and write great-tables' cells with pandas' `iat` (`reports/_gt_cells.py`),
and the pages are byte for byte those of great-tables' own cell access."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from great_tables import _tbl_data
from report_helpers import Rendered
from test_parallel import _pages, _synthetic

from ukiha_pipeline.reports import _gt_cells, render_all


def test_the_reports_use_the_positional_cell_access() -> None:
    """Fails when great-tables no longer has these dispatch functions (an upgrade): look at
    `_gt_cells` again, the reports would be ~1.4x slower."""
    assert _tbl_data._get_cell.dispatch(pd.DataFrame) is _gt_cells._get_cell
    assert _tbl_data._set_cell.dispatch(pd.DataFrame) is _gt_cells._set_cell


@contextmanager
def great_tables_own_cell_access() -> Iterator[None]:
    own = {f: f.registry[_tbl_data.PdDataFrame] for f in (_tbl_data._get_cell, _tbl_data._set_cell)}
    for f, impl in own.items():
        f.register(pd.DataFrame, impl)
    try:
        yield
    finally:
        _gt_cells.install()


@pytest.mark.parametrize("warehouse", ["multi_year", "synthetic"])
def test_pages_are_those_of_great_tables_own_cell_access(
    warehouse: str, multi_year_reports: Rendered, tmp_path: Path
) -> None:
    path = multi_year_reports.warehouse if warehouse == "multi_year" else _synthetic(tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        # one process: worker processes would import `_gt_cells` afresh
        render_all(con, tmp_path / "iat", workers=1)
        with great_tables_own_cell_access():
            assert _tbl_data._set_cell.dispatch(pd.DataFrame) is not _gt_cells._set_cell
            render_all(con, tmp_path / "iloc", workers=1)
    iat, iloc = _pages(tmp_path / "iat"), _pages(tmp_path / "iloc")
    assert len(iat) >= 5
    assert iat == iloc
    test_the_reports_use_the_positional_cell_access()  # restored for the other tests
