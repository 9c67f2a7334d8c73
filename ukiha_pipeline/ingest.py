"""Helpers of the annual ingest that are not Prefect-specific: finding sheets, run ids, summaries."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ukiha_pipeline.errors import UsageError
from ukiha_pipeline.normalize.eras import fiscal_year_label
from ukiha_pipeline.parsing.model import ParsedSheet
from ukiha_pipeline.validation.result import ValidationResult

SHEET_SUFFIXES = (".txt", ".tsv", ".xlsx", ".xlsm", ".xls")
_READ = f"シートとして読むのは {' '.join(SHEET_SUFFIXES)} のファイルです"


@dataclass(frozen=True)
class Discovery:
    """The sheet files of the paths given, and what their folders hold that is not read."""

    sheets: list[Path]
    #: (path, why) for each file or sub-folder of a folder given that is not a sheet file
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per skipped entry, for the person who put it there."""
        return [f"{p}: 読みません ({why})" for p, why in self.skipped]


def _ignored(f: Path) -> bool:
    """Hidden files and Excel's lock files (`~$…`): never sheets, never worth a note."""
    return f.name.startswith((".", "~$"))


def _not_a_sheet(f: Path) -> str | None:
    """Why an entry of a folder is not read as a sheet (None: it is a sheet file)."""
    if f.is_dir():
        return "フォルダの中のフォルダは読みません。シートは指定したフォルダに直接置いてください"
    if not f.is_file():
        return "ファイルではありません (リンク切れなど)"
    if f.suffix.lower() not in SHEET_SUFFIXES:
        return f"{f'拡張子 {f.suffix}' if f.suffix else '拡張子なし'}。{_READ}"
    return None


def discover(paths: Iterable[Path]) -> Discovery:
    """Files as given; folders expanded to their sheet files (sorted), the rest noted.

    A path that does not exist, or a folder with no sheet file, is a UsageError: a run over
    nothing must not look like a run with nothing wrong.
    """
    sheets: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            why = {f: _not_a_sheet(f) for f in sorted(p.iterdir()) if not _ignored(f)}
            found = [f for f, w in why.items() if w is None]
            other = [(f, w) for f, w in why.items() if w is not None]
            if not found:
                raise UsageError(f"{p}: シートのファイルがありません{_held(other)}。{_READ}。")
            sheets += found
            skipped += other
        elif p.exists():
            sheets.append(p)
        else:
            raise UsageError(f"{p}: ファイルもフォルダもありません。")
    # a file given twice (a folder and a file in it, `./a.txt` and `a.txt`) is read once
    once = {f.resolve(): f for f in reversed(sheets)}
    return Discovery([f for f in sheets if once[f.resolve()] is f], skipped)


def _held(entries: list[tuple[Path, str]]) -> str:
    """What a folder without sheets holds instead (up to five names)."""
    if not entries:
        return ""
    names = ", ".join(f.name for f, _ in entries[:5])
    return f" (あるのは {names}{' など' if len(entries) > 5 else ''})"


def same_year_notes(
    sheets: Iterable[tuple[str, str | None, int | None]],
    loads: Mapping[tuple[str, int], str] | None = None,
) -> list[str]:
    """A note per (municipality, fiscal year) that several files of one run claim, from
    (source file, municipality, fiscal year) in input order; usually a year's header copied
    from last year's sheet. The warehouse keeps one current sheet a year.

    `loads`: after an ingest run, the file each year is loaded from (`runs.year_loads`; files
    left unchanged count, so that a file added later for a year already loaded is named with
    the one before it). Without it (`ukiha validate`, nothing written), the last file would
    replace the others."""
    files: dict[tuple[str, int], dict[str, None]] = {}  # (a file given twice counts once)
    for source, municipality, fiscal_year in sheets:
        if municipality is not None and fiscal_year is not None:
            files.setdefault((municipality, fiscal_year), {})[source] = None
    notes = []
    for (m, fy), names in files.items():
        if len(names) < 2:
            continue
        head = f"{' と '.join(names)} は同じ {fiscal_year_label(fy)}・{m} のシートです。"
        check_header = "事業一覧の見出しの年度 (R3年度事業化 など) を確かめてください。"
        if loads is None:
            notes.append(
                f"{head}取り込むと最後の {list(names)[-1]} がほかを置き換えます。{check_header}"
            )
            continue
        load = loads.get((m, fy))
        notes.append(
            head
            + (f"この年度の取込は {load} です。" if load else "この年度の取込は変わっていません。")
            + "年度ごとにファイルを 1 つにしてください (別のファイルを取込にするには、そのファイル"
            "だけを指定して ukiha ingest を実行するか、--force を付けて全部を読み直してください: "
            "最後のファイルが取込になります)。" + check_header
        )
    return notes


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def read_line(sheet: ParsedSheet, lang: str = "ja") -> str:
    """What the parser found in a sheet: its year and municipality and how many of each record
    (a heading repeated after a page break counted once)."""
    counts = (
        len({p.policy_no for p in sheet.policies}),
        len({(m.policy_no, m.measure_no) for m in sheet.measures}),
        len({(s.policy_no, s.measure_no, s.submeasure_no) for s in sheet.submeasures}),
        len(sheet.projects),
        len(sheet.kpis),
    )
    if lang == "en":
        names = ("policies", "measures", "sub-measures", "projects", "KPIs")
        found = ", ".join(f"{n} {name}" for n, name in zip(counts, names, strict=True))
        return f"read: FY{sheet.fiscal_year}, {sheet.municipality}: {found}"
    names = ("基本方針", "施策", "取組", "事業", "KPI")
    found = "、".join(f"{name} {n}" for n, name in zip(counts, names, strict=True))
    return f"読んだもの: {fiscal_year_label(sheet.fiscal_year)}・{sheet.municipality}: {found}"


def summary_line(result: ValidationResult) -> str:
    counts = Counter(f.check for f in result.failures if f.waived is None)
    n_waived = sum(1 for f in result.failures if f.waived is not None)
    detail = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    head = (
        f"{result.source_file}: fatal {result.count('fatal')}, "
        f"error {result.count('error')}, warning {result.count('warning')}"
    )
    if n_waived:
        head += f", waived {n_waived}"
    return f"{head} ({detail})" if detail else head
