"""render_template: merge fields from variables or the context, url encoding, errors."""

from __future__ import annotations

import pytest

from payloads_tui.domain.errors import MappingError
from payloads_tui.domain.mapping import render_template, template_fields

CONTEXT = {"account": {"stripe_id": "cus_1/2 ?&", "balance": 1999, "active": True, "tags": ["a", "b"]}}


def test_variables_win_over_context_and_expressions_are_jmespath() -> None:
    text = "https://api.stripe.com/{api_version}/customers/{account.stripe_id}?b={cents_to_decimal(account.balance)}"
    rendered = render_template(text, CONTEXT, {"api_version": "v1"}, url_encode=False)
    assert rendered == "https://api.stripe.com/v1/customers/cus_1/2 ?&?b=19.99"


def test_url_encode_quotes_every_substituted_value_but_not_the_template() -> None:
    rendered = render_template("https://x/c/{account.stripe_id}?t={account.tags}", CONTEXT, {}, url_encode=True)
    assert rendered == "https://x/c/cus_1%2F2%20%3F%26?t=%5B%22a%22%2C%22b%22%5D"


def test_scalars_render_as_json_text_and_braces_escape() -> None:
    assert render_template("{account.active}/{account.balance} {{x}}", CONTEXT, {}, url_encode=False) == "true/1999 {x}"
    assert template_fields("a{b}c{{d}}{ e.f }") == ["b", "e.f"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/customers/{account.missing}", "{account.missing} has no value"),
        ("/customers/{nobody}", "{nobody} has no value"),
        ("/customers/{account", "never closed"),
        ("/customers/}", "closes no merge field"),
        ("/customers/{}", "empty"),
        ("/customers/{uper(account.stripe_id)}", "unknown function uper()"),
    ],
)
def test_bad_or_missing_merge_fields_raise_naming_them(text: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        render_template(text, CONTEXT, {}, url_encode=True)
    assert message in str(caught.value)


def test_variables_go_in_as_they_are_and_url_fields_are_encoded() -> None:
    rendered = render_template(
        "{base_url}/v1/customers/{customer}", {}, {"base_url": "http://127.0.0.1:12111"},
        url_encode=True, fields={"customer": "cus 1/2"},
    )
    assert rendered == "http://127.0.0.1:12111/v1/customers/cus%201%2F2"


def test_a_url_field_wins_over_a_variable_of_the_same_name() -> None:
    rendered = render_template("{id}", {}, {"id": "config"}, url_encode=True, fields={"id": "a/b"})
    assert rendered == "a%2Fb"
