"""Failure records and the result of validating one sheet."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ukiha_pipeline.parsing.model import ParsedSheet

SEVERITY_ORDER = {"fatal": 0, "error": 1, "warning": 2}


@dataclass(frozen=True)
class Failure:
    """One failure, pointing at the place a steward edits (DESIGN §5 JSON fields and more)."""

    source_file: str
    line: int | None
    fiscal_year: int | None
    entity: str
    column: str | None
    check: str
    severity: str
    value: str
    message: str
    hint: str = ""
    worksheet: str | None = None
    cell: str | None = None
    record: str | None = None
    row_text: str = ""
    row_key: str | None = None  # stable across edits elsewhere: what waivers and history match
    waived: str | None = None  # the waiver's reason when a steward accepted this failure
    col: int | None = None  # 0-based column of the cell in its row (text files have no `cell`)

    def to_json_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "source_file": self.source_file,
            "line": self.line,
            "fiscal_year": self.fiscal_year,
            "entity": self.entity,
            "column": self.column,
            "check": self.check,
            "severity": self.severity,
            "value": self.value,
            "message": self.message,
            "hint": self.hint,
            "row_key": self.row_key,
        }
        if self.waived is not None:
            d["waived"] = self.waived
        if self.worksheet is not None:
            d["sheet"] = self.worksheet
            d["cell"] = self.cell
        return d

    def as_row(self) -> dict[str, object]:
        return asdict(self)

    @property
    def sort_key(self) -> tuple[int, str, int, str]:
        return (
            SEVERITY_ORDER.get(self.severity, 9),
            self.worksheet or "",
            self.line or 0,
            self.check,
        )


@dataclass(frozen=True)
class ValidationResult:
    source_file: str
    sha256: str | None
    sheet: ParsedSheet | None  # None when the sheet was fatal
    failures: tuple[Failure, ...]
    quarantined: frozenset[str] = field(default_factory=frozenset)  # records kept out
    notes: tuple[str, ...] = ()

    def count(self, severity: str, *, waived: bool = False) -> int:
        """Failures of a severity; waived ones only when asked for."""
        return sum(
            1 for f in self.failures if f.severity == severity and (f.waived is not None) == waived
        )

    @property
    def fatal(self) -> bool:
        return self.count("fatal") > 0

    @property
    def n_errors(self) -> int:
        return self.count("error") + self.count("fatal")

    @property
    def n_warnings(self) -> int:
        return self.count("warning")

    @property
    def exit_code(self) -> int:
        """DESIGN §5: 0 success (warnings allowed); 1 errors or a fatal sheet."""
        return 1 if self.n_errors else 0
