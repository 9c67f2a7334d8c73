"""Shared test configuration.

Hypothesis profiles: `HYPOTHESIS_PROFILE=ci` runs 300 examples per property test; the
default `dev` runs 50 so that the suite stays fast locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
