"""Fixtures of the report tests: warehouses built from the real R3 sheet (and from SYNTHETIC
later years made from it), and a headless Chromium that loads the rendered pages.

Browser tests are skipped with a reason when no Chromium is installed, except in CI
(`CI=true`), where a missing browser fails them: `.ci/run` installs Debian's `chromium` and
`fonts-noto-cjk`.
"""

from __future__ import annotations

import os

import pytest
from report_helpers import R3, Browser, Rendered, build_and_render, find_chromium, synthetic_year


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    executable = find_chromium()
    if executable is None:
        reason = (
            "Chromium is not installed, so the reports are not checked in a browser "
            "(install it with: apt-get install chromium fonts-noto-cjk)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs it)")
        pytest.skip(reason)
    return Browser(executable, tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="session")
def r3_reports(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The real R3 sheet alone."""
    return build_and_render(tmp_path_factory.mktemp("r3"), [R3])


@pytest.fixture(scope="session")
def multi_year_reports(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """R3 plus SYNTHETIC FY2022 and FY2023 sheets made from it, with markup cells."""
    tmp = tmp_path_factory.mktemp("multi_year")
    text = R3.read_text(encoding="utf-8")
    sheets = [R3]
    for fiscal_year in (2022, 2023):
        path = tmp / f"SYNTHETIC_ukiha_pdca_R{fiscal_year - 2018}_FY{fiscal_year}.txt"
        sheet = synthetic_year(text, fiscal_year, markup=True, markup_rating=fiscal_year == 2022)
        path.write_text(sheet, encoding="utf-8")
        sheets.append(path)
    return build_and_render(tmp, sheets)
