"""CSV bodies: delimiter sniffing, byte-order marks and cp1252, headers, ragged rows, options."""

from __future__ import annotations

from pathlib import Path

import pytest

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats import parse_body

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_semicolon_price_list_is_sniffed_and_quoted_fields_kept() -> None:
    rows = parse_body("csv", fixture("prices.csv")).document
    assert [row["sku"] for row in rows] == ["BEAN-ESP-1KG", "DRIP-CER-02", "FILT-100", "MUG-ENAM"]
    assert rows[0] == {
        "sku": "BEAN-ESP-1KG",
        "name": "Espresso beans, 1 kg",
        "unit_price": "22,50",
        "currency": "EUR",
        "vat_rate": "5,5",
    }
    assert rows[1]["name"] == "Ceramic dripper; size 02"


def test_bom_file_with_crlf_and_a_short_row() -> None:
    rows = parse_body("csv", fixture("prices-bom.csv")).document
    assert list(rows[0]) == ["Référence", "Désignation", "Prix HT", "Devise"]
    assert rows[1]["Désignation"] == "Thé vert Sencha, 250 g"
    assert rows[2] == {
        "Référence": "FILT-100",
        "Désignation": "Filtres papier (100)",
        "Prix HT": "6,50",
        "Devise": "",
    }


def test_ragged_row_names_its_line() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("csv", fixture("prices-ragged.csv"))
    assert caught.value.where == "line 3"
    assert "4 fields but the header has 3" in caught.value.reason


def test_line_numbers_count_blank_lines_and_multiline_fields() -> None:
    body = b'sku,note\nA,"two\nlines"\n\nB,ok,extra\n'
    with pytest.raises(ParseError) as caught:
        parse_body("csv", body)
    assert caught.value.where == "line 5"


def test_cp1252_fallback_when_not_utf8() -> None:
    body = "sku;name;price\nBEAN;Café crème;3€\n".encode("cp1252")
    assert parse_body("csv", body).document == [{"sku": "BEAN", "name": "Café crème", "price": "3€"}]


def test_encoding_option_and_charset() -> None:
    body = "sku,name\nA,Éloïse\n".encode("latin-1")
    assert parse_body("csv", body, options={"encoding": "latin-1"}).document == [{"sku": "A", "name": "Éloïse"}]
    assert parse_body("csv", body, charset="iso-8859-1").document == [{"sku": "A", "name": "Éloïse"}]
    assert parse_body("csv", body, charset="utf-8").document == [{"sku": "A", "name": "\ufffdlo\ufffdse"}]


def test_utf16_with_bom_as_excel_unicode_text() -> None:
    body = "sku\tname\r\nA\tÉloïse\r\n".encode("utf-16")
    assert parse_body("csv", body).document == [{"sku": "A", "name": "Éloïse"}]


def test_explicit_delimiter_and_no_header() -> None:
    body = b"A1|Widget|3\nB2|Gadget\n"
    rows = parse_body("csv", body, options={"delimiter": "|", "header": "false"}).document
    assert rows == [{"col1": "A1", "col2": "Widget", "col3": "3"}, {"col1": "B2", "col2": "Gadget", "col3": ""}]
    tabbed = parse_body("csv", b"a\tb\n1\t2\n", options={"delimiter": "tab"}).document
    assert tabbed == [{"a": "1", "b": "2"}]


def test_header_names_are_cleaned_and_made_unique() -> None:
    rows = parse_body("csv", b" sku ,price,,price\nA,1,x,2\n").document
    assert rows == [{"sku": "A", "price": "1", "col3": "x", "price_2": "2"}]


def test_comma_wins_when_it_splits_consistently() -> None:
    rows = parse_body("csv", b"id,label\n1,a;b\n2,c;d\n").document
    assert rows == [{"id": "1", "label": "a;b"}, {"id": "2", "label": "c;d"}]


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"sku;price\n"])
def test_empty_files_and_header_only_are_empty_lists(body: bytes) -> None:
    assert parse_body("csv", body).document == []


def test_lines_of_only_delimiters_are_skipped() -> None:
    assert parse_body("csv", b"a;b\n1;2\n;;;\n").document == [{"a": "1", "b": "2"}]


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"delimiter": "::"}, "options.delimiter"),
        ({"delimiter": '"'}, "options.delimiter"),
        ({"header": "maybe"}, "options.header"),
        ({"encoding": "x-nope"}, "options.encoding"),
    ],
)
def test_bad_options_are_named(options: dict[str, str], where: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("csv", b"a,b\n1,2\n", options=options)
    assert caught.value.where == where
