"""Scalars of a document as wire text, the same way for every outbound format.

`True`/`False` → `"true"`/`"false"`, integers as digits, floats by their shortest exact
form (`repr`), `Decimal` in plain notation, strings as they are. Anything else (a date
object, bytes) is a `ParseError` naming where it sits: documents are JSON-like.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from payloads_tui.domain.errors import ParseError


def scalar_text(value: Any, where: str, fmt: str) -> str:
    """Wire text of the scalar `value` at `where`; `fmt` names the format for messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError(f"cannot encode {fmt}: {value} is not a number a peer can read", where)
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ParseError(f"cannot encode {fmt}: {value} is not a number a peer can read", where)
        return format(value, "f")
    raise ParseError(f"cannot encode {fmt}: a {type(value).__name__} value is not JSON-like data", where)
