"""The municipality read from a sheet's title line (DESIGN §1: `第2期うきは市ルネッサンス戦略`
→ うきは市), whatever year, term or prefecture is written before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ukiha_pipeline.parsing import ParsedSheet, parse_grid
from ukiha_pipeline.parsing.municipality import municipality_from_title
from ukiha_pipeline.reading import read_grid

R3 = Path(__file__).resolve().parents[2] / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW: list[str] = R3.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def r3() -> ParsedSheet:
    return parse_grid(read_grid(R3))


def test_r3_title_names_ukiha(r3: ParsedSheet) -> None:
    assert r3.municipality == "うきは市"
    assert municipality_from_title(r3.title) == "うきは市"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("地方創生 第2期うきは市ルネッサンス戦略 PDCAシート", "うきは市"),
        ("令和4年度 うきは市PDCAシート（企画財政課提出）", "うきは市"),
        ("令和4年度うきは市PDCAシート", "うきは市"),
        ("R4年度 うきは市 PDCAシート", "うきは市"),
        ("2022年度うきは市PDCAシート", "うきは市"),
        ("福岡県うきは市PDCAシート", "うきは市"),
        ("令和4年度 福岡県うきは市 市民協働PDCAシート", "うきは市"),
        ("うきは市民の戦略 PDCAシート", "うきは市"),
        ("神奈川県横浜市 PDCAシート", "横浜市"),
        ("鹿児島県鹿児島市PDCAシート", "鹿児島市"),
        ("北海道札幌市PDCAシート", "札幌市"),
        ("東京都八王子市PDCAシート", "八王子市"),
        ("大阪府大阪市PDCAシート", "大阪市"),
        ("第2期みやこ町ルネッサンス戦略", "みやこ町"),
        ("令和元年度 東峰村 PDCAシート", "東峰村"),
        # a 市/町/村 inside the name: the first one is not its end
        ("第2期上市町総合戦略", "上市町"),
        ("三重県四日市市PDCAシート", "四日市市"),
        ("新潟県十日町市 PDCAシート", "十日町市"),
        ("長野県大町市PDCAシート", "大町市"),
        ("福島県田村市PDCAシート", "田村市"),
        ("石川県野々市市PDCAシート", "野々市市"),
        ("広島県廿日市市 市民協働", "廿日市市"),
        ("東京都町田市PDCAシート", "町田市"),
        ("千葉県市川市PDCAシート", "市川市"),
        # a county before a town or village is passed over like a prefecture
        ("福岡県三井郡大刀洗町 第2期総合戦略 PDCAシート", "大刀洗町"),
        ("三井郡大刀洗町PDCAシート", "大刀洗町"),
        ("奈良県大和郡山市PDCAシート", "大和郡山市"),
        ("福島県郡山市PDCAシート", "郡山市"),
        # a word starting with 市/町/村 after the name is not part of it
        ("第2期朝倉市町づくり戦略 PDCAシート", "朝倉市"),
        ("第2期朝倉市市民協働 PDCAシート", "朝倉市"),
        ("第2期朝倉市町内会活性化戦略", "朝倉市"),
        ("第2期東峰村村民協働戦略", "東峰村"),
        ("福島県田村市民協働PDCAシート", "田村市"),
        ("第2期上市町民協働戦略", "上市町"),
        # words before the name that end like one
        ("デジタル田園都市国家構想 第2期うきは市ルネッサンス戦略", "うきは市"),
        ("【市町村提出用】うきは市PDCAシート", "うきは市"),
        ("都市計画と第2期うきは市ルネッサンス戦略", "うきは市"),
        ("京都府京都市PDCAシート", "京都市"),
        ("ＰＤＣＡシート", None),
        ("地方創生 PDCAシート 市民協働", None),
    ],
)
def test_municipality_from_title(title: str, expected: str | None) -> None:
    assert municipality_from_title(title) == expected


NAMES = [
    "うきは市",
    "みやこ町",
    "東峰村",
    "横浜市",
    "鹿児島市",
    "八王子市",
    "大刀洗町",
    "上市町",
    "四日市市",
]
YEARS = ["", "令和4年度", "R4年度", "2022年度", "令和元年度", "H30年度", "第2期"]
PREFECTURES = ["", "福岡県", "神奈川県", "鹿児島県", "北海道", "東京都", "京都府", "大阪府"]
BEFORE = ["", "地方創生 ", "PDCAシート ", "地方創生 市民協働 "]
AFTER = ["", "PDCAシート", "ルネッサンス戦略 PDCAシート", "民協働PDCAシート", "（企画財政課提出）"]


@given(
    before=st.sampled_from(BEFORE),
    year=st.sampled_from(YEARS),
    prefecture=st.sampled_from(PREFECTURES),
    name=st.sampled_from(NAMES),
    after=st.sampled_from(AFTER),
    space=st.sampled_from(["", " ", "　"]),
)
def test_the_name_after_years_and_prefectures_is_the_municipality(
    before: str, year: str, prefecture: str, name: str, after: str, space: str
) -> None:
    """Whatever year and prefecture stand before it, and `市民…` after it (`うきは市民協働`)."""
    title = f"{before}{year}{space}{prefecture}{space}{name}{after}"
    # `四日市市民…` reads as 四日市 + 市民, as `朝倉市市民…` must read as 朝倉市 + 市民
    assume(not (name[-1] == name[-2] and after.startswith("民")))
    assert municipality_from_title(title) == name


def test_the_municipality_on_an_added_title_line_is_read_without_its_year(tmp_path: Path) -> None:
    """A title line `令和4年度 うきは市PDCAシート…` above the sheet gave `令和4年度うきは市`
    (a second city in the warehouse and its own trends page)."""
    path = tmp_path / "titled.txt"
    for title in ("令和4年度 うきは市PDCAシート（企画財政課提出）", "福岡県うきは市PDCAシート"):
        path.write_text(f"{title}\n" + "\n".join(RAW), encoding="utf-8")
        sheet = parse_grid(read_grid(path))
        assert (sheet.title, sheet.municipality) == (title, "うきは市")


def _with_title(tmp_path: Path, lines: dict[int, str], before: str = "") -> ParsedSheet:
    """The R3 sheet with lines (1-based) replaced and `before` above it."""
    raw = list(RAW)
    for line, text in lines.items():
        raw[line - 1] = text
    path = tmp_path / "titled.txt"
    path.write_text(before + "\n".join(raw), encoding="utf-8")
    return parse_grid(read_grid(path))


def test_a_cover_line_naming_no_municipality_does_not_take_the_title(tmp_path: Path) -> None:
    """`第1回 総合戦略推進会議` above the title took the title slot: 朝倉市's sheet read as
    うきは市's (at scale, replacing うきは市's year)."""
    title = "地方創生 第2期朝倉市まち・ひと・しごと創生総合戦略 PDCAシート"
    sheet = _with_title(tmp_path, {5: title}, before="令和4年度 第1回 総合戦略推進会議\n\n")
    assert (sheet.title, sheet.municipality) == (title, "朝倉市")
    assert not sheet.notes


def test_a_title_with_the_strategy_period_is_the_title(tmp_path: Path) -> None:
    title = "地方創生 第2期朝倉市総合戦略（令和3年度～令和7年度） PDCAシート"
    sheet = _with_title(tmp_path, {5: title})
    assert (sheet.title, sheet.municipality) == (title, "朝倉市")


def test_a_contents_line_naming_the_city_is_no_title(tmp_path: Path) -> None:
    sheet = _with_title(tmp_path, {5: "地方創生 PDCAシート", 21: RAW[20] + "(戦略P123)"})
    assert sheet.title == "地方創生 PDCAシート"


def test_a_title_naming_no_municipality_is_told(tmp_path: Path) -> None:
    """Falling back to the default silently would file another city's sheet as うきは市's."""
    sheet = _with_title(tmp_path, {5: "地方創生 第2期総合戦略 PDCAシート"})
    assert sheet.municipality == "うきは市"
    assert any("市町村名が読めません" in n and "--municipality" in n for n in sheet.notes)
    path = tmp_path / "titled.txt"
    given = parse_grid(read_grid(path), municipality="朝倉市")
    assert given.municipality == "朝倉市"
    assert not any("市町村名" in n for n in given.notes)
