"""Japanese era years (DESIGN §2): property tests and the real as-of forms."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ukiha_pipeline.normalize import parse_as_of
from ukiha_pipeline.normalize.eras import AsOf

HEISEI = ("H", "平成")
REIWA = ("R", "令和")
OFFSET = {"H": 1988, "平成": 1988, "R": 2018, "令和": 2018}
ERAS = st.sampled_from(HEISEI + REIWA)
YEARS = st.integers(min_value=1, max_value=30)
SUFFIX_KIND = st.sampled_from([("年度", "fiscal"), ("年", "calendar")])
FULL_WIDTH = str.maketrans("0123456789HR", "０１２３４５６７８９ＨＲ")


@given(n=YEARS, era=st.sampled_from(HEISEI))
def test_heisei_fiscal(n: int, era: str) -> None:
    assert parse_as_of(f"{era}{n}年度") == AsOf(1988 + n, "fiscal")


@given(n=YEARS, era=st.sampled_from(REIWA))
def test_reiwa_calendar(n: int, era: str) -> None:
    assert parse_as_of(f"{era}{n}年") == AsOf(2018 + n, "calendar")


@given(
    n=YEARS,
    era=ERAS,
    suffix_kind=SUFFIX_KIND,
    full_width=st.booleans(),
    pad=st.sampled_from(["", " ", "\u3000"]),
)
def test_any_era_year(
    n: int, era: str, suffix_kind: tuple[str, str], full_width: bool, pad: str
) -> None:
    suffix, kind = suffix_kind
    text = f"{era}{n}{suffix}"
    if full_width:
        text = text.translate(FULL_WIDTH)
    assert parse_as_of(pad + text + pad) == AsOf(OFFSET[era] + n, kind)


@given(era=ERAS, suffix_kind=SUFFIX_KIND)
def test_gan_is_one(era: str, suffix_kind: tuple[str, str]) -> None:
    suffix, kind = suffix_kind
    assert parse_as_of(f"{era}元{suffix}") == parse_as_of(f"{era}1{suffix}")
    assert parse_as_of(f"{era}元{suffix}") == AsOf(OFFSET[era] + 1, kind)


@given(
    start=YEARS,
    end=YEARS,
    era=ERAS,
    suffix_kind=SUFFIX_KIND,
    dash=st.sampled_from(["～", "〜", "~"]),
    repeat_era=st.booleans(),
)
def test_range_keeps_text_and_end_year(
    start: int, end: int, era: str, suffix_kind: tuple[str, str], dash: str, repeat_era: bool
) -> None:
    assume(start < end)
    suffix, kind = suffix_kind
    second = f"{era}{end}" if repeat_era else str(end)
    text = f"{era}{start}{dash}{second}{suffix}"
    assert parse_as_of(text) == AsOf(OFFSET[era] + end, kind, range_text=text)


@given(year=st.integers(min_value=1990, max_value=2099), suffix_kind=SUFFIX_KIND)
def test_gregorian_year(year: int, suffix_kind: tuple[str, str]) -> None:
    suffix, kind = suffix_kind
    assert parse_as_of(f"{year}{suffix}") == AsOf(year, kind)


# --- the real as-of forms of DESIGN §1 ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("H29年度", AsOf(2017, "fiscal")),
        ("R元年度", AsOf(2019, "fiscal")),
        ("令和3年度", AsOf(2021, "fiscal")),
        ("R3年", AsOf(2021, "calendar")),
        ("R7年度", AsOf(2025, "fiscal")),
        ("令和元年", AsOf(2019, "calendar")),
        ("平成25～29年", AsOf(2017, "calendar", range_text="平成25～29年")),
        ("令和3～7年", AsOf(2025, "calendar", range_text="令和3～7年")),
        # 末 (the end of it) names the same year
        ("令和3年度末", AsOf(2021, "fiscal")),
        ("R3年度末", AsOf(2021, "fiscal")),
        ("2021年度末", AsOf(2021, "fiscal")),
        ("R3年末", AsOf(2021, "calendar")),
    ],
)
def test_real_as_of_forms(text: str, expected: AsOf) -> None:
    assert parse_as_of(text) == expected


@pytest.mark.parametrize("text", ["", "年度", "3年度", "集計中", "昭和60年"])
def test_not_an_as_of(text: str) -> None:
    assert parse_as_of(text) is None
