"""The data dictionary: COMMENT ON every table, view and column, and docs/warehouse.md.

`docs/warehouse.md` is generated from the database itself; the committed file must be what
`python -m ukiha_pipeline.warehouse.dictionary docs/warehouse.md` writes now.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ukiha_pipeline.validation import RulesContext, ValidationResult
from ukiha_pipeline.warehouse import TABLE_COLUMNS, load_result, open_warehouse
from ukiha_pipeline.warehouse.dictionary import COMMAND, EXAMPLES, main, render, render_schema
from ukiha_pipeline.warehouse.schema import COMMENTS, VIEW_COLUMNS, VIEWS

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "warehouse.md"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(tmp_path / "w.duckdb") as con:
        yield con


def test_every_table_view_and_column_has_a_japanese_and_english_comment(
    fresh: duckdb.DuckDBPyConnection,
) -> None:
    relations = fresh.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal "
        "UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
    ).fetchall()
    assert {r[0] for r in relations} == set(TABLE_COLUMNS) | set(VIEWS) == set(COMMENTS)
    columns = fresh.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
    ).fetchall()
    assert len(columns) == sum(map(len, TABLE_COLUMNS.values())) + sum(
        map(len, VIEW_COLUMNS.values())
    )
    for name, column, comment in [*((n, None, c) for n, c in relations), *columns]:
        assert comment, (name, column)
        ja, sep, en = comment.partition(" — ")
        assert sep and ja and en, (name, column, comment)
        assert any(ord(ch) > 0x3000 for ch in ja), (name, column, comment)  # Japanese term
        assert any(ch.isascii() and ch.isalpha() for ch in en), (name, column, comment)


def test_declared_view_columns_are_the_views_columns(fresh: duckdb.DuckDBPyConnection) -> None:
    for view, columns in VIEW_COLUMNS.items():
        got = tuple(r[0] for r in fresh.execute(f"DESCRIBE {view}").fetchall())
        assert got == columns, view


def test_committed_docs_are_what_the_generator_writes_now(tmp_path: Path) -> None:
    assert DOC.exists(), f"run `{COMMAND}`"
    out = tmp_path / "warehouse.md"
    assert main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8"), (
        f"docs/warehouse.md is out of date: run `{COMMAND}`"
    )


def test_docs_of_an_existing_warehouse_equal_the_schemas(
    fresh: duckdb.DuckDBPyConnection,
) -> None:
    """A warehouse opened (and migrated) by the loader documents the same as a fresh schema."""
    assert render(fresh) == render_schema()


def test_docs_list_every_column(fresh: duckdb.DuckDBPyConnection) -> None:
    text = render_schema()
    for name, columns in {**TABLE_COLUMNS, **VIEW_COLUMNS}.items():
        section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        for col in columns:
            assert f"| `{col}` |" in section, (name, col)


@pytest.fixture(scope="module")
def multi(
    tmp_path_factory: pytest.TempPathFactory,
    year_results: dict[int, ValidationResult],
    multi_ctx: RulesContext,
) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("dict") / "w.duckdb"
    with open_warehouse(path) as con:
        for fy, result in sorted(year_results.items()):
            load_result(con, result, multi_ctx, run_id=f"run-{fy}")
    with open_warehouse(path, read_only=True) as con:
        yield con


@pytest.mark.parametrize(("title", "sql"), EXAMPLES, ids=[t.split(" (")[0] for t, _ in EXAMPLES])
def test_example_queries_run_and_find_something(
    multi: duckdb.DuckDBPyConnection, title: str, sql: str
) -> None:
    rows = multi.execute(sql).fetchall()
    assert rows, title


def test_example_new_and_gone_projects(multi: duckdb.DuckDBPyConnection) -> None:
    sql = dict(EXAMPLES)[next(t for t, _ in EXAMPLES if t.startswith("Projects new"))]
    rows = multi.execute(sql).fetchall()
    assert [(fy, change) for _, fy, change, _ in rows] == [(2023, "new"), (2024, "gone")]
