"""Which files `ukiha ingest` and `ukiha validate` pick up from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ukiha_pipeline.errors import UsageError
from ukiha_pipeline.ingest import discover_sheets


def test_folders_expand_to_sheet_files_only(tmp_path: Path) -> None:
    for name in ("b_R4.xlsx", "a_R3.txt", "~$b_R4.xlsx", ".hidden.txt", "notes.pdf"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in discover_sheets([tmp_path])] == ["a_R3.txt", "b_R4.xlsx"]


def test_a_file_given_by_name_is_taken_as_is_and_a_missing_one_is_a_usage_error(
    tmp_path: Path,
) -> None:
    odd = tmp_path / "sheet.data"
    odd.write_bytes(b"x")
    assert discover_sheets([odd]) == [odd]
    with pytest.raises(UsageError):
        discover_sheets([tmp_path / "missing.txt"])
