"""Reference data from `schemas/`: the rules file and the department master by fiscal year.

`schemas/` holds the files; this module reads them (the only I/O on reference data).
"""

from __future__ import annotations

import csv
import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ukiha_pipeline.errors import ConfigError
from ukiha_pipeline.normalize.text import RATINGS, split_names
from ukiha_pipeline.parsing.model import ParsedSheet
from ukiha_pipeline.validation.messages import MESSAGES

SEVERITIES = ("fatal", "error", "warning")
#: Every check id (DESIGN §3, plus the warehouse's ambiguous_key_match): each has its messages.
CHECK_IDS = frozenset(MESSAGES["ja"])
MASTER_COLUMNS = ("department", "section", "valid_from_fy", "valid_to_fy", "first_seen")


@dataclass(frozen=True)
class Rules:
    ratings: dict[str, dict[str, str]]  # 'A' -> {'ja': '順調', 'en': 'on track'}
    flag_rating: dict[str, tuple[str, ...]]  # '○' -> ('A', 'B', 'C', 'D')
    severity: dict[str, str]

    def severity_of(self, check: str) -> str:
        return self.severity[check]

    def legend(self, lang: str = "ja") -> dict[str, str]:
        """Rating → its wording, for reports (`A` → `順調`)."""
        return {r: words.get(lang, words.get("ja", r)) for r, words in self.ratings.items()}


def load_rules(path: Path) -> Rules:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        ratings = {str(k): dict(v) for k, v in data["ratings"].items()}
        flag_rating = {str(k): tuple(v) for k, v in data["flag_rating"].items()}
        severity = {str(k): str(v) for k, v in data["severity"].items()}
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: rules file cannot be used: {exc}") from exc
    bad = {k: v for k, v in severity.items() if v not in SEVERITIES}
    if bad:
        raise ConfigError(f"{path}: unknown severities {bad}; use one of {SEVERITIES}")
    missing, extra = CHECK_IDS - set(severity), set(severity) - CHECK_IDS
    if missing or extra:  # a typo would otherwise apply no severity, or fail when the check fires
        raise ConfigError(
            f"{path}: [severity] must name every check id once: "
            + "; ".join(
                f"{what} {sorted(ids)}"
                for what, ids in (("missing", missing), ("unknown", extra))
                if ids
            )
        )
    outside = set(ratings) - set(RATINGS)
    if outside:
        raise ConfigError(
            f"{path}: [ratings] may only use {'/'.join(RATINGS)} "
            f"(the warehouse and the reports know those): {sorted(outside)}"
        )
    unknown = {r for allowed in flag_rating.values() for r in allowed} - set(ratings)
    if unknown:
        raise ConfigError(f"{path}: flag_rating names ratings not in [ratings]: {sorted(unknown)}")
    return Rules(ratings, flag_rating, severity)


@dataclass(frozen=True, eq=False)
class DepartmentMaster:
    """課 → 係 pairs, each valid from one fiscal year to another (open ends allowed)."""

    table: pd.DataFrame  # MASTER_COLUMNS; valid_*_fy nullable Int64

    def _valid(self, fiscal_year: int) -> pd.DataFrame:
        t = self.table
        ok = (t["valid_from_fy"].isna() | (t["valid_from_fy"] <= fiscal_year)) & (
            t["valid_to_fy"].isna() | (t["valid_to_fy"] >= fiscal_year)
        )
        return t[ok]

    def departments(self, fiscal_year: int) -> set[str]:
        return set(self._valid(fiscal_year)["department"])

    def sections(self, fiscal_year: int) -> set[str]:
        return set(self._valid(fiscal_year)["section"].dropna())

    def pairs(self, fiscal_year: int) -> set[tuple[str, str]]:
        v = self._valid(fiscal_year).dropna(subset=["section"])
        return set(zip(v["department"], v["section"], strict=True))

    def closest(self, name: str, fiscal_year: int, *, section: bool) -> str | None:
        names = self.sections(fiscal_year) if section else self.departments(fiscal_year)
        match = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.5)
        return match[0] if match else None


@dataclass(frozen=True)
class Waiver:
    """A steward's acceptance of one known failure, with who and why."""

    fiscal_year: int
    check: str
    row_key: str
    who: str
    why: str


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """`[[waiver]]` tables of `schemas/waivers.toml`; a missing file means no waivers."""
    if not path.exists():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        waivers = tuple(
            Waiver(
                int(w["fiscal_year"]),
                str(w["check"]),
                str(w["row_key"]),
                str(w["who"]),
                str(w["why"]),
            )
            for w in data.get("waiver", [])
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: waivers need fiscal_year, check, row_key, who and why: {exc}"
        ) from exc
    return waivers


def load_master(path: Path) -> DepartmentMaster:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ConfigError(f"{path}: department master cannot be read: {exc}") from exc
    if not rows or set(MASTER_COLUMNS) - set(rows[0]):
        raise ConfigError(f"{path}: department master needs columns {MASTER_COLUMNS}")
    table = pd.DataFrame(rows, columns=list(MASTER_COLUMNS))
    for col in ("valid_from_fy", "valid_to_fy"):
        table[col] = pd.to_numeric(table[col].replace("", None)).astype("Int64")
    table["section"] = table["section"].replace("", None)
    return DepartmentMaster(table)


def derive_master(sheet: ParsedSheet) -> list[tuple[str, str, int]]:
    """(課, 係, first line) pairs a sheet itself shows (how `schemas/departments.csv` was built).

    Single-department rows give pairs directly. On a multi-department row, a section not
    seen elsewhere goes to the one department of that row that owns none of the row's other
    sections; when that is not unique it is left out (and must be added by hand).
    """
    rows = [(p.cells[1], p.cells[2], p.row) for p in sheet.projects]
    rows += [(k.departments, k.sections, k.row) for k in sheet.kpis if k.level == "measure"]
    lines = sheet.grid.positions
    pairs: dict[tuple[str, str], int] = {}
    multi = []
    for dept_cell, sect_cell, row in rows:
        depts, sects = split_names(dept_cell), split_names(sect_cell)
        if len(depts) == 1:
            for s in sects:
                pairs.setdefault((depts[0], s), lines[row].line)
        elif depts:
            multi.append((depts, sects, row))
    for depts, sects, row in multi:
        known = {s for _, s in pairs}
        for s in sects:
            if s in known:
                continue
            owners = [
                d for d in depts if not any((d, other) in pairs for other in sects if other != s)
            ]
            if len(owners) == 1:
                pairs.setdefault((owners[0], s), lines[row].line)
    return sorted(
        ((d, s, line) for (d, s), line in pairs.items()), key=lambda t: (t[2], t[0], t[1])
    )
