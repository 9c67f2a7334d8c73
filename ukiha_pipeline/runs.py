"""The annual run's bookkeeping, apart from Prefect: what changed, what is worth retrying,
what happened to each sheet, and how the run is summarised (artifact, notification).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb

from ukiha_pipeline.errors import ReportError, WarehouseError
from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.settings import DEFAULT_BATCH_SIZE, Settings
from ukiha_pipeline.warehouse import LoadOutcome, is_lock_error, open_warehouse
from ukiha_pipeline.warehouse.history import fatal_latest

#: Statuses of a sheet in a run, in the order the summary lists them, with their Japanese label.
STATUS_JA = {
    "loaded": "取込",
    "unchanged": "変更なし",
    "fatal": "致命的",
    "failed": "失敗",
    "not_attempted": "未処理",
}
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class RunTarget:
    """Where one run reads and writes, from the flow's arguments over the settings."""

    paths: list[Path]
    warehouse: Path
    reports: Path
    fiscal_year: int | None
    municipality: str | None
    default_municipality: str
    lock_timeout_s: float
    batch_size: int = DEFAULT_BATCH_SIZE
    force: bool = False  # load sheets again even when their content is already current

    @classmethod
    def resolve(
        cls,
        settings: Settings,
        paths: list[str] | None,
        warehouse: str | None,
        reports: str | None,
        fiscal_year: int | None,
        municipality: str | None,
        force: bool = False,
    ) -> RunTarget:
        if warehouse:
            settings = replace(settings, warehouse=Path(warehouse))
        return cls(
            paths=[Path(p) for p in (paths or [str(settings.raw_dir)])],
            warehouse=settings.warehouse,
            reports=Path(reports) if reports else settings.reports,
            fiscal_year=fiscal_year,
            municipality=municipality,
            default_municipality=settings.municipality,
            lock_timeout_s=settings.lock_timeout_s,
            batch_size=settings.batch_size,
            force=force,
        )

    def batches(self, sheets: list[Path]) -> list[list[Path]]:
        """The sheets in order, in batches of `batch_size` (a run of one sheet: a batch of one)."""
        return [sheets[i : i + self.batch_size] for i in range(0, len(sheets), self.batch_size)]


@dataclass(frozen=True)
class SheetOutcome:
    """What the run did with one sheet (the warehouse's LoadOutcome, plus the run's own cases)."""

    source_file: str
    status: str  # loaded | unchanged | fatal | failed | not_attempted
    municipality: str | None = None
    fiscal_year: int | None = None
    n_projects: int = 0
    n_kpis: int = 0
    n_quarantined: int = 0
    n_errors: int = 0
    n_warnings: int = 0
    message: str = ""
    #: `unchanged` and not read: the content is an older version of its year, whose current
    #: load came from this other file of the same run (two files of one year in the input)
    superseded_by: str | None = None
    #: `unchanged`, and the file's latest run before this one (naming it so) was fatal: the run
    #: records it as fine again (`warehouse.record_restored`)
    clears_fatal: str | None = None

    @classmethod
    def from_load(cls, outcome: LoadOutcome) -> SheetOutcome:
        return cls(
            outcome.source_file,
            outcome.status,
            outcome.municipality,
            outcome.fiscal_year,
            outcome.n_projects,
            outcome.n_kpis,
            outcome.n_quarantined,
            outcome.n_errors,
            outcome.n_warnings,
        )

    @classmethod
    def failed(cls, path: Path, exc: Exception) -> SheetOutcome:
        """The warehouse could not be used (still locked after the retries): the run stops."""
        return cls(str(path), "failed", message=str(exc).splitlines()[0] if str(exc) else "")

    @classmethod
    def not_loaded(cls, path: Path | str, exc: Exception) -> SheetOutcome:
        """The warehouse refused this sheet (not a lock): `failed`, in one line naming the file.
        The other sheets of its batch are loaded and the run goes on (it fails at the end)."""
        text = str(exc).strip()
        first = text.splitlines()[0] if text else ""
        if str(path) not in first:
            first = f"{path}: 取り込めませんでした ({type(exc).__name__})" + (
                f": {first}" if first else ""
            )
        return cls(str(path), "failed", message=first)

    @classmethod
    def not_attempted(cls, path: Path) -> SheetOutcome:
        return cls(str(path), "not_attempted", message="倉庫が使えないため処理していません")

    @property
    def needs_attention(self) -> bool:
        """A fatal sheet, errors in it, or a sheet the run could not load."""
        return self.status in ("fatal", "failed", "not_attempted") or self.n_errors > 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    """The sheet's content hash, as the readers compute it (the whole file's bytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def current_loads(
    warehouse: Path,
    hashed: list[tuple[Path, str | None]],
    *,
    run_files: Sequence[Path] = (),
    fiscal_year: int | None = None,
    municipality: str | None = None,
    lock_timeout_s: float,
) -> list[SheetOutcome | None]:
    """For each (path, sha256): the sheet's outcome if it need not be loaded, else None. One
    read-only open of the warehouse for all; nothing is parsed.

    Not loaded (`unchanged`): a content that is the current load of its year; and a content
    that is an older, superseded version of its year whose current load came from another
    file among `run_files` (the run's sheet files): two files of one year in one input would
    otherwise replace each other run after run. Any other superseded content is loaded again
    (a rollback: the same file holding an older version, or the newer file is gone).
    Overrides (`--fiscal-year`, `--municipality`) must match the stored load to count. A
    sha256 of None (a file that could not be hashed) is never current. An unchanged file whose
    latest run was fatal is marked `clears_fatal`. Raises WarehouseError (e.g. locked).
    """
    if not warehouse.exists():
        return [None] * len(hashed)
    query = (
        "SELECT s.status, s.municipality, s.fiscal_year, s.n_projects, s.n_kpis, "
        "s.n_quarantined, s.n_errors, s.n_warnings, c.source_file "
        "FROM sheets s LEFT JOIN sheets c ON c.status = 'current' "
        "AND c.municipality = s.municipality AND c.fiscal_year = s.fiscal_year "
        "WHERE s.source_sha256 = ?"
    )
    params: list[object] = []
    if fiscal_year is not None:
        query += " AND s.fiscal_year = ?"
        params.append(fiscal_year)
    if municipality is not None:
        query += " AND s.municipality = ?"
        params.append(municipality)
    given = _RunFiles(run_files)
    out: list[SheetOutcome | None] = []
    with open_warehouse(warehouse, read_only=True, lock_timeout_s=lock_timeout_s) as con:
        for path, sha256 in hashed:
            try:
                row = con.execute(query, [sha256, *params]).fetchone() if sha256 else None
            except duckdb.CatalogException:  # a warehouse file without tables yet
                return [None] * len(hashed)
            if row is None:
                out.append(None)
                continue
            status, mun, fy, *counts, current_file = row
            if status == "current":
                out.append(SheetOutcome(str(path), "unchanged", mun, fy, *counts))
            elif current_file is not None and given.other_than(path, current_file):
                out.append(_superseded_in_run(path, mun, fy, current_file))
            else:
                out.append(None)
        return _clearing_fatal(con, out)


def _clearing_fatal(
    con: duckdb.DuckDBPyConnection, outcomes: list[SheetOutcome | None]
) -> list[SheetOutcome | None]:
    """The unchanged outcomes of files whose latest run was fatal, marked (`clears_fatal`)."""
    names = {
        form: i
        for i, o in enumerate(outcomes)
        if o is not None
        for form in _forms(Path(o.source_file))
    }
    if not names:
        return outcomes
    out = list(outcomes)
    for fatal in fatal_latest(con, list(names)):
        o = out[names[fatal.source_file]]
        assert o is not None
        out[names[fatal.source_file]] = replace(o, clears_fatal=fatal.source_file)
    return out


class _RunFiles:
    """A run's sheet files, each known as given and resolved (an earlier run may have named a
    file either way); resolved only when first asked."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = paths
        self._forms: set[str] | None = None

    def other_than(self, path: Path, source_file: str) -> bool:
        """`source_file` (as a load recorded it) is one of the run's files, and not `path`."""
        if self._forms is None:
            self._forms = {form for p in self._paths for form in _forms(p)}
        stored = _forms(Path(source_file))
        return bool(stored & self._forms) and not stored & _forms(path)


def _forms(path: Path) -> set[str]:
    return {str(path), str(path.resolve())}


def _superseded_in_run(
    path: Path, municipality: str, fiscal_year: int, current: str
) -> SheetOutcome:
    """A file of this run holding an older version of a year that another file of the run holds."""
    return SheetOutcome(
        str(path),
        "unchanged",
        municipality,
        fiscal_year,
        message=(
            f"読んでいません: {fiscal_year_label(fiscal_year)}・{municipality} の取込は同じ実行の "
            f"{current} です。このファイルの内容はそれに置き換えられた前の版です"
        ),
        superseded_by=current,
    )


def year_loads(outcomes: Iterable[SheetOutcome]) -> dict[tuple[str, int], str]:
    """The file each (municipality, fiscal year) of a run's outcomes is loaded from after the
    run: the last one loaded; else the one unchanged that is its year's current load; else the
    file an unchanged older version names (`superseded_by`)."""
    loaded: dict[tuple[str, int], str] = {}
    current: dict[tuple[str, int], str] = {}
    named: dict[tuple[str, int], str] = {}
    for o in outcomes:
        if o.municipality is None or o.fiscal_year is None:
            continue
        key = (o.municipality, o.fiscal_year)
        if o.status == "loaded":
            loaded[key] = o.source_file
        elif o.status == "unchanged" and o.superseded_by is None:
            current[key] = o.source_file
        elif o.status == "unchanged" and o.superseded_by is not None:
            named[key] = o.superseded_by
    return named | current | loaded


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a warehouse locked by another process, or a file system hiccup.

    A bad sheet (SheetFatal, validation) is never transient, nor is a file that is gone.
    """
    if isinstance(exc, WarehouseError):
        return is_lock_error(exc) or is_lock_error(exc.__cause__)
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return False
    return isinstance(exc, OSError)  # PermissionError (a file open in Excel), timeouts, NFS


def wait_for_warehouse(path: Path, lock_timeout_s: float) -> None:
    """Wait up to `lock_timeout_s` for another process to release the warehouse, then release it.

    The command line calls this before starting a run, so that a second run fails early with
    one clear line instead of after Prefect has started.
    """
    try:
        with open_warehouse(path, lock_timeout_s=lock_timeout_s):
            pass
    except WarehouseError as exc:
        if not is_transient(exc):
            raise
        raise WarehouseError(
            f"{path}: 倉庫は別の処理 (取込など) が使用中です。{lock_timeout_s:g} 秒待ちましたが"
            "解放されませんでした。その処理の終了後に再実行してください "
            "(待ち時間は UKIHA_LOCK_TIMEOUT で変えられます)。"
        ) from exc


@dataclass(frozen=True)
class RunSummary:
    """The end of a run: every sheet's outcome, counts, and the texts that report them."""

    run_id: str
    flow_run_id: str | None
    outcomes: tuple[SheetOutcome, ...]
    reports_error: str | None = None  # the sheets are in, the HTML reports are not
    #: what the run's reader should know that is no failure: files of the input folders
    #: not read (`ingest.Discovery.notes`), each sheet's notes, files claiming one year
    #: (`ingest.same_year_notes`). Listed, but not a reason for attention by themselves
    notes: tuple[str, ...] = ()
    #: the run could not start (a path, the rules or the master): no sheet was read
    setup_error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        by_status = Counter(o.status for o in self.outcomes)
        return {
            "sheets": len(self.outcomes),
            **{status: by_status[status] for status in STATUS_JA},
            "with_errors": sum(1 for o in self.outcomes if o.n_errors > 0),
            "errors": sum(o.n_errors for o in self.outcomes),
            "warnings": sum(o.n_warnings for o in self.outcomes),
        }

    @property
    def needs_attention(self) -> bool:
        return (
            self.setup_error is not None
            or self.reports_error is not None
            or any(o.needs_attention for o in self.outcomes)
        )

    @property
    def failure(self) -> str | None:
        """Why the run fails: the first sheet the warehouse could not take, if any."""
        return next((o.message for o in self.outcomes if o.status == "failed"), None)

    def raise_if_failed(self) -> None:
        """After the summary is out: fail the run if the warehouse or the reports failed."""
        if self.failure is not None:
            raise WarehouseError(self.failure)
        if self.reports_error is not None:
            raise ReportError(self.reports_error)

    def headline(self) -> str:
        """One Japanese line: what the run did, in counts."""
        if self.setup_error is not None:
            return (
                f"PDCA シート年次取込 (開始できません): {self.setup_error} "
                f"シートは読んでいません。実行ID {self.run_id}"
            )
        c = self.counts
        parts = "、".join(f"{STATUS_JA[s]} {c[s]}" for s in STATUS_JA if c[s])
        verdict = "要確認" if self.needs_attention else "問題なし"
        return (
            f"PDCA シート年次取込 ({verdict}): {c['sheets']} シート"
            + (f" ({parts})" if parts else "")
            + f"、エラー {c['errors']} 件、警告 {c['warnings']} 件。実行ID {self.run_id}"
        )

    def text(self) -> str:
        """The headline and one line per sheet that needs attention (notification body)."""
        lines = [self.headline()]
        if self.reports_error:
            lines.append(f"- レポートを作れませんでした: {self.reports_error}")
        lines += [f"- {note}" for note in self.notes]
        for o in self.outcomes:
            if o.needs_attention:
                fy = f"FY{o.fiscal_year}" if o.fiscal_year else "年度不明"
                detail = f": {o.message}" if o.message else ""
                lines.append(
                    f"- {o.source_file} [{STATUS_JA[o.status]}] {fy} "
                    f"エラー {o.n_errors} 件、警告 {o.n_warnings} 件{detail}"
                )
        return "\n".join(lines)

    def markdown(self) -> str:
        """The run's summary artifact: the headline and a table of every sheet's outcome."""
        if self.setup_error is not None:
            return f"# 年次取込の結果 (annual ingest)\n\n{self.headline()}"
        head = "| シート | 結果 | 年度 | 事業 | KPI | 隔離 | エラー | 警告 | 備考 |"
        rows = [
            f"| `{_md(o.source_file)}` | {STATUS_JA[o.status]} ({o.status}) "
            f"| {o.fiscal_year or '-'} | {o.n_projects} | {o.n_kpis} | {o.n_quarantined} "
            f"| {o.n_errors} | {o.n_warnings} | {_md(o.message)} |"
            for o in self.outcomes
        ]
        return "\n".join(
            [
                "# 年次取込の結果 (annual ingest)",
                "",
                self.headline(),
                "",
                *(
                    [f"レポートを作れませんでした: {_md(self.reports_error)}", ""]
                    if self.reports_error
                    else []
                ),
                *[f"- {_md(note)}" for note in self.notes],
                *([""] if self.notes else []),
                head,
                "|---|---|---|---|---|---|---|---|---|",
                *rows,
            ]
        )

    def payload(self) -> dict[str, object]:
        """The webhook's JSON body (`text` first, so chat webhooks show it as is)."""
        return {
            "text": self.text(),
            "run_id": self.run_id,
            "flow_run_id": self.flow_run_id,
            "needs_attention": self.needs_attention,
            "counts": self.counts,
            "reports_error": self.reports_error,
            "setup_error": self.setup_error,
            "notes": list(self.notes),
            "sheets": [o.as_dict() for o in self.outcomes],
        }


def _md(text: str) -> str:
    """Table-cell safe: no pipes, no line breaks."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
