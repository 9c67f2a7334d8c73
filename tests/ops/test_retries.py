"""Retries where they help: a locked warehouse or an OSError is retried, a bad sheet is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from ops_helpers import (
    SheetVersions,
    assert_consistent,
    load_sheet_into,
    warehouse_held,
)
from prefect.states import Completed, Failed

from flows.annual_ingest import (
    RETRY_TRANSIENT,
    check_unchanged_batch,
    load_batch,
    publish_batch_artifacts,
    render_reports,
    retry_if_transient,
    validate_batch,
)
from ukiha_pipeline.errors import SheetFatal, WarehouseError
from ukiha_pipeline.runs import RunTarget, is_transient
from ukiha_pipeline.settings import RETRY_DELAYS_S, Settings
from ukiha_pipeline.validation import load_context, validate_path


def _locked() -> WarehouseError:
    cause = duckdb.IOException(
        'IO Error: Could not set lock on file "/w/ukiha.duckdb": Conflicting lock is held in '
        "/usr/bin/python3 (PID 42)"
    )
    try:
        raise WarehouseError(
            "/w/ukiha.duckdb: 倉庫を開けません (別の処理が使用中です。30 秒待ちました): IO Error: "
            'Could not set lock on file "/w/ukiha.duckdb": Conflicting lock is held'
        ) from cause
    except WarehouseError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_locked(), True),
        (PermissionError(13, "Permission denied (open in Excel on the share)"), True),
        (TimeoutError("share timed out"), True),
        (OSError(5, "Input/output error"), True),
        (
            WarehouseError("/data/blocks/ukiha.duckdb: 倉庫への書き込みに失敗しました: Constraint"),
            False,
        ),
        (WarehouseError("/w.duckdb: 倉庫 (warehouse) がありません。"), False),
        (FileNotFoundError(2, "No such file"), False),
        (IsADirectoryError(21, "Is a directory"), False),
        (SheetFatal("unreadable_file", "空のファイルです", source_file="x.txt"), False),
        (ValueError("bad value"), False),
    ],
)
def test_what_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_retry_condition_reads_the_exception_from_the_failed_state() -> None:
    task = object()  # unused by the condition
    assert retry_if_transient(task, None, Failed(data=_locked())) is True  # type: ignore[arg-type]
    assert retry_if_transient(task, None, Failed(data=PermissionError(13, "x"))) is True  # type: ignore[arg-type]
    fatal = SheetFatal("unrecognized_layout", "no table", source_file="x.txt")
    assert retry_if_transient(task, None, Failed(data=fatal)) is False  # type: ignore[arg-type]
    assert retry_if_transient(task, None, Completed(data=1)) is False  # type: ignore[arg-type]


def test_tasks_that_touch_files_or_the_warehouse_retry_with_backoff() -> None:
    assert list(RETRY_DELAYS_S) == sorted(RETRY_DELAYS_S) and len(RETRY_DELAYS_S) >= 2
    for t in (check_unchanged_batch, load_batch, render_reports):
        assert t.retries == len(RETRY_DELAYS_S), t.name
        assert t.retry_delay_seconds == list(RETRY_DELAYS_S), t.name
        assert t.retry_condition_fn is retry_if_transient, t.name
    for t in (validate_batch, publish_batch_artifacts):  # a verdict on the sheet: no retry
        assert t.retries == 0, t.name


def test_check_unchanged_fn_hashes_and_asks_the_warehouse(r3_sheet: Path, tmp_path: Path) -> None:
    target = RunTarget.resolve(
        Settings(), [str(r3_sheet)], str(tmp_path / "w.duckdb"), None, None, None
    )
    gone = tmp_path / "gone.txt"
    assert check_unchanged_batch.fn([r3_sheet], target) == [None]  # no warehouse yet
    load_sheet_into(target.warehouse, r3_sheet)
    found, missing = check_unchanged_batch.fn([r3_sheet, gone], target)
    assert found is not None and (found.status, found.n_projects) == ("unchanged", 99)
    assert missing is None  # not unchanged: the reader then reports it (unreadable_file)


def _fast(task: Any) -> Any:
    return task.with_options(retry_delay_seconds=[0.3] * len(RETRY_DELAYS_S))


def _run_count(task_run_id: UUID) -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_task_run(task_run_id).run_count


@pytest.mark.flow
def test_a_locked_warehouse_is_retried_and_a_bad_sheet_is_not(
    prefect_harness: None, r3_sheet: Path, sheet_versions: SheetVersions, tmp_path: Path
) -> None:
    from prefect import flow

    warehouse = tmp_path / "w.duckdb"
    load_sheet_into(warehouse, sheet_versions.b)  # then version A replaces it, on retry
    ctx = load_context(Settings())
    result = validate_path(r3_sheet, ctx)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")

    target = RunTarget.resolve(Settings(), [str(empty)], str(warehouse), None, None, None)

    # Another process holds the warehouse until the first attempt has failed on its lock:
    # then the production retry condition decides, and the next attempt finds it free.
    with warehouse_held(warehouse, 60) as release:

        def release_then_judge(task: Any, task_run: Any, state: Any) -> bool:
            release()
            return retry_if_transient(task, task_run, state)

        @flow
        def small() -> tuple[Any, Any]:
            loaded = _fast(load_batch).with_options(retry_condition_fn=release_then_judge)(
                [result], ctx, warehouse, "retry-test", 0.2, return_state=True
            )
            bad = _fast(validate_batch.with_options(**RETRY_TRANSIENT))(
                [empty], ctx, target, return_state=True
            )
            return loaded, bad

        loaded, bad = small()
    assert loaded.is_completed()
    assert [o.status for o in loaded.result()] == ["loaded"]
    assert assert_consistent(warehouse, sheet_versions.by_sha) == result.sha256
    assert _run_count(loaded.state_details.task_run_id) >= 2
    # a bad sheet is a verdict, not a fault: its fatal result comes back once, no traceback
    assert bad.is_completed()
    [fatal] = bad.result()
    assert [f.check for f in fatal.failures] == ["unreadable_file"] and fatal.sheet is None
    assert _run_count(bad.state_details.task_run_id) == 1


def test_a_file_that_is_not_a_warehouse_is_named_as_such_and_not_retried(tmp_path: Path) -> None:
    """Only a lock is worth waiting for; the message must not send the steward looking for
    another process when the file is simply not a DuckDB database (even in a folder whose
    name holds "lock": the error text names the path)."""
    from ukiha_pipeline.warehouse import open_warehouse

    bad = tmp_path / "clock" / "ukiha.duckdb"
    bad.parent.mkdir()
    bad.write_text("not a database\n", encoding="utf-8")
    with pytest.raises(WarehouseError) as caught, open_warehouse(bad, lock_timeout_s=2):
        pass
    message = str(caught.value)
    assert message.startswith(f"{bad}: 倉庫を開けません: ") and "not a valid DuckDB" in message
    assert "使用中" not in message and not is_transient(caught.value)
