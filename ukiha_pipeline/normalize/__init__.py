"""Normalisation of cell values (DESIGN §2): text, flags and ratings, numbers with units, eras.

Structure is detected on the original text first; these functions only ever see one cell.
"""

from ukiha_pipeline.normalize.eras import AsOf, parse_as_of
from ukiha_pipeline.normalize.text import (
    RATINGS,
    clean_cell,
    normalize_flag,
    normalize_rating,
    split_names,
)
from ukiha_pipeline.normalize.values import Quantity, parse_quantity, split_baseline_target

__all__ = [
    "RATINGS",
    "AsOf",
    "Quantity",
    "clean_cell",
    "normalize_flag",
    "normalize_rating",
    "parse_as_of",
    "parse_quantity",
    "split_baseline_target",
    "split_names",
]
