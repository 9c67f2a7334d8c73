"""Our errors in Prefect's run logs: the message without the traceback; other errors keep it."""

from __future__ import annotations

import io
import logging

import pytest

import flows.annual_ingest  # noqa: F401  (installs the filter, as `ukiha ingest` and serve do)
from flows.error_logs import RUN_LOGGERS, OwnErrorsWithoutTraceback, install
from ukiha_pipeline.errors import ConfigError, UsageError


def _logged(logger_name: str, exc: Exception) -> str:
    """What Prefect's engine writes when a run raises `exc` (`logger.exception`), through a
    handler of our own only (Prefect's API handler wants a flow run)."""
    logger = logging.getLogger(logger_name)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    saved = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    try:
        raise exc
    except Exception as caught:
        logger.exception("Encountered exception during execution: %r", caught)
    finally:
        logger.handlers, logger.propagate = saved
    return out.getvalue()


@pytest.mark.parametrize("logger_name", RUN_LOGGERS)
def test_our_errors_are_logged_without_traceback(logger_name: str) -> None:
    text = _logged(logger_name, UsageError("data/raw: ファイルもフォルダもありません。"))
    assert "ERROR Encountered exception during execution: UsageError(" in text
    assert "data/raw: ファイルもフォルダもありません。" in text
    assert "Traceback" not in text
    assert "Traceback" not in _logged(logger_name, ConfigError("rules.toml: x"))


@pytest.mark.parametrize("logger_name", RUN_LOGGERS)
def test_other_errors_keep_their_traceback(logger_name: str) -> None:
    """Anything else is a bug: whoever reads the log needs to know where it happened."""
    text = _logged(logger_name, ValueError("not ours"))
    assert "Traceback (most recent call last)" in text and "ValueError: not ours" in text


def test_install_adds_the_filter_once() -> None:
    install()
    install()
    for name in RUN_LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, OwnErrorsWithoutTraceback) for f in filters) == 1


def test_the_filtered_loggers_are_the_ones_prefect_logs_runs_with() -> None:
    """A Prefect upgrade that renames its run loggers would leave the filter on loggers nobody
    uses: the engines' own logger factories must give these names."""
    from uuid import uuid4

    from prefect.client.schemas.objects import FlowRun, TaskRun
    from prefect.logging.loggers import flow_run_logger, task_run_logger

    flow_logger = flow_run_logger(FlowRun(flow_id=uuid4(), name="annual-ingest")).logger
    task_logger = task_run_logger(TaskRun(task_key="k", dynamic_key="0", name="t")).logger
    assert (flow_logger.name, task_logger.name) == RUN_LOGGERS
