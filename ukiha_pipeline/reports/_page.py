"""The page around the tables: one small HTML template, house table style, safe writing.

Every piece of a page is `SafeHtml`: either a great-tables fragment (great-tables escapes cell
text, labels, titles and notes) or text escaped here with `html.escape`. `page()` refuses
output that would fetch anything (a `<script>`, `<link>` or CSS `@import`/`url(`), so the
reports work offline.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NewType
from urllib.parse import quote

from great_tables import GT

from ukiha_pipeline.errors import ReportError
from ukiha_pipeline.normalize import RATINGS
from ukiha_pipeline.reports import _gt_pandas
from ukiha_pipeline.reports._format import MISSING, RATING_PALETTE, RATING_TEXT

_gt_pandas.install()  # every report table is rendered through `table()` below

SafeHtml = NewType("SafeHtml", str)

INDEX_FILENAME = "index.html"

#: System fonts only (no web fonts): Japanese faces first, then great-tables' own stack.
FONT_STACK: tuple[str, ...] = (
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Yu Gothic UI",
    "Yu Gothic",
    "Meiryo",
    "Noto Sans CJK JP",
    "Noto Sans JP",
)

_PAGE_CSS = """
body { font-family: FONTS, sans-serif; color: #333; margin: 1.5em auto; max-width: 84em;
       padding: 0 1em; line-height: 1.5; }
h1 { font-size: 1.5em; border-bottom: 2px solid #A8A8A8; padding-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; }
nav { font-size: .9em; }
nav.toc a { margin-right: 1em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
p.empty { padding: .8em 1em; background: #f1f8e9; border-left: 4px solid #7cb342; }
p.note { font-size: .9em; color: #555; }
p.alert { padding: .8em 1em; background: #fdecea; border-left: 4px solid #e53935; }
.sub { display: block; font-size: .85em; color: #666; }
.chip { display: inline-block; min-width: 1.6em; padding: 0 .3em; border-radius: 3px;
        text-align: center; font-weight: bold; }
.dist { display: inline-flex; width: 10em; height: .9em; background: #eee;
        vertical-align: middle; border-radius: 2px; overflow: hidden; }
.dist .seg { display: block; height: 100%; }
RATING_CLASSES
.prog { display: inline-flex; align-items: center; gap: .4em; white-space: nowrap; }
.prog .track { position: relative; display: inline-block; width: 6em; height: .8em;
               background: #eee; border-radius: 2px; }
.prog .fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 2px; }
.prog .tick { position: absolute; top: -.2em; bottom: -.2em; width: 2px; background: #333; }
.prog .pct { min-width: 4.5em; text-align: right; }
.ok { color: #2e7d32; } .behind { color: #c62828; } .na { color: #888; }
.fill.ok { background: #43a047; } .fill.behind { background: #e57373; }
.fill.na { background: #90a4ae; }
.mark { font-weight: bold; }
svg.spark { vertical-align: middle; overflow: visible; }
svg.spark polyline { fill: none; stroke: #1565c0; stroke-width: 1.5; }
svg.spark circle { fill: #1565c0; }
svg.spark circle.last { fill: #0d47a1; r: 3.5; }
svg.spark line.target { stroke: #c62828; stroke-width: 1; stroke-dasharray: 3 2; }
.up { color: #2e7d32; } .down { color: #c62828; } .stop { color: #6d4c41; }
.warn { color: #b26a00; }
details summary { cursor: pointer; color: #1565c0; }
#annual-departments td.gt_row { vertical-align: top; }
ul.plist { margin: .3em 0; padding-left: 0; list-style: none; }
ul.plist li { margin: .15em 0; }
ul.plist .place { color: #666; font-size: .9em; }
th.gt_col_heading, td[headers$="-level"], td[headers$="-column"], td[headers$="-check"],
td[headers$="-severity"], td[headers$="-place"], td[headers$="-latest_year"],
td[headers$="-at"] { white-space: nowrap; }
"""

#: What a page must not contain: anything that makes the browser fetch (DESIGN §6).
_FETCHING_TAG = re.compile(r"<\s*(script|link|iframe|object|embed|img|base)\b", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_CSS_URL = re.compile(r"url\s*\(", re.IGNORECASE)

#: Characters that cannot be in a file name on common systems (or would make a path).
_UNSAFE_IN_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


#: Marks a page with what it was rendered from; see `page_fingerprint`.
_FINGERPRINT_META = '<meta name="ukiha-report-fingerprint" content="{}">'
_FINGERPRINT = re.compile(r'<meta name="ukiha-report-fingerprint" content="([0-9a-f]+)">')


def _css() -> str:
    ratings = "\n".join(
        f".r{r} {{ background: {bg}; color: {fg}; }}"
        for r, bg, fg in zip(RATINGS, RATING_PALETTE, RATING_TEXT, strict=True)
    )
    fonts = ", ".join(repr(f) for f in FONT_STACK)
    return _PAGE_CSS.replace("FONTS", fonts).replace("RATING_CLASSES", ratings)


def heading(text: str, level: int = 2, *, anchor: str | None = None) -> SafeHtml:
    attr = f' id="{html.escape(anchor, quote=True)}"' if anchor else ""
    return SafeHtml(f"<h{level}{attr}>{html.escape(text)}</h{level}>")


def toc(entries: Sequence[tuple[str, str]]) -> SafeHtml:
    """In-page links `(anchor, text)` to the sections below."""
    links = " ".join(
        f'<a href="#{html.escape(anchor, quote=True)}">{html.escape(text)}</a>'
        for anchor, text in entries
    )
    return SafeHtml(f'<nav class="toc">{links}</nav>')


def paragraph(text: str, *, css_class: str | None = None) -> SafeHtml:
    attr = f' class="{html.escape(css_class)}"' if css_class else ""
    return SafeHtml(f"<p{attr}>{html.escape(text)}</p>")


def facts(
    items: Sequence[tuple[str, str | None]], *, html_items: Sequence[tuple[str, SafeHtml]] = ()
) -> SafeHtml:
    """A short list of `label: value` lines; missing values print as —.

    `html_items` follow, with values that are already safe markup (a link to another report).
    """
    rows = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value if value else MISSING)}</dd>"
        for label, value in items
    )
    rows += "".join(f"<dt>{html.escape(label)}</dt><dd>{value}</dd>" for label, value in html_items)
    return SafeHtml(f'<dl class="facts">{rows}</dl>')


def file_name_part(text: str) -> str:
    """Sheet text (a municipality, a file stem) made safe as part of a report's file name."""
    return _UNSAFE_IN_NAME.sub("_", text).strip() or "_"


def href(filename: str) -> str:
    """A link target for a report file in the same folder (percent-encoded, then escaped)."""
    return html.escape(quote(filename), quote=True)


def link_list(links: Sequence[tuple[str, str]]) -> SafeHtml:
    """`(filename, text)` pairs as a list of links."""
    if not links:
        return paragraph("ありません", css_class="note")
    items = "".join(
        f'<li><a href="{href(name)}">{html.escape(text)}</a></li>' for name, text in links
    )
    return SafeHtml(f"<ul>{items}</ul>")


def table(gt: GT, *, html_columns: Sequence[str] = ()) -> SafeHtml:
    """A great-tables fragment in the house style (system fonts, — for missing values).

    `html_columns` hold markup built by `_cells` (escaped there); great-tables escapes the rest.
    """
    if html_columns:
        gt = gt.fmt_passthrough(columns=list(html_columns), escape=False)
    styled = (
        gt.sub_missing(missing_text=MISSING)
        .opt_table_font(font=list(FONT_STACK))
        .tab_options(table_font_size="14px", table_margin_left="0", table_margin_right="0")
    )
    return SafeHtml(styled.as_raw_html())


def page(
    title: str, parts: Sequence[SafeHtml], *, home: bool = True, fingerprint: str | None = None
) -> str:
    """A whole HTML page (UTF-8, Japanese) around the parts; checked to fetch nothing.

    `fingerprint` (hex) is recorded in a meta tag so that an unchanged page need not be
    rendered again (`page_fingerprint`).
    """
    nav = f'<nav><a href="{href(INDEX_FILENAME)}">レポート一覧へ戻る</a></nav>\n' if home else ""
    body = "\n".join(parts)
    mark = _FINGERPRINT_META.format(fingerprint) + "\n" if fingerprint else ""
    text = (
        "<!DOCTYPE html>\n"
        '<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{mark}"
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_css()}</style>\n"
        f"</head>\n<body>\n{nav}<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )
    return offline(text)


def offline(text: str) -> str:
    """Drop CSS `@import`s (a web font) and refuse anything else that would fetch.

    Sheet text is escaped before it gets here, so a raw tag can only come from code or from a
    great-tables change; that is a bug to surface, not to hide.
    """
    text = _STYLE_BLOCK.sub(_without_imports, text)
    found = _FETCHING_TAG.search(text)
    if found:
        raise ReportError(f"report would fetch a resource: {found.group(0)!r}")
    for block in _STYLE_BLOCK.findall(text):
        if _CSS_URL.search(block):
            raise ReportError("report CSS refers to an external resource (url(...))")
    return text


def _without_imports(style: re.Match[str]) -> str:
    return _CSS_IMPORT.sub("", style.group(0))


def page_fingerprint(path: Path) -> str | None:
    """The fingerprint recorded in an existing page's head, or None (no page, no mark)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(1024)
    except OSError:
        return None
    found = _FINGERPRINT.search(head)
    return found.group(1) if found else None


def write_page(path: Path, text: str) -> Path:
    """Write a page atomically (readers never see half a page); UTF-8, LF line ends.

    The temporary file's name is unique, so two renders into one folder (a steward's
    `ukiha report` during the yearly run) never write into each other's: the last one wins,
    whole."""
    tmp: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            newline="\n",
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
        ) as fh:
            tmp = Path(fh.name)
            fh.write(text)
        os.chmod(tmp, 0o644)  # readable by all, as a web page is (mkstemp makes it 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write report {path}: {exc}") from exc
    return path
