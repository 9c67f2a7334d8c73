"""Fixtures for the multi-year warehouse tests: the real R3 sheet plus SYNTHETIC R4-R7.

The synthetic sheets come from `tests/synthetic/generate.py` (importable as
`tests.synthetic.generate`: the repository root is put on sys.path here, since a bare
`pytest` run does not put it there; `python -m pytest` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.synthetic.generate import SheetYear, all_years, departments_csv, write_years  # noqa: E402
from ukiha_pipeline.validation import RulesContext, ValidationResult, load_context  # noqa: E402
from ukiha_pipeline.validation import validate_path as _validate  # noqa: E402


@pytest.fixture(scope="session")
def sheet_years() -> list[SheetYear]:
    """FY2021 (real) and FY2022-2025 (SYNTHETIC), with the truth the tests compare with."""
    return all_years()


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("synthetic_sheets")
    write_years(d)
    return d


@pytest.fixture(scope="session")
def multi_ctx(tmp_path_factory: pytest.TempPathFactory) -> RulesContext:
    """Rules and a department master that knows the SYNTHETIC rename from FY2023."""
    path = tmp_path_factory.mktemp("master") / "departments_synthetic.csv"
    return load_context(departments_file=departments_csv(path))


@pytest.fixture(scope="session")
def year_results(
    synthetic_dir: Path, sheet_years: list[SheetYear], multi_ctx: RulesContext
) -> dict[int, ValidationResult]:
    """Each year's sheet validated once (results are immutable and reused by every test)."""
    return {y.fiscal_year: _validate(synthetic_dir / y.file_name, multi_ctx) for y in sheet_years}
