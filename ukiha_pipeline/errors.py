"""One root exception, one subclass per stage. The CLI turns them into one line and an exit code."""

from __future__ import annotations


class UkihaError(Exception):
    """Root of every error this package raises on purpose."""


class UsageError(UkihaError):
    """The command was called with something that cannot be used (exit code 2)."""


class ConfigError(UkihaError):
    """The rules file or the department master cannot be used."""


class SheetFatal(UkihaError):
    """A sheet cannot be processed at all (DESIGN §3 severity `fatal`).

    Carries the check id and the position so that it becomes an ordinary failure record.
    """

    def __init__(
        self,
        check: str,
        message: str,
        *,
        source_file: str,
        line: int | None = None,
        value: str = "",
    ) -> None:
        super().__init__(f"{source_file}:{line or '-'}: [{check}] {message}")
        self.check = check
        self.message = message
        self.source_file = source_file
        self.line = line
        self.value = value


class WarehouseError(UkihaError):
    """The warehouse could not be opened, locked or written."""


class ReportError(UkihaError):
    """A report could not be rendered or written."""
