"""Small pieces of HTML that go inside table cells: rating chips, bars, sparklines, links.

Each function builds its markup from numbers and from text it escapes itself, and returns
`SafeHtml`. Tables mark the columns holding these as HTML (`_page.table(html_columns=...)`);
every other cell is escaped by great-tables. The styles are classes of the page's CSS (no
inline colours from data, no external resources, no script).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from ukiha_pipeline.normalize import RATINGS
from ukiha_pipeline.reports._format import (
    MISSING,
    format_percent,
    is_missing,
    on_track_mark,
    rating_label,
)
from ukiha_pipeline.reports._page import SafeHtml, href

_SPARK_W = 120
_SPARK_H = 30
_SPARK_PAD = 4


def _float(value: object) -> float | None:
    if value is None or is_missing(value):
        return None
    return float(value)  # type: ignore[arg-type]  # numbers from the warehouse


def _bool(value: object) -> bool | None:
    if value is None or is_missing(value):
        return None
    return bool(value)


def text(value: object) -> SafeHtml:
    """Plain text, escaped; missing values print as —."""
    if value is None or is_missing(value):
        return SafeHtml(MISSING)
    return SafeHtml(html.escape(str(value)))


def with_note(main: object, note: object = None, *, title: object = None) -> SafeHtml:
    """A value with a smaller grey line under it (a KPI's definition, a value's note).

    `title` (e.g. the value as the sheet wrote it) shows when the pointer rests on the value.
    """
    attr = ""
    if title is not None and not is_missing(title) and str(title) != str(main):
        attr = f' title="{html.escape(str(title), quote=True)}"'
    out = f"<span{attr}>{text(main)}</span>"
    if note is not None and not is_missing(note) and str(note):
        out += f' <span class="sub">{html.escape(str(note))}</span>'
    return SafeHtml(out)


def link(filename: str, label: str) -> SafeHtml:
    """A link to another report in the same folder."""
    return SafeHtml(f'<a href="{href(filename)}">{html.escape(label)}</a>')


def chip(rating: object, legend: Mapping[str, str]) -> SafeHtml:
    """A rating as a coloured badge (`A`, with `A 順調` on hover); — when missing."""
    if rating not in RATINGS:
        return text(rating if isinstance(rating, str) and rating else None)
    r = str(rating)
    label = html.escape(rating_label(r, legend), quote=True)
    return SafeHtml(f'<span class="chip r{r}" title="{label}">{r}</span>')


def distribution(counts: Mapping[str, int], legend: Mapping[str, str]) -> SafeHtml:
    """A stacked A-E bar: each rating's share of the rated projects, in its colour."""
    total = sum(int(counts.get(r, 0)) for r in RATINGS)
    if total == 0:
        return SafeHtml(MISSING)
    words = "、".join(f"{rating_label(r, legend)} {int(counts.get(r, 0)):,}件" for r in RATINGS)
    segments = "".join(
        f'<span class="seg r{r}" style="width:{100 * int(counts.get(r, 0)) / total:.2f}%"></span>'
        for r in RATINGS
        if int(counts.get(r, 0)) > 0
    )
    label = html.escape(words, quote=True)
    return SafeHtml(
        f'<span class="dist" role="img" aria-label="{label}" title="{label}">{segments}</span>'
    )


def progress(share: object, elapsed: object, on_track: object) -> SafeHtml:
    """A bar for the share of the way from baseline to target, with a tick at the share of
    the strategy period elapsed (the on-track threshold) and the percentage beside it."""
    value = _float(share)
    if value is None:
        return SafeHtml(MISSING)
    width = min(max(value, 0.0), 1.0) * 100
    judged = _bool(on_track)
    state = "na" if judged is None else ("ok" if judged else "behind")
    tick = ""
    threshold = _float(elapsed)
    if threshold is not None:
        left = min(max(threshold, 0.0), 1.0) * 100
        tick = f'<span class="tick" style="left:{left:.1f}%"></span>'
    pct = format_percent(value) or MISSING
    return SafeHtml(
        f'<span class="prog"><span class="track"><span class="fill {state}" '
        f'style="width:{width:.1f}%"></span>{tick}</span>'
        f'<span class="pct">{html.escape(pct)}</span></span>'
    )


def on_track(value: object) -> SafeHtml:
    """○ (green) on track, × (red) behind, — not judged."""
    mark = on_track_mark(_bool(value))
    css = {"○": "ok", "×": "behind"}.get(mark, "na")
    return SafeHtml(f'<span class="mark {css}">{mark}</span>')


def sparkline(
    values: Sequence[float | None], target: float | None, labels: Sequence[str]
) -> SafeHtml:
    """An inline SVG line of a KPI's yearly values with its target as a dashed line.

    `labels` describe each point in words (read by screen readers and shown on hover).
    """
    points = [(i, v) for i, v in ((i, _float(v)) for i, v in enumerate(values)) if v is not None]
    if not points:
        return SafeHtml(MISSING)
    goal = _float(target)
    ys = [v for _, v in points] + ([goal] if goal is not None else [])
    low, high = min(ys), max(ys)
    span = high - low or 1.0
    n = max(len(values) - 1, 1)

    def x(i: int) -> float:
        return _SPARK_PAD + (_SPARK_W - 2 * _SPARK_PAD) * (i / n if len(values) > 1 else 0.5)

    def y(v: float) -> float:
        return _SPARK_H - _SPARK_PAD - (_SPARK_H - 2 * _SPARK_PAD) * (v - low) / span

    parts = []
    if goal is not None:
        ty = y(goal)
        parts.append(
            f'<line class="target" x1="0" x2="{_SPARK_W}" y1="{ty:.1f}" y2="{ty:.1f}"></line>'
        )
    if len(points) > 1:
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
        parts.append(f'<polyline points="{coords}"></polyline>')
    for k, (i, v) in enumerate(points):
        css = ' class="last"' if k == len(points) - 1 else ""
        parts.append(f'<circle{css} cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5"></circle>')
    words = html.escape("、".join(labels), quote=True)
    return SafeHtml(
        f'<svg class="spark" width="{_SPARK_W}" height="{_SPARK_H}" '
        f'viewBox="0 0 {_SPARK_W} {_SPARK_H}" role="img" aria-label="{words}">'
        f"<title>{words}</title>{''.join(parts)}</svg>"
    )
