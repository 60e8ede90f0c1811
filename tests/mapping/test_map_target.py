"""map_target: item selection and every mapping source; failures stay per item."""

from __future__ import annotations

from typing import Any

import pytest

from payloads_tui.domain.errors import CredentialError
from payloads_tui.domain.mapping import ItemMapping, map_target
from payloads_tui.domain.models import FieldMapping, Target

NOW = "2026-11-27T07:13:00.000Z"

CHECKOUT = {
    "id": "evt_1",
    "type": "checkout.session.completed",
    "data": {
        "object": {
            "id": "cs_1",
            "customer": "cus_9",
            "amount_total": 4500,
            "line_items": {"data": [
                {"id": "li_1", "description": "Mug", "amount_total": 1500, "quantity": 1},
                {"id": "li_2", "description": "Shirt", "amount_total": "abc", "quantity": 2},
                {"id": "li_3", "description": None, "amount_total": 1500, "quantity": 1},
            ]},
        }
    },
}


def _map(target: Target, document: Any, **kwargs: Any) -> list[ItemMapping]:
    options: dict[str, Any] = {
        "context": {}, "now_iso": NOW, "variables": {}, "earlier": {}, "credential_value": None,
    }
    options.update(kwargs)
    return map_target(target, document, **options)


def _target(items: str = "@", *mappings: FieldMapping) -> Target:
    return Target(name="T", object="Thing", items=items, operation="insert", mappings=list(mappings))


@pytest.mark.parametrize(
    ("items", "count"),
    [("data.object", 1), ("data.object.line_items.data", 3), ("data.nothing", 0), ("type", 1),
     ("data.object.line_items.data[?quantity > `1`]", 1)],
)
def test_items_select_one_many_or_none(items: str, count: int) -> None:
    mapped = _map(_target(items, FieldMapping(field="x", expression="@")), CHECKOUT)
    assert [m.index for m in mapped] == list(range(count))


def test_item_and_document_sources() -> None:
    target = _target(
        "data.object.line_items.data",
        FieldMapping(field="line_id", expression="id"),
        FieldMapping(field="event", source="document", expression="id"),
        FieldMapping(field="name", expression="default(description, 'Item')"),
        FieldMapping(field="nothing", expression="no.such.field"),
    )
    mapped = _map(target, CHECKOUT)
    assert mapped[0].values == {"line_id": "li_1", "event": "evt_1", "name": "Mug", "nothing": None}
    assert mapped[2].values == {"line_id": "li_3", "event": "evt_1", "name": "Item", "nothing": None}


def test_a_failing_function_fails_only_its_item_and_names_the_field() -> None:
    target = _target("data.object.line_items.data", FieldMapping(field="amount", expression="cents_to_decimal(amount_total)"))
    mapped = _map(target, CHECKOUT)
    assert mapped[0] == ItemMapping(0, {"amount": 15.0})
    assert mapped[1].values is None
    assert mapped[1].error is not None
    assert mapped[1].error.startswith("amount: cents_to_decimal() expects a number")
    assert "string 'abc'" in mapped[1].error
    assert mapped[2].values == {"amount": 15.0}


def test_a_failing_items_expression_is_one_error() -> None:
    mapped = _map(_target("upper(data)", FieldMapping(field="x", expression="@")), CHECKOUT)
    assert len(mapped) == 1 and mapped[0].values is None
    assert mapped[0].error is not None and "upper()" in mapped[0].error


def test_static_now_variable_and_context_sources() -> None:
    target = _target(
        "data.object",
        FieldMapping(field="origin", source="static", value={"system": "stripe"}),
        FieldMapping(field="received", source="now"),
        FieldMapping(field="version", source="variable", expression="api_version"),
        FieldMapping(field="account_id", source="context", expression="record.id"),
        FieldMapping(field="stamp", expression="now_iso()"),
    )
    mapped = _map(target, CHECKOUT, variables={"api_version": "2024-06-20"}, context={"record": {"id": "acc_7"}})
    assert mapped == [ItemMapping(0, {
        "origin": {"system": "stripe"}, "received": NOW, "version": "2024-06-20", "account_id": "acc_7", "stamp": NOW,
    })]


def test_target_source_links_by_same_index_or_to_a_single_parent() -> None:
    link = FieldMapping(field="order_id", source="target", target="Order")
    sku = FieldMapping(field="sku", source="target", target="Product", expression="sku")
    target = _target("data.object.line_items.data", FieldMapping(field="line", expression="id"), link, sku)
    earlier = {
        "Order": [{"id": "ord_1", "number": 7}],
        "Product": [{"id": "p1", "sku": "MUG"}, None, {"id": "p3", "sku": "CAP"}],
    }
    mapped = _map(target, CHECKOUT, earlier=earlier)
    assert mapped[0].values == {"line": "li_1", "order_id": "ord_1", "sku": "MUG"}
    assert mapped[1] == ItemMapping(1, None, "parent record failed")
    assert mapped[2].values == {"line": "li_3", "order_id": "ord_1", "sku": "CAP"}


def test_target_source_is_null_when_the_earlier_target_selected_nothing() -> None:
    target = _target("data.object", FieldMapping(field="order_id", source="target", target="Order"))
    assert _map(target, CHECKOUT, earlier={"Order": []})[0].values == {"order_id": None}


def test_credential_source_reads_through_the_callable_once() -> None:
    calls: list[tuple[str, str]] = []

    def credential_value(name: str, field: str) -> str:
        calls.append((name, field))
        if field == "missing":
            raise CredentialError(f"credential {name!r} has no field {field!r}")
        return f"{name}:{field}"

    target = _target("data.object.line_items.data", FieldMapping(field="user", source="credential", credential="Stripe", expression="username"))
    mapped = _map(target, CHECKOUT, credential_value=credential_value)
    assert [m.values for m in mapped] == [{"user": "Stripe:username"}] * 3
    assert calls == [("Stripe", "username")]

    broken = _target("data.object", FieldMapping(field="x", source="credential", credential="Stripe", expression="missing"))
    assert _map(broken, CHECKOUT, credential_value=credential_value)[0].error == "x: credential 'Stripe' has no field 'missing'"
    assert "not available" in (_map(broken, CHECKOUT)[0].error or "")
