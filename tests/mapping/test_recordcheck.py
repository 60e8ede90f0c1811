"""check_record: types and coercions, required, max length, picklists, strict schemas."""

from __future__ import annotations

from typing import Any

import pytest

from payloads_tui.domain.errors import SchemaError
from payloads_tui.domain.models import FieldSpec, ObjectSchema
from payloads_tui.domain.recordcheck import check_record

ACCOUNT = ObjectSchema(
    name="Account",
    external_id="stripe_id",
    fields=[
        FieldSpec(name="stripe_id", required=True, max_length=32),
        FieldSpec(name="name", max_length=10),
        FieldSpec(name="seats", type="integer"),
        FieldSpec(name="balance", type="number"),
        FieldSpec(name="delinquent", type="boolean"),
        FieldSpec(name="created", type="datetime"),
        FieldSpec(name="renews_on", type="date"),
        FieldSpec(name="status", picklist=["Customer", "At Risk"]),
        FieldSpec(name="tier", type="integer", picklist=["1", "2"]),
        FieldSpec(name="address", type="object"),
        FieldSpec(name="tags", type="array", max_length=2),
        FieldSpec(name="metadata", type="any"),
    ],
)
STRICT = ObjectSchema(name="Event", strict=True, fields=[FieldSpec(name="event_id", required=True)])


@pytest.mark.parametrize(
    ("field", "given", "stored"),
    [
        ("stripe_id", 1234, "1234"),
        ("seats", "12", 12),
        ("seats", " 7 ", 7),
        ("seats", 3.0, 3),
        ("balance", "19.99", 19.99),
        ("balance", 5, 5),
        ("delinquent", "yes", True),
        ("delinquent", "0", False),
        ("delinquent", 1, True),
        ("created", 1795763580, "2026-11-27T07:13:00Z"),
        ("created", "1795763580", "2026-11-27T07:13:00Z"),
        ("created", "2026-11-27T08:13:00+01:00", "2026-11-27T07:13:00Z"),
        ("created", "2026-11-27", "2026-11-27T00:00:00Z"),
        ("renews_on", "2026-11-27", "2026-11-27"),
        ("renews_on", "2026-11-27T23:00:00-02:00", "2026-11-28"),
        ("renews_on", 1795763580, "2026-11-27"),
        ("status", "At Risk", "At Risk"),
        ("tier", "2", 2),
        ("address", {"city": "Paris"}, {"city": "Paris"}),
        ("tags", ["a"], ["a"]),
        ("metadata", [1, {"a": None}], [1, {"a": None}]),
        ("name", None, None),
    ],
)
def test_values_are_coerced_to_their_field_type(field: str, given: Any, stored: Any) -> None:
    checked = check_record(ACCOUNT, {"stripe_id": "cus_1", field: given}, partial=False)
    assert checked[field] == stored
    assert type(checked[field]) is type(stored)


@pytest.mark.parametrize(
    ("field", "given", "reason"),
    [
        ("stripe_id", True, "expected text, got boolean true"),
        ("seats", "12.5", "expected an integer, got string '12.5'"),
        ("seats", 2.5, "expected an integer"),
        ("seats", True, "expected an integer"),
        ("balance", "abc", "expected a number, got string 'abc'"),
        ("balance", float("nan"), "expected a number"),
        ("delinquent", "maybe", "expected a boolean"),
        ("delinquent", 2, "expected a boolean"),
        ("created", "next week", "expected a date-time"),
        ("created", [], "expected a date-time"),
        ("renews_on", "27/11/2026", "expected a date"),
        ("address", "Paris", "expected an object"),
        ("tags", "a,b", "expected an array"),
        ("tags", ["a", "b", "c"], "has 3 items; at most 2 are allowed"),
        ("name", "A much longer name", "has 18 characters; at most 10 are allowed"),
        ("status", "Churned", "string 'Churned' is not in the picklist (Customer, At Risk)"),
        ("tier", 3, "number 3 is not in the picklist"),
    ],
)
def test_bad_values_raise_schema_error_naming_the_field(field: str, given: Any, reason: str) -> None:
    with pytest.raises(SchemaError) as caught:
        check_record(ACCOUNT, {"stripe_id": "cus_1", field: given}, partial=False)
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{field}: ")


def test_required_fields_on_insert_and_on_partial_updates() -> None:
    with pytest.raises(SchemaError, match="stripe_id: is required"):
        check_record(ACCOUNT, {"name": "Ann"}, partial=False)
    with pytest.raises(SchemaError, match="stripe_id: is required"):
        check_record(ACCOUNT, {"stripe_id": None}, partial=False)
    assert check_record(ACCOUNT, {"name": "Ann"}, partial=True) == {"name": "Ann"}
    with pytest.raises(SchemaError, match="stripe_id: is required"):
        check_record(ACCOUNT, {"stripe_id": None, "name": "Ann"}, partial=True)


def test_an_empty_string_is_no_value_for_a_required_field() -> None:
    """A CSV row's empty cell maps to "": a required field must not take it as its value."""
    for blank in ("", "   "):
        with pytest.raises(SchemaError, match=r"stripe_id: is required but has no value \(an empty string\)"):
            check_record(ACCOUNT, {"stripe_id": blank}, partial=False)
        with pytest.raises(SchemaError, match="stripe_id: is required"):
            check_record(ACCOUNT, {"stripe_id": blank, "name": "Ann"}, partial=True)
    assert check_record(ACCOUNT, {"stripe_id": "c", "name": ""}, partial=False) == {"stripe_id": "c", "name": ""}


def test_unknown_fields_pass_unless_strict_and_id_is_always_allowed() -> None:
    assert check_record(ACCOUNT, {"stripe_id": "c", "extra": 1}, partial=False) == {"stripe_id": "c", "extra": 1}
    assert check_record(STRICT, {"event_id": "evt_1", "id": "e1"}, partial=False) == {"event_id": "evt_1", "id": "e1"}
    with pytest.raises(SchemaError) as caught:
        check_record(STRICT, {"event_id": "evt_1", "extra": 1}, partial=False)
    assert caught.value.field == "extra"
    assert "not a field of Event" in caught.value.reason
    with pytest.raises(SchemaError, match="id: a record id must be non-empty text"):
        check_record(STRICT, {"event_id": "evt_1", "id": ""}, partial=False)


def test_no_schema_passes_values_through_as_a_copy() -> None:
    values = {"anything": [1, 2]}
    checked = check_record(None, values, partial=False)
    assert checked == values and checked is not values


@pytest.mark.parametrize("bad_id", ["", "  ", 1.5, True, [1], {"a": 1}])
def test_no_schema_still_refuses_an_id_the_store_would_refuse(bad_id: Any) -> None:
    with pytest.raises(SchemaError, match="id: a record id must be non-empty text"):
        check_record(None, {"id": bad_id, "name": "Ann"}, partial=False)
    assert check_record(None, {"id": 42}, partial=True) == {"id": "42"}
