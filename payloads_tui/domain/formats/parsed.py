"""What parsing a body yields: the document to map, and any attachments it carried."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """An email attachment; its bytes are kept so the engine can store them as a blob."""

    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ParsedBody:
    """A parsed body: a JSON-like `document` (dict/list/str/int/float/bool/None) and attachments."""

    document: Any
    attachments: tuple[Attachment, ...] = ()
