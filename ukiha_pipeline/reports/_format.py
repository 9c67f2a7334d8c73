"""How values read in the reports: numbers, quantities, years, marks and the Japanese labels.

Everything here turns one warehouse value into display text (or the wording of a label); the
text is escaped later, by great-tables or by `_page`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

from ukiha_pipeline.normalize import RATINGS

#: Default rating legend (DESIGN §2); the rules file may word it differently.
DEFAULT_RATING_LEGEND: Mapping[str, str] = {
    "A": "順調",
    "B": "概ね順調",
    "C": "やや遅れ",
    "D": "遅れ",
    "E": "未実施・中止",
}

#: Background colours of the ratings (green to red) and the text colour readable on each.
RATING_PALETTE: tuple[str, ...] = ("#2e7d32", "#9ccc65", "#fff176", "#ffb74d", "#e57373")
RATING_TEXT: tuple[str, ...] = ("#ffffff", "#1b1b1b", "#1b1b1b", "#1b1b1b", "#1b1b1b")

#: Multipliers a sheet may write before the unit (DESIGN §2: folded into the number on load).
MULTIPLIERS: Mapping[str, float] = {"万": 10_000.0, "千": 1_000.0, "億": 100_000_000.0}

#: Severities in report order, with their headings.
SEVERITY_LABELS: Mapping[str, str] = {
    "fatal": "致命的 (fatal): シートは読み込まれていません",
    "error": "エラー (error): 行は隔離され、集計に含まれていません",
    "warning": "警告 (warning): 行は読み込まれています",
}

LEVEL_LABELS: Mapping[str, str] = {"policy": "基本方針", "measure": "施策"}
STATUS_LABELS: Mapping[str, str] = {"current": "現行", "superseded": "置換済み"}

#: What a missing value prints as (great-tables would print "None").
MISSING = "—"

#: Japan has no daylight saving time, so a fixed offset is exact and needs no tz database.
JST = timezone(timedelta(hours=9), "JST")

_MINUS = "\u2212"  # the minus sign great-tables prints, so all numbers agree


def is_missing(value: object) -> bool:
    """None, NaN, pandas NA or NaT: a value the warehouse does not have."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)  # numpy floats are floats too


def rating_label(rating: str, legend: Mapping[str, str]) -> str:
    """Column label of a rating count, e.g. `A 順調`."""
    word = legend.get(rating, "")
    return f"{rating} {word}".strip()


def legend_note(legend: Mapping[str, str]) -> str:
    """The rating legend as one line, for a table's source note."""
    return "進捗状況: " + "、".join(f"{r} {legend.get(r, '')}".strip() for r in RATINGS)


def format_number(value: float | None) -> str | None:
    """`1900000.0` → `1,900,000`; `1.65` → `1.65`; missing → None (up to 6 decimals)."""
    if is_missing(value):
        return None
    if value == 0:
        return "0"
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return text.replace("-", _MINUS)


def format_quantity(value: float | None, unit: str | None) -> str | None:
    """A number with its unit, e.g. `1,900,000人`, `37.6%`; missing → None."""
    number = format_number(value)
    if number is None:
        return None
    return f"{number}{unit or ''}"


_FIRST_QUANTITY = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?\s*([万千億])?")


def written_multiplier(raw: str | None) -> str | None:
    """The multiplier (万, 千, 億) the sheet wrote after the first number: `240万人` → `万`."""
    if not raw or is_missing(raw):
        return None
    found = _FIRST_QUANTITY.search(unicodedata.normalize("NFKC", raw))
    return found.group(1) if found else None


def format_as_written(value: float | None, unit: str | None, raw: str | None) -> str | None:
    """A value in the scale the sheet used: `2398000, 円, "2,398千円"` → `2,398千円`.

    The number is the normalised one (thousands separators, half-width digits); only the
    multiplier the sheet wrote (万, 千, 億) is kept, so readers see what they typed.
    """
    multiplier = written_multiplier(raw)
    if multiplier is None or is_missing(value) or value is None:
        return format_quantity(value, unit)
    scaled = round(value / MULTIPLIERS[multiplier], 6)
    return f"{format_number(scaled)}{multiplier}{unit or ''}"


def format_year(year: int | None, kind: str | None, range_text: str | None = None) -> str | None:
    """`2021, fiscal` → `2021年度`; `2017, calendar, 平成25～29年` → `2017年（平成25～29年）`."""
    if year is None or is_missing(year):
        return None
    label = f"{int(year)}年度" if kind == "fiscal" else f"{int(year)}年"
    if range_text:
        return f"{label}（{range_text}）"
    return label


def on_track_mark(on_track: bool | None) -> str:
    """○ on track, × behind, — cannot be judged."""
    if on_track is None or is_missing(on_track):
        return MISSING
    return "○" if on_track else "×"


def format_percent(share: float | None, decimals: int = 1) -> str | None:
    """`0.549` → `54.9%`; missing → None."""
    if share is None or is_missing(share):
        return None
    return f"{share * 100:,.{decimals}f}%".replace("-", _MINUS)


def format_timestamp(epoch_us: int | None) -> str | None:
    """A warehouse timestamp (microseconds since the epoch) in Japan time, to the second."""
    if epoch_us is None or is_missing(epoch_us):
        return None
    moment = datetime.fromtimestamp(int(epoch_us) / 1_000_000, tz=UTC).astimezone(JST)
    return moment.strftime("%Y-%m-%d %H:%M:%S JST")


def short_sha(sha256: str | None) -> str | None:
    """The first 12 hex digits of a content hash, enough to tell sheets apart."""
    return sha256[:12] if sha256 else None
