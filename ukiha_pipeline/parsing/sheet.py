"""Structure detection on the original text (DESIGN §1), before any value is normalised.

NFKC is applied only to copies used for matching labels; circled sub-measure markers
(①…⑳) are tested on the original text because NFKC turns them into digits.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TypedDict

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.normalize.eras import era_to_gregorian, fiscal_year_label
from ukiha_pipeline.normalize.text import FLAGS, clean_cell, normalize_flag
from ukiha_pipeline.parsing.model import (
    PROJECT_WIDTH,
    KpiRec,
    MeasureRec,
    ParsedSheet,
    PolicyRec,
    ProjectRec,
    StructuralIssue,
    SubmeasureRec,
)
from ukiha_pipeline.parsing.municipality import municipality_from_title
from ukiha_pipeline.parsing.worksheets import (
    require_one_fiscal_year,
    sheetless_note,
    sheetless_worksheets,
)
from ukiha_pipeline.reading.grid import Grid
from ukiha_pipeline.settings import DEFAULT_MUNICIPALITY

#: A continuation row's first cell written as "the same as above" (〃, 同上) instead of empty
_DITTO = frozenset(("〃", "″", "同上", '"', "”"))
#: (row, policy number) of the rows written as policy headings, in order
Headings = tuple[tuple[int, int], ...]

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

#: Header cells of the project table and the spellings seen across pages and years.
#: Matching is on NFKC text with spaces removed.
HEADER_ALIASES: dict[int, tuple[str, ...]] = {
    0: ("事業一覧",),
    1: ("課",),
    2: ("係",),
    3: ("事業内容",),
    # 4: `R3年度事業化` / `R3年度 事業化`: carries the fiscal year, matched by _FLAG_HEADER
    5: (
        "具体的な取組内容(又は取り組まない理由)",
        "具体的な取組内容(又は取り組めない理由)",
        "具体的な取組内容(又は取組まない理由)",
        "具体的な取組内容(又は取組めない理由)",
        "具体的な取組内容",
    ),
    6: ("進捗状況",),
}

_POLICY_HEADING = re.compile(r"^(\d+)\)\s*(.+?)\s*\(戦略P(\d+)\)$")
#: A line that may be a policy heading written loosely (`2．…`, no page, a note cell after it):
#: one when its block (a 概要 row) follows. On the matching form (NFKC: `）` → `)`, `．` → `.`).
_POLICY_LIKE = re.compile(r"^(\d+)[).](.+)$")
_STRATEGY_PAGE = re.compile(r"\(戦略P(\d+)")
_STRATEGY_PAGE_TEXT = re.compile(r"\(戦略P[^)]*\)")  # `(戦略P125)`, `(戦略P121~122)`
_POLICY_NUMBER = re.compile(r"^\s*[0-9０-９]+\s*[)）.．]\s*")
#: A measure or sub-measure line repeated after a page break with a mark that it goes on:
#: `（続き）`, `(続き)`, `（つづき）` or `続き` at its end (on the matching form)
_CONTINUED = re.compile(r"(?:\((?:続き|つづき)\)|続き)$")
_FLAG_HEADER = re.compile(r"^(R|令和|H|平成)(元|\d+)年度事業化$")
#: A measure line's number and title, on the NFKC text with its spaces (`2 5G…` is 2, `25G…`
#: is 25, `２　５Ｇ…` is 2; `2.…` / `2．…` are 2). The number is small and no date's or time's
#: (a page footer `2022/6/30 更新`, `4月…`, `12:30`): such a line is no measure.
_MEASURE = re.compile(r"^\s*(\d{1,2})(?!\d|[-/.]\d|[年月:]|\s*[/)])\s*(\S.*)$")
_POLICY_VALUE_LABELS = {"現状値": "baseline", "目標値": "target", "最新値": "latest"}


_WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)  # called for most cells; sheets repeat the same labels
def _key(text: str) -> str:
    """Matching form of a label: NFKC, no spaces."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def fiscal_year_from_header(cell: str) -> int | None:
    match = _FLAG_HEADER.match(_key(cell))
    return era_to_gregorian(match.group(1), match.group(2)) if match else None


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and _key(cells[0]) == "事業一覧"


@dataclass
class _PolicyKpiDraft:
    policy_no: int
    row: int
    name: str = ""
    values: dict[str, tuple[str, str, int]] = field(default_factory=dict)


@dataclass
class _State:
    grid: Grid
    policies: list[PolicyRec] = field(default_factory=list)
    measures: list[MeasureRec] = field(default_factory=list)
    submeasures: list[SubmeasureRec] = field(default_factory=list)
    projects: list[ProjectRec] = field(default_factory=list)
    kpis: list[KpiRec] = field(default_factory=list)
    issues: list[StructuralIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the steward, not failures
    _headings: Headings | None = None  # `heading_rows`, once asked for
    policy_kpi: _PolicyKpiDraft | None = None
    in_table: bool = False
    seq: int = 0
    #: the first measure of each ("measure", policy, number) and the first sub-measure of
    #: each ("sub", sub_scope, marker): a number used again for another title is a typo
    numbered: dict[tuple[object, ...], MeasureRec | SubmeasureRec] = field(default_factory=dict)
    #: the row of the measure whose markers ①②… are counted (its first heading, when a
    #: page break repeats it)
    sub_scope: int = -1
    #: a measure KPI row may still come: right after a measure line (or its KPI rows), not
    #: after its sub-measures and projects
    kpi_open: bool = False
    #: the row that began a block no measure can be found for (an unreadable or missing
    #: measure line), and the reason its later rows give: they are kept out until the next
    #: measure or policy, never filed under the measure before
    block_lost: tuple[int, str] | None = None
    #: the row of a sub-measure whose marker (①②…) cannot be read: its projects are kept out
    sub_lost: int | None = None
    #: the row after which a policy heading seems to be missing (a 概要 row in the table, a
    #: measure number restarting lower), and the reason its later rows give: every row up to
    #: the next policy heading is kept out, never filed under the policy before
    policy_lost: tuple[int, str] | None = None
    #: each sub_scope's last sub-measure so far (its number as counted, its title, its row):
    #: a marker after it that skips one (① then ③) is told, since the rows of a sub-measure
    #: whose title cell was cleared read as projects of the one before
    last_sub: dict[int, tuple[int, str, int]] = field(default_factory=dict)

    def heading_rows(self) -> Headings:
        """Every row of the grid written as a policy heading (scanned once per sheet)."""
        if self._headings is None:
            self._headings = _heading_rows(self.grid)
        return self._headings

    def new_policy(self) -> None:
        """A policy heading ends the table and any block that could not be placed."""
        self.in_table = False
        self.kpi_open = False
        self.block_lost = None
        self.sub_lost = None
        self.policy_lost = None

    @property
    def policy(self) -> PolicyRec | None:
        return self.policies[-1] if self.policies else None

    def measure(self) -> MeasureRec | None:
        p = self.policy
        if self.measures and p and self.measures[-1].policy_no == p.policy_no:
            return self.measures[-1]
        return None

    def submeasure(self) -> SubmeasureRec | None:
        m = self.measure()
        if (
            self.submeasures
            and m
            and self.submeasures[-1].policy_no == m.policy_no
            and self.submeasures[-1].measure_no == m.measure_no
        ):
            return self.submeasures[-1]
        return None

    def malformed(
        self,
        row: int,
        entity: str,
        value: str,
        reason: str,
        record: str | None = None,
        **fields: object,
    ) -> None:
        """A row that cannot be placed: `reason` keys its detail and hint (messages.STRUCTURE),
        `fields` fill in its detail. `record`: the project the failure keeps out, when the row
        is one, or its KPI (`kpi:<index in kpis>`); else the raw row."""
        named = tuple((k, str(v)) for k, v in fields.items())
        self.issues.append(
            StructuralIssue("malformed_row", row, entity, None, value, reason, named, record)
        )

    def flush_policy_kpi(self) -> None:
        draft = self.policy_kpi
        self.policy_kpi = None
        if draft is None or not (draft.name or draft.values):
            return
        empty = ("", "", draft.row)
        base, target, latest = (
            draft.values.get(k, empty) for k in ("baseline", "target", "latest")
        )
        self.kpis.append(
            KpiRec(
                level="policy",
                policy_no=draft.policy_no,
                measure_no=None,
                name=draft.name,
                departments="",
                sections="",
                baseline_target="",
                baseline=base[0],
                baseline_year=base[1],
                target=target[0],
                target_year=target[1],
                latest=latest[0],
                latest_year=latest[1],
                layout="policy",
                row=draft.row,
                baseline_row=base[2],
                target_row=target[2],
                latest_row=latest[2],
                n_cells=5,
            )
        )


def _width(raw: tuple[str, ...]) -> int:
    """Cells a row really has: trailing empty cells beyond the table width do not count."""
    n = len(raw)
    while n > PROJECT_WIDTH and not clean_cell(raw[n - 1]):
        n -= 1
    return n


def _fit(raw: tuple[str, ...]) -> tuple[str, ...]:
    padded = tuple(raw[:PROJECT_WIDTH]) + ("",) * max(0, PROJECT_WIDTH - len(raw))
    return padded


class ParseHints(TypedDict, total=False):
    """What a caller may tell `parse_grid` about a sheet, passed through unchanged by the
    validation functions (`validation.run`); the defaults are `parse_grid`'s own."""

    fiscal_year: int | None  # the sheet's fiscal year, when its title does not say
    municipality: str | None  # overrides the municipality the sheet names
    default_municipality: str  # when the sheet names none


def parse_grid(
    grid: Grid,
    *,
    fiscal_year: int | None = None,
    municipality: str | None = None,
    default_municipality: str = DEFAULT_MUNICIPALITY,
) -> ParsedSheet:
    """Parse a grid into the hierarchy; raise SheetFatal for a sheet that cannot be used."""
    st = _State(grid)
    notes = st.notes  # what the steward should know that is not a failure
    title = ""
    found_municipality: str | None = None
    detected_fy: int | None = None
    fy_row: int | None = None
    other_years: dict[int, int] = {}  # a table header naming another year: its first row
    header_years: dict[int, int] = {}  # every table header naming a year: row → year
    saw_header = False  # a table header after a policy heading (where a table is read)
    any_header = False  # a table header anywhere: what a fatal sheet is said to lack
    block_before_policy = False  # a policy's block began before any heading could be read

    for i, raw in enumerate(grid.rows):
        cells = _row_cells(raw)
        if not cells:
            continue
        first = cells[0]
        first_key = _key(first)

        if _repeats_current_policy(st, cells, first_key):
            continue  # its heading again at the top of a page (`4)…(戦略P125)（続き）`)
        heading = _policy_heading(
            grid, i, cells, first_key, contents=st.heading_rows() if st.policy is None else None
        )
        if heading is not None:
            policy_no, page = heading
            earlier = next((p for p in st.policies if p.policy_no == policy_no), None)
            if earlier is not None:  # its measures and projects would repeat the first's
                notes.append(
                    f"{_where(grid, i)}: 基本方針 {policy_no} は {_where(grid, earlier.row)} にも"
                    "あります。同じ表が二度入っていませんか (別のワークシートに前年度の表が残って"
                    "いる、貼り付けが重なったなど)。"
                )
            last = st.policy
            if earlier is None and last is not None and policy_no != last.policy_no + 1:
                notes.append(
                    f"{_where(grid, i)}: 基本方針 {policy_no} が 基本方針 {last.policy_no} "
                    f"({_where(grid, last.row)}) の次です。番号の打ち間違いでないか確かめて"
                    "ください。"
                )
            st.flush_policy_kpi()
            st.new_policy()
            title_text = _POLICY_NUMBER.sub("", first, count=1)
            title_text = re.sub(r"\s*[(（]\s*戦略.*$", "", title_text)
            st.policies.append(PolicyRec(i, policy_no, title_text, page))
            st.policy_kpi = _PolicyKpiDraft(policy_no, i)
            where = _where(grid, i)
            if page is None:
                notes.append(
                    f"{where}: 基本方針 {policy_no} の見出しに「(戦略P…)」がありません。"
                    "戦略のページは空のまま読み込みます。"
                )
            if len(cells) > 1:
                notes.append(
                    f"{where}: 基本方針 {policy_no} の見出しの後ろのセルは読みません: "
                    + " / ".join(c for c in cells[1:] if c)
                )
            continue

        any_header = any_header or _is_header(cells)
        if st.policy is None:
            # Title page and the table of contents that repeats the policy titles, then
            # (when the first heading cannot be read) the first policy's block: from its first
            # row on, every row (a measure line `1 農業…` too) is one that none may go unseen
            # the title wherever its cell is (centred in column C, after a date cell)
            title_cell = next((c for c in cells if c), "")
            if not block_before_policy and _better_title(title, found_municipality, title_cell):
                title = title_cell
                found_municipality = municipality_from_title(title_cell)
            elif block_before_policy or _starts_policy_block(cells, first_key):
                st.malformed(i, "row", "\t".join(raw), "before_policy")
                block_before_policy = True
            continue

        if _is_repeated_title(cells, title):  # at the top of a page or worksheet
            continue

        if _is_header(cells):
            st.flush_policy_kpi()
            st.in_table = True
            saw_header = True
            fy = fiscal_year_from_header(cells[4]) if len(cells) > 4 else None
            if fy is not None:
                header_years[i] = fy
            if fy is not None and detected_fy is None:
                detected_fy, fy_row = fy, i
            elif fy is not None and fy != detected_fy and fy not in other_years:
                other_years[fy] = i
            continue

        if st.policy_lost is not None:
            lost_row, reason = st.policy_lost
            st.malformed(i, "row", "\t".join(raw), reason, line=_where(grid, lost_row))
            continue

        if not st.in_table:
            _policy_block_row(st, i, cells, first_key)
            continue

        _table_row(st, i, raw, cells, first, first_key)

    st.flush_policy_kpi()

    if not st.policies or not saw_header:
        raise SheetFatal(
            "unrecognized_layout",
            _layout_missing(bool(st.policies), any_header),
            source_file=grid.source_file,
        )
    require_one_fiscal_year(grid, header_years)
    _require_one_years_policies(grid, st.policies, header_years)
    notes += _skip_sheetless_worksheets(st)
    fy_final = fiscal_year if fiscal_year is not None else detected_fy
    notes += _year_notes(grid, detected_fy, fy_row, other_years, fiscal_year)
    notes += _measures_without_kpi(grid, st)
    if fy_final is None:
        raise SheetFatal(
            "fiscal_year_missing",
            "年度が分かりません: 事業一覧の見出しに「R3年度事業化」のような年度がありません。"
            "見出しを直すか --fiscal-year で指定してください。",
            source_file=grid.source_file,
        )
    if municipality is None and found_municipality is None:
        notes.append(
            f"タイトル行から市町村名が読めません。{default_municipality} のシートとして読み込み"
            "ます。違う市町村のシートなら --municipality で指定してください。"
        )
    return ParsedSheet(
        grid=grid,
        municipality=municipality or found_municipality or default_municipality,
        fiscal_year=fy_final,
        fiscal_year_row=fy_row,
        title=title,
        policies=tuple(st.policies),
        measures=tuple(st.measures),
        submeasures=tuple(st.submeasures),
        projects=tuple(st.projects),
        kpis=tuple(st.kpis),
        issues=tuple(st.issues),
        notes=tuple(notes),
    )


def _layout_missing(saw_policy: bool, saw_header: bool) -> str:
    """What of the layout a sheet lacks: the policy headings, the project table, or both."""
    heading = "基本方針の見出し「1)…(戦略P…)」"
    table = (
        "事業一覧の表 (「事業一覧」で始まる見出し行「事業一覧・課・係・事業内容・R3年度事業化…」)"
    )
    if saw_policy:
        return f"PDCA シートの形式ではありません: 基本方針の見出しはありますが、{table}が見つかりません。"
    if saw_header:
        return f"PDCA シートの形式ではありません: 事業一覧の表はありますが、{heading}が見つかりません。"
    return f"PDCA シートの形式ではありません: {heading}と事業一覧の表が見つかりません。"


def _require_one_years_policies(
    grid: Grid, policies: list[PolicyRec], header_years: dict[int, int]
) -> None:
    """Raise SheetFatal(unrecognized_layout) when a policy number comes again and its table
    header names another fiscal year than the first one's: last year's sheet pasted after this
    year's in one worksheet or text export would be loaded with it (both years' projects)."""
    first: dict[int, PolicyRec] = {}
    for policy in policies:
        earlier = first.setdefault(policy.policy_no, policy)
        if earlier is policy:
            continue
        year, again = _table_year(header_years, earlier.row), _table_year(header_years, policy.row)
        if year is None or again is None or year[1] == again[1]:
            continue
        n = policy.policy_no
        raise SheetFatal(
            "unrecognized_layout",
            f"1 つのファイルに 2 つの年度のシートがあります: 基本方針 {n} が "
            f"{_where(grid, earlier.row)} (事業一覧の見出し {_where(grid, year[0])} は "
            f"{fiscal_year_label(year[1])}) と {_where(grid, policy.row)} (見出し "
            f"{_where(grid, again[0])} は {fiscal_year_label(again[1])}) にあります。"
            "1 つのファイルには 1 つの年度のシートだけを入れてください (前年度の表は別のファイル"
            "に移すか、削除してください)。",
            source_file=grid.source_file,
        )


def _table_year(header_years: dict[int, int], row: int) -> tuple[int, int] | None:
    """(row, year) of the first table header after policy heading `row` naming a year."""
    after = [i for i in header_years if i > row]
    return (min(after), header_years[min(after)]) if after else None


def _year_notes(
    grid: Grid,
    detected: int | None,
    detected_row: int | None,
    other_years: dict[int, int],
    given: int | None,
) -> list[str]:
    """The sheet's table headers name more than one year, or the year given is not theirs:
    the year is taken from the first header (or the one given), and the steward is told."""
    if detected is None or detected_row is None:
        return []
    first = f"{_where(grid, detected_row)} の {fiscal_year_label(detected)}"
    notes = [
        f"{_where(grid, row)}: 事業一覧の見出しが {fiscal_year_label(fy)} です。最初の見出し "
        f"({first}) と違います。{fiscal_year_label(given or detected)} として読みます。"
        for fy, row in other_years.items()
    ]
    if given is not None and given != detected:
        notes.append(
            f"事業一覧の見出しは {first} ですが、指定された年度 (--fiscal-year) の "
            f"{fiscal_year_label(given)} として読みます。"
        )
    return notes


def _skip_sheetless_worksheets(st: _State) -> list[str]:
    """Drop the failures of the worksheets that hold no part of the sheet (a メモ tab); a note
    names each (`parsing.worksheets.sheetless_worksheets`)."""
    grid = st.grid
    placed = {r.row for recs in (st.measures, st.submeasures, st.projects, st.kpis) for r in recs}
    skipped = sheetless_worksheets(
        grid,
        {issue.row for issue in st.issues},
        placed,
        st.policies[0].row,
        lambda i: _marks_the_layout(grid.rows[i]),
    )
    st.issues = [x for x in st.issues if grid.positions[x.row].worksheet not in skipped]
    return [sheetless_note(title) for title in skipped]


def _marks_the_layout(raw: tuple[str, ...]) -> bool:
    """A cell only the sheet's layout has: 概要 / ねらい, the table header, a `(戦略P…)` page."""
    keys = {_key(clean_cell(c)) for c in raw}
    return bool(keys & {"概要", "ねらい", "事業一覧"}) or any("(戦略P" in k for k in keys)


def _measures_without_kpi(grid: Grid, st: _State) -> list[str]:
    """A measure with no KPI row (each has one in the strategy): a deleted line, likely."""
    with_kpi = {(k.policy_no, k.measure_no) for k in st.kpis if k.level == "measure"}
    seen: set[tuple[int, int]] = set()
    notes = []
    for m in st.measures:
        number = (m.policy_no, m.measure_no)
        if number not in with_kpi and number not in seen:
            notes.append(
                f"{_where(grid, m.row)}: 施策 {m.policy_no}-{m.measure_no} に KPI の行がありません。"
            )
        seen.add(number)
    return notes


def _policy_heading(
    grid: Grid, i: int, cells: list[str], first_key: str, *, contents: Headings | None
) -> tuple[int, int | None] | None:
    """(policy number, strategy page) if row `i` is a policy heading.

    `1)title(戦略P119)` alone on its line is one. So is a looser form (`2．title`, no page,
    a page range `(戦略P121～122)`, a cell after it) when the policy's 概要 row follows it: the
    table of contents repeats the titles, but without a 概要 row after them. `contents` (the
    sheet's heading rows, `_State.heading_rows`): no heading has been read yet, so row `i`
    may be in the table of contents, whose last line
    has a 概要 row after it when the first heading is gone: a loose heading there is one only
    in the order of the headings after it (`4)…` before the heading of 2 is a contents line).
    A contents line written with its page (`1)title(戦略P119)`) is not a heading either: see
    `_is_contents_line`.
    """
    heading = _heading_form(grid, i, cells, first_key)
    if heading is None or contents is None:
        return heading
    if _is_contents_line(grid, i, heading[0], contents):
        return None
    if _strict_heading(cells, first_key) is not None:
        return heading
    following = next((n for _, n in _headings_after(contents, i)), None)
    return heading if following is None or following > heading[0] else None


def _is_contents_line(grid: Grid, i: int, number: int, headings: Headings) -> bool:
    """Row `i`, written as heading `number`, is in the table of contents: a run of lines
    written as headings with no block between them (each follows the one before at once).

    A line of the run but its last is one when a heading of its number comes later, or when
    the run's last line is one. The last line (its block follows it) is one when the headings
    after it do not go on from its number (`4)…` then the heading of 2: heading 1 is gone
    and the block after `4)…` is policy 1's). A line alone, no heading line next to it, is not.
    """
    later = list(_headings_after(headings, i))
    run = [(i, number)]  # row `i` and the heading lines that follow it at once
    for row, n in later:
        if row != _next_row(grid, run[-1][0]):
            break
        run.append((row, n))
    if len(run) > 1 and any(n == number for _, n in later[1:]):
        return True
    if len(run) == 1 and not _follows_heading(grid, i):
        return False
    after_run = later[len(run) - 1 :]
    return bool(after_run) and after_run[0][1] <= run[-1][1]


def _follows_heading(grid: Grid, i: int) -> bool:
    """The row before `i` that is not empty is written as a policy heading."""
    for j in range(i - 1, -1, -1):
        cells = _row_cells(grid.rows[j])
        if cells:
            return _heading_form(grid, j, cells, _key(cells[0])) is not None
    return False


def _strict_heading(cells: list[str], first_key: str) -> tuple[int, int] | None:
    """`1)title(戦略P119)` alone on its line."""
    strict = _POLICY_HEADING.match(first_key) if len(cells) == 1 else None
    return (int(strict.group(1)), int(strict.group(3))) if strict else None


def _heading_form(
    grid: Grid, i: int, cells: list[str], first_key: str
) -> tuple[int, int | None] | None:
    """(number, page) if row `i` is written as a policy heading, strict or loose (a 概要 row
    follows it), wherever it stands."""
    strict = _strict_heading(cells, first_key)
    if strict is not None:
        return strict
    loose = _POLICY_LIKE.match(first_key)
    if loose is None or _next_first_key(grid, i) != "概要":
        return None
    page = _STRATEGY_PAGE.search(first_key)
    return int(loose.group(1)), int(page.group(1)) if page else None


def _headings_after(headings: Headings, i: int) -> Headings:
    """(row, number) of each row after `i` written as a policy heading."""
    return headings[bisect_right(headings, (i, sys.maxsize)) :]


def _heading_rows(grid: Grid) -> Headings:
    """(row, number) of every row of the grid written as a policy heading, in order."""
    found = []
    for j, raw in enumerate(grid.rows):
        cells = _row_cells(raw)
        if cells:
            heading = _heading_form(grid, j, cells, _key(cells[0]))
            if heading is not None:
                found.append((j, heading[0]))
    return tuple(found)


def _row_cells(raw: tuple[str, ...]) -> list[str]:
    """A row's cells cleaned (`clean_cell`), without the empty ones at its end ([]: empty)."""
    cells = [clean_cell(c) for c in raw]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _next_row(grid: Grid, i: int) -> int | None:
    """The next row after `i` that is not empty."""
    rows = grid.rows
    return next((j for j in range(i + 1, len(rows)) if any(clean_cell(c) for c in rows[j])), None)


def _next_first_key(grid: Grid, i: int) -> str:
    """The matching form of the first cell of the next row that is not empty."""
    j = _next_row(grid, i)
    return "" if j is None else _key(clean_cell(grid.rows[j][0]))


def _is_title(first: str, first_key: str) -> bool:
    """Written like the sheet's title line (`…ルネッサンス戦略 PDCAシート`)."""
    return "PDCA" in first_key or "戦略" in first_key


def _is_repeated_title(cells: list[str], title: str) -> bool:
    """The row is the sheet's title again, alone on its row (in whichever column)."""
    written = [c for c in cells if c]
    return bool(title) and len(written) == 1 and _key(written[0]) == _key(title)


def _better_title(title: str, title_municipality: str | None, line: str) -> bool:
    """`line` (before the first heading) is the title rather than `title`, the one taken so
    far: the title names the municipality and the strategy. A line naming a municipality
    that can be read wins over one naming none (a cover line `第1回 総合戦略推進会議` above
    it); else the first such line, one without `～` (the strategy's period) before one with."""
    if not _is_title(line, _key(line)) or _POLICY_NUMBER.match(line):  # `3)…(戦略P123)`
        return False
    if not title:
        return True
    if title_municipality is not None:
        return False
    if municipality_from_title(line) is not None:
        return True
    return "～" in title and "～" not in line


def _starts_policy_block(cells: list[str], first_key: str) -> bool:
    """A row only a policy's block or table has: 概要 / ねらい, a policy KPI's 現状値 /
    目標値 / 最新値, the table header, a KPI row, a sub-measure `①…` or a project row (a
    flag ○/× in its 5th cell). Not a title page's or contents' line, however many cells it
    has (a date in column G, a title centred in column C, an instructions tab's table). A
    概要 / ねらい / KPI label alone on its row is a cover line (`KPI（重要業績評価指標）の見方`):
    their rows have more cells written."""
    labelled = sum(1 for c in cells if c) > 1
    return (
        first_key == "事業一覧"
        or (labelled and (first_key in ("概要", "ねらい") or first_key.startswith("KPI")))
        or (bool(cells[0]) and cells[0][0] in CIRCLED)
        or (len(cells) > 2 and _key(cells[2]) in _POLICY_VALUE_LABELS)
        or (len(cells) > 4 and bool(cells[3]) and normalize_flag(cells[4]) in FLAGS)
    )


def _where(grid: Grid, i: int) -> str:
    """Row `i` as a steward finds it: `27行`, or `PDCAシート!A27` in a workbook."""
    pos = grid.positions[i]
    return pos.cell(0) or f"{pos.line}行"


def _policy_block_row(st: _State, i: int, cells: list[str], first_key: str) -> None:
    """概要 / ねらい lines and the policy KPI's 現状値 / 目標値 / 最新値 lines. A cell the row
    has beyond those read (a memo typed after the 時点) is named in a note."""
    policy = st.policy
    assert policy is not None
    draft = st.policy_kpi
    labels = [_key(c) for c in cells]
    read: dict[int, str] = {}  # cell index → the label it is read under
    if first_key in ("概要", "ねらい"):
        text = cells[1] if len(cells) > 1 else ""
        if first_key == "概要":
            st.policies[-1] = _replace(policy, overview=text)
        else:
            st.policies[-1] = _replace(policy, aim=text)
        read.update({0: first_key, 1: first_key})
        if first_key == "概要" and draft is not None:
            draft.row = i  # the KPI's name belongs on this line, read or missing
            label = labels[2].rstrip(":") if len(labels) > 2 else ""
            if label == "KPI" and len(labels) > 3:
                draft.name = cells[3]
                read.update({2: "KPI", 3: "KPI"})
            elif label.startswith("KPI") and len(label) > 3:  # `KPI name` in one cell
                draft.name = re.sub(r"^\s*(KPI|ＫＰＩ)\s*[:：]?\s*", "", cells[2])
                read.update({2: "KPI"})
    if len(labels) > 2 and labels[2] in _POLICY_VALUE_LABELS and draft is not None:
        value = cells[3] if len(cells) > 3 else ""
        as_of = cells[4] if len(cells) > 4 else ""
        draft.values[_POLICY_VALUE_LABELS[labels[2]]] = (value, as_of, i)
        read.update({2: labels[2], 3: labels[2], 4: labels[2]})
    if not read:
        if _is_project_table_row(cells, first_key):  # before any table header: it was lost
            st.malformed(i, "row", "\t".join(cells), "table_header_missing")
        else:
            st.malformed(i, "policy", "\t".join(cells), "policy_block_row")
        return
    unread = [c for k, c in enumerate(cells) if c and k not in read]
    if unread:
        what = "・".join(dict.fromkeys(read.values()))
        st.notes.append(
            f"{_where(st.grid, i)}: 基本方針 {policy.policy_no} の{what}の行の、ほかのセルは"
            "読みません: " + " / ".join(unread)
        )


def _is_project_table_row(cells: list[str], first_key: str) -> bool:
    """Shaped like a row of the project table (a measure line `1 農業や…`, a KPI row, a
    sub-measure `①…` or a project row), not like a policy's 概要 / ねらい / value rows."""
    return (
        len(cells) > 5
        or first_key.startswith("KPI")
        or (bool(cells[0]) and cells[0][0] in CIRCLED)
        or (_measure_match(cells[0]) is not None and len(cells) == 1)
    )


def _replace(
    policy: PolicyRec, *, overview: str | None = None, aim: str | None = None
) -> PolicyRec:
    return replace(
        policy,
        overview=policy.overview if overview is None else overview,
        aim=policy.aim if aim is None else aim,
    )


def _table_row(
    st: _State, i: int, raw: tuple[str, ...], cells: list[str], first: str, first_key: str
) -> None:
    """A row of the project table: measure, measure KPI, sub-measure or project."""
    if _is_policy_block_line(cells, first_key):
        # the next policy's 概要 / ねらい / 現状値… in this policy's table: its heading is gone
        st.malformed(i, "policy", "\t".join(raw), "policy_heading_missing")
        st.policy_lost = (i, "after_policy_heading_missing")
        return
    circled = bool(first) and first[0] in CIRCLED
    is_kpi = first_key.startswith("KPI")
    if not circled and not is_kpi and _is_measure_line(st.grid, i, cells):
        _measure_line(st, i, cells, first)
        return
    if st.block_lost is not None:
        lost_row, reason = st.block_lost
        entity = "kpi" if is_kpi else "project"
        st.malformed(i, entity, "\t".join(raw), reason, line=_where(st.grid, lost_row))
        return
    if circled:
        _submeasure_row(st, i, raw, first)
        return
    if is_kpi:
        if st.measure() is not None and not st.kpi_open:
            # a KPI row after the measure's sub-measures: the next measure's line is gone
            st.malformed(i, "kpi", "\t".join(raw), "measure_line_missing")
            st.block_lost = (i, "after_missing_measure")
            return
        st.sub_lost = None
        _measure_kpi(st, i, raw, cells, _width(raw))
        return
    if (not first or first in _DITTO) and any(cells[1:]):
        _continuation_row(st, i, raw)
        return
    _unplaceable_row(st, i, raw, first)


def _is_policy_block_line(cells: list[str], first_key: str) -> bool:
    """A policy's 概要 / ねらい row, or its KPI's 現状値 / 目標値 / 最新値 row (cells 1-2 empty)."""
    if first_key in ("概要", "ねらい"):
        return True
    return not any(cells[:2]) and len(cells) > 2 and _key(cells[2]) in _POLICY_VALUE_LABELS


def _measure_match(first: str) -> re.Match[str] | None:
    """The number and title of a measure line `1 農業や…`, read with the spaces kept: a
    title starting with a digit (`2 5G活用…`) does not change the number."""
    return _MEASURE.match(unicodedata.normalize("NFKC", first))


def _is_measure_line(grid: Grid, i: int, cells: list[str]) -> bool:
    """`1 農業や…` alone on its row; or, with other cells written (a note), when its block
    (the measure KPI row or the first sub-measure ①) follows."""
    if not _measure_match(cells[0]):
        return False
    return not any(cells[1:]) or _measure_block_follows(grid, i)


def _measure_block_follows(grid: Grid, i: int) -> bool:
    """The next row (past a repeated table header) opens a measure: its KPI row or ①."""
    rows = grid.rows
    for j in range(i + 1, len(rows)):
        first = clean_cell(rows[j][0]) if rows[j] else ""
        if not first and not any(clean_cell(c) for c in rows[j]):
            continue
        key = _key(first)
        if key == "事業一覧":
            continue
        return key.startswith("KPI") or first.startswith(CIRCLED[0])
    return False


def _measure_line(st: _State, i: int, cells: list[str], first: str) -> None:
    policy = st.policy
    assert policy is not None
    measure_match = _measure_match(first)
    assert measure_match is not None
    title = re.sub(r"^\s*[0-9０-９]+\s*[)）.．]?\s*", "", first)
    measure = MeasureRec(i, policy.policy_no, int(measure_match.group(1)), title)
    earlier = st.numbered.get(("measure", policy.policy_no, measure.measure_no))
    previous = st.measure()
    current = previous is not None and previous.measure_no == measure.measure_no
    same = earlier is not None and _same_title(earlier.title, title, continued=current)
    # the sub-measure markers' scope: the measure, counted from its first heading
    st.sub_scope = earlier.row if earlier is not None and same else i
    st.kpi_open = True
    st.block_lost = None
    st.sub_lost = None
    if earlier is not None and not same:
        _measure_number_reused(st, i, cells, measure, earlier, previous)
        return
    if earlier is None:
        st.numbered[("measure", policy.policy_no, measure.measure_no)] = measure
        _note_number_gap(st, i, "施策", policy.policy_no, previous, measure.measure_no)
    else:  # the heading repeated after a page break, maybe marked `（続き）`
        measure = replace(measure, title=earlier.title)
    st.measures.append(measure)
    extra = [c for c in cells[1:] if c]
    if extra:
        st.notes.append(
            f"{_where(st.grid, i)}: 施策 {policy.policy_no}-{measure.measure_no} の見出しの"
            "後ろのセルは読みません: " + " / ".join(extra)
        )


def _note_number_gap(
    st: _State, i: int, what: str, policy_no: int, previous: MeasureRec | None, number: int
) -> None:
    """A measure numbered past the next one (1 then 4): a number typed wrong (its projects
    are read under 1-4), or a measure line lost; no failure, since either reads whole."""
    expected = previous.measure_no + 1 if previous is not None else 1
    if number > expected:
        place = (
            f"{what} {policy_no}-{previous.measure_no} の次が"
            if previous is not None
            else f"基本方針 {policy_no} の最初の{what}が"
        )
        st.notes.append(
            f"{_where(st.grid, i)}: {place} {what} {policy_no}-{number} です "
            f"({policy_no}-{expected} がありません)。番号の打ち間違いでないか確かめてください。"
        )


def _repeats_current_policy(st: _State, cells: list[str], first_key: str) -> bool:
    """The row, alone on its line, is the current policy's heading again (page and a mark
    that it goes on aside): a page break's repeat, not a new policy or a row of the table."""
    policy = st.policy
    form = _POLICY_LIKE.match(first_key) if policy is not None and len(cells) == 1 else None
    if form is None or policy is None or int(form.group(1)) != policy.policy_no:
        return False
    return _same_title(policy.title, _STRATEGY_PAGE_TEXT.sub("", form.group(2)), continued=True)


def _same_title(title: str, again: str, *, continued: bool) -> bool:
    """`again` is `title` as a line repeated after a page break writes it: the same, or, when
    it repeats the current measure or sub-measure (`continued`), with a mark that it goes on
    (`農業や…（続き）`)."""
    key, again_key = _key(title), _key(again)
    return again_key == key or (continued and _CONTINUED.sub("", again_key) == key)


def _measure_number_reused(
    st: _State,
    i: int,
    cells: list[str],
    measure: MeasureRec,
    earlier: MeasureRec | SubmeasureRec,
    previous: MeasureRec | None,
) -> None:
    """A measure number the policy used before for another title. When it is not higher
    than the measure before (1 after 3, or 1 after 1), the next policy's measures may follow
    with its heading gone, or the number is wrong: every row up to the next policy heading is
    kept out. Otherwise (a typo after a measure kept out) its block is. None is filed under
    the other measure of that number or under the policy before."""
    where = _where(st.grid, earlier.row)
    if previous is not None and measure.measure_no <= previous.measure_no:
        st.malformed(
            i,
            "measure",
            "\t".join(cells),
            "measure_number_restarts",
            number=measure.measure_no,
            earlier=where,
            previous=f"{previous.policy_no}-{previous.measure_no}",
        )
        st.policy_lost = (i, "after_measure_restart")
        return
    st.malformed(
        i,
        "measure",
        "\t".join(cells),
        "measure_number_repeated",
        number=measure.measure_no,
        earlier=where,
    )
    st.block_lost = (i, "after_repeated_measure")


def _submeasure_row(st: _State, i: int, raw: tuple[str, ...], first: str) -> None:
    """`①title` with the sub-measure's first project in the other cells."""
    measure = st.measure()
    if measure is None:
        st.malformed(i, "project", "\t".join(raw), "submeasure_before_measure")
        return
    sub = SubmeasureRec(
        i, measure.policy_no, measure.measure_no, CIRCLED.index(first[0]) + 1, first[1:].strip()
    )
    number = ("sub", st.sub_scope, sub.submeasure_no)
    earlier = st.numbered.get(number)
    current = st.submeasure()
    continued = current is not None and current.submeasure_no == sub.submeasure_no
    if earlier is not None:
        if not _same_title(earlier.title, sub.title, continued=continued):
            _submeasure_number_reused(st, i, raw, first, earlier)
            return
        sub = replace(sub, title=earlier.title)  # repeated after a page break
    _note_marker_gap(st, i, sub)
    st.submeasures.append(sub)
    if not (continued and earlier is not None):  # its projects are counted on
        st.seq = 0
    st.kpi_open = False
    st.sub_lost = None
    if earlier is not None and not any(clean_cell(c) for c in raw[1:]):
        return  # the heading alone again at the top of a page: no project on its row
    _project(st, i, raw, _width(raw), sub)
    if earlier is None:
        st.numbered[number] = sub


def _submeasure_number_reused(
    st: _State, i: int, raw: tuple[str, ...], first: str, earlier: MeasureRec | SubmeasureRec
) -> None:
    """A marker the measure used before for another title: the next measure's ①②… with its
    measure line gone, or a typo (② typed as ①). Its row and every row after it up to the
    next measure or policy line are kept out, none filed under the measure before."""
    st.malformed(
        i,
        "project",
        "\t".join(raw),
        "submeasure_number_repeated",
        marker=first[0],
        earlier=_where(st.grid, earlier.row),
    )
    st.block_lost = (i, "after_repeated_submeasure")
    st.kpi_open = False


def _note_marker_gap(st: _State, i: int, sub: SubmeasureRec) -> None:
    """A marker that skips one after the measure's last (① then ③): the skipped one's title
    cell may have been cleared, its projects then read as the last one's. Which rows they
    are cannot be told, so the steward is told (a measure may also have dropped one)."""
    title = _key(sub.title)
    last = st.last_sub.get(st.sub_scope)
    if last is None:
        st.last_sub[st.sub_scope] = (sub.submeasure_no, title, i)
        return
    last_no, last_title, last_row = last
    if title == last_title:
        return  # the same sub-measure's row again (repeated after a page break)
    if ("sub", st.sub_scope, sub.submeasure_no) in st.numbered:
        # a marker used before (for the same title: one repeated after a page break, a
        # repeat for another title is kept out before this): no gap to tell
        st.last_sub[st.sub_scope] = (last_no + 1, title, i)
        return
    if sub.submeasure_no > last_no + 1:
        prev, skipped = CIRCLED[last_no - 1], CIRCLED[last_no : sub.submeasure_no - 1]
        st.notes.append(
            f"{_where(st.grid, i)}: 施策 {sub.policy_no}-{sub.measure_no} の取組が {prev} "
            f"({_where(st.grid, last_row)}) の次に {CIRCLED[sub.submeasure_no - 1]} です "
            f"({skipped} がありません)。{skipped} の取組名のセル (1列目) が消えているかも"
            f"しれません。その場合、{prev} の事業に {skipped} の事業が入っています。"
        )
    st.last_sub[st.sub_scope] = (max(sub.submeasure_no, last_no), title, i)


def _continuation_row(st: _State, i: int, raw: tuple[str, ...]) -> None:
    """A project row with its first cell empty: another project of the sub-measure above."""
    if st.sub_lost is not None:
        st.malformed(
            i,
            "project",
            "\t".join(raw),
            "after_unreadable_submeasure",
            line=_where(st.grid, st.sub_lost),
        )
        return
    sub = st.submeasure()
    if sub is None:
        st.malformed(i, "project", "\t".join(raw), "project_before_submeasure")
        return
    st.kpi_open = False
    _project(st, i, raw, _width(raw), sub)


def _unplaceable_row(st: _State, i: int, raw: tuple[str, ...], first: str) -> None:
    """A row that is no measure, KPI, sub-measure or project as written. When a measure's
    block follows it, it was that measure's line; when it has a project's 7 cells and a
    title, a sub-measure whose marker is lost. Either way, the rows that would be filed
    under it are kept out, not filed under the measure or sub-measure before."""
    width = _width(raw)
    if not st.kpi_open and _measure_block_follows(st.grid, i):
        st.malformed(i, "measure", "\t".join(raw), "measure_line_unreadable")
        st.block_lost = (i, "after_unreadable_measure")
        return
    # a project's shape: a title, then 7 cells with ○/× in the flag's place. A row shifted left
    # by a cell (a workbook row padded to its width) has the 課 first and text in the flag's
    # place: only that row is misshapen, the rows after it are its sub-measure's
    if first and width == PROJECT_WIDTH and normalize_flag(raw[4]) in FLAGS:
        st.malformed(i, "project", "\t".join(raw), "submeasure_marker_unreadable")
        st.sub_lost = i
        last = st.last_sub.get(st.sub_scope)  # it stands for the next marker: no gap to tell
        st.last_sub[st.sub_scope] = ((last[0] if last else 0) + 1, _key(first), i)
        st.kpi_open = False
        return
    st.malformed(i, "project", "\t".join(raw), "table_row_shape", cells=width)


def _project(st: _State, i: int, raw: tuple[str, ...], width: int, sub: SubmeasureRec) -> None:
    st.seq += 1
    st.projects.append(
        ProjectRec(i, sub.policy_no, sub.measure_no, sub.submeasure_no, st.seq, _fit(raw), width)
    )


def _measure_kpi(st: _State, i: int, raw: tuple[str, ...], cells: list[str], width: int) -> None:
    measure = st.measure()
    policy = st.policy
    assert policy is not None
    if measure is None:  # quarantined as its raw row, like a project before its 取組
        st.malformed(i, "kpi", "\t".join(raw), "kpi_before_measure")
        return
    c = list(_fit(raw))
    c = [clean_cell(x) for x in c]
    if _key(c[0]).rstrip(":") == "KPI":  # `KPI：` (NFKC: `KPI:`) is the label too
        layout = "kpi_tab"
        name, dept, sect, bt, latest, as_of = c[1], c[2], c[3], c[4], c[5], c[6]
    else:
        layout = "kpi_space"
        name = re.sub(r"^\s*(KPI|ＫＰＩ)\s*[:：]?\s*", "", c[0])
        dept, sect, bt, latest, as_of = c[1], c[2], c[3], c[5], c[6]
        # the cell this layout leaves empty: what is in it would be read nowhere (a row of
        # another width is misshapen, which KpiModel reports with the layouts' cells)
        if c[4] and width == PROJECT_WIDTH:
            st.malformed(
                i, "kpi", "\t".join(raw), "kpi_empty_cell_filled", f"kpi:{len(st.kpis)}", cell=c[4]
            )
    st.kpis.append(
        KpiRec(
            level="measure",
            policy_no=policy.policy_no,
            measure_no=measure.measure_no,
            name=name,
            departments=dept,
            sections=sect,
            baseline_target=bt,
            baseline="",
            baseline_year="",
            target="",
            target_year="",
            latest=latest,
            latest_year=as_of,
            layout=layout,
            row=i,
            baseline_row=i,
            target_row=i,
            latest_row=i,
            n_cells=width,
        )
    )
