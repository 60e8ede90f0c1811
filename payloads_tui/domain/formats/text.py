"""Plain-text bodies: `{"text": ..., "lines": [...]}` in, text out.

`lines` splits on `\\r\\n`, `\\r` or `\\n` only (not on form feeds or Unicode separators);
a final line break does not add an empty last line, and an empty body has no lines.
Outbound, a dict with a `"text"` key sends that text; a string is sent as is; `None` is an
empty body; other containers are sent as compact JSON (never a Python repr); scalars as
their wire text (`true`, `12.5`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.charset import decode_text
from payloads_tui.domain.formats.jsonfmt import encode_json
from payloads_tui.domain.formats.scalars import scalar_text

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def parse_text(body: bytes, charset: str | None = None) -> dict[str, Any]:
    """`{"text": text, "lines": [...]}` of a text body (bad bytes become U+FFFD)."""
    text = decode_text(body, charset)
    lines = _LINE_BREAK.split(text) if text else []
    if lines and lines[-1] == "":
        lines.pop()
    return {"text": text, "lines": lines}


def encode_text(document: Any) -> bytes:
    """UTF-8 text of a document (see the module docstring)."""
    if isinstance(document, Mapping) and "text" in document:
        document = document["text"]
    if document is None:
        return b""
    if isinstance(document, (Mapping, list, tuple)):
        return encode_json(document)
    text = scalar_text(document, "text", "text")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParseError(
            f"cannot encode text: it holds a character UTF-8 cannot carry ({exc.reason})", "text"
        ) from None
