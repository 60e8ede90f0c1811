"""The public entry points: content kinds, charsets, dispatch, and "ParsedBody or ParseError, whatever the bytes"."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payloads_tui.domain.errors import ParseError, UnsupportedContentType
from payloads_tui.domain.formats import ParsedBody, charset_of, content_kind, encode_body, parse_body


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("application/json", "json"),
        ("Application/JSON; charset=UTF-8", "json"),
        ("application/vnd.api+json", "json"),
        ("text/xml", "xml"),
        ("application/xml; charset=iso-8859-1", "xml"),
        ("application/soap+xml", "xml"),
        ("application/x-www-form-urlencoded", "form"),
        ("text/csv; header=present", "csv"),
        ("text/plain", "text"),
        ("message/rfc822", "email"),
        ("multipart/form-data; boundary=x", None),
        ("application/octet-stream", None),
        ("+json", None),
        ("", None),
        (None, None),
    ],
)
def test_content_kind(mime: str | None, kind: str | None) -> None:
    assert content_kind(mime) == kind


@pytest.mark.parametrize(
    ("mime", "charset"),
    [
        ("application/json; charset=UTF-8", "utf-8"),
        ('text/plain; format=flowed; charset="ISO-8859-1"', "iso-8859-1"),
        ("text/csv;charset=windows-1252;header=present", "windows-1252"),
        ("text/plain; charset=", None),
        ("text/plain", None),
        (None, None),
    ],
)
def test_charset_of(mime: str | None, charset: str | None) -> None:
    assert charset_of(mime) == charset


def test_unknown_kinds_are_unsupported() -> None:
    with pytest.raises(UnsupportedContentType, match="use one of json, xml, form, csv, text, email"):
        parse_body("yaml", b"a: 1")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedContentType, match="use one of json, form, xml, text"):
        encode_body("csv", [])  # type: ignore[arg-type]


def test_parse_body_accepts_bytearray_and_memoryview() -> None:
    assert parse_body("json", bytearray(b"[1]")).document == [1]  # type: ignore[arg-type]
    assert parse_body("json", memoryview(b"[2]")).document == [2]  # type: ignore[arg-type]


def test_every_outbound_kind_round_trips_a_simple_document() -> None:
    document = {"customer": {"name": "Éloïse", "email": "eloise@example.com"}}
    assert parse_body("json", encode_body("json", document)[0]).document == document
    assert parse_body("form", encode_body("form", document)[0]).document == document
    assert parse_body("xml", encode_body("xml", document)[0]).document == document


# --- whatever the bytes: a ParsedBody or a ParseError -----------------------------------

FRAGMENTS: dict[str, list[bytes]] = {
    "json": [
        b"{", b"}", b"[", b"]", b'"', b":", b",", b"1e999", b"-0.5", b"true", b"null", b"\\u", b"\\ud800",
        b"\xef\xbb\xbf", b"\x00",
    ],
    "xml": [
        b"<a>", b"</a>", b"<b x='1'/>", b"<!DOCTYPE a [", b"<!ENTITY e 'x'>", b"]>", b"&e;", b"&amp;",
        b"<?xml version='1.0' encoding='", b"utf-16", b"'?>", b"xmlns:p='u'", b"<p:c>", b"<![CDATA[", b"]]>",
    ],
    "form": [b"&", b"=", b"[", b"]", b"[]", b"[0]", b"[1]", b"a", b"b", b"%", b"%5B", b"%ff", b"+", b";"],
    "csv": [b",", b";", b"\t", b"|", b'"', b"\n", b"\r\n", b"\r", b"a", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\x81"],
    "text": [b"\r", b"\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xc3", b"\xa9"],
    "email": [
        b"From: ", b"To: ", b"Subject: ", b"Date: ", b"Content-Type: ", b"multipart/mixed; boundary=b", b"\r\n",
        b"\r\n\r\n", b"--b\r\n", b"--b--", b"=?utf-8?b?w6k=?=", b"=?bogus?q?x?=", b'"a, b" <a@b>', b"<", b">", b"@",
        b":;", b"Content-Transfer-Encoding: base64", b"Content-Disposition: attachment; filename*=bogus''%ff",
        b"message/rfc822", b"text/html; charset=bogus", b"\xc3\xa9", b"\xff", b" (comment", b"\\",
    ],
}
CHARSETS = [
    None, None, None, "utf-8", "utf-16", "utf-32", "latin-1", "cp1252", "utf-7",
    "bogus", "idna", "unicode_escape", "base64",
]
OPTIONS = [
    None,
    {"xml_lists": "a,b"},
    {"delimiter": ";", "header": "false"},
    {"delimiter": "tab", "encoding": "cp1252"},
]


def bodies(kind: str) -> st.SearchStrategy[bytes]:
    pieces = st.sampled_from(FRAGMENTS[kind]) | st.binary(max_size=6)
    return st.binary(max_size=200) | st.lists(pieces, max_size=40).map(b"".join)


@pytest.mark.parametrize("kind", ["json", "xml", "form", "csv", "text", "email"])
def test_any_bytes_give_a_parsed_body_or_a_parse_error(kind: str) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=bodies(kind), charset=st.sampled_from(CHARSETS), options=st.sampled_from(OPTIONS))
    def check(body: bytes, charset: str | None, options: dict[str, str] | None) -> None:
        try:
            parsed = parse_body(kind, body, charset=charset, options=options)  # type: ignore[arg-type]
        except ParseError as exc:
            assert str(exc)
            return
        assert isinstance(parsed, ParsedBody)
        assert_json_like(parsed.document)

    check()


def assert_json_like(value: Any) -> None:
    """Documents must be storable: JSON types only, and no lone surrogates in any string."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            key.encode("utf-8")
            assert_json_like(item)
    elif isinstance(value, list):
        for item in value:
            assert_json_like(item)
    elif isinstance(value, str):
        value.encode("utf-8")
    else:
        assert value is None or isinstance(value, (bool, int, float))


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("kind", ["json", "form", "xml", "text"])
def test_any_document_encodes_or_gives_a_parse_error(kind: str) -> None:
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(document=json_like)
    def check(document: Any) -> None:
        try:
            body, content_type = encode_body(kind, document)  # type: ignore[arg-type]
        except ParseError as exc:
            assert str(exc)
            return
        assert isinstance(body, bytes) and content_type
        body.decode("utf-8")

    check()
