"""Planning outbound requests from records: sources, elements, placements, encodings."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from payloads_tui.domain.errors import MappingError, ValidationError
from payloads_tui.domain.models import ChildSource, Element, Integration, OutboundPayload, Source
from payloads_tui.engine.outbound import (
    build_document,
    build_requests,
    final_url,
    next_page,
    query_sources,
    success_rule,
)
from payloads_tui.store.records import RecordStore, RecordWrite

NOW = "2026-01-02T03:04:05Z"


@pytest.fixture
def records(tmp_path: Path) -> RecordStore:
    store = RecordStore(tmp_path, durable=False)
    store.apply([
        RecordWrite("insert", "Order", {"id": "o1", "number": "ORD-1", "total": 30, "status": "Open"}),
        RecordWrite("insert", "Order", {"id": "o2", "number": "ORD-2", "total": 10, "status": "Open"}),
        RecordWrite("insert", "Order", {"id": "o3", "number": "ORD-3", "total": 20, "status": "Paid"}),
        RecordWrite("insert", "OrderLine", {"id": "l1", "order_id": "o1", "sku": "B", "qty": 2}),
        RecordWrite("insert", "OrderLine", {"id": "l2", "order_id": "o1", "sku": "A", "qty": 1}),
        RecordWrite("insert", "OrderLine", {"id": "l3", "order_id": "o1", "sku": "C", "qty": 0}),
        RecordWrite("insert", "OrderLine", {"id": "l4", "order_id": "o2", "sku": "Z", "qty": 5}),
        RecordWrite("insert", "Account", {"id": "a1", "name": "Acme", "stripe_id": "cus 1/x?y"}),
    ])
    return store


def integration(*payloads: OutboundPayload) -> Integration:
    return Integration(slug="shop", name="Shop", variables={"base_url": "http://127.0.0.1:9", "version": "v9"},
                       outbound=list(payloads))


def orders_source(**kw: object) -> Source:
    return Source(name="orders", object="Order", children=[
        ChildSource(name="lines", object="OrderLine", parent_field="order_id", filter="qty > `0`", sort="sku"),
    ], **kw)  # type: ignore[arg-type]


def test_sources_filter_sort_limit_and_children(records: RecordStore) -> None:
    payload = OutboundPayload(name="p", sources=[orders_source(filter="status == 'Open'", sort="total",
                                                                descending=True, limit=5)])
    rows = query_sources(payload, records)
    assert [r["id"] for r in rows[0].records] == ["o1", "o2"]
    assert [line["sku"] for line in rows[0].records[0]["lines"]] == ["A", "B"]  # qty 0 filtered, sorted
    assert [line["sku"] for line in rows[0].records[1]["lines"]] == ["Z"]
    limited = query_sources(OutboundPayload(name="p", sources=[Source(name="o", object="Order", sort="total",
                                                                      limit=2)]), records)
    assert [r["id"] for r in limited[0].records] == ["o2", "o3"]


def test_record_ids_restrict_the_first_source_and_keep_its_filter(records: RecordStore) -> None:
    payload = OutboundPayload(name="p", sources=[orders_source(filter="status == 'Open'")])
    assert [r["id"] for r in query_sources(payload, records, record_ids=["o2", "o3"])[0].records] == ["o2"]


def test_per_record_form_body_with_nested_objects_and_arrays_from_children(records: RecordStore) -> None:
    payload = OutboundPayload(
        name="Push order", method="POST", content_type="form", request_per_record=True,
        endpoint="{base_url}/orders/{order.number}", sources=[orders_source(filter="status == 'Open'")],
        elements=[
            Element(path="reference", expression="number"),
            Element(path="metadata.local_id", expression="id"),
            Element(path="metadata.source", source="static", value="console"),
            Element(path="missing", expression="no_such_field"),
            Element(path="items", each="lines", elements=[
                Element(path="price", expression="sku"),
                Element(path="quantity", expression="qty"),
            ]),
        ],
    )
    rows = query_sources(payload, records)
    planned = build_requests(integration(payload), payload, rows, now_iso=NOW)
    assert [p.url for p in planned] == ["http://127.0.0.1:9/orders/ORD-1", "http://127.0.0.1:9/orders/ORD-2"]
    first = planned[0]
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(first.body.decode()) == [
        ("reference", "ORD-1"), ("metadata[local_id]", "o1"), ("metadata[source]", "console"),
        ("items[0][price]", "A"), ("items[0][quantity]", "1"),
        ("items[1][price]", "B"), ("items[1][quantity]", "2"),
    ]
    assert first.record_ids == ["o1"] and first.record["id"] == "o1"
    assert first.data[0]["lines"][0]["sku"] == "A"


def test_json_body_headers_query_and_url_merge_fields_encoded(records: RecordStore) -> None:
    payload = OutboundPayload(
        name="Update", method="PUT", content_type="json", request_per_record=True,
        endpoint="{base_url}/customers/{account.stripe_id}/{segment}",
        headers={"Api-Version": "{version}", "X-Account": "{record.name}"},
        query={"expand": "{account.name}"},
        sources=[Source(name="accounts", object="Account")],
        elements=[
            Element(path="segment", placement="url", source="static", value="a b"),
            Element(path="X-Local-Id", placement="header", expression="id"),
            Element(path="flag", placement="query", source="static", value=True),
            Element(path="customer.name", expression="name"),
            Element(path="customer.sent_at", source="now"),
            Element(path="version", source="variable", expression="version"),
        ],
    )
    planned = build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)[0]
    assert planned.url == "http://127.0.0.1:9/customers/cus%201%2Fx%3Fy/a%20b"
    assert planned.headers["Api-Version"] == "v9"
    assert planned.headers["X-Account"] == "Acme"
    assert planned.headers["X-Local-Id"] == "a1"
    assert planned.query == [("expand", "Acme"), ("flag", "true")]
    assert json.loads(planned.body) == {"customer": {"name": "Acme", "sent_at": NOW}, "version": "v9"}
    url = final_url(planned)
    assert url.path == "/customers/cus 1/x?y/a b" or url.raw_path.startswith(b"/customers/cus%201%2Fx%3Fy/a%20b")
    assert dict(url.params) == {"expand": "Acme", "flag": "true"}


def test_get_sends_body_elements_as_bracket_query_parameters(records: RecordStore) -> None:
    payload = OutboundPayload(
        name="List", method="GET", endpoint="{base_url}/v1/customers", query={"limit": "3"},
        elements=[Element(path="created.gte", source="static", value=100)],
    )
    planned = build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)[0]
    assert planned.body is None and "Content-Type" not in planned.headers
    assert planned.query == [("limit", "3"), ("created[gte]", "100")]


def test_one_request_mode_builds_arrays_over_sources(records: RecordStore) -> None:
    payload = OutboundPayload(
        name="Batch", method="POST", endpoint="{base_url}/batch",
        sources=[orders_source(sort="number")],
        elements=[
            Element(path="count", expression="length(orders)"),
            Element(path="orders", each="orders", elements=[
                Element(path="number", expression="number"),
                Element(path="skus", expression="lines[].sku"),
            ]),
        ],
    )
    planned = build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)
    assert len(planned) == 1
    assert json.loads(planned[0].body) == {"count": 3, "orders": [
        {"number": "ORD-1", "skus": ["A", "B"]}, {"number": "ORD-2", "skus": ["Z"]},
        {"number": "ORD-3", "skus": []},
    ]}
    assert planned[0].record_ids == ["o1", "o2", "o3"]
    body, content_type = build_document(integration(payload), payload, query_sources(payload, records), now_iso=NOW)
    assert content_type == "application/json" and json.loads(body)["count"] == 3


def test_one_request_says_which_record_elements_read_nothing(records: RecordStore) -> None:
    payload = OutboundPayload(
        name="Batch", method="POST", endpoint="{base_url}/batch", sources=[orders_source(sort="number")],
        elements=[Element(path="count", expression="length(orders)"), Element(path="number", expression="number"),
                  Element(path="first", expression="orders[0].number")],
    )
    [planned] = build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)
    assert json.loads(planned.body) == {"count": 3, "first": "ORD-1"}
    assert planned.note == ("element 'number' gave no value and was left out: this payload sends one request for "
                            "all its records (per record is off), so an element reads the sources by name, e.g. "
                            "orders[0].name, or is an array of orders")
    payload.elements.pop(1)
    [planned] = build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)
    assert planned.note is None
    per_record = OutboundPayload(name="Each", method="POST", endpoint="{base_url}/o", request_per_record=True,
                                 sources=[orders_source()], elements=[Element(path="number", expression="number"),
                                                                       Element(path="gone", expression="missing")])
    planned_each = build_requests(integration(per_record), per_record, query_sources(per_record, records), now_iso=NOW)
    assert all(p.note is None for p in planned_each), "per record, a missing optional field is normal"


def test_a_bad_element_names_itself_and_can_be_kept_per_record(records: RecordStore) -> None:
    payload = OutboundPayload(
        name="Bad", method="POST", endpoint="{base_url}/x/{record.number}", request_per_record=True,
        sources=[Source(name="orders", object="Order", sort="number")],
        elements=[Element(path="amount", expression="abs(number)")],
    )
    rows = query_sources(payload, records)
    with pytest.raises(MappingError, match="record o1: element 'amount'"):
        build_requests(integration(payload), payload, rows, now_iso=NOW)
    kept = build_requests(integration(payload), payload, rows, now_iso=NOW, keep_failures=True)
    assert [p.record_ids for p in kept] == [["o1"], ["o2"], ["o3"]]
    assert all(p.error and p.error.startswith("element 'amount'") for p in kept)


def test_one_requests_errors_say_per_record_is_off(records: RecordStore) -> None:
    """`length(lines)` and `{number}` read one record's fields only per record: say so, not just "null"."""
    payload = OutboundPayload(name="One", method="POST", endpoint="{base_url}/o", sources=[orders_source()],
                              elements=[Element(path="metadata.count", expression="length(number)")])
    with pytest.raises(MappingError) as caught:
        build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)
    assert str(caught.value) == (
        "element 'metadata.count': length() got null, expected string or array or object (per record is off: "
        "this payload sends one request for all its records, so expressions read each source by name, such as "
        "orders[0].id, not one record's fields; turn per record on to send one request per record)")
    merge = OutboundPayload(name="U", method="POST", endpoint="{base_url}/o/{number}", sources=[orders_source()])
    [kept] = build_requests(integration(merge), merge, query_sources(merge, records), now_iso=NOW, keep_failures=True)
    assert kept.error is not None and kept.error.endswith("turn per record on to send one request per record)")


def test_missing_merge_field_is_a_mapping_error(records: RecordStore) -> None:
    payload = OutboundPayload(name="U", method="POST", endpoint="{base_url}/x/{account.nothing}",
                              request_per_record=True, sources=[Source(name="a", object="Account")])
    with pytest.raises(MappingError, match=r"endpoint: .*\{account.nothing\}"):
        build_requests(integration(payload), payload, query_sources(payload, records), now_iso=NOW)


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [("2xx", [200, 204, 299], [199, 300, 404]), ("2xx,304", [201, 304], [302, 500]),
     ("200-299,409", [250, 409], [410, 300]), ("", [200], [500])],
)
def test_success_rule(rule: str, good: list[int], bad: list[int]) -> None:
    accept = success_rule(rule)
    assert all(accept(code) for code in good) and not any(accept(code) for code in bad)


@pytest.mark.parametrize("rule", ["2yy", "600", "299-200", "ok"])
def test_bad_success_rule_is_refused(rule: str) -> None:
    with pytest.raises(ValidationError, match="success_codes"):
        success_rule(rule)


def test_next_page_follows_has_more_with_the_last_id() -> None:
    from payloads_tui.engine.outbound import PlannedRequest

    planned = PlannedRequest("GET", "http://h/v1/customers?starting_after=old", query=[("limit", "2")])
    page = json.dumps({"data": [{"id": "cus_1"}, {"id": "cus_2"}], "has_more": True}).encode()
    following = next_page(planned, page)
    assert following is not None and following.query == [("limit", "2"), ("starting_after", "cus_2")]
    assert urlsplit(str(final_url(following))).query == "limit=2&starting_after=cus_2"
    assert next_page(planned, json.dumps({"data": [{"id": "x"}], "has_more": False}).encode()) is None
    assert next_page(planned, b"not json") is None
