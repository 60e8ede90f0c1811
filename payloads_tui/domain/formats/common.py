"""Helpers the format modules share: positions in text for error messages, the nesting limit."""

from __future__ import annotations

from payloads_tui.domain.terminaltext import printable

#: Deepest nesting (XML elements, form key segments, encoded containers) we accept.
#: Real bodies stay far below it; it keeps hostile input from exhausting the stack.
MAX_DEPTH = 100


def line_column(text: str, index: int) -> str:
    """`line L, column C` (both 1-based, in characters) of `text[index]`; lines end at `\\n`."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def shorten(value: str, limit: int = 60) -> str:
    """`value` cut to `limit` characters, for quoting untrusted input in messages (control characters
    shown as visible stand-ins: a message may reach a terminal)."""
    value = printable(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"
