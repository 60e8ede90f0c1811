"""XML bodies: the documented mapping, forced lists, refusals of DTD attacks, encoding back."""

from __future__ import annotations

from pathlib import Path

import pytest

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats import encode_body, parse_body

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def line(number: str, sku: str, description: str, quantity: str, price: str) -> dict[str, object]:
    return {
        "@number": number,
        "Sku": sku,
        "Description": description,
        "Quantity": quantity,
        "UnitPrice": {"@currency": "EUR", "#text": price},
    }


def test_order_maps_attributes_children_text_and_repeats() -> None:
    document = parse_body("xml", fixture("order.xml")).document
    assert document == {
        "Order": {
            "@id": "ORD-2024-0042",
            "@status": "paid",
            "@currency": "EUR",
            "Customer": {
                "@ref": "cus_QWj9bUfxK2nTzR",
                "Name": "Éloïse Martin",
                "Email": "eloise@martin-conseil.example",
            },
            "PlacedAt": "2024-07-22T10:51:52Z",
            "Lines": {
                "Line": [
                    line("1", "BEAN-ESP-1KG", "Espresso beans, 1 kg", "2", "22.50"),
                    line("2", "DRIP-CER-02", "Ceramic pour-over dripper", "1", "29.00"),
                    line("3", "FILT-100", "Paper filters & holder (100)", "2", "6.50"),
                ]
            },
            "Notes": None,
            "Total": "87.00",
        }
    }


def test_a_single_child_is_a_dict_unless_forced_to_a_list() -> None:
    body = fixture("order-one-line.xml")
    single = parse_body("xml", body).document["Order"]["Lines"]["Line"]
    assert isinstance(single, dict) and single["Sku"] == "BEAN-ESP-1KG"
    forced = parse_body("xml", body, options={"xml_lists": "Line, Item"}).document["Order"]["Lines"]["Line"]
    assert forced == [single]


def test_namespaces_are_dropped_to_local_names() -> None:
    body = b'<p:Order xmlns:p="urn:p" xmlns:q="urn:q" q:id="7"><p:Total>1</p:Total><q:Total>2</q:Total></p:Order>'
    assert parse_body("xml", body).document == {"Order": {"@id": "7", "Total": ["1", "2"]}}


def test_mixed_content_and_text_beside_attributes() -> None:
    body = b"<note lang='en'>  Call <b>now</b> please  </note>"
    assert parse_body("xml", body).document == {"note": {"@lang": "en", "b": "now", "#text": "Call  please"}}


def test_billion_laughs_is_refused_quickly() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("xml", fixture("billion-laughs.xml"))
    assert "DOCTYPE" in caught.value.reason and "billion laughs" in caught.value.reason
    assert caught.value.where == "<!DOCTYPE lolz>"


def test_external_entities_are_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("xml", fixture("external-entity.xml"))
    assert "external entities" in caught.value.reason
    assert "root:" not in str(caught.value)


def test_undeclared_entity_is_an_error_with_position() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("xml", b"<order>\n  <note>&secret;</note>\n</order>")
    assert caught.value.where == "line 2, column 9"
    assert "undefined entity" in caught.value.reason


def test_malformed_xml_gives_line_and_column() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("xml", "<Order>\n  <Name>Éloïse</Name>\n  <Total>87</Totl>\n</Order>".encode())
    assert caught.value.where == "line 3, column 14"
    assert "mismatched tag" in caught.value.reason


def test_empty_body_is_an_error() -> None:
    with pytest.raises(ParseError, match="no element found"):
        parse_body("xml", b"")


def test_xml_declaration_encoding_is_honoured() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><name>Éloïse</name>'.encode("latin-1")
    assert parse_body("xml", body).document == {"name": "Éloïse"}


def test_declared_charset_wins_over_the_xml_declaration() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><name>Éloïse</name>'.encode()
    assert parse_body("xml", body, charset="utf-8").document == {"name": "Éloïse"}


def test_unknown_encoding_in_declaration_is_named() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("xml", b'<?xml version="1.0" encoding="x-klingon"?><a/>')
    assert "x-klingon" in caught.value.reason
    assert caught.value.where == "XML declaration encoding"


def test_utf16_xml_and_invalid_utf8_bytes() -> None:
    assert parse_body("xml", "<a>é</a>".encode("utf-16")).document == {"a": "é"}
    assert parse_body("xml", b"<a>caf\xe9</a>").document == {"a": "caf\ufffd"}


def test_deep_nesting_is_refused_by_element() -> None:
    body = b"<a>" * 150 + b"</a>" * 150
    with pytest.raises(ParseError, match="nested deeper than 100"):
        parse_body("xml", body)


# --- encoding -------------------------------------------------------------------------


def test_encode_is_the_inverse_of_the_mapping() -> None:
    document = parse_body("xml", fixture("order.xml")).document
    body, content_type = encode_body("xml", document)
    assert content_type == "application/xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<Order id="ORD-2024-0042"')
    assert parse_body("xml", body).document == document


def test_encode_wraps_documents_without_a_single_root() -> None:
    body, _ = encode_body("xml", {"id": 7, "paid": True, "tags": ["a", "b"], "note": None})
    assert body.decode().endswith("<root><id>7</id><paid>true</paid><tags>a</tags><tags>b</tags><note /></root>")
    body, _ = encode_body("xml", [{"sku": "A"}, "x"])
    assert parse_body("xml", body).document == {"root": {"item": [{"sku": "A"}, "x"]}}
    body, _ = encode_body("xml", {"items": ["a", "b"]})
    assert parse_body("xml", body).document == {"root": {"items": ["a", "b"]}}


def test_encode_escapes_text_and_attributes() -> None:
    body, _ = encode_body("xml", {"a": {"@title": 'say "hi" & <go>', "#text": "1 < 2 & 3"}})
    assert parse_body("xml", body).document == {"a": {"@title": 'say "hi" & <go>', "#text": "1 < 2 & 3"}}


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"order": {"first name": "Ada"}}, "order.first name"),
        ({"order": {"²": "superscript two is no name start"}}, "order.²"),
        ({"order": {"@a=b": "attribute injection"}}, "order.@a=b"),
        ({"order": {"note": "bell \x07"}}, "order.note"),
        ({"order": {"@id": {"nested": 1}}}, "order.@id"),
        ({"order": {"amount": float("nan")}}, "order.amount"),
    ],
)
def test_encode_refuses_what_xml_cannot_carry(document: object, where: str) -> None:
    with pytest.raises(ParseError) as caught:
        encode_body("xml", document)
    assert caught.value.where == where
