"""Form bodies in Stripe's bracket notation: parsing, conflicts, encoding, and the round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats import encode_body, encode_form, parse_body, parse_form

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_stripe_style_nesting() -> None:
    text = (
        "customer=cus_QWj9bUfxK2nTzR&metadata[order_id]=7&metadata[channel]=web"
        "&items[0][price]=5&items[1][price]=6&items[1][quantity]=2&tags[]=a&tags[]=b"
        "&expand[]=line_items&description=Caf%C3%A9+en+grains&empty="
    )
    assert parse_form(text) == {
        "customer": "cus_QWj9bUfxK2nTzR",
        "metadata": {"order_id": "7", "channel": "web"},
        "items": [{"price": "5"}, {"price": "6", "quantity": "2"}],
        "tags": ["a", "b"],
        "expand": ["line_items"],
        "description": "Café en grains",
        "empty": "",
    }


def test_indexes_in_any_order_and_percent_encoded_brackets() -> None:
    assert parse_form("items%5B1%5D%5Bprice%5D=6&items%5B0%5D%5Bprice%5D=5") == {
        "items": [{"price": "5"}, {"price": "6"}]
    }


def test_sparse_or_non_index_numbers_stay_object_keys() -> None:
    assert parse_form("metadata[2024]=x&lines[0]=a&lines[2]=c&codes[01]=z") == {
        "metadata": {"2024": "x"},
        "lines": {"0": "a", "2": "c"},
        "codes": {"01": "z"},
    }


def test_appending_with_more_keys_adds_an_element_each_time() -> None:
    assert parse_form("a[][x]=1&a[][y]=2") == {"a": [{"x": "1"}, {"y": "2"}]}


def test_repeated_plain_key_keeps_the_last_value_and_odd_keys_are_literal() -> None:
    assert parse_form("a=1&a=2&b[c=3&[x]=4&flag") == {"a": "2", "b[c": "3", "[x]": "4", "flag": ""}


def test_conflicting_key_fixture_names_the_key() -> None:
    body = (FIXTURES / "form-conflict.txt").read_bytes()
    with pytest.raises(ParseError) as caught:
        parse_body("form", body)
    assert caught.value.where == "metadata"
    assert "plain value" in caught.value.reason and "object" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metadata[order][id]=1&metadata[order]=2", "metadata[order]"),
        ("tags[]=a&tags[0]=b", "tags"),
        ("items[0]=x&items[0][price]=5", "items[0]"),
    ],
)
def test_every_shape_conflict_is_an_error(text: str, key: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_form(text)
    assert caught.value.where == key


def test_declared_charset_reads_percent_escapes() -> None:
    assert parse_body("form", b"name=%C9lo%EFse", charset="iso-8859-1").document == {"name": "Éloïse"}
    assert parse_body("form", b"name=%C9lo%EFse").document == {"name": "\ufffdlo\ufffdse"}


def test_encode_form_writes_bracket_keys() -> None:
    document = {
        "customer": "cus_QWj9bUfxK2nTzR",
        "metadata": {"order_id": 7, "vip": True},
        "line_items": [{"price": "price_1", "quantity": 2}],
        "description": "Café & co",
        "coupon": None,
        "expand": [],
    }
    assert encode_form(document) == (
        "customer=cus_QWj9bUfxK2nTzR&metadata[order_id]=7&metadata[vip]=true"
        "&line_items[0][price]=price_1&line_items[0][quantity]=2&description=Caf%C3%A9+%26+co"
    )
    body, content_type = encode_body("form", {"amount": 2250, "paid": False})
    assert (body, content_type) == (b"amount=2250&paid=false", "application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"metadata": {"a[b]": "x"}}, "metadata"),
        ({"": "x"}, "(empty key)"),
        ({"amount": float("inf")}, "amount"),
        ({"when": object()}, "when"),
    ],
)
def test_encode_form_refuses_what_it_cannot_write(document: dict[str, Any], where: str) -> None:
    with pytest.raises(ParseError) as caught:
        encode_form(document)
    assert caught.value.where == where


def test_encode_form_needs_an_object() -> None:
    with pytest.raises(ParseError, match="must be an object"):
        encode_body("form", ["a", "b"])


# --- the round trip -------------------------------------------------------------------
# Domain: dicts whose keys are non-empty, free of brackets and not all digits (digit keys
# would read back as list indexes); values are strings, non-empty lists or non-empty dicts.

keys = st.text(st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
    lambda key: not key.isdigit()
)
strings = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def form_values(depth: int) -> st.SearchStrategy[Any]:
    """Strings, or non-empty lists/dicts of form values, nested at most `depth` levels."""
    if depth == 0:
        return strings
    inner = form_values(depth - 1)
    return strings | st.lists(inner, min_size=1, max_size=3) | st.dictionaries(keys, inner, min_size=1, max_size=3)


form_documents = st.dictionaries(keys, form_values(3), max_size=4)


@settings(max_examples=200, deadline=None)
@given(form_documents)
def test_parse_form_inverts_encode_form(document: dict[str, Any]) -> None:
    assert parse_form(encode_form(document)) == document
