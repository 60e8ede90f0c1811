"""Content formats: inbound bodies (JSON, XML, form, CSV, text, email) to documents, and back.

A *document* is JSON-like data (dict/list/str/int/float/bool/None) that mappings read
with JMESPath. Each module documents its own mapping rules; this package re-exports the
public API. Every failure is a `ParseError` whose `where` names a line/column or field.
"""

from __future__ import annotations

from payloads_tui.domain.formats.body import (
    INBOUND_KINDS,
    OUTBOUND_KINDS,
    OUTBOUND_MEDIA_TYPES,
    encode_body,
    parse_body,
    parse_for_payload,
)
from payloads_tui.domain.formats.contenttype import charset_of, content_kind, media_type
from payloads_tui.domain.formats.form import encode_form, parse_form
from payloads_tui.domain.formats.htmltext import html_to_text
from payloads_tui.domain.formats.parsed import Attachment, ParsedBody

__all__ = [
    "INBOUND_KINDS",
    "OUTBOUND_KINDS",
    "OUTBOUND_MEDIA_TYPES",
    "Attachment",
    "ParsedBody",
    "charset_of",
    "content_kind",
    "encode_body",
    "encode_form",
    "html_to_text",
    "media_type",
    "parse_body",
    "parse_for_payload",
    "parse_form",
]
