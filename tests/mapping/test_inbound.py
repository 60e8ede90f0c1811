"""InboundProcessor against a real RecordStore: operations, links, partial success, dry runs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from payloads_tui.domain.models import (
    FieldMapping,
    FieldSpec,
    InboundPayload,
    Integration,
    ObjectSchema,
    Target,
)
from payloads_tui.domain.validation import validate_integration
from payloads_tui.engine.inbound import InboundOutcome, InboundProcessor
from payloads_tui.store.records import RecordStore

# --- Stripe-like fixtures --------------------------------------------------------------

SCHEMAS = {
    "Account": ObjectSchema(name="Account", external_id="stripe_id", fields=[
        FieldSpec(name="stripe_id", required=True),
        FieldSpec(name="email", max_length=120),
        FieldSpec(name="name"),
        FieldSpec(name="balance", type="number"),
        FieldSpec(name="status", picklist=["Customer", "At Risk", "Prospect"]),
        FieldSpec(name="created", type="datetime"),
    ]),
    "Order": ObjectSchema(name="Order", external_id="stripe_id", fields=[
        FieldSpec(name="stripe_id", required=True),
        FieldSpec(name="customer"),
        FieldSpec(name="total", type="number", required=True),
        FieldSpec(name="currency", max_length=3),
        FieldSpec(name="paid_on", type="date"),
    ]),
    "OrderLine": ObjectSchema(name="OrderLine", external_id="stripe_id", fields=[
        FieldSpec(name="stripe_id", required=True),
        FieldSpec(name="order_id", required=True),
        FieldSpec(name="description"),
        FieldSpec(name="amount", type="number", required=True),
        FieldSpec(name="quantity", type="integer"),
    ]),
    "Contact": ObjectSchema(name="Contact", external_id="email", fields=[FieldSpec(name="email"), FieldSpec(name="name")]),
    "Event": ObjectSchema(name="Event", external_id="event_id", strict=True, fields=[
        FieldSpec(name="event_id", required=True),
        FieldSpec(name="type"),
        FieldSpec(name="received", type="datetime"),
    ]),
}

STATUS_MAP = '`{"active": "Customer", "past_due": "At Risk"}`'


def customer(n: int, **changes: Any) -> dict[str, Any]:
    data = {
        "id": f"cus_{n:04d}", "object": "customer", "email": f"user{n}@example.com", "name": f"Customer {n}",
        "balance": 1999 + n, "created": 1795763580 + n, "currency": "usd", "delinquent": False,
        "metadata": {"status": "active" if n % 2 else "past_due"},
    }
    data.update(changes)
    return data


def customer_list(*customers: dict[str, Any]) -> bytes:
    return json.dumps({"object": "list", "url": "/v1/customers", "has_more": False, "data": list(customers)}).encode()


def checkout_session(*lines: dict[str, Any], session: str = "cs_test_1", event: str = "evt_1") -> bytes:
    return json.dumps({
        "id": event, "object": "event", "type": "checkout.session.completed", "created": 1795763580,
        "data": {"object": {
            "id": session, "object": "checkout.session", "customer": "cus_0001", "amount_total": 4500,
            "currency": "usd", "created": 1795763580,
            "line_items": {"object": "list", "data": list(lines)},
        }},
    }).encode()


def line(n: int, amount: Any = 1500, quantity: Any = 1) -> dict[str, Any]:
    return {"id": f"li_{n}", "object": "item", "description": f"Item {n}", "amount_total": amount, "quantity": quantity}


ACCOUNT_UPSERT = Target(name="Account", object="Account", items="data", operation="upsert", match_key=["stripe_id"], mappings=[
    FieldMapping(field="stripe_id", expression="id"),
    FieldMapping(field="email", expression="lower(email)"),
    FieldMapping(field="name", expression="name"),
    FieldMapping(field="balance", expression="cents_to_decimal(balance)"),
    FieldMapping(field="status", expression=f"lookup(metadata.status, {STATUS_MAP}, 'Prospect')"),
    FieldMapping(field="created", expression="to_iso(created)"),
])

EVENT_INSERT = Target(name="Event", object="Event", operation="insert", mappings=[
    FieldMapping(field="event_id", expression="id"),
    FieldMapping(field="type", expression="type"),
    FieldMapping(field="received", source="now"),
])
ORDER_UPSERT = Target(name="Order", object="Order", items="data.object", match_key=["stripe_id"], mappings=[
    FieldMapping(field="stripe_id", expression="id"),
    FieldMapping(field="customer", expression="customer"),
    FieldMapping(field="total", expression="cents_to_decimal(amount_total)"),
    FieldMapping(field="currency", expression="upper(currency)"),
    FieldMapping(field="paid_on", expression="date_only(created)"),
])
LINE_UPSERT = Target(name="OrderLine", object="OrderLine", items="data.object.line_items.data", match_key=["stripe_id"], mappings=[
    FieldMapping(field="stripe_id", expression="id"),
    FieldMapping(field="order_id", source="target", target="Order"),
    FieldMapping(field="description", expression="description"),
    FieldMapping(field="amount", expression="cents_to_decimal(amount_total)"),
    FieldMapping(field="quantity", expression="quantity"),
])


def payload(*targets: Target, partial: bool = False, name: str = "p") -> InboundPayload:
    return InboundPayload(name=name, allow_partial_success=partial, targets=list(targets))


def integration(*payloads: InboundPayload) -> Integration:
    built = Integration(slug="stripe", name="Stripe", inbound=list(payloads))
    validate_integration(built)  # every payload used here is one a user could save
    return built


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    return RecordStore(tmp_path, durable=False)


@pytest.fixture
def processor(store: RecordStore) -> InboundProcessor:
    return InboundProcessor(store, SCHEMAS.get)


def run(processor: InboundProcessor, p: InboundPayload, body: bytes, **kwargs: Any) -> InboundOutcome:
    return processor.run_body(integration(p), p, body, **kwargs)


def without_times(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "updated_at"} for r in records]


# --- operations ------------------------------------------------------------------------


def test_upsert_inserts_then_updates_the_same_records(processor: InboundProcessor, store: RecordStore) -> None:
    p = payload(ACCOUNT_UPSERT)
    body = customer_list(customer(1), customer(2))
    first = run(processor, p, body)
    assert (first.status, first.records_processed, first.records_failed, first.error) == ("Completed", 2, 0, None)
    assert [r.operation for r in first.results] == ["insert", "insert"]
    stored = store.find("Account", {"stripe_id": "cus_0001"})
    assert len(stored) == 1
    assert stored[0] | {"id": "", "created_at": "", "updated_at": ""} == {
        "id": "", "created_at": "", "updated_at": "", "stripe_id": "cus_0001", "email": "user1@example.com",
        "name": "Customer 1", "balance": 20.0, "status": "Customer", "created": "2026-11-27T07:13:01Z",
    }
    assert store.find("Account", {"stripe_id": "cus_0002"})[0]["status"] == "At Risk"
    before = store.all("Account")

    second = run(processor, p, body)
    assert second.status == "Completed"
    assert [r.operation for r in second.results] == ["update", "update"]
    assert [r.record_id for r in second.results] == [r.record_id for r in first.results]
    assert without_times(store.all("Account")) == without_times(before)
    assert store.count("Account") == 2


def test_update_needs_exactly_one_match(processor: InboundProcessor, store: RecordStore) -> None:
    store.insert("Account", {"stripe_id": "cus_0001", "name": "Old", "email": "keep@example.com"})
    store.insert("Account", {"stripe_id": "cus_dup", "name": "A"})
    store.insert("Account", {"stripe_id": "cus_dup", "name": "B"})
    update = Target(name="Account", object="Account", items="data", operation="update", match_key=["stripe_id"],
                    mappings=[FieldMapping(field="stripe_id", expression="id"), FieldMapping(field="name", expression="name")])
    outcome = run(processor, payload(update, partial=True),
                  customer_list(customer(1), customer(404, id="cus_404"), customer(5, id="cus_dup")))
    assert outcome.status == "Partially Completed"
    assert outcome.results[0].operation == "update"
    assert outcome.results[1].error == "no Account with stripe_id=cus_404"
    assert outcome.results[2].error is not None and "2 Account records have stripe_id=cus_dup" in outcome.results[2].error
    updated = store.find("Account", {"stripe_id": "cus_0001"})[0]
    assert (updated["name"], updated["email"]) == ("Customer 1", "keep@example.com")


def test_upsert_matches_on_two_keys(processor: InboundProcessor, store: RecordStore) -> None:
    store.insert("Price", {"product": "prod_1", "currency": "USD", "amount": 1.0})
    eur = store.insert("Price", {"product": "prod_1", "currency": "EUR", "amount": 2.0})
    prices = Target(name="Price", object="Price", items="data", match_key=["product", "currency"], mappings=[
        FieldMapping(field="product", expression="product"),
        FieldMapping(field="currency", expression="upper(currency)"),
        FieldMapping(field="amount", expression="cents_to_decimal(unit_amount)"),
    ])
    body = json.dumps({"data": [{"product": "prod_1", "currency": "eur", "unit_amount": 250},
                                {"product": "prod_2", "currency": "eur", "unit_amount": 900}]}).encode()
    outcome = run(processor, payload(prices), body)
    assert [(r.operation, r.record_id == eur["id"]) for r in outcome.results] == [("update", True), ("insert", False)]
    assert store.get("Price", eur["id"])["amount"] == 2.5
    assert store.count("Price") == 3


def test_later_items_see_records_planned_earlier_in_the_same_job(processor: InboundProcessor, store: RecordStore) -> None:
    body = customer_list(customer(1), customer(2), customer(1, name="Renamed"))
    outcome = run(processor, payload(ACCOUNT_UPSERT), body)
    assert [r.operation for r in outcome.results] == ["insert", "insert", "update"]
    assert outcome.results[2].record_id == outcome.results[0].record_id
    assert [a["name"] for a in store.all("Account")] == ["Renamed", "Customer 2"]


def test_parent_and_child_records_are_linked(tmp_path: Path, processor: InboundProcessor) -> None:
    p = payload(EVENT_INSERT, ORDER_UPSERT, LINE_UPSERT)
    outcome = run(processor, p, checkout_session(line(1), line(2, amount=3000, quantity="2")))
    assert outcome.status == "Completed", outcome.error
    assert outcome.records_processed == 4
    fresh = RecordStore(tmp_path)
    (order,) = fresh.all("Order")
    assert order | {"id": "", "created_at": "", "updated_at": ""} == {
        "id": "", "created_at": "", "updated_at": "", "stripe_id": "cs_test_1", "customer": "cus_0001",
        "total": 45.0, "currency": "USD", "paid_on": "2026-11-27",
    }
    lines = fresh.find("OrderLine", {"order_id": order["id"]})
    assert [(ln["stripe_id"], ln["amount"], ln["quantity"]) for ln in lines] == [("li_1", 15.0, 1), ("li_2", 30.0, 2)]
    (event,) = fresh.all("Event")
    assert event["event_id"] == "evt_1" and event["received"].endswith("Z")


def test_each_child_links_to_the_parent_it_lies_under_not_the_one_of_its_index(
        tmp_path: Path, processor: InboundProcessor) -> None:
    """Two orders, A with two lines and B with one: by position, line a2 went to order B and b1 to none."""
    orders = Target(name="Order", object="Purchase", items="orders", match_key=["stripe_id"],
                    mappings=[FieldMapping(field="stripe_id", expression="id")])
    lines = Target(name="Line", object="PurchaseLine", items="orders[].lines[]", match_key=["stripe_id"], mappings=[
        FieldMapping(field="stripe_id", expression="id"),
        FieldMapping(field="order_id", source="target", target="Order"),
    ])
    by_order = Target(name="Big", object="PurchaseLine", items="orders[*].lines[?qty > `1`][]", match_key=["stripe_id"],
                      operation="update", mappings=[
        FieldMapping(field="stripe_id", expression="id"),
        FieldMapping(field="big_of", source="target", target="Order", expression="stripe_id"),
    ])
    body = json.dumps({"orders": [{"id": "A", "lines": [{"id": "a1", "qty": 1}, {"id": "a2", "qty": 2}]},
                                  {"id": "B", "lines": [{"id": "b1", "qty": 3}]}]}).encode()
    outcome = run(processor, payload(orders, lines, by_order), body)
    assert outcome.status == "Completed", outcome.error
    fresh = RecordStore(tmp_path)
    order_of = {order["id"]: order["stripe_id"] for order in fresh.all("Purchase")}
    linked = {line["stripe_id"]: (order_of[line["order_id"]], line.get("big_of")) for line in fresh.all("PurchaseLine")}
    assert linked == {"a1": ("A", None), "a2": ("A", "A"), "b1": ("B", "B")}


def test_a_child_that_lies_under_no_parent_fails_rather_than_taking_one_by_position(
        processor: InboundProcessor) -> None:
    orders = Target(name="Order", object="Purchase", items="orders", operation="insert",
                    mappings=[FieldMapping(field="n", expression="n")])
    notes = Target(name="Note", object="Note", items="notes", operation="insert", mappings=[
        FieldMapping(field="text", expression="@"), FieldMapping(field="order_id", source="target", target="Order"),
    ])
    body = json.dumps({"orders": [{"n": 1}, {"n": 2}], "notes": ["x", "y", "z"]}).encode()
    outcome = run(processor, payload(orders, notes), body)
    assert outcome.status == "Failed"
    assert outcome.error == (
        "item 1 of target Note: order_id: cannot tell which of the 2 Order records this item belongs to: it does not "
        "lie inside an item of target Order. Select this target's items under Order's (for orders and their lines: "
        "orders, then orders[].lines[]); partial success is off, so nothing was written")
    parallel = json.dumps({"orders": [{"n": 1}, {"n": 2}], "notes": ["x", "y"]}).encode()
    assert run(processor, payload(orders, notes), parallel).status == "Completed"  # as many: by position


def test_an_empty_external_id_fails_its_item_instead_of_clashing_with_the_next(processor: InboundProcessor,
                                                                                store: RecordStore) -> None:
    contacts = Target(name="Contact", object="Contact", items="@", operation="insert", mappings=[
        FieldMapping(field="email", expression="email"), FieldMapping(field="name", expression="name"),
    ])
    outcome = run(processor, payload(contacts, partial=True), b'[{"email": "", "name": "A"}, {"email": "b@x", "name": "B"}]')
    assert outcome.status == "Partially Completed"
    assert outcome.error == ("1 of 2 records failed: item 1 of target Contact: email: the external id is an empty string; "
                             "each Contact record needs its own")
    assert [r["name"] for r in store.all("Contact")] == ["B"]


def test_a_duplicate_event_is_refused_by_its_external_id(processor: InboundProcessor, store: RecordStore) -> None:
    p = payload(EVENT_INSERT, ORDER_UPSERT, LINE_UPSERT)
    body = checkout_session(line(1))
    assert run(processor, p, body).status == "Completed"
    again = run(processor, p, body)
    assert again.status == "Failed"
    assert again.results[0].error is not None
    assert "duplicate external id" in again.results[0].error
    assert again.error is not None and again.error.startswith("item 1 of target Event: event_id: duplicate external id")
    assert (store.count("Event"), store.count("Order"), store.count("OrderLine")) == (1, 1, 1)


def test_duplicates_within_one_job_are_refused_too(processor: InboundProcessor, store: RecordStore) -> None:
    events = Target(name="Event", object="Event", items="data", operation="insert",
                    mappings=[FieldMapping(field="event_id", expression="id")])
    body = json.dumps({"data": [{"id": "evt_a"}, {"id": "evt_b"}, {"id": "evt_a"}]}).encode()
    outcome = run(processor, payload(events, partial=True), body)
    assert outcome.status == "Partially Completed"
    assert [r.error is None for r in outcome.results] == [True, True, False]
    assert sorted(e["event_id"] for e in store.all("Event")) == ["evt_a", "evt_b"]


def test_schema_errors_name_the_item_target_and_field(processor: InboundProcessor) -> None:
    outcome = run(processor, payload(ORDER_UPSERT, LINE_UPSERT), checkout_session(line(1), line(2), line(3, amount=None)))
    assert outcome.status == "Failed"
    assert outcome.error == (
        "item 3 of target OrderLine: amount: is required but has no value; partial success is off, so nothing was written"
    )


# --- partial success -------------------------------------------------------------------

BAD_LINE_BODY = checkout_session(line(1), line(2, amount="abc"), line(3))


def test_partial_success_on_writes_the_good_records_and_reports_the_bad(tmp_path: Path, processor: InboundProcessor) -> None:
    outcome = run(processor, payload(ORDER_UPSERT, LINE_UPSERT, partial=True), BAD_LINE_BODY)
    assert outcome.status == "Partially Completed"
    assert (outcome.records_processed, outcome.records_failed) == (3, 1)
    bad = outcome.results[2]
    assert (bad.target, bad.item, bad.record_id) == ("OrderLine", 1, None)
    assert bad.error is not None and bad.error.startswith("amount: cents_to_decimal() expects a number")
    assert outcome.error is not None and outcome.error.startswith("1 of 4 records failed: item 2 of target OrderLine")
    fresh = RecordStore(tmp_path)
    assert sorted(ln["stripe_id"] for ln in fresh.all("OrderLine")) == ["li_1", "li_3"]
    assert fresh.count("Order") == 1


def test_partial_success_off_writes_nothing_in_any_target(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, durable=True)
    processor = InboundProcessor(store, SCHEMAS.get)
    outcome = run(processor, payload(EVENT_INSERT, ORDER_UPSERT, LINE_UPSERT), BAD_LINE_BODY)
    assert outcome.status == "Failed"
    assert (outcome.records_processed, outcome.records_failed) == (0, 1)
    assert outcome.error is not None
    assert outcome.error.startswith("item 2 of target OrderLine: amount: cents_to_decimal() expects a number")
    assert outcome.error.endswith("partial success is off, so nothing was written")
    fresh = RecordStore(tmp_path)
    assert (fresh.count("Event"), fresh.count("Order"), fresh.count("OrderLine")) == (0, 0, 0)
    assert [r.error is None for r in outcome.results] == [True, True, True, False]  # stopped at the bad line


def test_children_of_a_failed_parent_fail_with_parent_record_failed(processor: InboundProcessor, store: RecordStore) -> None:
    invoices = Target(name="Invoice", object="Order", items="data", match_key=["stripe_id"], mappings=[
        FieldMapping(field="stripe_id", expression="id"),
        FieldMapping(field="total", expression="cents_to_decimal(amount_due)"),
    ])
    payments = Target(name="Payment", object="OrderLine", items="data[].payment", match_key=["stripe_id"], mappings=[
        FieldMapping(field="stripe_id", expression="id"),
        FieldMapping(field="order_id", source="target", target="Invoice"),
        FieldMapping(field="amount", expression="cents_to_decimal(amount)"),
    ])
    body = json.dumps({"data": [
        {"id": "in_1", "amount_due": 100, "payment": {"id": "pi_1", "amount": 100}},
        {"id": "in_2", "amount_due": "x", "payment": {"id": "pi_2", "amount": 200}},
        {"id": "in_3", "amount_due": 300, "payment": {"id": "pi_3", "amount": 300}},
    ]}).encode()
    outcome = run(processor, payload(invoices, payments, partial=True), body)
    assert [(r.target, r.item, r.error) for r in outcome.results if r.error] == [
        ("Invoice", 1, outcome.results[1].error), ("Payment", 1, "parent record failed"),
    ]
    orders = {o["stripe_id"]: o["id"] for o in store.all("Order")}
    assert {ln["stripe_id"]: ln["order_id"] for ln in store.all("OrderLine")} == {"pi_1": orders["in_1"], "pi_3": orders["in_3"]}


def test_all_items_failing_is_failed_even_with_partial_success(processor: InboundProcessor, store: RecordStore) -> None:
    outcome = run(processor, payload(ACCOUNT_UPSERT, partial=True), customer_list(customer(1, balance="x"), customer(2, balance=[])))
    assert (outcome.status, outcome.records_processed, outcome.records_failed) == ("Failed", 0, 2)
    assert outcome.error is not None and outcome.error.startswith("all 2 records failed; the first: item 1 of target Account")
    assert store.count("Account") == 0


def test_a_lone_failing_record_is_named_as_the_only_one(processor: InboundProcessor, store: RecordStore) -> None:
    outcome = run(processor, payload(ACCOUNT_UPSERT, partial=True), customer_list(customer(1, balance="x")))
    assert (outcome.status, outcome.records_processed, outcome.records_failed) == ("Failed", 0, 1)
    assert outcome.error is not None and outcome.error.startswith("the only record failed: item 1 of target Account")
    assert store.count("Account") == 0


def test_nothing_selected_is_completed_with_a_note_naming_the_selection(processor: InboundProcessor) -> None:
    outcome = run(processor, payload(ACCOUNT_UPSERT), customer_list())
    assert (outcome.status, outcome.results, outcome.error) == ("Completed", [], None)
    assert outcome.note == "nothing was written: target Account's items `data` selected nothing from the body"
    for body in (b"null", b"{}"):
        assert run(processor, payload(ORDER_UPSERT, LINE_UPSERT), body, dry_run=True).note == (
            "nothing was written: no target's items selected anything from the body "
            "(Order: `data.object`; OrderLine: `data.object.line_items.data`)")
    assert run(processor, payload(), b"{}").note == "nothing was written: inbound payload 'p' has no targets"


def test_a_job_that_writes_something_has_no_note(processor: InboundProcessor) -> None:
    # an order without lines is an order: one target selecting nothing is not worth a note
    assert run(processor, payload(ORDER_UPSERT, LINE_UPSERT), checkout_session()).note is None
    failed = run(processor, payload(ACCOUNT_UPSERT), customer_list(customer(1, balance="x")))
    assert failed.status == "Failed" and failed.note is None


# --- dry runs, bodies ------------------------------------------------------------------


def test_dry_run_reports_the_same_results_and_writes_nothing(tmp_path: Path, processor: InboundProcessor, store: RecordStore) -> None:
    p = payload(EVENT_INSERT, ORDER_UPSERT, LINE_UPSERT, partial=True)
    dry = run(processor, p, BAD_LINE_BODY, dry_run=True)
    assert dry.dry_run and dry.status == "Partially Completed"
    assert store.count("Order") == 0 and RecordStore(tmp_path).count("OrderLine") == 0
    assert not (tmp_path / "records" / "Order.json").exists()
    real = run(processor, p, BAD_LINE_BODY)
    strip = lambda o: [(r.target, r.item, r.operation, r.error, {k: v for k, v in (r.values or {}).items() if k not in ("id", "order_id", "received")}) for r in o.results]  # noqa: E731
    assert strip(dry) == strip(real)
    assert store.count("OrderLine") == 2


def test_a_body_that_does_not_parse_fails_naming_where(processor: InboundProcessor, store: RecordStore) -> None:
    broken = b'{\n  "object": "list",\n  "data": [,]\n}'
    outcome = run(processor, payload(ACCOUNT_UPSERT), broken)
    assert outcome.status == "Failed"
    assert outcome.error is not None
    assert outcome.error.startswith("could not parse the body as JSON: ")
    assert "(at line 3, column" in outcome.error
    assert outcome.results == [] and "parse" in outcome.timings
    assert store.count("Account") == 0


def test_the_charset_of_the_content_type_is_used(processor: InboundProcessor, store: RecordStore) -> None:
    body = customer_list(customer(1, name="Zoë Café")).decode().replace("\\u00eb", "ë").replace("\\u00e9", "é").encode("latin-1")
    outcome = run(processor, payload(ACCOUNT_UPSERT), body, content_type="application/json; charset=iso-8859-1")
    assert outcome.status == "Completed", outcome.error
    assert store.all("Account")[0]["name"] == "Zoë Café"
    assert set(outcome.timings) == {"parse", "map", "write"}


def test_context_feeds_a_response_handler(processor: InboundProcessor, store: RecordStore) -> None:
    account = store.insert("Account", {"stripe_id": "pending", "name": "Ann"})
    handler = Target(name="Account", object="Account", items="@", operation="update", match_key=["id"], mappings=[
        FieldMapping(field="id", source="context", expression="record.id"),
        FieldMapping(field="stripe_id", expression="id"),
    ])
    p = payload(handler)
    outcome = processor.run_document(integration(p), p, customer(7), context={"record": {"id": account["id"]}})
    assert outcome.status == "Completed", outcome.error
    assert store.get("Account", account["id"])["stripe_id"] == "cus_0007"


def test_a_thousand_items_plan_well_under_a_second(processor: InboundProcessor, store: RecordStore) -> None:
    body = customer_list(*(customer(n) for n in range(1000)))
    started = time.perf_counter()
    outcome = run(processor, payload(ACCOUNT_UPSERT), body)
    elapsed = time.perf_counter() - started
    assert outcome.records_processed == 1000 and store.count("Account") == 1000
    again = run(processor, payload(ACCOUNT_UPSERT), body)
    assert again.records_processed == 1000 and store.count("Account") == 1000
    assert elapsed < 2.0  # ~0.1 s here; generous for a shared machine
    assert {r.operation for r in again.results} == {"update"}


def test_concurrent_jobs_insert_an_external_id_once(store: RecordStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def slow_schema_of(obj: str) -> ObjectSchema | None:
        if obj == "Order":
            time.sleep(0.02)  # widen the window between planning the Event and writing it
        return SCHEMAS.get(obj)

    processor = InboundProcessor(store, slow_schema_of)
    p = payload(EVENT_INSERT, ORDER_UPSERT)
    body = checkout_session(event="evt_race")
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: run(processor, p, body), range(8)))
    assert sorted(o.status for o in outcomes) == ["Completed"] + ["Failed"] * 7
    assert store.count("Event") == 1


def test_a_store_that_refuses_the_batch_fails_the_job_and_writes_nothing(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, durable=False)
    victim = store.insert("Account", {"stripe_id": "cus_0001", "name": "Old"})

    def schema_of(obj: str) -> ObjectSchema | None:
        if obj == "Order" and store.get("Account", victim["id"]):
            store.delete("Account", victim["id"])  # another writer deletes what target 1 planned to update
        return SCHEMAS.get(obj)

    accounts = ACCOUNT_UPSERT
    orders = Target(name="Order", object="Order", items="data", operation="insert", mappings=[
        FieldMapping(field="stripe_id", expression="concat('ord_', id)"),
        FieldMapping(field="total", expression="cents_to_decimal(balance)"),
    ])
    outcome = run(InboundProcessor(store, schema_of), payload(accounts, orders), customer_list(customer(1)))
    assert outcome.status == "Failed"
    assert outcome.error is not None and outcome.error.startswith("the records could not be written, so none was: ")
    assert (outcome.records_processed, outcome.records_failed) == (0, 2)
    assert (store.count("Account"), store.count("Order")) == (0, 0)


def test_a_damaged_record_file_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, durable=False)
    (tmp_path / "records" / "Account.json").write_text("{not json")
    outcome = run(InboundProcessor(store, SCHEMAS.get), payload(ACCOUNT_UPSERT), customer_list(customer(1)))
    assert outcome.status == "Failed"
    assert outcome.error is not None and outcome.error.startswith("the records could not be read: ")
    assert "Account.json" in outcome.error
