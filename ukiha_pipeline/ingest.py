"""Helpers of the annual ingest that are not Prefect-specific: finding sheets, run ids, summaries."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ukiha_pipeline.errors import UsageError
from ukiha_pipeline.validation.result import ValidationResult

SHEET_SUFFIXES = {".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}


def _is_sheet_file(f: Path) -> bool:
    """A sheet file in a folder: not hidden, not an Excel lock file (`~$…`), a known suffix."""
    return f.is_file() and not f.name.startswith((".", "~$")) and f.suffix.lower() in SHEET_SUFFIXES


def discover_sheets(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders expanded to their sheet files (sorted)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if _is_sheet_file(f))
        elif p.exists():
            found.append(p)
        else:
            raise UsageError(f"{p}: ファイルもフォルダもありません。")
    return found


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def summary_line(result: ValidationResult) -> str:
    counts = Counter(f.check for f in result.failures if f.waived is None)
    n_waived = sum(1 for f in result.failures if f.waived is not None)
    detail = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    head = (
        f"{result.source_file}: fatal {result.count('fatal')}, "
        f"error {result.count('error')}, warning {result.count('warning')}"
    )
    if n_waived:
        head += f", waived {n_waived}"
    return f"{head} ({detail})" if detail else head
