"""Helpers of the report tests: a headless Chromium that loads rendered pages and a parsed
DOM to query, SYNTHETIC later-year sheets made from the real R3 sheet, and warehouses built
from sheets (through validation and the loader) or cloned by SQL for scale tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ukiha_pipeline.reports import render_all
from ukiha_pipeline.validation import load_context, validate_path
from ukiha_pipeline.warehouse import load_result, open_warehouse

REPO = Path(__file__).resolve().parents[2]
R3 = REPO / "data" / "raw" / "ukiha_pdca_R3_FY2021.txt"
MARKUP = "<img src=x onerror=alert(1)>"

# Browser ----------------------------------------------------------------------------------

#: Flags from the issue, plus a resolver that resolves nothing: a page that tried to fetch
#: anything from the network could not, and Chromium's own background calls stay local.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


@dataclass
class Node:
    """An element of a dumped DOM: enough to find cells and read their text."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in attrs.items())
        ]

    def by_id(self, id_: str) -> Node:
        found = self.find_all(id=id_)
        assert len(found) == 1, f"{len(found)} elements with id {id_!r}"
        return found[0]

    def rows(self) -> list[list[str]]:
        """The text of each body row's cells (whitespace collapsed), for a table element."""
        return [
            [" ".join(td.text().split()) for td in tr.find_all("td")]
            for tr in self.find_all("tr")
            if tr.find_all("td") and not tr.find_all("th")
        ]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_dom(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


class Browser:
    """Headless Chromium, a fresh profile per page load."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        self.shots = workdir / "screenshots"
        self.shots.mkdir(parents=True, exist_ok=True)

    def _run(self, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
        profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=self.workdir)
        try:
            return subprocess.run(
                [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                 page.resolve().as_uri()],
                capture_output=True, text=True, timeout=120, check=True,
                env={**os.environ, "LANG": "ja_JP.UTF-8"},
            )  # fmt: skip
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    def load(self, page: Path, screenshot: str | None = None) -> Node:
        """Open the page from disk; return its DOM after loading (`--dump-dom`), parsed.

        With `screenshot`, the same load also writes a 1400x2000 PNG of it into the test's
        folder, copied to `UKIHA_SCREENSHOT_DIR` (when set) as a test artifact.
        """
        args = ["--dump-dom"]
        shot = self.shots / f"{screenshot}.png" if screenshot else None
        if shot is not None:
            args += [f"--screenshot={shot}", "--window-size=1400,2000", "--hide-scrollbars"]
        dom = parse_dom(self._run(page, *args).stdout)
        if shot is not None:
            assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot of {page}"
            artifacts = os.environ.get("UKIHA_SCREENSHOT_DIR")
            if artifacts:
                Path(artifacts).mkdir(parents=True, exist_ok=True)
                shutil.copy2(shot, Path(artifacts) / shot.name)
        return dom


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


# Warehouses -------------------------------------------------------------------------------


def synthetic_year(
    r3_text: str, fiscal_year: int, *, markup: bool = False, markup_rating: bool = False
) -> str:
    """A SYNTHETIC later-year sheet made from the R3 text (not real data).

    The table headers say `R<n>年度` (so the sheet is FY `fiscal_year`), KPI values as of
    `令和<n>年度` move on, and some project ratings change (with the flag following an E). With
    `markup` one project's content carries an HTML tag; with `markup_rating` another project's
    rating cell is that tag (a `rating_invalid` error). Every report must show it as text.
    """
    n = fiscal_year - 2018
    step = fiscal_year - 2021
    lines = r3_text.split("\n")
    out = []
    project = 0
    for line in lines:
        cells = line.split("\t")
        if "R3年度" in line and cells[0].startswith("事業一覧"):
            line = line.replace("R3年度", f"R{n}年度")
        elif line.startswith("KPI") and cells[-1] == "令和3年度":
            cells[-1] = f"令和{n}年度"
            if "207人" in cells:
                cells[cells.index("207人")] = f"{207 + 8 * step}人"
            line = "\t".join(cells)
        elif len(cells) == 7 and cells[4] in {"○", "×"} and cells[6] in set("ABCDE"):
            project += 1
            cells[6], cells[4] = _changed_rating(cells[6], cells[4], project, step)
            if markup and project == 2:
                cells[3] = f"{cells[3]}{MARKUP}"
            if markup_rating and project == 3:
                cells[6] = MARKUP
            line = "\t".join(cells)
        out.append(line)
    return "\n".join(out)


def _changed_rating(rating: str, flag: str, project: int, step: int) -> tuple[str, str]:
    """Deterministic changes: some projects improve, some slip, one stops each year."""
    order = "ABCDE"
    i = order.index(rating)
    if project == 10 + step:  # stopped: not carried out this year
        return "E", "×"
    if rating == "E":
        return rating, flag
    if project % 5 == step % 5 and i > 0:
        return order[i - 1], flag
    if project % 7 == step % 7 and i < 3:
        return order[i + 1], flag
    return rating, flag


@dataclass(frozen=True)
class Rendered:
    """A warehouse file and the reports rendered from it."""

    warehouse: Path
    reports: Path
    pages: tuple[Path, ...]
    seconds: float


def build_and_render(tmp: Path, sheets: list[Path]) -> Rendered:
    import time

    ctx = load_context()
    warehouse = tmp / "ukiha.duckdb"
    with open_warehouse(warehouse) as con:
        for i, sheet in enumerate(sheets, start=1):
            load_result(con, validate_path(sheet, ctx), ctx, run_id=f"test-run-{i}")
        start = time.perf_counter()
        pages = render_all(con, tmp / "reports")
        seconds = time.perf_counter() - start
    return Rendered(warehouse, tmp / "reports", tuple(pages), seconds)


def many_sheets(seed: Path, target: Path, n_municipalities: int, years: range) -> None:
    """A SYNTHETIC warehouse of `n_municipalities` x `len(years)` sheets, cloned by SQL from
    the rows of a seed warehouse (the real R3 load): ratings and latest values are shuffled
    per municipality and year, and each sheet keeps the seed's validation failures."""
    import duckdb

    from ukiha_pipeline.warehouse.schema import create_all_sql

    con = duckdb.connect(str(target))
    try:
        for stmt in create_all_sql():
            con.execute(stmt)
        con.execute(f"ATTACH '{seed}' AS seed (READ_ONLY)")
        con.execute(
            """
            CREATE TEMP TABLE ms AS
            SELECT CASE WHEN i = 0 THEN 'うきは市' ELSE '合成市' || lpad(i::VARCHAR, 4, '0') END
                   AS m
            FROM range($n) t(i)
            """,
            {"n": n_municipalities},
        )
        con.execute(
            "CREATE TEMP TABLE ys AS SELECT unnest($y::INTEGER[]) AS fy", {"y": list(years)}
        )
        for table in ("policies", "measures", "submeasures", "project_departments",
                      "kpi_departments"):  # fmt: skip
            con.execute(
                f"""INSERT INTO {table} BY NAME
                SELECT t.* REPLACE (ms.m AS municipality, ys.fy AS fiscal_year)
                FROM seed.{table} t, ms, ys"""
            )
        con.execute(
            """
            INSERT INTO projects BY NAME
            SELECT t.* REPLACE (
                ms.m AS municipality, ys.fy AS fiscal_year,
                substr('ABCDE', 1 + (hash(t.project_key, ms.m, ys.fy) % 5)::INTEGER, 1) AS rating,
                substr('ABCDE', 1 + (hash(t.project_key, ms.m, ys.fy) % 5)::INTEGER, 1) <> 'E'
                    AS commercialized)
            FROM seed.projects t, ms, ys
            """
        )
        con.execute(
            """
            INSERT INTO kpis BY NAME
            SELECT t.* REPLACE (
                ms.m AS municipality, ys.fy AS fiscal_year,
                t.latest_value * (1 + 0.05 * (ys.fy - 2021)) AS latest_value,
                NULL AS raw_latest,
                CASE WHEN t.latest_year >= 2021 THEN ys.fy ELSE t.latest_year END AS latest_year)
            FROM seed.kpis t, ms, ys
            """
        )
        con.execute(
            """
            INSERT INTO sheets BY NAME
            SELECT md5(ms.m || ys.fy) AS sheet_id, ms.m AS municipality, ys.fy AS fiscal_year,
                   'data/raw/' || ms.m || '_FY' || ys.fy || '.txt' AS source_file,
                   sha256(ms.m || ys.fy) AS source_sha256,
                   TIMESTAMPTZ '2026-06-01 06:00:00+09' AS ingested_at,
                   'run-scale' AS run_id, 'current' AS status,
                   99 AS n_projects, 17 AS n_kpis, 0 AS n_quarantined, 0 AS n_errors,
                   3 AS n_warnings
            FROM ms, ys
            """
        )
        con.execute(
            """
            INSERT INTO validation_failures BY NAME
            SELECT t.* REPLACE (
                'data/raw/' || ms.m || '_FY' || ys.fy || '.txt' AS source_file,
                'run-scale' AS run_id, ms.m AS municipality, ys.fy AS fiscal_year,
                TIMESTAMPTZ '2026-06-01 06:00:00+09' AS recorded_at)
            FROM seed.validation_failures t, ms, ys
            """
        )
    finally:
        con.close()


# Worker processes -------------------------------------------------------------------------
# Chunk functions for `_parallel.for_each_chunk`: module-level, so that workers import them.


def failing_chunk(con: object, chunk: object) -> None:
    """A bug in the work: not one of the package's errors."""
    raise KeyError("boom")


def dying_chunk(con: object, chunk: object) -> None:
    """A worker that dies (killed, out of memory)."""
    os._exit(3)
