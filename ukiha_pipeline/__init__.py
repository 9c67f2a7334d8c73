"""ukiha-pipeline: validation pipeline for Ukiha City's yearly PDCA strategy sheets.

Stages are subpackages (reading → parsing → normalize → validation → warehouse → reports);
`flows/` wires them into the Prefect annual ingest and `cli.py` is the `ukiha` command.
The public surface for library use is below; everything else may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ukiha_pipeline.errors import SheetFatal, UkihaError, WarehouseError
from ukiha_pipeline.settings import Settings

if TYPE_CHECKING:
    from ukiha_pipeline.validation import (
        Failure,
        ValidationResult,
        load_context,
        validate_grid,
        validate_path,
    )

_VALIDATION = {"Failure", "ValidationResult", "load_context", "validate_grid", "validate_path"}


def __getattr__(name: str) -> Any:
    """The validation names load pandas and pandera: imported when first used, so that the
    `ukiha` command decides what pandera may import (see cli.validate) and `--help` is quick."""
    if name in _VALIDATION:
        from ukiha_pipeline import validation

        return getattr(validation, name)
    raise AttributeError(f"module 'ukiha_pipeline' has no attribute {name!r}")


__all__ = [
    "Failure",
    "Settings",
    "SheetFatal",
    "UkihaError",
    "ValidationResult",
    "WarehouseError",
    "load_context",
    "validate_grid",
    "validate_path",
]
