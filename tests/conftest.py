"""Test-wide setup. Prefect gets a temporary home and no telemetry before anything imports it.

Hypothesis profiles: `HYPOTHESIS_PROFILE=ci` runs 300 examples per property test (CI sets
it); the default `dev` runs 50 so that the suite stays fast locally.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="ukiha-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REPO = Path(__file__).resolve().parent.parent
R3_SHEET = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"


@pytest.fixture(scope="session")
def r3_sheet() -> Path:
    """The real FY2021 (R3) sheet bundled in data/raw."""
    return R3_SHEET


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (about 7 s), only for flow-level tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield
