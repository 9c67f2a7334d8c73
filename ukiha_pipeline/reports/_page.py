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
from collections.abc import Sequence
from pathlib import Path
from typing import NewType
from urllib.parse import quote

from great_tables import GT

from ukiha_pipeline.errors import ReportError
from ukiha_pipeline.reports._format import MISSING

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
body { font-family: %s, sans-serif; color: #333; margin: 1.5em auto; max-width: 80em;
       padding: 0 1em; line-height: 1.5; }
h1 { font-size: 1.5em; border-bottom: 2px solid #A8A8A8; padding-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; }
nav { font-size: .9em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
p.empty { padding: .8em 1em; background: #f1f8e9; border-left: 4px solid #7cb342; }
p.note { font-size: .9em; color: #555; }
"""

#: What a page must not contain: anything that makes the browser fetch (DESIGN §6).
_FETCHING_TAG = re.compile(r"<\s*(script|link|iframe|object|embed|img|base)\b", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_CSS_URL = re.compile(r"url\s*\(", re.IGNORECASE)

#: Characters that cannot be in a file name on common systems (or would make a path).
_UNSAFE_IN_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def heading(text: str, level: int = 2) -> SafeHtml:
    return SafeHtml(f"<h{level}>{html.escape(text)}</h{level}>")


def paragraph(text: str, *, css_class: str | None = None) -> SafeHtml:
    attr = f' class="{html.escape(css_class)}"' if css_class else ""
    return SafeHtml(f"<p{attr}>{html.escape(text)}</p>")


def facts(items: Sequence[tuple[str, str | None]]) -> SafeHtml:
    """A short list of `label: value` lines; missing values print as —."""
    rows = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value if value else MISSING)}</dd>"
        for label, value in items
    )
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


def table(gt: GT) -> SafeHtml:
    """A great-tables fragment in the house style (system fonts, — for missing values)."""
    styled = (
        gt.sub_missing(missing_text=MISSING)
        .opt_table_font(font=list(FONT_STACK))
        .tab_options(table_font_size="14px", table_margin_left="0", table_margin_right="0")
    )
    return SafeHtml(styled.as_raw_html())


def page(title: str, parts: Sequence[SafeHtml], *, home: bool = True) -> str:
    """A whole HTML page (UTF-8, Japanese) around the parts; checked to fetch nothing."""
    nav = f'<nav><a href="{href(INDEX_FILENAME)}">レポート一覧へ戻る</a></nav>\n' if home else ""
    body = "\n".join(parts)
    text = (
        "<!DOCTYPE html>\n"
        '<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_PAGE_CSS % ', '.join(repr(f) for f in FONT_STACK)}</style>\n"
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


def write_page(path: Path, text: str) -> Path:
    """Write a page atomically (readers never see half a page); UTF-8, LF line ends."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write report {path}: {exc}") from exc
    return path
