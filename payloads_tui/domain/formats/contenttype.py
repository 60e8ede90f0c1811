"""MIME types of bodies: which inbound kind a `Content-Type` means, and its charset parameter."""

from __future__ import annotations

import re

from payloads_tui.domain.models import InboundContentType

_KINDS: dict[str, InboundContentType] = {
    "application/json": "json",
    "text/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/x-www-form-urlencoded": "form",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
    "text/plain": "text",
    "message/rfc822": "email",
}
_CHARSET = re.compile(r""";\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))""", re.IGNORECASE)


def media_type(mime: str | None) -> str:
    """`type/subtype` of a Content-Type value, lower-cased, parameters dropped."""
    return (mime or "").split(";", 1)[0].strip().lower()


def content_kind(mime: str | None) -> InboundContentType | None:
    """The inbound kind of a Content-Type (`application/vnd.api+json` → json); None if unknown."""
    media = media_type(mime)
    if media in _KINDS:
        return _KINDS[media]
    if "/" in media and media.endswith("+json"):
        return "json"
    if "/" in media and media.endswith("+xml"):
        return "xml"
    return None


def charset_of(mime: str | None) -> str | None:
    """The `charset` parameter of a Content-Type (quotes removed, lower-cased), or None."""
    match = _CHARSET.search(mime or "")
    if not match:
        return None
    value = (match.group(1) if match.group(1) is not None else match.group(2)).strip().lower()
    return value or None
