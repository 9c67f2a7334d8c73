"""`ukiha export --parquet DIR` and the read-only `ukiha sql`, as real processes.

The warehouse holds the real R3 sheet and one SYNTHETIC later year (R3 with its header
changed to R4), so the views have rows across two years.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from tests.ukiha_process import ukiha
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import TABLE_COLUMNS, load_result, open_warehouse
from ukiha_pipeline.warehouse.schema import VIEWS

REPO = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, r3_sheet: Path) -> Path:
    d = tmp_path_factory.mktemp("export")
    r4 = d / "SYNTHETIC_ukiha_pdca_R4_FY2022.txt"
    r4.write_text(r3_sheet.read_text(encoding="utf-8").replace("R3年度", "R4年度"), "utf-8")
    ctx = load_context()
    path = d / "w.duckdb"
    with open_warehouse(path) as con:
        for i, sheet in enumerate((r3_sheet, r4)):
            assert load_result(con, validate_path(sheet, ctx), ctx, run_id=f"r{i}").status == (
                "loaded"
            )
    return path


def test_export_writes_every_table_and_view_as_parquet(warehouse: Path, tmp_path: Path) -> None:
    before = sha256(warehouse)
    out = tmp_path / "parquet"
    proc = ukiha("export", "--parquet", str(out), "--warehouse", str(warehouse))
    assert proc.returncode == 0, proc.stderr
    names = set(TABLE_COLUMNS) | set(VIEWS)
    assert {p.stem for p in out.glob("*.parquet")} == names
    assert sorted(proc.stdout.split()) == sorted(str(out / f"{n}.parquet") for n in names)
    assert not list(out.glob(".*"))  # no partial files left
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name in names:
            src = con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            back = con.execute(
                "SELECT * FROM read_parquet(?) ORDER BY ALL", [str(out / f"{name}.parquet")]
            ).fetchall()
            assert back == src, name
            cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()]
            pq = con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?)", [str(out / f"{name}.parquet")]
            )
            assert [r[0] for r in pq.fetchall()] == cols, name
        assert con.execute(
            "SELECT count(*) FROM read_parquet(?)", [str(out / "v_rating_transitions.parquet")]
        ).fetchone() != (0,)
    assert sha256(warehouse) == before  # read-only: the warehouse file is untouched

    # exporting again replaces the files
    again = ukiha("export", "--parquet", str(out), "--warehouse", str(warehouse))
    assert again.returncode == 0, again.stderr


def test_export_works_offline_with_the_builtin_parquet_writer(tmp_path: Path) -> None:
    with duckdb.connect() as con:
        row = con.execute(
            "SELECT loaded, install_mode FROM duckdb_extensions() WHERE extension_name = 'parquet'"
        ).fetchone()
    assert row is not None and row[0] is True
    assert row[1] in ("STATICALLY_LINKED", "statically_linked"), row


def test_export_usage_and_errors_are_clear(warehouse: Path, tmp_path: Path) -> None:
    missing_option = ukiha("export", "--warehouse", str(warehouse))
    assert missing_option.returncode == 2 and "--parquet" in missing_option.stderr
    no_warehouse = ukiha(
        "export", "--parquet", str(tmp_path / "o"), "--warehouse", str(tmp_path / "none.duckdb")
    )
    assert no_warehouse.returncode == 1
    assert "ukiha ingest" in no_warehouse.stderr and "Traceback" not in no_warehouse.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    not_a_dir = ukiha("export", "--parquet", str(a_file), "--warehouse", str(warehouse))
    assert not_a_dir.returncode == 1 and "Traceback" not in not_a_dir.stderr


WRITES = (
    "DELETE FROM projects",
    "UPDATE projects SET rating = 'A'",
    "INSERT INTO sheets SELECT * FROM sheets",
    "DROP VIEW v_kpi_progress",
    "CREATE TABLE x AS SELECT 1",
    "COMMENT ON TABLE projects IS 'x'",
)


def test_sql_writes_fail_clearly_and_change_nothing(warehouse: Path) -> None:
    before = sha256(warehouse)
    for statement in WRITES:
        proc = ukiha("sql", statement, "--warehouse", str(warehouse))
        assert proc.returncode == 1, statement
        assert "読み取り専用" in proc.stderr and "Traceback" not in proc.stderr, statement
        assert sha256(warehouse) == before, statement
    n = ukiha(
        "sql",
        "SELECT count(*) AS n FROM projects",
        "--warehouse",
        str(warehouse),
        "--format",
        "csv",
    )
    assert n.stdout.splitlines() == ["n", "198"]
