"""Helpers of the annual ingest that are not Prefect-specific: finding sheets, run ids, summaries."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ukiha_pipeline.errors import UsageError
from ukiha_pipeline.validation.result import ValidationResult

SHEET_SUFFIXES = (".txt", ".tsv", ".xlsx", ".xlsm", ".xls")


@dataclass(frozen=True)
class Discovery:
    """The sheet files of the paths given, and what their folders hold that is not read."""

    sheets: list[Path]
    #: (path, why) for each file or sub-folder of a folder given that is not a sheet file
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per skipped entry, for the person who put it there."""
        return [f"{p}: 読みません ({why})" for p, why in self.skipped]


def _ignored(f: Path) -> bool:
    """Hidden files and Excel's lock files (`~$…`): never sheets, never worth a note."""
    return f.name.startswith((".", "~$"))


def _not_a_sheet(f: Path) -> str | None:
    """Why an entry of a folder is not read as a sheet (None: it is a sheet file)."""
    if f.is_dir():
        return "フォルダの中のフォルダは読みません。シートは指定したフォルダに直接置いてください"
    if not f.is_file():
        return "ファイルではありません (リンク切れなど)"
    if f.suffix.lower() not in SHEET_SUFFIXES:
        kind = f"拡張子 {f.suffix}" if f.suffix else "拡張子なし"
        return f"{kind}。シートとして読むのは {' '.join(SHEET_SUFFIXES)} のファイルです"
    return None


def discover(paths: Iterable[Path]) -> Discovery:
    """Files as given; folders expanded to their sheet files (sorted), the rest noted.

    A path that does not exist, or a folder with no sheet file, is a UsageError: a run over
    nothing must not look like a run with nothing wrong.
    """
    found = Discovery([])
    for p in paths:
        if p.is_dir():
            entries = sorted(f for f in p.iterdir() if not _ignored(f))
            sheets = [f for f in entries if f.is_file() and _not_a_sheet(f) is None]
            skipped = [(f, why) for f in entries if (why := _not_a_sheet(f)) is not None]
            if not sheets:
                held = f" (あるのは {', '.join(f.name for f, _ in skipped[:5])}" + (
                    " など)" if len(skipped) > 5 else ")"
                )
                raise UsageError(
                    f"{p}: シートのファイルがありません{held if skipped else ''}。"
                    f"読むのは {' '.join(SHEET_SUFFIXES)} のファイルです。"
                )
            found.sheets.extend(sheets)
            found.skipped.extend(skipped)
        elif p.exists():
            found.sheets.append(p)
        else:
            raise UsageError(f"{p}: ファイルもフォルダもありません。")
    return found


def discover_sheets(paths: Iterable[Path]) -> list[Path]:
    """The sheet files of `discover` (a missing path or a folder without sheets raises)."""
    return discover(paths).sheets


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
