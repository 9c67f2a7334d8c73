"""Fuzzing: the real R3 sheet, mutated the way people damage sheets, never crashes the pipeline.

Mutations: delete, duplicate or swap cells and lines; insert random and lookalike characters;
re-encode (CP932, UTF-8 with BOM, CRLF). For every mutant: no unhandled exception, the load
into DuckDB succeeds (constraints hold), and every project row read is loaded or quarantined.
CI's profile runs 1,000 examples.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.validation import load_context, validate_grid
from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.warehouse import load_result
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS, create_all_sql
from ukiha_pipeline.warehouse.tables import build_rows

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
LINES = R3.read_text(encoding="utf-8").split("\n")
EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 60
LOOKALIKES = "〇◯○✕×xＡＢＣ２０７　①②（）→～"
ENCODINGS = ("utf-8", "utf-8-sig", "cp932")

line_index = st.integers(min_value=0, max_value=len(LINES) - 1)


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, ...]:
    kind = draw(
        st.sampled_from(
            [
                "del_cell",
                "dup_cell",
                "swap_cells",
                "del_line",
                "dup_line",
                "swap_lines",
                "insert_chars",
                "insert_lookalike",
                "empty_cell",
            ]
        )
    )
    return (
        kind,
        draw(line_index),
        draw(line_index),
        draw(st.integers(0, 8)),
        draw(st.integers(0, 8)),
        draw(st.text(min_size=1, max_size=3)),
        draw(st.sampled_from(LOOKALIKES)),
    )


def apply(lines: list[str], m: tuple[str, ...]) -> list[str]:
    kind, i, j, a, b, text, look = m
    out = list(lines)
    i, j, a, b = int(i) % len(out), int(j) % len(out), int(a), int(b)
    cells = out[i].split("\t")
    a, b = a % len(cells), b % len(cells)
    if kind == "del_cell":
        del cells[a]
    elif kind == "dup_cell":
        cells.insert(a, cells[a])
    elif kind == "swap_cells":
        cells[a], cells[b] = cells[b], cells[a]
    elif kind == "empty_cell":
        cells[a] = ""
    elif kind == "insert_chars":
        cells[a] = cells[a][:b] + text + cells[a][b:]
    elif kind == "insert_lookalike":
        cells[a] = look + cells[a] if b % 2 else cells[a] + look
    elif kind == "del_line":
        del out[i]
        return out
    elif kind == "dup_line":
        out.insert(i, out[i])
        return out
    elif kind == "swap_lines":
        out[i], out[j] = out[j], out[i]
        return out
    out[i] = "\t".join(cells)
    return out


@pytest.fixture(scope="module", autouse=True)
def _no_prefect_events_thread() -> None:
    """Stop Prefect's events worker left by earlier flow tests in this session.

    Its websocket sends a keep-alive ping every 20 s with `random.getrandbits` on the global
    generator; Hypothesis sees the global state change during a draw and warns "Do not use the
    `random` module inside strategies". The worker starts again when a later test needs it.
    """
    if "prefect.events.worker" in sys.modules:
        sys.modules["prefect.events.worker"].EventsWorker.drain_all()


@pytest.fixture(scope="module")
def ctx() -> RulesContext:
    return load_context()


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for stmt in create_all_sql():
        c.execute(stmt)
    return c


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mutations=st.lists(mutation(), min_size=1, max_size=4),
    encoding=st.sampled_from(ENCODINGS),
    crlf=st.booleans(),
)
def test_mutated_sheet_is_handled_and_nothing_is_lost(
    mutations: list[tuple[str, ...]],
    encoding: str,
    crlf: bool,
    ctx: RulesContext,
    con: duckdb.DuckDBPyConnection,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lines = LINES
    for m in mutations:
        lines = apply(lines, m)
    text = ("\r\n" if crlf else "\n").join(lines)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")  # random text CP932 cannot hold: stays UTF-8
    path = tmp_path_factory.mktemp("fuzz") / "mutant.txt"
    path.write_bytes(data)

    try:
        grid = read_grid(path)
    except Exception as exc:  # the reader may only refuse with SheetFatal
        from ukiha_pipeline.errors import SheetFatal

        assert isinstance(exc, SheetFatal), exc
        return
    result = validate_grid(grid, ctx)
    assert all(f.check in ctx.rules.severity for f in result.failures)
    if result.sheet is None:
        assert result.exit_code == 1 and len(result.failures) == 1
        return

    sheet = result.sheet
    read = {f"project:{p.row}" for p in sheet.projects}
    read |= {i.record for i in sheet.issues if i.entity == "project"}  # (or its project)
    rows = build_rows(result, ctx, run_id="fuzz", recorded_at=datetime.now(UTC)).rows
    loaded = len(rows["projects"])
    entity = TABLE_COLUMNS["quarantine"].index("entity")
    quarantined = sum(row[entity] == "project" for row in rows["quarantine"])
    assert loaded + quarantined == len(read)

    outcome = load_result(con, result, ctx, run_id="fuzz")  # constraints hold in DuckDB
    assert outcome.status in ("loaded", "unchanged")
