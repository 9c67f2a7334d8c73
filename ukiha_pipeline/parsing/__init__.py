"""Parsing stage: a grid → the sheet's hierarchy with 1-based source positions."""

from ukiha_pipeline.parsing.model import (
    PROJECT_COLUMNS,
    KpiRec,
    MeasureRec,
    ParsedSheet,
    PolicyRec,
    ProjectRec,
    StructuralIssue,
    SubmeasureRec,
)
from ukiha_pipeline.parsing.sheet import CIRCLED, HEADER_ALIASES, ParseHints, parse_grid

__all__ = [
    "CIRCLED",
    "HEADER_ALIASES",
    "PROJECT_COLUMNS",
    "KpiRec",
    "MeasureRec",
    "ParseHints",
    "ParsedSheet",
    "PolicyRec",
    "ProjectRec",
    "StructuralIssue",
    "SubmeasureRec",
    "parse_grid",
]
