"""Plain-text bodies in and out."""

from __future__ import annotations

from pathlib import Path

import pytest

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats import encode_body, parse_body

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_ping_gives_text_and_lines() -> None:
    document = parse_body("text", (FIXTURES / "ping.txt").read_bytes()).document
    assert document["lines"] == ["ping from monitoring at 2024-07-22T10:00:00Z", "status: ok", "latency_ms: 42"]
    assert document["text"].endswith("latency_ms: 42\n")


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (b"", []),
        (b"\n", [""]),
        (b"a\r\nb\rc\n\nd", ["a", "b", "c", "", "d"]),
        (b"form\x0cfeed stays", ["form\x0cfeed stays"]),
    ],
)
def test_lines_split_only_on_line_breaks(body: bytes, lines: list[str]) -> None:
    assert parse_body("text", body).document["lines"] == lines


def test_bad_bytes_are_replaced_and_charsets_honoured() -> None:
    assert parse_body("text", b"caf\xe9 ok").document["text"] == "caf\ufffd ok"
    assert parse_body("text", b"caf\xe9", charset="windows-1252").document["text"] == "café"
    assert parse_body("text", b"\xef\xbb\xbfhello").document["text"] == "hello"
    with pytest.raises(ParseError, match="unknown charset 'utf-9'"):
        parse_body("text", b"x", charset="utf-9")


def test_encode_text() -> None:
    body, content_type = encode_body("text", {"text": "Bonjour Éloïse"})
    assert (body, content_type) == ("Bonjour Éloïse".encode(), "text/plain; charset=utf-8")
    assert encode_body("text", "ok")[0] == b"ok"
    assert encode_body("text", None)[0] == b""
    assert encode_body("text", 12.5)[0] == b"12.5"
    assert encode_body("text", {"id": 7, "ok": True})[0] == b'{"id":7,"ok":true}'


@pytest.mark.parametrize(
    ("body", "content_type", "shown"),
    [
        ("Café Müller".encode("latin-1"), "application/json; charset=iso-8859-1", "Café Müller"),
        ("Café".encode(), "application/json", "Café"),
        ("Café".encode("utf-16"), "text/plain", "Café"),  # its BOM says how
        ("Café".encode("latin-1"), "text/plain; charset=x-unheard-of", "Caf\ufffd"),  # UTF-8 then, never an error
        (b"\xff\xfe\xfa", None, "\ufffd"),
        (b'Subject: x\r\nContent-Type: text/plain; charset="iso-8859-1"\r\n\r\nCaf\xe9 cr\xe8me\r\n', "message/rfc822",
         'Subject: x\r\nContent-Type: text/plain; charset="iso-8859-1"\r\n\r\nCaf\u00e9 cr\u00e8me\r\n'),
        ("Subject: \u00e9t\u00e9\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n".encode(), "message/rfc822",
         "Subject: \u00e9t\u00e9\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"),  # UTF-8 first (SMTPUTF8)
        (b"Content-Type: text/plain; charset=x-nope\r\n\r\nCaf\xe9", "message/rfc822",
         "Content-Type: text/plain; charset=x-nope\r\n\r\nCaf\ufffd"),
    ],
)
def test_a_logged_body_reads_in_its_declared_charset(body: bytes, content_type: str | None, shown: str) -> None:
    from payloads_tui.domain.formats.charset import readable_text

    assert readable_text(body, content_type) == shown


def test_the_job_detail_shows_a_latin1_json_body_in_its_charset() -> None:
    from payloads_tui.tui.widgets.exchange_view import pretty_body

    text, lexer = pretty_body('{"name": "Café Müller"}'.encode("latin-1"), "application/json; charset=latin-1")
    assert lexer == "json" and '"name": "Café Müller"' in text
