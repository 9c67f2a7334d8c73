"""Which files `ukiha ingest` and `ukiha validate` pick up from a folder, and what they say
about the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ukiha_pipeline.errors import UsageError
from ukiha_pipeline.ingest import discover


def test_folders_expand_to_sheet_files_only(tmp_path: Path) -> None:
    for name in ("b_R4.xlsx", "a_R3.txt", "~$b_R4.xlsx", ".hidden.txt", "notes.pdf"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in discover([tmp_path]).sheets] == ["a_R3.txt", "b_R4.xlsx"]


def test_what_a_folder_holds_besides_sheets_is_noted_not_dropped(tmp_path: Path) -> None:
    """A CSV export or a year's sub-folder would otherwise vanish without a word; hidden
    files and Excel's lock files are never sheets and get no note."""
    for name in ("a_R3.txt", "b_R4.csv", "README", "~$a.xlsx", ".DS_Store"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "R5").mkdir()
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    found = discover([tmp_path])
    assert [p.name for p in found.sheets] == ["a_R3.txt"]
    assert [p.name for p, _ in found.skipped] == ["R5", "README", "b_R4.csv", "gone.txt"]
    notes = found.notes()
    assert all(n.startswith(str(tmp_path)) and "読みません" in n for n in notes)
    by_name = dict(zip([p.name for p, _ in found.skipped], notes, strict=True))
    assert "拡張子 .csv" in by_name["b_R4.csv"] and ".txt" in by_name["b_R4.csv"]
    assert "拡張子なし" in by_name["README"]
    assert "フォルダの中のフォルダ" in by_name["R5"]
    assert "ファイルではありません" in by_name["gone.txt"]


def test_a_folder_without_sheets_is_a_usage_error_naming_what_it_holds(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="シートのファイルがありません") as exc:
        discover([empty])
    assert str(empty) in str(exc.value)
    csv_only = tmp_path / "csv"
    csv_only.mkdir()
    (csv_only / "R3.csv").write_bytes(b"x")
    with pytest.raises(UsageError, match=r"あるのは R3\.csv"):
        discover([csv_only])


def test_a_file_given_by_name_is_taken_as_is_and_a_missing_one_is_a_usage_error(
    tmp_path: Path,
) -> None:
    odd = tmp_path / "sheet.data"
    odd.write_bytes(b"x")
    assert discover([odd]).sheets == [odd]
    assert discover([odd]).skipped == []
    with pytest.raises(UsageError):
        discover([tmp_path / "missing.txt"])


def test_same_year_notes_name_the_files_that_claim_one_year() -> None:
    from ukiha_pipeline.ingest import same_year_notes

    notes = same_year_notes(
        [
            ("R3.txt", "うきは市", 2021),
            ("R4.txt", "うきは市", 2021),  # a header copied from last year
            ("R4_みやま市.txt", "みやま市", 2021),
            ("empty.txt", None, None),  # fatal: no year
            ("R5.txt", "うきは市", 2023),
            ("R5.txt", "うきは市", 2023),  # the same file given twice: no note
        ]
    )
    assert notes == [
        "R3.txt と R4.txt は同じ 2021年度（令和3年度）・うきは市 のシートです。"
        "取り込むと最後の R4.txt がほかを置き換えます。"
        "事業一覧の見出しの年度 (R3年度事業化 など) を確かめてください。"
    ]


def test_a_file_given_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ukiha ingest K K/a.txt` loaded a.txt twice in one run (the second load superseding the
    first of the same content)."""
    (tmp_path / "K").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "K" / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    given = [Path("K"), Path("K/a.txt"), Path("./K/b.txt"), tmp_path / "K" / "a.txt"]
    assert discover(given).sheets == [Path("K/a.txt"), Path("K/b.txt")]
