"""Japanese era years (DESIGN §2): 平成/H n = 1988 + n, 令和/R n = 2018 + n, 元 = 1.

`年度` is a fiscal year (April-March), stored as the Gregorian year it starts in; `年` is a
calendar year. A range (`平成25～29年`) stores its end year and keeps the range text.

Why not japanera or jaconv: japanera converts full dates with format strings and knows
neither the abbreviations H/R with 年度, nor fiscal years, nor ranges; NFKC from the standard
library already does what jaconv's zenkaku→hankaku does for digits and letters. The era
table below is two lines and is covered by property tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ukiha_pipeline.normalize.text import nfkc

ERA_OFFSETS: dict[str, int] = {"平成": 1988, "H": 1988, "令和": 2018, "R": 2018}

_ERA = r"(平成|令和|H|R)"
_NUM = r"(元|\d{1,2})"
_AS_OF = re.compile(
    rf"^{_ERA}?\s*{_NUM}\s*(?:年度?)?\s*(?:[~〜～\-－ー]\s*{_ERA}?\s*{_NUM})?\s*(年度|年)\s*末?$"
)
_GREGORIAN = re.compile(r"^((?:19|20)\d{2})\s*(年度|年)\s*末?$")  # 末: its end, the same year


@dataclass(frozen=True)
class AsOf:
    """The year a value refers to."""

    year: int
    kind: str  # 'fiscal' | 'calendar'
    range_text: str | None = None


def era_to_gregorian(era: str, number: str) -> int:
    n = 1 if number == "元" else int(number)
    return ERA_OFFSETS[era] + n


_FISCAL_YEAR = re.compile(rf"^(?:{_ERA}\s*{_NUM}|(\d{{4}}))\s*(?:年度)?$")


def parse_fiscal_year(text: str) -> int | None:
    """A fiscal year as a person writes it: `2021`, `2021年度`, `R3`, `令和3年度`, `H30`,
    `平成元年度` (full-width too) → the Gregorian year it starts in; None if it is none."""
    match = _FISCAL_YEAR.match(
        nfkc(text).replace(" ", "").upper().replace("令和", "R").replace("平成", "H")
    )
    if match is None:
        return None
    era, number, gregorian = match.groups()
    return int(gregorian) if gregorian else era_to_gregorian(era, number)


def fiscal_year_label(fiscal_year: int) -> str:
    """`2021` → `2021年度（令和3年度）` (FY2019, begun in 平成31年, is 令和元年度)."""
    for era in ("令和", "平成"):  # the newest era first
        n = fiscal_year - ERA_OFFSETS[era]
        if n >= 1:
            return f"{fiscal_year}年度（{era}{'元' if n == 1 else n}年度）"
    return f"{fiscal_year}年度"


@lru_cache(maxsize=1 << 16)  # the same year texts come back on every sheet; AsOf is immutable
def parse_as_of(text: str) -> AsOf | None:
    """`H29年度` → 2017 fiscal; `R3年` → 2021 calendar; `平成25～29年` → 2017 calendar (range)."""
    raw = text.strip()
    value = nfkc(raw).replace("〜", "~").replace("～", "~")
    if not value:
        return None
    match = _GREGORIAN.match(value)
    if match:
        return AsOf(int(match.group(1)), "fiscal" if match.group(2) == "年度" else "calendar")
    match = _AS_OF.match(value)
    if not match:
        return None
    era1, num1, era2, num2, suffix = match.groups()
    if era1 is None:
        return None
    kind = "fiscal" if suffix == "年度" else "calendar"
    if num2 is None:
        return AsOf(era_to_gregorian(era1, num1), kind)
    end = era_to_gregorian(era2 or era1, num2)
    return AsOf(end, kind, range_text=raw)
