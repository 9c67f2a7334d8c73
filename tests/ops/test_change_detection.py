"""Only what changed: the cheap check that lets a run skip a sheet without parsing it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ops_helpers import SheetVersions, load_sheet_into

from ukiha_pipeline.errors import ConfigError
from ukiha_pipeline.ingest import same_year_notes
from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.runs import RunTarget, SheetOutcome, current_loads, file_sha256, year_loads
from ukiha_pipeline.settings import DEFAULT_BATCH_SIZE, DEFAULT_LOCK_TIMEOUT_S, Settings


def test_file_hash_is_the_readers_hash(sheet_versions: SheetVersions) -> None:
    for sheet in (sheet_versions.a, sheet_versions.b):
        assert file_sha256(sheet) == read_grid(sheet).sha256


def test_current_content_is_skipped_a_superseded_one_is_not(
    sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    wh = tmp_path / "w.duckdb"
    a, b = sheet_versions.a, sheet_versions.b

    def check(sheet: Path, **kw: object) -> str | None:
        [found] = current_loads(wh, [(sheet, file_sha256(sheet))], lock_timeout_s=1, **kw)  # type: ignore[arg-type]
        return None if found is None else f"{found.status} FY{found.fiscal_year} {found.n_projects}"

    assert check(a) is None  # no warehouse: nothing is loaded (and none is created)
    assert not wh.exists()
    load_sheet_into(wh, a)
    assert check(a) == "unchanged FY2021 99"
    copy = shutil.copy(a, tmp_path / "renamed.txt")  # same content elsewhere: still unchanged
    assert check(Path(copy)) == "unchanged FY2021 99"
    assert check(b) is None
    load_sheet_into(wh, b)  # B supersedes A
    assert check(b) == "unchanged FY2021 100"
    assert check(a) is None  # superseded: A is ingested again if it comes back
    # an override that does not match the stored load means "not this load"
    assert check(b, fiscal_year=2022) is None
    assert check(b, fiscal_year=2021, municipality="うきは市") == "unchanged FY2021 100"
    assert check(b, municipality="別の市") is None


def test_lock_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UKIHA_LOCK_TIMEOUT", raising=False)
    assert Settings.from_env().lock_timeout_s == DEFAULT_LOCK_TIMEOUT_S
    monkeypatch.setenv("UKIHA_LOCK_TIMEOUT", "2.5")
    assert Settings.from_env().lock_timeout_s == 2.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("UKIHA_LOCK_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="UKIHA_LOCK_TIMEOUT"):
            Settings.from_env()


def test_batch_size_setting_and_batches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every run goes in batches of UKIHA_BATCH_SIZE, in order; a small run is one batch."""
    monkeypatch.delenv("UKIHA_BATCH_SIZE", raising=False)
    settings = Settings.from_env()
    assert settings.batch_size == DEFAULT_BATCH_SIZE
    for bad in ("0", "-3", "many", "1.5"):
        monkeypatch.setenv("UKIHA_BATCH_SIZE", bad)
        with pytest.raises(ConfigError, match="UKIHA_BATCH_SIZE"):
            Settings.from_env()
    sheets = [tmp_path / f"{i}.txt" for i in range(250)]
    target = RunTarget.resolve(settings, None, None, None, None, None)
    assert target.batches(sheets[:1]) == [sheets[:1]]
    assert target.batches(sheets[:10]) == [sheets[:10]]
    assert [len(b) for b in target.batches(sheets)] == [100, 100, 50]
    assert [p for b in target.batches(sheets) for p in b] == sheets
    small = RunTarget.resolve(Settings(batch_size=2), None, None, None, None, None)
    assert [len(b) for b in small.batches(sheets[:5])] == [2, 2, 1]


def test_force_ingests_current_content_again(sheet_versions: SheetVersions, tmp_path: Path) -> None:
    """After a steward adds a waiver, the unchanged sheet must be loaded again to apply it."""
    from flows.annual_ingest import check_unchanged_batch
    from ukiha_pipeline.validation import load_context, validate_path
    from ukiha_pipeline.warehouse import load_result, open_warehouse

    wh = tmp_path / "w.duckdb"
    sheet = tmp_path / "rating_F.txt"  # SYNTHETIC: line 91's rating B → F (rating_invalid)
    lines = sheet_versions.a.read_text(encoding="utf-8").split("\n")
    assert lines[90].endswith("\tB")
    lines[90] = lines[90][:-1] + "F"
    sheet.write_text("\n".join(lines), encoding="utf-8")

    plain = load_context()
    with open_warehouse(wh) as con:
        assert load_result(con, validate_path(sheet, plain), plain, run_id="r1").n_quarantined == 1
    key = next(
        f.row_key for f in validate_path(sheet, plain).failures if f.check == "rating_invalid"
    )
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        f'[[waiver]]\nfiscal_year = 2021\ncheck = "rating_invalid"\nrow_key = "{key}"\n'
        'who = "市民協働推進課"\nwhy = "評価は次回の会議で決める"\n',
        encoding="utf-8",
    )
    waived = load_context(waivers_file=waivers)
    result = validate_path(sheet, waived)
    settings = Settings(warehouse=wh)
    target = RunTarget.resolve(settings, [str(sheet)], None, None, None, None)
    forced = RunTarget.resolve(settings, [str(sheet)], None, None, None, None, force=True)
    [same] = check_unchanged_batch.fn([sheet], target)
    assert same is not None and same.status == "unchanged"  # same content: skipped
    assert check_unchanged_batch.fn([sheet], forced) == [None]
    with open_warehouse(wh) as con:
        assert load_result(con, result, waived, run_id="r2").status == "unchanged"
        again = load_result(con, result, waived, run_id="r3", force=True)
        assert (again.status, again.n_projects, again.n_quarantined) == ("loaded", 99, 0)
        assert con.execute("SELECT count(*) FROM sheets").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


def _run(wh: Path, files: list[Path], run_id: str) -> list[SheetOutcome]:
    """What a run does with `files`, in order: the change check over the run's files, then
    the sheets it does not skip loaded (as `flows.annual_ingest`, without Prefect)."""
    from ukiha_pipeline.validation import load_context, validate_path
    from ukiha_pipeline.warehouse import load_result, open_warehouse

    found = current_loads(
        wh, [(f, file_sha256(f)) for f in files], run_files=files, lock_timeout_s=1
    )
    ctx = load_context()
    outcomes = []
    with open_warehouse(wh) as con:
        for f, o in zip(files, found, strict=True):
            if o is None:
                o = SheetOutcome.from_load(
                    load_result(con, validate_path(f, ctx), ctx, run_id=run_id)
                )
            outcomes.append(o)
    return outcomes


def _current_file(wh: Path) -> str:
    import duckdb

    with duckdb.connect(str(wh), read_only=True) as con:
        [(source,)] = con.execute(
            "SELECT source_file FROM sheets WHERE status = 'current'"
        ).fetchall()
    return str(source)


def _notes(outcomes: list[SheetOutcome]) -> list[str]:
    claims = [o for o in outcomes if o.status in ("loaded", "unchanged")]
    return same_year_notes(
        ((o.source_file, o.municipality, o.fiscal_year) for o in claims), year_loads(claims)
    )


def test_two_files_of_one_year_no_longer_replace_each_other_run_after_run(
    sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    """Both left in the folder, the file replaced in one run was loaded again in the next
    (its content superseded = changed): the year's load went b → a → b. Now the older version
    is not loaded while the year's load comes from another file of the run."""
    wh = tmp_path / "w.duckdb"
    a = Path(shutil.copy(sheet_versions.a, tmp_path / "R4_a.txt"))
    b = Path(shutil.copy(sheet_versions.b, tmp_path / "R4_b.txt"))
    first = _run(wh, [a, b], "run-1")
    assert [o.status for o in first] == ["loaded", "loaded"] and _current_file(wh) == str(b)
    said = (
        f"{a} と {b} は同じ 2021年度（令和3年度）・うきは市 のシートです。この年度の取込は {b} です。"
        "年度ごとにファイルを 1 つにしてください"
    )
    assert len(_notes(first)) == 1 and _notes(first)[0].startswith(said)
    assert "--force" in _notes(first)[0]
    for run_id in ("run-2", "run-3"):
        again = _run(wh, [a, b], run_id)
        assert [o.status for o in again] == ["unchanged", "unchanged"]
        assert again[0].superseded_by == str(b) and str(b) in again[0].message
        assert (again[0].n_projects, again[1].n_projects) == (0, 100)
        assert _current_file(wh) == str(b)
        assert len(_notes(again)) == 1 and _notes(again)[0].startswith(said)


def test_a_file_added_for_a_year_already_loaded_is_loaded_and_named_with_the_other(
    sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    wh = tmp_path / "w.duckdb"
    a = Path(shutil.copy(sheet_versions.a, tmp_path / "R4_a.txt"))
    b = Path(shutil.copy(sheet_versions.b, tmp_path / "R4_b.txt"))
    assert [o.status for o in _run(wh, [a], "run-1")] == ["loaded"]
    added = _run(wh, [a, b], "run-2")  # b is new content: loaded, it replaces a
    assert [o.status for o in added] == ["unchanged", "loaded"] and _current_file(wh) == str(b)
    [note] = _notes(added)
    assert note.startswith(
        f"{a} と {b} は同じ 2021年度（令和3年度）・うきは市 のシートです。この年度の取込は {b} です。"
    )
    assert [o.status for o in _run(wh, [a, b], "run-3")] == ["unchanged", "unchanged"]
    assert _current_file(wh) == str(b)


def test_a_rollback_or_a_file_alone_is_still_loaded_again(
    sheet_versions: SheetVersions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path holding an older version again (a rollback), or an older version whose
    year was loaded from a file not in this run, is loaded (as documented)."""
    monkeypatch.chdir(tmp_path)
    wh = tmp_path / "w.duckdb"
    sheet = Path("R4.txt")  # given relative: the later runs name it absolute
    shutil.copy(sheet_versions.a, sheet)
    _run(wh, [sheet], "run-1")
    shutil.copy(sheet_versions.b, sheet)
    _run(wh, [sheet], "run-2")
    shutil.copy(sheet_versions.a, sheet)  # back to the first version
    assert [o.status for o in _run(wh, [sheet.resolve()], "run-3")] == ["loaded"]
    other = Path(shutil.copy(sheet_versions.b, tmp_path / "other.txt"))
    # R4.txt (version a) is the year's load; other.txt (version b, superseded) alone: loaded
    assert [o.status for o in _run(wh, [other], "run-4")] == ["loaded"]
    # both again, R4.txt named relative as in run 1: b stays, a is skipped
    both = _run(wh, [sheet, other], "run-5")
    assert [(o.status, o.superseded_by) for o in both] == [
        ("unchanged", str(other)),
        ("unchanged", None),
    ]


def test_year_loads_prefer_a_load_of_the_run_then_the_current_file() -> None:
    def o(source: str, status: str, superseded_by: str | None = None) -> SheetOutcome:
        return SheetOutcome(source, status, "うきは市", 2022, superseded_by=superseded_by)

    assert year_loads([o("a", "loaded"), o("b", "loaded")]) == {("うきは市", 2022): "b"}
    assert year_loads([o("b", "loaded"), o("a", "unchanged")]) == {("うきは市", 2022): "b"}
    assert year_loads([o("a", "unchanged", "b"), o("b", "unchanged")]) == {("うきは市", 2022): "b"}
    # the year's file fatal in this run: the older version names it
    assert year_loads([o("a", "unchanged", "b"), SheetOutcome("b", "fatal")]) == {
        ("うきは市", 2022): "b"
    }
