"""Expressions are compiled and checked at save time: syntax, unknown functions, arity."""

from __future__ import annotations

import msgspec
import pytest

from payloads_tui.domain.errors import MappingError, ValidationError
from payloads_tui.domain.mapping import ExpressionError, compile_expression, evaluate
from payloads_tui.domain.models import (
    ChildSource,
    Element,
    FieldMapping,
    InboundPayload,
    Integration,
    OutboundPayload,
    Source,
    Target,
)
from payloads_tui.domain.validation import validate_integration


@pytest.mark.parametrize(
    ("text", "reason", "column"),
    [
        ("customer..email", "unexpected '.'", 9),
        ("uper(name)", "unknown function uper(); did you mean upper()?", 0),
        ("concat(a, frobnicate(b))", "unknown function frobnicate()", 10),
        ("upper(a, b)", "upper() takes 1 argument, got 2", 0),
        ("lookup(status)", "lookup() takes 2 to 3 arguments, got 1", 0),
        ("trim(x) | lookup(@, `{}`, 'a', 'b')", "lookup() takes 2 to 3 arguments, got 4", 10),
        ("now_iso(x)", "now_iso() takes 0 arguments, got 1", 0),
        ("items[", "ends too early", 6),
        ("lookup(s, `{\"active\": \"Customer\"`)", "must be JSON", 10),
        ("&name", "reference", 0),
    ],
)
def test_compile_rejects_with_position(text: str, reason: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert reason in str(caught.value)
    assert caught.value.position == column
    assert isinstance(caught.value, MappingError)


def test_compile_is_cached_and_keeps_builtins_and_raw_strings() -> None:
    assert compile_expression("a.b") is compile_expression("a.b")
    assert evaluate("sort_by(lines, &amount)[0].id", {"lines": [{"id": "b", "amount": 2}, {"id": "a", "amount": 1}]}) == "a"
    assert evaluate("'literal text'", {}) == "literal text"
    assert evaluate("data[?amount > `100`].id | join(',', @)", {"data": [{"id": "x", "amount": 150}, {"id": "y", "amount": 5}]}) == "x"


def test_empty_expression_is_rejected() -> None:
    with pytest.raises(MappingError, match="an expression is needed"):
        compile_expression("  ")


def _integration(inbound: list[InboundPayload] | None = None, outbound: list[OutboundPayload] | None = None) -> Integration:
    return Integration(slug="stripe", name="Stripe", variables={"api_version": "2024-06-20"},
                       inbound=inbound or [], outbound=outbound or [])


def _customer_payload(expressions: list[str], items: str = "data") -> tuple[InboundPayload, InboundPayload]:
    ok = InboundPayload(
        name="Customer: Created (Webhook)",
        targets=[Target(name="Account", object="Account", match_key=["stripe_id"],
                        mappings=[FieldMapping(field="stripe_id", expression="id")])],
    )
    mappings = [FieldMapping(field=f"f{i}", expression=e) for i, e in enumerate(expressions)]
    mappings.append(FieldMapping(field="ok", source="static", value="upper(((( is not an expression here"))
    bad = InboundPayload(
        name="Customers: List (Response)",
        targets=[
            Target(name="Account", object="Account", operation="insert",
                   mappings=[FieldMapping(field="name", expression="name")]),
            Target(name="Contact", object="Contact", operation="insert", items=items, mappings=mappings),
        ],
    )
    return ok, bad


def test_validation_names_the_mapping_expression_with_an_unknown_function() -> None:
    ok, bad = _customer_payload(["email", "cents_to_decimal(balance)", "lookup(status, `{}`, 'x') | titel(@)"])
    with pytest.raises(ValidationError) as caught:
        validate_integration(_integration([ok, bad]))
    assert caught.value.field == "inbound[1].targets[1].mappings[2].expression"
    assert "unknown function titel(); did you mean title()?" in caught.value.reason


def test_validation_names_the_items_expression_with_a_syntax_error() -> None:
    ok, bad = _customer_payload(["email"], items="data[?")
    with pytest.raises(ValidationError) as caught:
        validate_integration(_integration([ok, bad]))
    assert caught.value.field == "inbound[1].targets[1].items"


def test_validation_checks_document_and_context_sources_but_not_static() -> None:
    payload = InboundPayload(name="p", targets=[Target(name="t", object="Event", operation="insert", mappings=[
        FieldMapping(field="a", source="static", value="(("),
        FieldMapping(field="b", source="document", expression="type"),
        FieldMapping(field="c", source="context", expression="record.(("),
    ])])
    with pytest.raises(ValidationError) as caught:
        validate_integration(_integration([payload]))
    assert caught.value.field == "inbound[0].targets[0].mappings[2].expression"


def test_a_good_integration_passes() -> None:
    ok, bad = _customer_payload(["email", "date_only(created)", "concat(name, ' <', email, '>')"])
    validate_integration(_integration([ok, bad]))


def _outbound(**changes: object) -> OutboundPayload:
    fields: dict[str, object] = {
        "name": "Customer: Update (Request)",
        "method": "POST",
        "endpoint": "https://api.stripe.com/v1/customers/{account.stripe_id}",
        "headers": {"Stripe-Version": "{api_version}"},
        "query": {"expand": "{lower('data.tax')}"},
        "sources": [Source(name="account", object="Account", filter="status == 'active'", sort="name",
                           children=[ChildSource(name="lines", object="OrderLine", parent_field="order_id",
                                                 filter="amount > `0`")])],
        "elements": [Element(path="email", expression="lower(email)"),
                     Element(path="lines", each="lines", elements=[Element(path="amount", expression="decimal_to_cents(amount)")])],
    }
    fields.update(changes)
    return OutboundPayload(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"endpoint": "https://api.stripe.com/v1/customers/{account.stripe_id"}, "outbound[0].endpoint"),
        ({"endpoint": "https://x/{uper(id)}"}, "outbound[0].endpoint"),
        ({"headers": {"Idempotency-Key": "{concat()}"}}, "outbound[0].headers.Idempotency-Key"),
        ({"query": {"limit": "{}"}}, "outbound[0].query.limit"),
        ({"sources": [Source(name="a", object="Account", filter="status = 'x'")]}, "outbound[0].sources[0].filter"),
        ({"sources": [Source(name="a", object="Account", sort="name[")]}, "outbound[0].sources[0].sort"),
        ({"sources": [Source(name="a", object="Account", children=[
            ChildSource(name="c", object="OrderLine", parent_field="order_id", sort="foo(x)")])]},
         "outbound[0].sources[0].children[0].sort"),
        ({"elements": [Element(path="a", expression="ok"), Element(path="lines", each="lines", elements=[
            Element(path="x", expression="a"), Element(path="amount", expression="cents(amount)")])]},
         "outbound[0].elements[1].elements[1].expression"),
    ],
)
def test_outbound_validation_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_integration(_integration(outbound=[_outbound(**changes)]))
    assert caught.value.field == field


def _with_child(**child: object) -> dict[str, object]:
    fields: dict[str, object] = {"name": "lines", "object": "OrderLine", "parent_field": "order_id", **child}
    return {"sources": [Source(name="account", object="Account", children=[ChildSource(**fields)])]}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        (_with_child(object="order_line"), "outbound[0].sources[0].children[0].object", "not a valid object name"),
        (_with_child(parent_field=""), "outbound[0].sources[0].children[0].parent_field", "is not a field name"),
        (_with_child(parent_field="order id"), "outbound[0].sources[0].children[0].parent_field",
         "the field of OrderLine that holds the id of its Account"),
        (_with_child(limit=0), "outbound[0].sources[0].children[0].limit", "limit must be 1 or more"),
        (_with_child(name="Account"), "outbound[0].sources[0].children[0].name", "also the name of a source"),
        ({"sources": [Source(name="account", object="Account", children=[
            ChildSource(name="lines", object="OrderLine", parent_field="order_id"),
            ChildSource(name="Lines", object="OrderLine", parent_field="order_id")])]},
         "outbound[0].sources[0].children[1]", "used twice"),
        ({"elements": [Element(path="lines", each="line_items")]}, "outbound[0].elements[0].each",
         "'line_items' is neither a source nor a child source of this payload (they are: account, lines)"),
        ({"elements": [Element(path="lines", each="lines", elements=[Element(path="notes", each="notes")])]},
         "outbound[0].elements[0].elements[0].each", "'notes' is neither"),
    ],
)
def test_child_sources_and_arrays_are_checked(changes: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_integration(_integration(outbound=[_outbound(**changes)]))
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_outbound_good_payload_passes_and_static_elements_are_not_compiled() -> None:
    payload = _outbound(elements=[Element(path="note", source="static", value="{not a merge field((")])
    validate_integration(_integration(outbound=[payload]))
    validate_integration(_integration(outbound=[_outbound()]))


@pytest.mark.parametrize(("addresses", "reason"), [
    (["billing@payloads.localhost", "Billing@Payloads.localhost"], "'Billing@Payloads.localhost' is used twice"),
    (["billing@payloads.localhost", "  "], "email address must not be empty"),
])
def test_an_email_address_error_names_the_address_field(addresses: list[str], reason: str) -> None:
    """The Email Service form shows it at its Address field, not as `emails[1]: …` at the form's foot."""
    from payloads_tui.domain.models import EmailService

    integration = _integration()
    integration.emails = [EmailService(address=a, payload="Mail") for a in addresses]
    with pytest.raises(ValidationError) as caught:
        validate_integration(integration)
    assert caught.value.field == "emails[1].address" and reason in caught.value.reason


@pytest.mark.parametrize(("change", "field"), [
    ({"name": "Evil\x1b]2;TITLE\x1b\\"}, "name"),
    ({"description": "d\x1b]52;c;cHduZWQ=\x07"}, "description"),
    ({"variables": {"v": "x\x9b31m"}}, "variables.v"),
])
def test_a_control_character_anywhere_in_an_integration_is_refused(change: dict[str, object], field: str) -> None:
    """An imported bundle's names reach terminals (the console, `payloads integrations`): an ESC sequence in
    one set the terminal's title."""
    integration = msgspec.structs.replace(_integration(), **change)
    with pytest.raises(ValidationError) as caught:
        validate_integration(integration)
    assert caught.value.field == field and "holds the control character U+" in caught.value.reason
    validate_integration(msgspec.structs.replace(_integration(), description="two\tcolumns\nand lines"))
