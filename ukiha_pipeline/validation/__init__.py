"""Validation stage: parsed sheet → staged frames → pandera models → failures (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

# first: pandera without its dask types (see pandera_import)
from ukiha_pipeline.validation import pandera_import  # noqa: F401  # isort: skip
from ukiha_pipeline.settings import Settings
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.reference import load_master, load_rules, load_waivers
from ukiha_pipeline.validation.result import Failure, ValidationResult
from ukiha_pipeline.validation.run import check_sheet, check_sheets, validate_grid, validate_path

__all__ = [
    "Failure",
    "RulesContext",
    "ValidationResult",
    "check_sheet",
    "check_sheets",
    "load_context",
    "validate_grid",
    "validate_path",
]


def load_context(
    settings: Settings | None = None,
    *,
    rules_file: Path | None = None,
    departments_file: Path | None = None,
    waivers_file: Path | None = None,
) -> RulesContext:
    """Rules, department master and waivers, from `schemas/` unless settings say otherwise."""
    s = settings or Settings.from_env()
    return RulesContext(
        load_rules(rules_file or s.rules_file),
        load_master(departments_file or s.departments_file),
        load_waivers(waivers_file or s.waivers_file),
    )
