"""Our own errors in Prefect's run logs: the message, without the traceback.

When a flow or a task raises, Prefect logs the exception with its traceback (to the console
of `ukiha ingest` and to the run's logs in the Prefect UI). Our errors (`UkihaError`: a path
that does not exist, a rules file that cannot be used, a reports folder that cannot be
written...) carry a complete message in Japanese for the person who reads it, and their
traceback is only noise to them. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging

from ukiha_pipeline.errors import UkihaError

#: the loggers Prefect's engines log a failed flow run or task run with
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class OwnErrorsWithoutTraceback(logging.Filter):
    """Drops the traceback of a record whose exception is a `UkihaError` (the record stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UkihaError):
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Add the filter to Prefect's run loggers (once)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OwnErrorsWithoutTraceback) for f in logger.filters):
            logger.addFilter(OwnErrorsWithoutTraceback())
