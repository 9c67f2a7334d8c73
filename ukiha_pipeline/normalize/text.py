"""Text clean-up: NFKC where it is safe, plus a small explicit lookalike table for flags."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

#: Characters people type for ○ (carried out) and × (not carried out). NFKC merges none of them.
FLAG_LOOKALIKES: dict[str, str] = {
    "○": "○",  # U+25CB WHITE CIRCLE (canonical)
    "〇": "○",  # U+3007 IDEOGRAPHIC NUMBER ZERO
    "◯": "○",  # U+25EF LARGE CIRCLE
    "⚪": "○",  # U+26AA MEDIUM WHITE CIRCLE
    "o": "○",
    "O": "○",
    "×": "×",  # U+00D7 MULTIPLICATION SIGN (canonical)
    "✕": "×",  # U+2715 MULTIPLICATION X
    "✖": "×",  # U+2716 HEAVY MULTIPLICATION X
    "❌": "×",  # U+274C CROSS MARK
    "x": "×",
    "X": "×",
}

#: The two flags a sheet may carry once normalised: ○ (carried out) and × (not).
FLAGS = frozenset(FLAG_LOOKALIKES.values())

_SPACES = re.compile(r"[\s\u3000]+")
_NAME_SEPARATORS = re.compile(r"[\s\u3000、,，]+")


#: Invisible characters pasted in with text (zero-width space, non-joiner, joiner, word
#: joiner, BOM): `A` followed by one looks like A and is not.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_CELL_SPACE = " \t\r\n\u3000" + _INVISIBLE
_NO_INVISIBLE = str.maketrans(dict.fromkeys(_INVISIBLE))


def clean_cell(text: str | None) -> str:
    """Strip stray spaces (ASCII and U+3000) and invisible characters at both ends; keep the
    text otherwise as written."""
    if text is None:
        return ""
    return text.strip(_CELL_SPACE)


def clean_cells(cells: Iterable[str | None]) -> list[str]:
    """`clean_cell` of each cell of a row, in one call (rows are cleaned by the thousand)."""
    return ["" if c is None else c.strip(_CELL_SPACE) for c in cells]


@lru_cache(maxsize=1 << 16)  # sheets repeat the same names and values: a hit is ~10x cheaper
def nfkc(text: str) -> str:
    """NFKC plus folding of inner whitespace runs to one space, invisible characters dropped.
    Only for values, never labels."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text.translate(_NO_INVISIBLE))).strip()


def normalize_flag(text: str) -> str:
    """○/× after NFKC and the lookalike table; anything else is returned cleaned (and is invalid)."""
    value = nfkc(text).replace(" ", "")
    return FLAG_LOOKALIKES.get(value, value)


#: The progress ratings, best first (DESIGN §2). The rules file words them and may use fewer;
#: the warehouse (its CHECK, the views' n_a..n_e) and the reports know these five.
RATINGS: tuple[str, ...] = ("A", "B", "C", "D", "E")


def normalize_rating(text: str) -> str:
    """A-E after NFKC (Ａ → A) and upper-casing; anything else is returned cleaned."""
    return nfkc(text).replace(" ", "").upper()


@lru_cache(maxsize=1 << 16)  # the same 課 and 係 cells come back on every sheet
def split_names(text: str) -> tuple[str, ...]:
    """Department or section names in one cell, separated by spaces, 、 or commas (not by ・,
    which belongs to names such as 計画・準備係), each after NFKC: half-width katakana becomes
    full-width (うきはﾌﾞﾗﾝﾄﾞ推進課 is うきはブランド推進課). Katakana is not hiragana: ｳｷﾊ is ウキハ,
    an unknown name whose closest known one is suggested."""
    cleaned = clean_cell(text)
    if not cleaned:
        return ()
    return tuple(nfkc(part) for part in _NAME_SEPARATORS.split(cleaned) if part)
