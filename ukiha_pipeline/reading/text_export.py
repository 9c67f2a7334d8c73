"""The tab-separated text export: UTF-8 (with or without BOM), UTF-16 with BOM, or CP932.

The encoding is decided by strict decoding, never by replacing characters. A file that
decodes as CP932 only because a UTF-8 file has a damaged byte is refused with the offset.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from functools import cache
from pathlib import Path

from ukiha_pipeline.errors import SheetFatal
from ukiha_pipeline.reading.grid import Grid, RowPosition
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
    lines = split_lines(text)
    rows = tuple(tuple(line.split("\t")) for line in lines)
    positions = tuple(map(_line, range(1, len(rows) + 1)))
    return Grid(source, hashlib.sha256(data).hexdigest(), encoding, rows, positions)


@cache
def _line(number: int) -> RowPosition:
    """The position of a text line (immutable, so one object per line number serves all)."""
    return RowPosition(number)
