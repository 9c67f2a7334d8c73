"""The tab-separated text export: UTF-8 (with or without BOM), UTF-16 with BOM, or CP932.

The encoding is decided by strict decoding, never by replacing characters. A file that
decodes as CP932 only because a UTF-8 file has a damaged byte is refused with the offset.

Cells with line breaks typed in them (Alt+Enter): Excel's tab-delimited export writes such a
cell quoted, `"第1行` newline `第2行"` (a field holding a line break, a tab or `"` is enclosed
in `"`, an inner `"` doubled). Such a field is one cell, read as the workbook reader reads
the same cell: the line breaks joined by one space, a tab a space, `""` one `"`. The row's
line is its first physical line; the rows after it keep their physical lines, as an editor
shows them, and a note names the lines joined. Only a field that *starts* with `"` is
quoted (Excel's rule), and only when its closing `"` ends the field (a tab or the line end
follows): `"特産品"の開発` typed by hand, or a `"` inside a cell, reads as written. A quote
not closed (before the end of the file, or within MAX_CELL_LINES lines) is read as written,
line by line, with a note.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.reading.grid import Grid, RowPosition, listed, one_line
from ukiha_pipeline.settings import MAX_SHEET_BYTES

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Share of control characters (other than tab and line ends) above which text is binary.
MAX_CONTROL_SHARE = 0.01
#: Unicode category Cc (C0, DEL and C1 controls) without tab, LF and CR.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Physical lines a quoted cell may span; a quote open longer is taken as not closed.
MAX_CELL_LINES = 100


def _unreadable(source: str, message: str, *, line: int | None = None) -> SheetFatal:
    """The file cannot be read: why (with the byte position where there is one, which is no
    value a steward typed), and the line, when it is known."""
    return SheetFatal("unreadable_file", message, source_file=source, line=line)


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    return len(_CONTROL.findall(text)) / len(text)


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Decode bytes to text and name the encoding; raise SheetFatal(unreadable_file)."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise _unreadable(source, "ファイルが空です。正しいシートを保存し直してください。")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding.replace("-sig", "") + " (BOM)"
            except UnicodeDecodeError as exc:
                raise _unreadable(
                    source,
                    f"{encoding} として読めません (バイト位置 {exc.start})。",
                ) from exc
    if b"\x00" in data:
        raise _unreadable(
            source,
            "バイナリファイルです (NUL バイトを含む)。テキスト書き出しか .xlsx を使ってください。",
        )
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as utf8_error:
        prefix = data[: utf8_error.start].decode("utf-8", errors="strict")
        if any(ord(ch) > 0x7F for ch in prefix):
            # Valid multi-byte UTF-8 before the error: a damaged UTF-8 file, not CP932.
            line = prefix.count("\n") + 1
            raise _unreadable(
                source,
                f"UTF-8 のファイルにバイト位置 {utf8_error.start} で壊れたバイトがあります"
                f" (行 {line})。保存し直してください。",
                line=line,
            ) from utf8_error
        try:
            text = data.decode("cp932")
            encoding = "cp932"
        except UnicodeDecodeError as exc:  # neither encoding works
            raise _unreadable(
                source,
                f"文字コードを判定できません (UTF-8 でも CP932 でもありません、バイト位置 {exc.start})。"
                "UTF-8 か Shift_JIS で保存し直してください。",
            ) from exc
        if any(0xE000 <= ord(ch) <= 0xF8FF for ch in text):
            raise _unreadable(  # noqa: B904 - not caused by the UTF-8 error
                source, "CP932 として読むと私用領域の文字が現れます。文字化けの可能性があります。"
            )
    if _control_share(text) > MAX_CONTROL_SHARE:
        raise _unreadable(source, "制御文字が多く、テキストのシートではありません。")
    return text, encoding


def split_lines(text: str) -> list[str]:
    """Split on LF, CRLF or CR only (str.splitlines would also split inside cells on \\x0b etc.)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@dataclass(frozen=True)
class TextRows:
    """The text's rows of cells, the physical line each starts on, and for the notes: the
    (first, last) lines of each row that spans several, the lines of quotes not closed."""

    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]
    spanning: tuple[tuple[int, int], ...]
    unclosed: tuple[int, ...]


def split_rows(text: str) -> TextRows:
    """Rows of tab-separated cells; a quoted field may hold line breaks (module docstring)."""
    lines = split_lines(text)
    rows: list[tuple[str, ...]] = []
    starts: list[int] = []
    spanning: list[tuple[int, int]] = []
    unclosed: list[int] = []
    n = 0
    while n < len(lines):
        if '"' in lines[n]:
            cells, last = _quoted_row(lines, n, unclosed)
        else:
            cells, last = lines[n].split("\t"), n
        rows.append(tuple(cells))
        starts.append(n + 1)
        if last > n:
            spanning.append((n + 1, last + 1))
        n = last + 1
    return TextRows(tuple(rows), tuple(starts), tuple(spanning), tuple(unclosed))


def _quoted_row(lines: list[str], n: int, unclosed: list[int]) -> tuple[list[str], int]:
    """The row starting on line `n` (0-based) whose line holds a `"`: its cells and the index
    of its last line. Lines whose quote is not closed are added to `unclosed` (1-based)."""
    cells: list[str] = []
    pos = 0
    while True:
        line = lines[n]
        if line.startswith('"', pos):
            quoted, closed = _quoted_field(lines, n, pos + 1)
            if quoted is not None:
                cell, n, pos = quoted
                cells.append(one_line(cell))
                if pos == len(lines[n]):
                    return cells, n
                pos += 1  # past the tab
                continue
            if not closed:
                unclosed.append(n + 1)
        end = line.find("\t", pos)  # a field read as written
        if end < 0:
            cells.append(line[pos:])
            return cells, n
        cells.append(line[pos:end])
        pos = end + 1


def _quoted_field(lines: list[str], n: int, start: int) -> tuple[tuple[str, int, int] | None, bool]:
    """The quoted field whose text starts at `lines[n][start]`: ((text, line index, position
    of the tab or line end after its closing quote), True), or (None, closed) when it is no
    quoted field: `closed` False when its quote is not closed by the end of its own line and
    not by a closing quote after it either (a note says so), True when the quote closes on
    its own line but text follows it (`"特産品"の開発`: read as written, as before)."""
    parts: list[str] = []
    j, k = n, start
    while True:
        line = lines[j]
        q = line.find('"', k)
        if q < 0:  # the cell goes on on the next line
            parts += (line[k:], "\n")
            j, k = j + 1, 0
            if j == len(lines) or j - n >= MAX_CELL_LINES:
                return None, False
            continue
        parts.append(line[k:q])
        if line.startswith('"', q + 1):  # `""`: one `"`
            parts.append('"')
            k = q + 2
            continue
        after = q + 1
        if after == len(line) or line[after] == "\t":
            return ("".join(parts), j, after), True
        return None, j == n


def _text_notes(split: TextRows) -> tuple[str, ...]:
    notes = []
    if split.spanning:
        rows = [f"{a}〜{b}行" for a, b in split.spanning]
        notes.append(
            f"セルの中の改行 (Alt+Enter) で複数の行にわたるセルを、改行を空白にして 1 つのセルと"
            f"して読みました: {listed(rows)}。"
        )
    if split.unclosed:
        rows = [f"{n}行" for n in split.unclosed]
        notes.append(
            f'「"」で始まるセルの閉じる「"」がないため、その行は書かれたまま (「"」も含めて) '
            f"読みました: {listed(rows)}。"
        )
    return tuple(notes)


def read_text_grid(path: Path) -> Grid:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SHEET_BYTES:
            raise _unreadable(
                source, f"ファイルが大きすぎます ({size} バイト)。PDCA シートではありません。"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(source, f"ファイルを開けません: {exc.strerror or exc}") from exc
    text, encoding = decode_text(data, source)
    if text.startswith("\ufeff"):
        text = text[1:]
    split = split_rows(text)
    positions = tuple(map(_line, split.lines))
    return Grid(
        source,
        hashlib.sha256(data).hexdigest(),
        encoding,
        split.rows,
        positions,
        _text_notes(split),
    )


@cache
def _line(number: int) -> RowPosition:
    """The position of a text line (immutable, so one object per line number serves all)."""
    return RowPosition(number)
