"""KPI values, flags and ratings (DESIGN §1-2): property tests and the real R3 value forms."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ukiha_pipeline.normalize import (
    normalize_flag,
    normalize_rating,
    parse_quantity,
    split_baseline_target,
)
from ukiha_pipeline.normalize.values import Quantity

UNITS = ("円", "人", "件", "団体", "事業", "%")
MULTIPLIERS = {"": 1, "千": 1_000, "万": 10_000}
FULL_WIDTH = str.maketrans("0123456789,.%()", "０１２３４５６７８９，．％（）")
PADDING = st.sampled_from(["", " ", "  ", "\u3000"])


def _grouped(n: int, thousands: bool) -> str:
    return f"{n:,}" if thousands else str(n)


@given(
    n=st.integers(min_value=0, max_value=10**9),
    mult=st.sampled_from(sorted(MULTIPLIERS)),
    unit=st.sampled_from(UNITS),
    thousands=st.booleans(),
    full_width=st.booleans(),
    pad=PADDING,
)
def test_integer_with_multiplier_and_unit_parses_back(
    n: int, mult: str, unit: str, thousands: bool, full_width: bool, pad: str
) -> None:
    text = _grouped(n, thousands) + mult + unit
    if full_width:
        text = text.translate(FULL_WIDTH)
    q = parse_quantity(pad + text + pad)
    assert q == Quantity(float(n * MULTIPLIERS[mult]), unit)


@given(
    n=st.integers(min_value=0, max_value=10**9), thousands=st.booleans(), full_width=st.booleans()
)
def test_bare_number_has_no_unit(n: int, thousands: bool, full_width: bool) -> None:
    text = _grouped(n, thousands)
    if full_width:
        text = text.translate(FULL_WIDTH)
    assert parse_quantity(text) == Quantity(float(n), None)


@given(cents=st.integers(min_value=0, max_value=10**7), unit=st.sampled_from(["%", ""]))
def test_two_decimals_parse_exactly(cents: int, unit: str) -> None:
    value = Decimal(cents) / 100
    q = parse_quantity(f"{value:.2f}{unit}")
    assert q == Quantity(float(value), unit or None)


@given(
    n=st.integers(min_value=0, max_value=10**7),
    mult=st.sampled_from(sorted(MULTIPLIERS)),
    thousands=st.booleans(),
)
def test_mei_and_nin_are_the_same_unit(n: int, mult: str, thousands: bool) -> None:
    number = _grouped(n, thousands) + mult
    mei, nin = parse_quantity(number + "名"), parse_quantity(number + "人")
    assert mei == nin
    assert mei is not None and mei.unit == "人"


@given(
    n=st.integers(min_value=0, max_value=10**6),
    m=st.integers(min_value=0, max_value=10**6),
    unit=st.sampled_from(UNITS),
    full_width=st.booleans(),
)
def test_parenthesised_part_is_the_note(n: int, m: int, unit: str, full_width: bool) -> None:
    text = f"{n}{unit}(うち人的交流を伴うもの{m}{unit})"
    if full_width:
        text = text.translate(FULL_WIDTH)
    assert parse_quantity(text) == Quantity(float(n), unit, f"うち人的交流を伴うもの{m}{unit}")


@given(marker=st.sampled_from(["集計中", "未集計", "－", "-", "―"]), pad=PADDING)
def test_values_still_being_tallied_are_not_numbers(marker: str, pad: str) -> None:
    assert parse_quantity(pad + marker + pad) is None


@given(
    baseline=st.integers(min_value=0, max_value=10**6),
    target=st.integers(min_value=0, max_value=10**6),
    unit=st.sampled_from(UNITS),
    definition=st.sampled_from(
        [None, "平成22年度以降累計", "中学3年生の割合", "4段階評価で4の割合"]
    ),
    arrow=st.sampled_from(["→", " → ", "⇒"]),
)
def test_split_baseline_target_round_trips(
    baseline: int, target: int, unit: str, definition: str | None, arrow: str
) -> None:
    left = f"{baseline:,}{unit}"
    text = (f"{definition} {left}" if definition else left) + arrow + f"{target:,}{unit}"
    split = split_baseline_target(text)
    assert split is not None
    assert (split.definition, split.raw_baseline, split.raw_target) == (
        definition,
        left,
        f"{target:,}{unit}",
    )


#: DESIGN §1: lookalikes people type for ○ and ×.
FLAG_FORMS = {"○": "○", "〇": "○", "◯": "○", "×": "×", "✕": "×", "x": "×"}


@given(form=st.sampled_from(sorted(FLAG_FORMS)), left=PADDING, right=PADDING)
def test_flag_lookalikes_map_to_circle_or_cross(form: str, left: str, right: str) -> None:
    assert normalize_flag(left + form + right) == FLAG_FORMS[form]


@given(text=st.text(max_size=4))
def test_a_valid_flag_or_rating_comes_from_one_character(text: str) -> None:
    """Junk never becomes a valid value: only one character (after NFKC, spaces dropped) can."""
    core = "".join(unicodedata.normalize("NFKC", text).split())
    if normalize_flag(text) in ("○", "×"):
        assert len(core) == 1
    rating = normalize_rating(text)
    if rating in tuple("ABCDE"):
        assert core.upper() == rating


@given(
    form=st.sampled_from(["○", "〇", "◯", "×", "✕", "x"]),
    other=st.sampled_from(["○", "×", "A", "済"]),
)
def test_two_marks_are_not_a_flag(form: str, other: str) -> None:
    assert normalize_flag(form + other) not in ("○", "×")


@given(letter=st.sampled_from("ABCDE"), full_width=st.booleans(), left=PADDING, right=PADDING)
def test_rating_full_width_and_spaces(letter: str, full_width: bool, left: str, right: str) -> None:
    form = chr(ord(letter) + 0xFEE0) if full_width else letter
    assert normalize_rating(left + form + right) == letter


# --- the real value forms of DESIGN §1 -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2,398千円", Quantity(2_398_000.0, "円")),
        ("240万人", Quantity(2_400_000.0, "人")),
        ("93名", Quantity(93.0, "人")),
        ("88%", Quantity(88.0, "%")),
        ("37.60%", Quantity(37.6, "%")),
        ("1.65", Quantity(1.65, None)),
        ("8事業", Quantity(8.0, "事業")),
        ("13団体", Quantity(13.0, "団体")),
        ("31件(うち人的交流を伴うもの19件)", Quantity(31.0, "件", "うち人的交流を伴うもの19件")),
        ("２０７人", Quantity(207.0, "人")),
    ],
)
def test_real_value_forms(text: str, expected: Quantity) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["集計中", "－", "未集計", "", "人", "約", "A"])
def test_not_numbers(text: str) -> None:
    assert parse_quantity(text) is None


def test_split_definition_with_digits() -> None:
    definition = (
        "全国学習状況調査の4段階自己評価)で、将来の夢や目標があるに4「そう思う」と"
        "回答した中学3年生の割合"
    )
    split = split_baseline_target(f"{definition} 35.9%→40.0%")
    assert split is not None
    assert split.definition == definition
    assert (split.raw_baseline, split.raw_target) == ("35.9%", "40.0%")
    assert parse_quantity(split.raw_baseline) == Quantity(35.9, "%")


@pytest.mark.parametrize(
    ("text", "definition", "baseline", "target"),
    [
        ("平成22年度以降累計 179人→230人", "平成22年度以降累計", "179人", "230人"),
        ("240万人→250万人", None, "240万人", "250万人"),
        ("1.65→1.80", None, "1.65", "1.80"),
        ("－→250万人", None, "－", "250万人"),
    ],
)
def test_split_real_cells(text: str, definition: str | None, baseline: str, target: str) -> None:
    split = split_baseline_target(text)
    assert split is not None
    assert (split.definition, split.raw_baseline, split.raw_target) == (
        definition,
        baseline,
        target,
    )


def test_split_without_arrow_is_none() -> None:
    assert split_baseline_target("179人") is None
