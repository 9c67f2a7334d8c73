"""Stable project and KPI keys across fiscal years (issue #5).

Keys are a function of the SET of sheets loaded for a municipality, not of the order they were
loaded in: after every load, inside the load's transaction, all fiscal years of that
municipality are re-keyed from scratch.

The rule (README, "Warehouse"): walk the fiscal years in ascending order and match each year's
projects with the projects of the earlier years, each compared by its text the last time it
appeared (`content_key`: NFKC, without spaces, bullets and punctuation):

1. the same text: the same project (duplicates pair up in order, the same sub-measure first);
2. otherwise the most similar text, by difflib's ratio, when it is at least `SIMILAR` (0.8)
   anywhere in the municipality or `SIMILAR_IN_PLACE` (0.6) in the same sub-measure (same
   policy, measure and sub-measure numbers); a candidate in the same sub-measure scores
   `PLACE_BONUS` (0.1) more. A pair is accepted when each is the other's best by more than
   `MARGIN` (0.05) over any rival, repeated until nothing changes;
3. whatever is left is a new project. It keeps the key its first year's text gives it (a hash
   of municipality and text; `#2`, `#3` when that key is taken). If it had candidates that
   could not be told apart, that is an *ambiguous match*: a new key and an
   `ambiguous_key_match` warning, never a silent guess.

KPIs are matched the same way by name, only with KPIs of the same level; their "place" is the
policy and measure numbers.
"""

from __future__ import annotations

import difflib
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import itemgetter
from typing import Any

import duckdb
import pandas as pd

from ukiha_pipeline.validation.context import RulesContext
from ukiha_pipeline.validation.frames import content_key
from ukiha_pipeline.validation.messages import render
from ukiha_pipeline.warehouse.schema import TABLE_COLUMNS
from ukiha_pipeline.warehouse.tables import stable_key

CHECK = "ambiguous_key_match"
SIMILAR = 0.8
SIMILAR_IN_PLACE = 0.6
PLACE_BONUS = 0.1
MARGIN = 0.05


@dataclass(frozen=True, slots=True)  # slots: no __dict__ per item for the collector to walk
class Item:
    """One project (or KPI) of one fiscal year, as the matcher sees it."""

    fiscal_year: int
    row_id: str  # the row's current key: unique within its fiscal year
    scope: str  # 'project', or the KPI level: only items of one scope are matched
    place: tuple[int | None, ...]  # (policy, measure, sub-measure) or (policy, measure)
    order: tuple[int, ...]  # position in the sheet, for a deterministic walk
    text: str  # content_key of the project text or KPI name
    display: str  # the text as written, for messages
    source_line: int


@dataclass(frozen=True)
class Candidate:
    key: str
    fiscal_year: int  # the year the candidate was last seen
    display: str
    score: float  # similarity ratio, plus PLACE_BONUS when in the same place
    same_place: bool

    @property
    def ratio(self) -> float:
        return self.score - PLACE_BONUS if self.same_place else self.score


@dataclass(frozen=True)
class Ambiguity:
    """An item that resembles earlier items (or competes with another item) too evenly."""

    item: Item
    candidates: tuple[Candidate, ...]
    rivals: tuple[Item, ...]  # other items of the same year as close to the best candidate


@dataclass(slots=True)
class _Lineage:
    key: str
    scope: str
    text: str
    place: tuple[int | None, ...]
    order: tuple[int, ...]
    display: str
    fiscal_year: int


@dataclass
class Matching:
    keys: dict[tuple[int, str], str] = field(default_factory=dict)  # (year, row_id) → key
    ambiguities: list[Ambiguity] = field(default_factory=list)


def _score(item: Item, lin: _Lineage) -> float | None:
    same_place = item.place == lin.place
    floor = SIMILAR_IN_PLACE if same_place else SIMILAR
    sm = difflib.SequenceMatcher(None, item.text, lin.text, autojunk=False)
    if sm.real_quick_ratio() < floor or sm.quick_ratio() < floor:
        return None
    ratio = sm.ratio()
    if ratio < floor:
        return None
    return ratio + (PLACE_BONUS if same_place else 0.0)


def match_keys(items: Iterable[Item], base_key: Callable[[Item], str]) -> Matching:
    """Keys for every item: a pure function of the set of items (see the module docstring)."""
    by_year: dict[int, list[Item]] = {}
    for it in items:
        by_year.setdefault(it.fiscal_year, []).append(it)
    lineages: dict[str, _Lineage] = {}
    used: set[str] = set()
    out = Matching()

    for fy in sorted(by_year):
        year = sorted(by_year[fy], key=lambda i: (i.scope, i.order, i.text, i.row_id))
        pool = sorted(lineages.values(), key=lambda ln: (ln.order, ln.key))
        claimed: dict[str, Item] = {}  # key → item of this year

        # 1. the same text
        by_text: dict[tuple[str, str], list[_Lineage]] = {}
        for ln in pool:
            by_text.setdefault((ln.scope, ln.text), []).append(ln)
        rest: list[Item] = []
        for it in year:
            same = by_text.get((it.scope, it.text), [])
            if not same:
                rest.append(it)
                continue
            here = [ln for ln in same if ln.place == it.place]
            ln = (here or same)[0]
            same.remove(ln)
            claimed[ln.key] = it

        # 2. the most similar text, accepted when the best is clear on both sides
        avail = [ln for ln in pool if ln.key not in claimed]
        scores: dict[tuple[str, str], float] = {}  # (row_id, key) → score
        for it in rest:
            for ln in avail:
                if ln.scope != it.scope:
                    continue
                s = _score(it, ln)
                if s is not None:
                    scores[(it.row_id, ln.key)] = s
        open_items = list(rest)
        open_keys = {ln.key: ln for ln in avail}
        while True:
            accepted: list[tuple[Item, str]] = []
            for it in open_items:
                cands = sorted(
                    ((s, k) for k in open_keys if (s := scores.get((it.row_id, k))) is not None),
                    key=lambda sk: (-sk[0], sk[1]),
                )
                if not cands:
                    continue
                best, key = cands[0]
                if len(cands) > 1 and cands[1][0] > best - MARGIN:
                    continue
                rivals = [
                    o
                    for o in open_items
                    if o is not it and scores.get((o.row_id, key), -1.0) > best - MARGIN
                ]
                if not rivals:
                    accepted.append((it, key))
            if not accepted:
                break
            for it, key in accepted:
                claimed[key] = it
                open_items.remove(it)
                del open_keys[key]

        # 3. new projects; ambiguous ones among them are reported
        for it in open_items:
            found = sorted(
                (
                    Candidate(
                        k,
                        lineages[k].fiscal_year,
                        lineages[k].display,
                        s,
                        lineages[k].place == it.place,
                    )
                    for k in open_keys
                    if (s := scores.get((it.row_id, k))) is not None
                ),
                key=lambda c: (-c.score, c.key),
            )
            if found:
                best = found[0].score
                near = tuple(c for c in found if c.score > best - MARGIN)
                rival_items = tuple(
                    o
                    for o in open_items
                    if o is not it
                    and any(scores.get((o.row_id, c.key), -1.0) > best - MARGIN for c in near)
                )
                out.ambiguities.append(Ambiguity(it, near, rival_items))
            key = base_key(it)
            n = 1
            while (key if n == 1 else f"{key}#{n}") in used:
                n += 1
            new_key = key if n == 1 else f"{key}#{n}"
            used.add(new_key)
            claimed[new_key] = it

        for key, it in claimed.items():
            used.add(key)
            out.keys[(it.fiscal_year, it.row_id)] = key
            lineages[key] = _Lineage(key, it.scope, it.text, it.place, it.order, it.display, fy)
    return out


# --- the warehouse side -------------------------------------------------------------------

Insert = Callable[[duckdb.DuckDBPyConnection, str, pd.DataFrame], None]


@dataclass(frozen=True)
class RekeyOutcome:
    n_changed: int  # project and KPI rows whose key changed
    ambiguities: tuple[Ambiguity, ...]
    seconds: float


@dataclass(frozen=True)
class LoadedRows:
    """The projects and kpis rows (tuples in `schema.TABLE_COLUMNS` order) that the caller has
    just written for `years` in this transaction: re-keying takes them as they are instead of
    reading them back; the other years of the municipalities are read from the warehouse."""

    years: Sequence[tuple[str, int]]  # (municipality, fiscal year): every row of these
    projects: Sequence[tuple[object, ...]] = ()
    kpis: Sequence[tuple[object, ...]] = ()


_PROJECT_FIELDS = (
    "municipality",
    "fiscal_year",
    "project_key",
    "policy_no",
    "measure_no",
    "submeasure_no",
    "seq",
    "content",
    "source_line",
)
_KPI_FIELDS = (
    "municipality",
    "fiscal_year",
    "kpi_key",
    "level",
    "policy_no",
    "measure_no",
    "name",
    "source_line",
)


def _rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    fields: tuple[str, ...],
    municipalities: Sequence[str],
    loaded: LoadedRows | None,
) -> dict[str, list[tuple[Any, ...]]]:
    """`fields` of the table's rows, per municipality: the loaded ones, then the rest.

    Plain tuples: the collector stops tracking them, where the `Item`s made from them
    are tracked as long as they live (they are made one municipality at a time).
    """
    sql = f"SELECT {', '.join(fields)} FROM {table} WHERE list_contains(?, municipality)"
    params: list[object] = [list(municipalities)]
    if loaded and loaded.years:
        sql += " AND NOT list_contains(?, municipality || chr(31) || fiscal_year)"
        params.append(list(dict.fromkeys(f"{m}\x1f{fy}" for m, fy in loaded.years)))
    rows: list[tuple[Any, ...]] = con.execute(sql, params).fetchall()
    written = (loaded.projects if table == "projects" else loaded.kpis) if loaded else ()
    if written:
        columns = TABLE_COLUMNS[table]
        pick = itemgetter(*(columns.index(f) for f in fields))
        rows = [*map(pick, written), *rows]
    out: dict[str, list[tuple[Any, ...]]] = {m: [] for m in municipalities}
    for row in rows:
        out[row[0]].append(row)
    return out


def _project_item(row: tuple[Any, ...]) -> Item:
    _, fy, key, p, m, s, seq, text, line = row
    return Item(fy, key, "project", (p, m, s), (p, m, s, seq, line), content_key(text), text, line)


def _kpi_item(row: tuple[Any, ...]) -> Item:
    _, fy, key, level, p, m, name, line = row
    return Item(fy, key, level, (p, m), (p, m or 0, line), content_key(name), name, line)


def rekey_municipalities(
    con: duckdb.DuckDBPyConnection,
    municipalities: Sequence[str],
    ctx: RulesContext,
    *,
    run_now: datetime,
    insert: Insert,
    lang: str = "ja",
    loaded: LoadedRows | None = None,
) -> RekeyOutcome:
    """Re-key every fiscal year of each municipality (inside the caller's transaction).

    Updates project_key in projects and project_departments and kpi_key in kpis and
    kpi_departments where it changed, and replaces the `ambiguous_key_match` failures attached
    to each current sheet of the municipalities with the ambiguities found now. Matching is
    per municipality; the reads and writes are a few statements for all of them (a batch of
    sheets from many municipalities costs a few queries, not a few per municipality).
    `loaded`: rows the caller has just written, taken as they are (not read back).
    """
    t0 = time.perf_counter()
    municipalities = list(dict.fromkeys(municipalities))
    # rows for all, Items one municipality at a time (few live long enough to be promoted
    # to the collector's oldest generation, whose collections walk the whole heap)
    all_projects = _rows(con, "projects", _PROJECT_FIELDS, municipalities, loaded)
    all_kpis = _rows(con, "kpis", _KPI_FIELDS, municipalities, loaded)
    project_changes: list[tuple[str, int, str, str]] = []
    kpi_changes: list[tuple[str, int, str, str]] = []
    ambiguities: dict[str, tuple[Ambiguity, ...]] = {}
    for mun in municipalities:
        projects = match_keys(map(_project_item, all_projects[mun]), partial(_project_key, mun))
        kpis = match_keys(map(_kpi_item, all_kpis[mun]), partial(_kpi_key, mun))
        project_changes += _changes(mun, projects)
        kpi_changes += _changes(mun, kpis)
        ambiguities[mun] = (*projects.ambiguities, *kpis.ambiguities)
    _apply(con, ("projects", "project_departments"), "project_key", project_changes)
    _apply(con, ("kpis", "kpi_departments"), "kpi_key", kpi_changes)
    _record(con, ambiguities, ctx, run_now=run_now, insert=insert, lang=lang)
    return RekeyOutcome(
        len(project_changes) + len(kpi_changes),
        tuple(a for found in ambiguities.values() for a in found),
        time.perf_counter() - t0,
    )


def _project_key(municipality: str, it: Item) -> str:
    return stable_key(municipality, it.text)


def _kpi_key(municipality: str, it: Item) -> str:
    return stable_key(municipality, it.scope, it.text)


def _changes(municipality: str, matching: Matching) -> list[tuple[str, int, str, str]]:
    return [(municipality, fy, old, new) for (fy, old), new in matching.keys.items() if old != new]


def _apply(
    con: duckdb.DuckDBPyConnection,
    tables: tuple[str, str],
    column: str,
    changes: list[tuple[str, int, str, str]],
) -> None:
    if not changes:
        return
    con.register(
        "_rekey",
        pd.DataFrame(changes, columns=["municipality", "fiscal_year", "old_key", "new_key"]),
    )
    for table in tables:
        # one statement per table: keys that swap or chain are read before any is written
        con.execute(
            f"UPDATE {table} SET {column} = r.new_key FROM _rekey r "
            f"WHERE {table}.municipality = r.municipality "
            f"AND {table}.fiscal_year = r.fiscal_year AND {table}.{column} = r.old_key"
        )
    con.unregister("_rekey")


def _record(
    con: duckdb.DuckDBPyConnection,
    ambiguities: dict[str, tuple[Ambiguity, ...]],
    ctx: RulesContext,
    *,
    run_now: datetime,
    insert: Insert,
    lang: str,
) -> None:
    """Attach the current ambiguities to the load of each current sheet, replacing earlier ones.

    They belong to that sheet's load (its run_id and sha256), so that failure history keeps
    comparing one load of a sheet with the one before; which ones there are depends on the set
    of sheets loaded, so they are recomputed after every load of the municipality.
    """
    municipalities = list(ambiguities)
    con.execute(
        """
        DELETE FROM validation_failures
        WHERE "check" = ? AND list_contains(?, municipality)
          AND EXISTS (
              SELECT 1 FROM sheets s
              WHERE s.municipality = validation_failures.municipality
                AND s.status = 'current'
                AND s.fiscal_year = validation_failures.fiscal_year
                AND s.run_id = validation_failures.run_id
                AND s.source_sha256 = validation_failures.source_sha256
          )
        """,
        [CHECK, municipalities],
    )
    if not any(ambiguities.values()):
        return
    current = {
        (mun, fy): (run_id, source_file, sha)
        for mun, fy, run_id, source_file, sha in con.execute(
            "SELECT municipality, fiscal_year, run_id, source_file, source_sha256 FROM sheets "
            "WHERE list_contains(?, municipality) AND status = 'current'",
            [municipalities],
        ).fetchall()
    }
    severity = ctx.rules.severity_of(CHECK)
    rows = []
    for municipality, found in ambiguities.items():
        for a in found:
            it = a.item
            if (municipality, it.fiscal_year) not in current:  # facts without a sheet (tests)
                continue
            run_id, source_file, sha = current[(municipality, it.fiscal_year)]
            rows.append(
                _failure_row(a, municipality, run_id, source_file, sha, severity, run_now, lang)
            )
    if rows:
        insert(
            con,
            "validation_failures",
            pd.DataFrame(rows, columns=list(TABLE_COLUMNS["validation_failures"])),
        )


def _failure_row(
    a: Ambiguity,
    municipality: str,
    run_id: str,
    source_file: str,
    sha: str,
    severity: str,
    run_now: datetime,
    lang: str,
) -> dict[str, object]:
    it = a.item
    entity = "project" if it.scope == "project" else "kpi"
    column = "事業内容" if entity == "project" else "KPI名"
    identity = f"project|{it.text}" if entity == "project" else f"kpi|{it.scope}|{it.text}"
    message, hint = render(
        CHECK,
        lang,
        value=it.display,
        detail=_detail(a),
        fiscal_year=it.fiscal_year,
    )
    return {
        "run_id": run_id,
        "source_file": source_file,
        "source_sha256": sha,
        "worksheet": None,
        "line": it.source_line,
        "municipality": municipality,
        "fiscal_year": it.fiscal_year,
        "entity": entity,
        "column": column,
        "check": CHECK,
        "severity": severity,
        "value": it.display,
        "message": message,
        "hint": hint,
        "row_text": None,
        "recorded_at": run_now,
        # the formula of validation.run.row_key, so waivers and history match it
        "row_key": hashlib.sha1(f"{identity}|{column}".encode()).hexdigest()[:12],
        "waived": None,
    }


def _detail(a: Ambiguity) -> str:
    """Candidates with their year and similarity; then same-year rivals with their line."""
    text = ", ".join(
        f"「{c.display}」 FY{c.fiscal_year} {c.ratio:.2f}{' (same place)' if c.same_place else ''}"
        for c in a.candidates
    )
    if a.rivals:
        text += "; same year: " + ", ".join(
            f"「{r.display}」 line {r.source_line}" for r in a.rivals
        )
    return text
