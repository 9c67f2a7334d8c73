"""ukiha-pipeline: validation pipeline for Ukiha City's yearly PDCA strategy sheets.

Stages are subpackages (reading → parsing → normalize → validation → warehouse → reports);
`flows/` wires them into the Prefect annual ingest and `cli.py` is the `ukiha` command.
The public surface for library use is below; everything else may change.
"""

from ukiha_pipeline.errors import SheetFatal, UkihaError, WarehouseError
from ukiha_pipeline.settings import Settings
from ukiha_pipeline.validation import (
    Failure,
    ValidationResult,
    load_context,
    validate_grid,
    validate_path,
)

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
