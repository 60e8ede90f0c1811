"""CSV bodies to a list of row dicts, keyed by the header row.

Options (all strings, from the inbound payload):
- `delimiter`: one character (`tab` or `\\t` for a tab); without it the delimiter is
  sniffed among `,` `;` tab `|`: the one that splits the first rows into the same
  number (≥ 2) of fields most consistently wins (ties: that order); else `,`;
- `encoding`: the file's encoding; else the declared charset; else a byte-order mark;
  else UTF-8, falling back to cp1252 (Excel's default on Windows) when the bytes are not
  valid UTF-8 — cp1252's five undefined bytes then become U+FFFD;
- `header`: `true` (default) or `false` (also yes/no, 1/0); without a header the keys are `col1`, `col2`, ...
  and the first row sets the width.

Rows: blank lines and lines holding only delimiters are skipped; a row with more fields
than the header is a `ParseError` naming its line; missing trailing fields become `""`.
Header names are stripped; an empty name becomes `colN` and a repeated one gets `_2`,
`_3`. Values are kept exactly as written (strings, not stripped). An empty file is `[]`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.charset import decode_text, text_codec
from payloads_tui.domain.formats.common import shorten

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_ROWS = 50
_SNIFF_CHARS = 64 * 1024
_TAB_NAMES = {"tab", "\\t", "\t"}


def parse_csv(
    body: bytes, charset: str | None = None, options: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """The rows of a CSV body as dicts (see the module docstring for the rules)."""
    options = options or {}
    encoding = options.get("encoding") or None
    if encoding:
        text_codec(encoding, "options.encoding")
    text = decode_text(body, encoding or charset, fallback="cp1252")
    if not text.strip():
        return []
    delimiter = _delimiter_option(options.get("delimiter")) or sniff_delimiter(text)
    has_header = _flag(options.get("header", "true"), "options.header")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = _rows(reader)
    first = next(rows, None)
    if first is None:
        return []
    header = _header_names(first) if has_header else [f"col{n}" for n in range(1, len(first) + 1)]
    records = [] if has_header else [_record(header, first, reader.line_num)]
    records.extend(_record(header, row, reader.line_num) for row in rows)
    return records


def _rows(reader: Any) -> Iterator[list[str]]:
    """Rows of a `csv.reader` that hold something; its `line_num` stays that of the last row given."""
    try:
        for row in reader:
            if any(field.strip() for field in row):
                yield row
    except csv.Error as exc:
        raise ParseError(f"invalid CSV: {exc}", f"line {reader.line_num}") from None


def _record(header: list[str], row: list[str], line: int) -> dict[str, str]:
    if len(row) > len(header):
        raise ParseError(
            f"the row has {len(row)} fields but the header has {len(header)}; "
            "quote values that contain the delimiter, or fix the row",
            f"line {line}",
        )
    return {name: row[index] if index < len(row) else "" for index, name in enumerate(header)}


def _header_names(row: list[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for position, raw in enumerate(row, start=1):
        base = raw.strip() or f"col{position}"
        name, suffix = base, 2
        while name in seen:
            name, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(name)
        names.append(name)
    return names


def sniff_delimiter(text: str) -> str:
    """The most consistent delimiter among `DELIMITERS` over the first rows of `text`."""
    sample = text[:_SNIFF_CHARS]
    best, best_score = ",", (0.0, 1)
    for candidate in DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(sample, newline=""), delimiter=candidate)
            rows = [row for row in islice(reader, _SNIFF_ROWS) if row]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(row) == width for row in rows) / len(rows), width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _delimiter_option(value: str | None) -> str | None:
    if not value:
        return None
    if value.lower() in _TAB_NAMES:
        return "\t"
    if len(value) != 1 or value in "\"\r\n\0":
        raise ParseError(
            "option delimiter must be one character other than a quote or line break (or 'tab'), "
            f"not {shorten(value)!r}",
            "options.delimiter",
        )
    return value


def _flag(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"true", "yes", "1"}:
        return True
    if lowered in {"false", "no", "0"}:
        return False
    raise ParseError(f"option must be 'true' or 'false', not {shorten(value)!r}", where)
