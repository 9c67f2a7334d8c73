"""Only what changed: the cheap check that lets a run skip a sheet without parsing it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ops_helpers import SheetVersions, load_sheet_into

from ukiha_pipeline.errors import ConfigError
from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.runs import RunTarget, current_loads, file_sha256
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
