"""Read time of the R3 sheet as an .xlsx workbook: openpyxl (read-only) against python-calamine.

Builds the R3 workbook in a temporary folder (one worksheet, one row per text line, numbers
stored as numbers, percentages as fractions with a % format), then times, interleaved in one
process, the median of several runs of:

- `openpyxl` read-only, `data_only=True`: every cell's value and number format (the raw
  cost of the reader `ukiha_pipeline.reading.workbook` is built on);
- `ukiha read_workbook_grid`: the project's reader end to end (openpyxl plus cell rendering,
  the hidden-worksheet and formula checks and the SHA-256 of the file);
- `python-calamine`: every cell's value (no number formats: it cannot tell 0.376 from 37.6%).

and, in fresh interpreters, what importing each reader adds to a bare `python -c pass` and
to the imports `ukiha validate` has already made (paid once per run on a workbook).

    .venv/bin/python benchmarks/xlsx_readers.py [--runs 15]

python-calamine is not a dependency; without it that line is skipped
(`pip install python-calamine` to compare).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHEET = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
#: What `ukiha validate` has imported before it reads a sheet.
VALIDATE_IMPORTS = "import pandas, pandera.pandas, duckdb"
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_PERCENT = re.compile(r"([0-9]+)(\.([0-9]+))?%")


def build_r3_workbook(out: Path) -> Path:
    """The R3 text export as a one-worksheet workbook, numbers and percentages typed."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "PDCAシート"
    for r, line in enumerate(SHEET.read_text(encoding="utf-8").split("\n")[:-1], start=1):
        for c, text in enumerate(line.split("\t"), start=1):
            if not text:
                continue
            cell = ws.cell(r, c)
            if _NUMBER.fullmatch(text):
                cell.value = float(text) if "." in text else int(text)
            elif m := _PERCENT.fullmatch(text):
                cell.value = float(text[:-1]) / 100
                cell.number_format = "0." + "0" * len(m.group(3)) + "%" if m.group(3) else "0%"
            else:
                cell.value = text
    wb.save(out)
    return out


def read_openpyxl(path: Path) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    _ = cell.number_format
                    n += 1
    wb.close()
    return n


def read_ukiha(path: Path) -> int:
    from ukiha_pipeline.reading.workbook import read_workbook_grid

    grid = read_workbook_grid(path)
    return sum(1 for row in grid.rows for c in row if c)


def read_calamine(path: Path) -> int:
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    n = 0
    for name in wb.sheet_names:
        for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False):
            n += sum(1 for v in row if v != "")
    wb.close()
    return n


def import_cost(module: str, runs: int, before: str = "pass") -> float:
    """Median wall time of `python -c "BEFORE; import MODULE"` minus that of `BEFORE` alone."""

    def wall(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare, with_module = [], []
    for _ in range(runs):
        bare.append(wall(before))
        with_module.append(wall(f"{before}; import {module}"))
    return statistics.median(with_module) - statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    readers: dict[str, Callable[[Path], int]] = {
        "openpyxl read-only": read_openpyxl,
        "ukiha read_workbook_grid": read_ukiha,
    }
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        print("python-calamine not installed: skipped")
    else:
        readers["python-calamine"] = read_calamine
    with tempfile.TemporaryDirectory() as tmp:
        path = build_r3_workbook(Path(tmp) / "r3.xlsx")
        cells = {name: fn(path) for name, fn in readers.items()}  # warm imports and file cache
        times: dict[str, list[float]] = {name: [] for name in readers}
        for _ in range(args.runs):
            for name, fn in readers.items():
                start = time.perf_counter()
                fn(path)
                times[name].append(time.perf_counter() - start)
        print(f"R3 workbook {path.stat().st_size} bytes, runs {args.runs} (interleaved)")
        for name, ts in times.items():
            print(
                f"{name:<26} median {statistics.median(ts) * 1000:7.2f} ms"
                f"  (min {min(ts) * 1000:.2f}, max {max(ts) * 1000:.2f})  cells {cells[name]}"
            )
    runs = max(3, args.runs // 3)
    modules = ["openpyxl"] + (["python_calamine"] if "python-calamine" in readers else [])
    for module in modules:
        alone = import_cost(module, runs)
        after = import_cost(module, runs, VALIDATE_IMPORTS)
        print(
            f"import {module:<19} median {alone * 1000:7.2f} ms alone, "
            f"{after * 1000:7.2f} ms after `{VALIDATE_IMPORTS}`  ({runs} runs)"
        )


if __name__ == "__main__":
    main()
