"""Decoding body bytes to text: declared charsets, byte-order marks, strict and lenient modes.

Rules (the same for every kind that decodes text):
- a declared charset is honoured; a name Python does not know as a text encoding is a
  `ParseError` naming it;
- without one, a byte-order mark (UTF-8/16/32) decides and is stripped; otherwise UTF-8;
- lenient decoding replaces bad bytes with U+FFFD; strict decoding (JSON) reports the
  first bad byte with its offset, line and column;
- decoded text never contains lone surrogates (some codecs can produce them; they are
  replaced with U+FFFD) so every document can be stored as JSON.
"""

from __future__ import annotations

import codecs
import re

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.common import line_column, shorten

UTF8 = "utf-8"

#: Byte-order marks, longest first (UTF-32-LE's starts with UTF-16-LE's).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SURROGATES = re.compile("[\ud800-\udfff]")
#: Python text codecs that are not charsets a body can be in (domain names, escapes, a stub).
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})
_DECODE_ERRORS = (UnicodeError, ValueError, LookupError, TypeError)


def text_codec(charset: str, where: str = "charset") -> str:
    """Python's codec name for a charset label (`UTF8`, `latin1`, ...), or a `ParseError`."""
    label = charset.strip().strip("\"'")
    try:
        info = codecs.lookup(label)
    except _DECODE_ERRORS:
        info = None
    # `_is_text_encoding` is how CPython itself refuses bytes-to-bytes codecs (base64, zlib).
    if info is None or not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        raise ParseError(
            f"unknown charset {shorten(charset)!r}: declare one such as utf-8, iso-8859-1 or windows-1252",
            where,
        )
    return info.name


def bom_codec(body: bytes) -> tuple[str | None, int]:
    """The codec a byte-order mark names, and the mark's length; `(None, 0)` without one."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    return None, 0


def unicode_codec(body: bytes) -> tuple[str, int]:
    """UTF-8/16/32 of a body that starts with ASCII (JSON, XML): BOM, else its pattern of zero bytes."""
    codec, skip = bom_codec(body)
    if codec:
        return codec, skip
    head = body[:4]
    if len(head) == 4 and head[:3] == b"\0\0\0":
        return "utf-32-be", 0
    if len(head) == 4 and head[1:] == b"\0\0\0":
        return "utf-32-le", 0
    if len(head) >= 2 and head[0] == 0:
        return "utf-16-be", 0
    if len(head) >= 2 and head[1] == 0:
        return "utf-16-le", 0
    return UTF8, 0


def _clean(text: str, codec: str) -> str:
    text = text.removeprefix("\ufeff")
    if codec == UTF8:  # Python's UTF-8 decoder refuses (or replaces) surrogates: no need to look
        return text
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def decode_lenient(body: bytes, codec: str) -> str:
    """`body` decoded with `codec`, bad bytes replaced by U+FFFD, a leading BOM dropped."""
    try:
        return _clean(body.decode(codec, "replace"), codec)
    except _DECODE_ERRORS as exc:
        raise ParseError(f"the body cannot be decoded as {codec}: {exc}", "charset") from None


def decode_strict(body: bytes, codec: str) -> str:
    """`body` decoded with `codec`; the first bad byte is a `ParseError` with its offset and line/column."""
    try:
        return _clean(body.decode(codec), codec)
    except UnicodeDecodeError as exc:
        try:
            before = body[: exc.start].decode(codec, "replace")
        except _DECODE_ERRORS:
            before = body[: exc.start].decode("latin-1")
        byte = body[exc.start : exc.start + 1].hex()
        raise ParseError(
            f"the body is not valid {codec}: byte 0x{byte} at offset {exc.start} cannot be decoded; "
            f"send {codec} or declare the charset the body is really in",
            line_column(before, len(before)),
        ) from None
    except _DECODE_ERRORS as exc:
        raise ParseError(f"the body cannot be decoded as {codec}: {exc}", "charset") from None


def decode_text(body: bytes, charset: str | None, *, fallback: str | None = None) -> str:
    """Text of a text-like body: declared charset, else BOM, else UTF-8 (or `fallback` if not UTF-8)."""
    if charset:
        return decode_lenient(body, text_codec(charset))
    codec, skip = bom_codec(body)
    if codec:
        return decode_lenient(body[skip:], codec)
    if fallback:
        try:
            return _clean(body.decode(UTF8), UTF8)
        except UnicodeDecodeError:
            return decode_lenient(body, fallback)
    return decode_lenient(body, UTF8)


#: The first `charset=` of a raw email's parts (its own Content-Type declares none).
_MIME_CHARSET = re.compile(rb"charset\s*=\s*\"?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)


def readable_text(body: bytes, content_type: str | None) -> str:
    """A logged body as a person reads it: in the charset its Content-Type declares (or its BOM's),
    else UTF-8; bytes that do not decode are replaced, and an unknown charset falls back to UTF-8.

    A raw email (`message/rfc822`) that is not UTF-8 is read in the first charset its parts
    declare: 8-bit mail in ISO-8859-1 read `Caf\ufffd` for `Café`.
    """
    from payloads_tui.domain.formats.contenttype import charset_of

    try:
        charset = charset_of(content_type)
        fallback = None
        if charset is None and (content_type or "").lower().startswith("message/rfc822"):
            found = _MIME_CHARSET.search(body)
            fallback = text_codec(found[1].decode("ascii")) if found else None
        return decode_text(body, charset, fallback=fallback)
    except ParseError:  # a charset Python does not know
        return decode_lenient(body, UTF8)
