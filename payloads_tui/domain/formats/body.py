"""Bodies by content kind: `parse_body` for everything that arrives, `encode_body` for what we send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payloads_tui.domain.errors import ParseError, UnsupportedContentType
from payloads_tui.domain.formats.contenttype import charset_of
from payloads_tui.domain.formats.csvfmt import parse_csv
from payloads_tui.domain.formats.emailfmt import parse_email
from payloads_tui.domain.formats.form import encode_form, parse_form_body
from payloads_tui.domain.formats.jsonfmt import encode_json, parse_json
from payloads_tui.domain.formats.parsed import ParsedBody
from payloads_tui.domain.formats.text import encode_text, parse_text
from payloads_tui.domain.formats.xmlread import parse_xml
from payloads_tui.domain.formats.xmlwrite import encode_xml
from payloads_tui.domain.models import CONTENT_TYPE_LABELS, InboundContentType, InboundPayload, OutboundContentType

INBOUND_KINDS: tuple[str, ...] = ("json", "xml", "form", "csv", "text", "email")
OUTBOUND_KINDS: tuple[str, ...] = ("json", "form", "xml", "text")

#: Content-Type header value sent with each outbound kind.
OUTBOUND_MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "xml": "application/xml; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}


def parse_body(
    kind: InboundContentType,
    body: bytes,
    *,
    charset: str | None = None,
    options: Mapping[str, str] | None = None,
) -> ParsedBody:
    """Parse `body` as `kind` into a document; any failure is a `ParseError` saying where.

    `charset` is the declared charset (from the Content-Type), `options` the inbound
    payload's options (`xml_lists`; `delimiter`, `encoding`, `header` for CSV). An email
    carries its own charsets, so `charset` does not apply to it.
    """
    data = bytes(body)
    if kind == "json":
        return ParsedBody(parse_json(data, charset))
    if kind == "xml":
        return ParsedBody(parse_xml(data, charset, options))
    if kind == "form":
        return ParsedBody(parse_form_body(data, charset))
    if kind == "csv":
        return ParsedBody(parse_csv(data, charset, options))
    if kind == "text":
        return ParsedBody(parse_text(data, charset))
    if kind == "email":
        return parse_email(data)
    raise UnsupportedContentType(
        f"content type {str(kind)[:40]!r} cannot be parsed; use one of {', '.join(INBOUND_KINDS)}", "content_type"
    )


def encode_body(kind: OutboundContentType, document: Any) -> tuple[bytes, str]:
    """The body bytes of `document` as `kind`, and the Content-Type header value to send."""
    if kind == "json":
        body = encode_json(document)
    elif kind == "form":
        body = encode_form(document).encode("ascii")
    elif kind == "xml":
        body = encode_xml(document)
    elif kind == "text":
        body = encode_text(document)
    else:
        raise UnsupportedContentType(
            f"content type {str(kind)[:40]!r} cannot be sent; use one of {', '.join(OUTBOUND_KINDS)}", "content_type"
        )
    return body, OUTBOUND_MEDIA_TYPES[kind]


def parse_for_payload(payload: InboundPayload, body: bytes, content_type: str | None) -> ParsedBody:
    """`body` parsed as `payload` takes it (its kind and options; the charset of `content_type`).

    A failure is a `ParseError` worded for the job and the sender:
    `could not parse the body as JSON: <why> (at line 1, column 2)`.
    """
    try:
        charset = charset_of(content_type) if content_type else None
        return parse_body(payload.content_type, body, charset=charset, options=payload.options or None)
    except ParseError as exc:
        label = CONTENT_TYPE_LABELS.get(payload.content_type, payload.content_type)
        raise ParseError(f"could not parse the body as {label}: {exc}") from None
