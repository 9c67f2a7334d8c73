"""SYNTHETIC PDCA sheets for FY2022-FY2025 (R4-R7), derived from the real FY2021 (R3) sheet.

Everything this module writes is SYNTHETIC: made-up later years of Ukiha City's sheet, for
tests only. File names start with `SYNTHETIC_`. Do not load them into a warehouse that holds
real years.

Each year starts from the year before (the first from the real R3 text) and changes what
changes in a real year, deterministically (seeded):

- the table headers say `R4年度事業化` … `R7年度事業化`;
- KPIs get new latest values and as-of years (令和4年度 …); some stay behind the sheet's year:
  市民一人当たりの年間所得額 is always two years behind (R2年度 in the R4 sheet), 観光入込客数
  one year, 合計特殊出生率 keeps `平成25～29年` until R6, then `平成30～令和4年`;
  保育所入所待機児童数 (5人→0人, a falling target) is 2人 in R4: 60% of the way;
- ratings move up or down one step (seeded), for projects carried out (○) with A-D;
- FY2022 on: R3 line 41 gets a comma and a space (the same project, spelled differently),
  line 55 one word changed (社会課題 → 地域課題);
- FY2023 on: a project is ADDED in R3's first sub-measure (after line 37, so every line below
  moves), two projects of another sub-measure swap places (R3 lines 44 and 46), and the
  department 都市計画準備課 is RENAMED 都市計画課 (the master must know: `departments_csv`);
- FY2024 on: R3 line 100 (観光者の輸送実証試験) is REMOVED, line 62 (道の駅) stops (× and E),
  line 83 is reworded (古民家の流通促進 → 空き家となった古民家の流通促進);

Each `SheetYear` carries its text and the truth the tests compare the warehouse with: every
project with its lineage (which R3 line it continues, or `new:…`) and every KPI's numbers.
FY2021 is the real sheet (`synthetic=False`), described in the same way.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
R3_PATH = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
MASTER_PATH = REPO / "schemas" / "departments.csv"
SEED = 20220401
FIRST_FY, LAST_FY = 2021, 2025

#: The title of the real sheet and of the SYNTHETIC second municipality's copy of it.
UKIHA_TITLE = "第2期うきは市ルネッサンス戦略"
MIYAKO_TITLE = "第2期みやこ町ルネッサンス戦略"

# --- the changes, by R3 line (1-based) -------------------------------------------------------

PUNCTUATION_EDIT = (
    41,
    "・農業生産法人や民間企業と連携した共同経営による農業振興",
    "・農業生産法人や、民間企業と連携した 共同経営による農業振興",
)
WORD_EDIT = (
    55,
    "・社会課題の解決に向けて新しいサービスの開発や提供を担う事業者の支援",
    "・地域課題の解決に向けて新しいサービスの開発や提供を担う事業者の支援",
)
SHORT_EDIT = (83, "・古民家の流通促進", "・空き家となった古民家の流通促進")
ADDED_AFTER = 37
ADDED_LINEAGE = "new:organic"
ADDED_CELLS = [
    "",
    "農林振興課",
    "農政係",
    "・有機栽培に取り組む新規参入者への技術指導",
    "○",
    "有機栽培の研修会を2回開催し、新規参入者3名に技術指導を行った。",
    "B",
]
SWAPPED = (44, 46)
REMOVED = 100
STOPPED = 62
RENAMED = ("都市計画準備課", "都市計画課")
RENAMED_FROM_FY = 2023
#: Rows whose flag and rating disagree in R3 (the 3 expected warnings): left as they are.
MISMATCH_LINES = (90, 146, 147)

CHANGES_FROM: dict[str, int] = {
    "punctuation_edit": 2022,
    "word_edit": 2022,
    "added": 2023,
    "swapped": 2023,
    "renamed": RENAMED_FROM_FY,
    "removed": 2024,
    "stopped": 2024,
    "short_edit": 2024,
}


@dataclass(frozen=True)
class KpiSpec:
    """One R3 KPI: where its latest value is, its numbers (by hand from the R3 text), format."""

    name: str
    level: str
    line: int  # the line holding the latest value and its as-of year
    value_col: int
    baseline: float
    target: float
    latest_r3: float
    unit: str | None
    fmt: str  # how a latest value is written, see `_format`
    step: tuple[float, float]  # yearly change as a share of (target − baseline)
    lag: int = 0  # the as-of year is this many years before the sheet's year
    as_of: str = "令和{n}年度"  # {n}: the as-of year's Reiwa number


KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("市民一人当たりの年間所得額", "policy", 32, 3, 2_398_000, 2_600_000, 2_439_000,
            "円", "sen", (0.02, 0.12), lag=2, as_of="R{n}年度"),
    KpiSpec("新規就農者数", "measure", 36, 5, 179, 230, 207, "人", "nin", (0.05, 0.25)),
    KpiSpec("観光入込客数", "measure", 52, 5, 2_400_000, 2_500_000, 1_900_000, "人", "man",
            (0.3, 1.5), lag=1),
    KpiSpec("創業支援実現数", "measure", 64, 5, 93, 186, 133, "人", "mei", (0.05, 0.2)),
    KpiSpec("うきは市へのUターン者", "policy", 76, 3, 69, 100, 79, "人", "nin",
            (-0.1, 0.3), as_of="R{n}年"),
    KpiSpec("老朽危険家屋除去件数", "measure", 80, 5, 45, 105, 84, "件", "ken", (0.05, 0.2)),
    KpiSpec("自主防災組織率", "measure", 87, 5, 81, 95, 88, "%", "pct", (-0.1, 0.3)),
    KpiSpec("コミュニティバス等の利用者数", "measure", 98, 5, 11_027, 14_000, 10_006, "人",
            "nin_comma", (0.0, 0.3)),
    KpiSpec("関係人口「UKIHA FANCLUB」会員数", "measure", 102, 5, 450, 1000, 500, "人", "nin",
            (0.05, 0.25)),
    KpiSpec("合計特殊出生率", "policy", 120, 3, 1.65, 1.80, 1.65, None, "rate", (0.0, 0.0)),
    KpiSpec("保育所入所待機児童数", "measure", 124, 5, 5, 0, 0, "人", "nin", (0.0, 0.0)),
    KpiSpec("結婚新生活支援金交付件数", "measure", 132, 5, 28, 78, 63, "件", "ken", (0.05, 0.2)),
    KpiSpec("自尊感情の向上", "measure", 140, 5, 35.9, 40.0, 37.6, "%", "pct2", (-0.2, 0.4)),
    KpiSpec("市が主催や共催するスポーツイベント数", "measure", 155, 5, 4, 8, 8, "事業", "jigyo",
            (-0.25, 0.25)),
    KpiSpec("広域的連携事業(単なる会議等は除く)", "policy", 170, 3, 31, 50, 37, "件", "ken_note",
            (0.0, 0.3), as_of="令和{n}年"),
    KpiSpec("地域づくり活動費補助金申請団体数", "measure", 174, 5, 13, 16, 5, "団体", "dantai",
            (0.0, 1.0)),
    KpiSpec("デジタル申請受付数", "measure", 186, 5, 0, 240, 356, "件", "ken", (-0.2, 0.5)),
)  # fmt: skip

#: Latest values fixed by hand (the rest are a seeded walk): 待機児童 2人 in FY2022 is 60%.
FIXED_LATEST: dict[tuple[str, int], float] = {
    ("保育所入所待機児童数", 2022): 2,
    ("保育所入所待機児童数", 2023): 3,
    ("保育所入所待機児童数", 2024): 1,
    ("保育所入所待機児童数", 2025): 0,
    ("合計特殊出生率", 2022): 1.65,
    ("合計特殊出生率", 2023): 1.65,
    ("合計特殊出生率", 2024): 1.58,
    ("合計特殊出生率", 2025): 1.58,
}
#: As-of of the R3 latest values, and of 合計特殊出生率 in later years (a calendar-year range).
R3_LATEST_YEAR: dict[str, tuple[int, str]] = {
    "市民一人当たりの年間所得額": (2019, "fiscal"),  # R元年度
    "うきは市へのUターン者": (2021, "calendar"),  # R3年
    "合計特殊出生率": (2017, "calendar"),  # 平成25～29年
    "広域的連携事業(単なる会議等は除く)": (2021, "calendar"),  # 令和3年
}
BIRTH_RATE_AS_OF = {2022: "平成25～29年", 2023: "平成25～29年"}  # later: 平成30～令和4年


@dataclass(frozen=True)
class ProjectTruth:
    lineage: str  # `R3:<line>` for a project of the R3 sheet, `new:…` for an added one
    policy_no: int
    content: str
    flag: str
    rating: str
    departments: tuple[str, ...]
    line: int  # line in this year's text


@dataclass(frozen=True)
class KpiTruth:
    name: str
    level: str
    baseline: float
    target: float
    latest: float
    latest_year: int
    latest_year_kind: str  # 'fiscal' | 'calendar'
    unit: str | None


@dataclass(frozen=True)
class SheetYear:
    fiscal_year: int
    text: str
    projects: tuple[ProjectTruth, ...]
    kpis: tuple[KpiTruth, ...]
    synthetic: bool

    @property
    def file_name(self) -> str:
        n = self.fiscal_year - 2018
        if not self.synthetic:
            return R3_PATH.name
        return f"SYNTHETIC_ukiha_pdca_R{n}_FY{self.fiscal_year}.txt"


# --- generation -------------------------------------------------------------------------------

Row = tuple[str, list[str]]  # (lineage, cells)


def r3_rows() -> list[Row]:
    raw = R3_PATH.read_text(encoding="utf-8").split("\n")
    return [(f"R3:{i}", line.split("\t")) for i, line in enumerate(raw, start=1)]


def _is_project(cells: list[str]) -> bool:
    return len(cells) == 7 and cells[0] != "事業一覧" and cells[6] in set("ABCDE")


def _format(spec: KpiSpec, value: float, rng: random.Random) -> str:
    v = round(value)
    match spec.fmt:
        case "sen":
            return f"{round(value / 1000):,}千円"
        case "man":
            return f"{round(value / 10_000)}万人"
        case "nin":
            return f"{v}人"
        case "nin_comma":
            return f"{v:,}人"
        case "mei":
            return f"{v}名"
        case "ken":
            return f"{v}件"
        case "ken_note":
            return f"{v}件(うち人的交流を伴うもの{rng.randint(10, v)}件)"
        case "pct":
            return f"{v}%"
        case "pct2":
            return f"{value:.2f}%"
        case "rate":
            return f"{value:.2f}"
        case "jigyo":
            return f"{v}事業"
        case "dantai":
            return f"{v}団体"
    raise ValueError(spec.fmt)


def _round(spec: KpiSpec, value: float) -> float:
    if spec.fmt == "sen":
        return round(value / 1000) * 1000
    if spec.fmt == "man":
        return round(value / 10_000) * 10_000
    if spec.fmt in ("pct2", "rate"):
        return round(value, 2)
    return max(round(value), 0)


def _as_of(spec: KpiSpec, fy: int) -> tuple[str, int, str]:
    """(as written, year, kind) of the latest value in the sheet of `fy`."""
    if spec.name == "合計特殊出生率":
        text = BIRTH_RATE_AS_OF.get(fy, "平成30～令和4年")
        return text, 2017 if "29年" in text else 2022, "calendar"
    year = fy - spec.lag
    kind = "fiscal" if spec.as_of.endswith("年度") else "calendar"
    return spec.as_of.format(n=year - 2018), year, kind


def _truth(fy: int, rows: list[Row], kpis: tuple[KpiTruth, ...], synthetic: bool) -> SheetYear:
    projects = []
    policy = 0
    for i, (lineage, c) in enumerate(rows, start=1):
        heading = re.match(r"^(\d)\)", c[0]) if len(c) == 1 else None
        if heading and "(戦略P" in c[0]:
            policy = int(heading.group(1))
        if _is_project(c):
            projects.append(ProjectTruth(lineage, policy, c[3], c[4], c[6], tuple(c[1].split()), i))
    text = "\n".join("\t".join(c) for _, c in rows)
    return SheetYear(fy, text, tuple(projects), kpis, synthetic)


def all_years(seed: int = SEED) -> list[SheetYear]:
    """The real FY2021 sheet and the SYNTHETIC FY2022-2025 sheets, in fiscal-year order."""
    rng = random.Random(seed)
    rows = r3_rows()
    latest = {k.name: float(k.latest_r3) for k in KPIS}
    r3_kpis = tuple(
        KpiTruth(
            k.name,
            k.level,
            k.baseline,
            k.target,
            k.latest_r3,
            *R3_LATEST_YEAR.get(k.name, (2021, "fiscal")),
            k.unit,
        )
        for k in KPIS
    )
    years = [_truth(FIRST_FY, rows, r3_kpis, synthetic=False)]
    for fy in range(FIRST_FY + 1, LAST_FY + 1):
        rows = _next_year(rows, fy, rng)
        kpis = []
        for k in KPIS:
            fixed = FIXED_LATEST.get((k.name, fy))
            if fixed is None:
                lo, hi = k.step
                value = _round(k, latest[k.name] + (k.target - k.baseline) * rng.uniform(lo, hi))
            else:
                value = fixed
            latest[k.name] = value
            raw_as_of, year, kind = _as_of(k, fy)
            line = _line_of(rows, f"R3:{k.line}")
            rows[line][1][k.value_col] = _format(k, value, rng)
            rows[line][1][k.value_col + 1] = raw_as_of
            kpis.append(KpiTruth(k.name, k.level, k.baseline, k.target, value, year, kind, k.unit))
        years.append(_truth(fy, rows, tuple(kpis), synthetic=True))
    return years


def _line_of(rows: list[Row], lineage: str) -> int:
    return next(i for i, (ln, _) in enumerate(rows) if ln == lineage)


def _next_year(prev: list[Row], fy: int, rng: random.Random) -> list[Row]:
    """The sheet of `fy` from the sheet of the year before."""
    n = fy - 2018
    rows: list[Row] = [(ln, list(c)) for ln, c in prev]
    for _, c in rows:
        if c and c[0] == "事業一覧" and len(c) > 4:
            c[4] = c[4].replace(f"R{n - 1}年度", f"R{n}年度")
    by = {ln: c for ln, c in rows}
    for change, (line, old, new) in (
        ("punctuation_edit", PUNCTUATION_EDIT),
        ("word_edit", WORD_EDIT),
        ("short_edit", SHORT_EDIT),
    ):
        if fy == CHANGES_FROM[change]:
            assert by[f"R3:{line}"][3] == old, (change, by[f"R3:{line}"][3])
            by[f"R3:{line}"][3] = new
    if fy == CHANGES_FROM["added"]:
        at = _line_of(rows, f"R3:{ADDED_AFTER}") + 1
        rows.insert(at, (ADDED_LINEAGE, list(ADDED_CELLS)))
    if fy == CHANGES_FROM["swapped"]:
        i, j = (_line_of(rows, f"R3:{n}") for n in SWAPPED)
        rows[i], rows[j] = rows[j], rows[i]
    if fy == CHANGES_FROM["renamed"]:
        for _, c in rows:
            if _is_project(c) and RENAMED[0] in c[1].split():
                c[1] = c[1].replace(RENAMED[0], RENAMED[1])
    if fy == CHANGES_FROM["removed"]:
        del rows[_line_of(rows, f"R3:{REMOVED}")]
    if fy == CHANGES_FROM["stopped"]:
        c = rows[_line_of(rows, f"R3:{STOPPED}")][1]
        c[4], c[6] = "×", "E"
    # ratings move one step for about a third of the projects carried out (○, A-D)
    for ln, c in rows:
        if not _is_project(c) or c[4] != "○" or c[6] not in "ABCD":
            continue
        if ln in {f"R3:{m}" for m in MISMATCH_LINES}:
            continue
        if rng.random() < 0.3:
            step = rng.choice((-1, 1))
            c[6] = "ABCD"[min(max("ABCD".index(c[6]) + step, 0), 3)]
    return rows


def synthetic_year(fiscal_year: int, seed: int = SEED) -> SheetYear:
    """One SYNTHETIC year (FY2022-2025), or the real FY2021 sheet described the same way."""
    for y in all_years(seed):
        if y.fiscal_year == fiscal_year:
            return y
    raise ValueError(f"no sheet for FY{fiscal_year}: {FIRST_FY}-{LAST_FY} only")


def write_years(directory: Path, seed: int = SEED) -> list[Path]:
    """Write FY2021 (a copy of the real sheet) and the SYNTHETIC FY2022-2025 sheets."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for y in all_years(seed):
        path = directory / y.file_name
        path.write_text(y.text, encoding="utf-8")
        paths.append(path)
    return paths


def other_municipality(text: str) -> str:
    """SYNTHETIC: the same sheet, titled for a second municipality (みやこ町)."""
    assert UKIHA_TITLE in text
    return text.replace(UKIHA_TITLE, MIYAKO_TITLE)


def departments_csv(path: Path) -> Path:
    """The department master with the SYNTHETIC rename 都市計画準備課 → 都市計画課 (FY2023)."""
    with MASTER_PATH.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    old, new = RENAMED
    renamed = []
    for r in rows:
        if r["department"] == old:
            r["valid_to_fy"] = str(RENAMED_FROM_FY - 1)
            renamed.append(
                {
                    **r,
                    "department": new,
                    "valid_from_fy": str(RENAMED_FROM_FY),
                    "valid_to_fy": "",
                    "first_seen": f"SYNTHETIC FY{RENAMED_FROM_FY}",
                }
            )
    assert renamed, f"{old} is not in {MASTER_PATH}"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows + renamed)
    return path


if __name__ == "__main__":  # python -m tests.synthetic.generate OUT_DIR
    import sys

    for p in write_years(Path(sys.argv[1] if len(sys.argv) > 1 else "synthetic_sheets")):
        print(p)
