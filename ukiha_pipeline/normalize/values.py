"""KPI values (DESIGN §2): a number, optionally with a multiplier and a unit, and a note.

`2,398千円` → 2398000 円; `240万人` → 2400000 人; `93名` → 93 人; `37.60%` → 37.6 %;
`1.65` → 1.65 (no unit); `31件(うち人的交流を伴うもの19件)` → 31 件, note kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ukiha_pipeline.normalize.text import nfkc

MULTIPLIERS: dict[str, int] = {"千": 1_000, "万": 10_000, "億": 100_000_000}
#: Unit spellings that mean the same base unit.
UNIT_ALIASES: dict[str, str] = {"名": "人", "％": "%"}
#: Texts people write while a value is still being tallied: never numbers.
PENDING_MARKERS = ("集計中", "未集計", "調査中", "-", "－", "―", "ー", "‐")

_NUMBER = r"(?P<sign>[-−△▲]?)(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_UNIT = r"(?P<mult>[千万億])?(?P<unit>[^\d\s()（）,.→]{1,6})?"
_NOTE = r"(?:\s*[(（](?P<note>[^()（）]*)[)）])?"
_QUANTITY = re.compile(rf"^{_NUMBER}\s*{_UNIT}{_NOTE}$")
_ARROW = re.compile(r"\s*(?:→|⇒|->|＞)\s*")


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str | None
    note: str | None = None


def _build(match: re.Match[str]) -> Quantity:
    number = float(match.group("num").replace(",", ""))
    if match.group("sign"):
        number = -number
    mult = match.group("mult")
    if mult:
        number *= MULTIPLIERS[mult]
    unit = match.group("unit")
    unit = UNIT_ALIASES.get(unit, unit) if unit else None
    note = match.group("note")
    return Quantity(round(number, 10), unit, note.strip() if note else None)


# validation and the load both read each KPI value, and values repeat across years: the
# results are immutable, so each distinct cell text is parsed once
@lru_cache(maxsize=1 << 16)
def parse_quantity(text: str) -> Quantity | None:
    """The quantity a whole cell holds, or None when the cell is not a number (unit optional)."""
    value = nfkc(text)
    if not value or value in PENDING_MARKERS:
        return None
    match = _QUANTITY.match(value)
    return _build(match) if match else None


@dataclass(frozen=True)
class BaselineTarget:
    """A `baseline→target` cell split into its parts, each as written in the sheet."""

    definition: str | None
    raw_baseline: str
    raw_target: str


@lru_cache(maxsize=1 << 16)  # see parse_quantity
def split_baseline_target(text: str) -> BaselineTarget | None:
    """Split `平成22年度以降累計 179人→230人` into definition, baseline and target texts.

    The baseline is the longest tail of the left side that is a whole quantity, so digits
    inside a definition (`…4段階自己評価)で…中学3年生の割合 35.9%`) are never taken for it.
    Returns None when the cell holds no single arrow.
    """
    parts = _ARROW.split(text.strip())
    if len(parts) != 2:
        return None
    left, right = parts
    for start in range(len(left)):
        if start and not left[start - 1].isspace() and _is_digit_char(left[start - 1]):
            continue  # never start inside a number
        if _QUANTITY.match(nfkc(left[start:])):
            definition = left[:start].strip() or None
            return BaselineTarget(definition, left[start:].strip(), right.strip())
    # The baseline is not a number (e.g. 集計中): the last token is the raw baseline.
    head, _, last = left.strip().rpartition(" ")
    return BaselineTarget(head.strip() or None, last.strip(), right.strip())


def _is_digit_char(char: str) -> bool:
    return nfkc(char) in "0123456789,."
