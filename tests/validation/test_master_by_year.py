"""The department master by fiscal year (schemas/departments.csv, valid_from_fy / valid_to_fy).

A 課 or 係 renamed in a later year is valid from that year on and unknown before it, and the
old name is unknown from that year on. The master here is SYNTHETIC: a copy of
`schemas/departments.csv` made in tmp_path with these made-up changes from FY2022:

- section renamed: 建設課 公共土木係 ends at 2021, 建設課 河川土木係 starts at 2022;
- department renamed: 都市計画準備課 (計画・準備係) ends at 2021, 都市計画課 starts at 2022;
- new department and section: うきは未来創造課 未来係 from 2022.

The sheets are the REAL R3 sheet (FY2021) and copies made in tmp_path: FY2022 by turning the
`R3年度` of every 事業一覧 header into `R4年度`, and "new names" by writing the new names into
the rows that carry the old ones (line 89, lines 105/181/182) and line 92 into
うきは未来創造課 未来係.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ukiha_pipeline.parsing import parse_grid
from ukiha_pipeline.reading import read_grid
from ukiha_pipeline.settings import DEFAULT_DEPARTMENTS
from ukiha_pipeline.validation import RulesContext, load_context, validate_path
from ukiha_pipeline.validation.reference import derive_master, load_master

REPO = Path(__file__).resolve().parents[2]
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
RAW = R3.read_text(encoding="utf-8").split("\n")
UNKNOWN = ("unknown_department", "unknown_section")

RENAMED_SECTION_LINE = 89  # 建設課 市民協働推進課 / 公共土木係 消防防災係
RENAMED_DEPARTMENT_LINES = (105, 181, 182)  # 都市計画準備課 / 計画・準備係
NEW_DEPARTMENT_LINE = 92  # 市民協働推進課 / 消防防災係 → うきは未来創造課 / 未来係


def master_csv(path: Path) -> Path:
    with DEFAULT_DEPARTMENTS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    for row in rows:
        if (row["department"], row["section"]) in {
            ("建設課", "公共土木係"),
            ("都市計画準備課", "計画・準備係"),
        }:
            row["valid_to_fy"] = "2021"
    rows += [
        {
            "department": d,
            "section": s,
            "valid_from_fy": "2022",
            "valid_to_fy": "",
            "first_seen": "",
        }
        for d, s in (
            ("建設課", "河川土木係"),
            ("都市計画課", "計画・準備係"),
            ("うきは未来創造課", "未来係"),
        )
    ]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def replace_cells(lines: list[str], line: int, old: tuple[str, str], new: tuple[str, str]) -> None:
    cells = lines[line - 1].split("\t")
    assert (cells[1], cells[2]) == old, (line, cells[:3])
    cells[1], cells[2] = new
    lines[line - 1] = "\t".join(cells)


def sheet(folder: Path, fiscal_year: int, *, new_names: bool) -> Path:
    lines = list(RAW)
    if fiscal_year == 2022:
        headers = [i for i, ln in enumerate(lines) if ln.startswith("事業一覧\t")]
        assert len(headers) == 9
        for i in headers:
            assert "R3年度" in lines[i]
            lines[i] = lines[i].replace("R3年度", "R4年度")
    if new_names:
        replace_cells(
            lines,
            RENAMED_SECTION_LINE,
            ("建設課 市民協働推進課", "公共土木係 消防防災係"),
            ("建設課 市民協働推進課", "河川土木係 消防防災係"),
        )
        for n in RENAMED_DEPARTMENT_LINES:
            replace_cells(
                lines, n, ("都市計画準備課", "計画・準備係"), ("都市計画課", "計画・準備係")
            )
        replace_cells(
            lines,
            NEW_DEPARTMENT_LINE,
            ("市民協働推進課", "消防防災係"),
            ("うきは未来創造課", "未来係"),
        )
    path = folder / f"fy{fiscal_year}_{'new' if new_names else 'old'}_names.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> RulesContext:
    folder = tmp_path_factory.mktemp("master")
    return load_context(
        departments_file=master_csv(folder / "departments.csv"),
        waivers_file=folder / "no_waivers.toml",
    )


OLD_NAMES_IN_2022 = {
    (RENAMED_SECTION_LINE, "unknown_section", "公共土木係"),
    *((n, "unknown_department", "都市計画準備課") for n in RENAMED_DEPARTMENT_LINES),
}
NEW_NAMES_IN_2021 = {
    (RENAMED_SECTION_LINE, "unknown_section", "河川土木係"),
    *((n, "unknown_department", "都市計画課") for n in RENAMED_DEPARTMENT_LINES),
    (NEW_DEPARTMENT_LINE, "unknown_department", "うきは未来創造課"),
    (NEW_DEPARTMENT_LINE, "unknown_section", "未来係"),
}


@pytest.mark.parametrize(
    ("fiscal_year", "new_names", "expected"),
    [
        (2021, False, set()),
        (2021, True, NEW_NAMES_IN_2021),
        (2022, False, OLD_NAMES_IN_2022),
        (2022, True, set()),
    ],
    ids=["fy2021-old-names", "fy2021-new-names", "fy2022-old-names", "fy2022-new-names"],
)
def test_unknown_names_by_fiscal_year(
    tmp_path: Path,
    ctx: RulesContext,
    fiscal_year: int,
    new_names: bool,
    expected: set[tuple[int, str, str]],
) -> None:
    result = validate_path(sheet(tmp_path, fiscal_year, new_names=new_names), ctx)
    assert result.sheet is not None and result.sheet.fiscal_year == fiscal_year
    found = [(f.line, f.check, f.value) for f in result.failures if f.check in UNKNOWN]
    assert len(found) == len(set(found))
    assert set(found) == expected
    assert all(f.severity == "error" for f in result.failures if f.check in UNKNOWN)
    # nothing else changes: the sheet's own three warnings stay as they are
    assert [(f.line, f.check) for f in result.failures if f.severity == "warning"] == [
        (90, "flag_rating_mismatch"),
        (146, "flag_rating_mismatch"),
        (147, "flag_rating_mismatch"),
    ]


def test_an_unknown_name_gets_the_closest_name_of_that_year(
    tmp_path: Path, ctx: RulesContext
) -> None:
    result = validate_path(sheet(tmp_path, 2022, new_names=False), ctx)
    [f] = [f for f in result.failures if f.check == "unknown_section"]
    assert "河川土木係" in f.message + f.hint  # the 2022 name, not the one that ended in 2021


def test_master_lookups_by_year(tmp_path: Path) -> None:
    master = load_master(master_csv(tmp_path / "departments.csv"))
    assert "都市計画準備課" in master.departments(2021)
    assert "都市計画準備課" not in master.departments(2022)
    assert "都市計画課" not in master.departments(2021)
    assert {"都市計画課", "うきは未来創造課", "建設課"} <= master.departments(2022)
    assert ("建設課", "公共土木係") in master.pairs(2021)
    assert ("建設課", "公共土木係") not in master.pairs(2022)
    assert ("建設課", "河川土木係") in master.pairs(2022)
    assert [d for d, s in master.pairs(2021) if s == "計画・準備係"] == ["都市計画準備課"]
    assert [d for d, s in master.pairs(2022) if s == "計画・準備係"] == ["都市計画課"]
    # open ends: a pair valid from 2021 with no end is valid in any later year
    assert ("農林振興課", "農政係") in master.pairs(2030)
    assert master.departments(2020) == set()  # nothing is valid before the R3 sheet


def test_schemas_master_is_what_the_r3_sheet_shows() -> None:
    """`schemas/departments.csv` was derived from the R3 sheet: (課, 係, first line)."""
    with DEFAULT_DEPARTMENTS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    derived = derive_master(parse_grid(read_grid(R3)))
    assert [(r["department"], r["section"], r["first_seen"]) for r in rows] == [
        (d, s, f"R3 line {line}") for d, s, line in derived
    ]
    assert {(r["valid_from_fy"], r["valid_to_fy"]) for r in rows} == {("2021", "")}
