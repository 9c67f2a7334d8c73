"""The municipality a sheet's title line names (DESIGN §1: `第2期うきは市ルネッサンス戦略` →
うきは市), whatever year, term, prefecture or county is written before it.

The parser (`sheet.py`) chooses the title line; this module reads the name from it. Names
are written in kana and kanji and end in 市, 町 or 村; the rules below pass over what stands
before a name and tell a name's own 市/町/村 (上市町, 四日市市) from a word after it (市民).
"""

from __future__ import annotations

import re
import unicodedata

#: What may stand before the municipality in a title: a year (`令和4年度`, `R4年度`, `2022年度`),
#: the strategy's term (`第2期`), a prefecture (`福岡県`, `東京都`, `北海道`, `大阪府`).
_TITLE_PREFIX = (
    r"(?:(?:令和|平成|[RH])\s*(?:元|\d+)\s*年度?|\d{4}\s*年度?|第\s*\d+\s*期"
    r"|北海道|東京都|京都府|大阪府|[一-鿿]{2,3}県"
    # a county before the town or village it holds (`三井郡大刀洗町`), not `大和郡山市`
    r"|[一-鿿]{1,3}郡(?=(?:(?!市)[ぁ-ゖァ-ヺー一-鿿々ヶ]){1,9}?[町村]))"
)
_NAME_CHARS = "ぁ-ゖァ-ヺー一-鿿々ヶ"  # kana and kanji: what a municipality's name is written in
_SUFFIXES = "市町村"
#: What follows 市/町/村 when they start a word (`町づくり`, `町内`, `市政`), not end a name
_WORD_AFTER_SUFFIX = ("づくり", "内", "外", "政", "長", "立", "営", "議", "役")
#: What reads as a name but is a word: 市町村, 市町, 町村, 都市 (`都市計画`)
_GENERIC = re.compile(r"[市町村都]+")
_NAME = rf"[{_NAME_CHARS}]{{1,9}}?[{_SUFFIXES}]"  # the shortest: `うきは市` of `うきは市民…`
#: The municipality: right after the prefixes, or where a word starts (not inside `…市民…`).
_MUNICIPALITY = re.compile(
    rf"(?:{_TITLE_PREFIX}\s*)+(?P<after>{_NAME})|(?<![{_NAME_CHARS}])(?P<word>{_NAME})"
)


def municipality_from_title(title: str) -> str | None:
    """The municipality a title names (`第2期うきは市ルネッサンス戦略` → うきは市), or None.

    Years, the strategy's term and a prefecture before it are passed over
    (`令和4年度 福岡県うきは市…` → うきは市), as is anything before them; the first name
    ending in 市/町/村 that starts a word is taken, so `市民` later in the line is not one.
    """
    text = unicodedata.normalize("NFKC", title)
    found: list[tuple[bool, str]] = []  # (after a year, term or prefecture, name)
    for m in _MUNICIPALITY.finditer(text):
        name = m.group("after") or m.group("word")
        # the shortest name ends at the first 市/町/村: one that goes on with another is
        # longer (上市町, 四日市市, 十日町市, 大町市, 田村市, 野々市市), unless that other
        # starts a word (`朝倉市町づくり`, `朝倉市市民`)
        end = m.end()
        while end < len(text) and text[end] in _SUFFIXES and len(name) < 10:
            if _starts_word(text, end, name):
                break
            name, end = name + text[end], end + 1
        if not _GENERIC.fullmatch(name):  # 【市町村提出用】, 都市計画: words, not names
            found.append((m.group("after") is not None, name))
    # a name after 第2期, a year or a prefecture before one where a word starts
    # (`デジタル田園都市国家構想 第2期うきは市…`)
    return next((name for after, name in found if after), found[0][1] if found else None)


def _starts_word(text: str, end: int, name: str) -> bool:
    """The 市/町/村 at `end`, right after `name`, starts a word (`朝倉市` + `町づくり`, `町内`):
    `name` ends there. Its residents `市民` only after a name with the same ending (`朝倉市` +
    `市民`): `上市` + `町民` is 上市町's residents. (`四日市市民` so reads as 四日市.)"""
    if text.startswith(_WORD_AFTER_SUFFIX, end + 1):
        return True
    return text.startswith("民", end + 1) and text[end] == name[-1]
