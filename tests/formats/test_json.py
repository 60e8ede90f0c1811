"""JSON bodies: Stripe fixtures, every charset rule, and errors that say line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats import encode_body, jsonfmt, parse_body
from payloads_tui.domain.formats.jsonfmt import parse_json

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    "name",
    ["customer.created", "customer.updated", "checkout.session.completed", "invoice.payment_failed"],
)
def test_stripe_events_parse_to_their_exact_json(name: str) -> None:
    body = fixture(f"stripe/{name}.json")
    document = parse_body("json", body).document
    assert document == json.loads(body)
    assert document["object"] == "event"
    assert document["type"] == name
    assert document["id"].startswith("evt_")


def test_checkout_session_keeps_three_line_items_in_order() -> None:
    document = parse_body("json", fixture("stripe/checkout.session.completed.json")).document
    lines = document["data"]["object"]["line_items"]["data"]
    assert [line["description"] for line in lines] == [
        "Espresso beans, 1 kg",
        "Ceramic pour-over dripper",
        "Paper filters (100)",
    ]
    assert sum(line["amount_total"] for line in lines) == document["data"]["object"]["amount_total"]


def test_customer_list_response_and_non_ascii_names() -> None:
    document = parse_body("json", fixture("stripe/customers.list.json"), charset="utf-8").document
    assert document["object"] == "list" and document["has_more"] is False
    assert document["data"][0]["name"] == "Éloïse Martin"
    assert document["data"][1]["balance"] == -1500


@pytest.mark.parametrize("value", [b"42", b'"text"', b"null", b"true", b"[1, 2.5]", b" \n {}\n"])
def test_any_json_value_is_a_document(value: bytes) -> None:
    assert parse_body("json", value).document == json.loads(value)


def test_bad_json_names_line_and_column() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("json", fixture("bad.json"))
    # Line 4 ends `"eloise@example.com",}},`: the `}` after the trailing comma is column 81.
    assert caught.value.where == "line 4, column 81"
    assert "trailing comma" in caught.value.reason
    assert "invalid JSON" in str(caught.value)


def test_column_counts_characters_not_bytes() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("json", '{"city": "Zürich",\n "name": "Éloïse", "x": @}'.encode())
    # `@` is the 25th character of line 2 (its 27th byte: É and ï take two bytes each).
    assert caught.value.where == "line 2, column 25"


def test_truncated_json_points_at_its_end() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("json", b'{"a": [1,\n 2')
    assert caught.value.where == "line 2, column 3"
    assert "ends before" in caught.value.reason


@pytest.mark.parametrize("body", [b"", b"  \r\n\t "])
def test_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty body"):
        parse_body("json", body)


def test_invalid_utf8_reports_byte_offset_line_and_column() -> None:
    body = fixture("latin1-declared-utf8.json")
    with pytest.raises(ParseError) as caught:
        parse_body("json", body, charset="utf-8")
    offset = body.index(b"\xc9")
    assert f"offset {offset}" in caught.value.reason
    assert "0xc9" in caught.value.reason
    assert caught.value.where == f"line 1, column {offset + 1}"


def test_declared_latin1_charset_is_honoured() -> None:
    document = parse_body("json", fixture("latin1-declared-utf8.json"), charset="ISO-8859-1").document
    assert document["data"]["object"]["name"] == "Éloïse"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_are_detected_without_a_bom(codec: str) -> None:
    assert parse_body("json", '{"name": "Éloïse"}'.encode(codec)).document == {"name": "Éloïse"}


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-32"])
def test_byte_order_marks_are_honoured_and_stripped(codec: str) -> None:
    assert parse_body("json", '["ok"]'.encode(codec)).document == ["ok"]


def test_utf8_bom_with_declared_charset_is_stripped() -> None:
    assert parse_body("json", b'\xef\xbb\xbf{"a": 1}', charset="UTF-8").document == {"a": 1}


def test_unknown_charset_is_named() -> None:
    with pytest.raises(ParseError) as caught:
        parse_body("json", b"{}", charset="klingon-8")
    assert "klingon-8" in caught.value.reason
    assert caught.value.where == "charset"


def test_bytes_codecs_are_not_charsets() -> None:
    with pytest.raises(ParseError, match="unknown charset 'base64'"):
        parse_body("json", b"e30=", charset="base64")


def test_numbers_beyond_a_double_are_refused() -> None:
    with pytest.raises(ParseError, match="out of range"):
        parse_body("json", b'{"amount": 1e400}')


def test_hostile_nesting_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_body("json", b"[" * 200_000 + b"]" * 200_000)


def test_encode_json_is_compact_utf8() -> None:
    body, content_type = encode_body("json", {"name": "Éloïse", "amount": 2250, "tags": ["a"], "paid": True})
    assert body == '{"name":"Éloïse","amount":2250,"tags":["a"],"paid":true}'.encode()
    assert content_type == "application/json"


def test_encode_json_refuses_what_is_not_json() -> None:
    with pytest.raises(ParseError, match="cannot encode JSON"):
        encode_body("json", {"when": object()})
    with pytest.raises(ParseError, match="cannot encode JSON"):
        encode_body("json", {"text": "\ud800"})


def outcome(body: bytes, charset: str | None) -> tuple[str, object]:
    try:
        return "value", parse_json(body, charset)
    except ParseError as exc:
        return "error", str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
json_bytes = json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(json_bytes, st.binary(max_size=40), json_bytes.map(lambda b: b[: len(b) // 2] + b"\xff")),
       charset=st.sampled_from([None, "utf-8", "UTF-8"]))
def test_the_fast_utf8_path_answers_as_the_general_one(body: bytes, charset: str | None) -> None:
    """Plain UTF-8 bodies go to msgspec as bytes; the value, or the error and its wording, must be the same."""
    fast = outcome(body, charset)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(jsonfmt, "_plain_utf8", lambda body, charset: False)
        assert outcome(body, charset) == fast
