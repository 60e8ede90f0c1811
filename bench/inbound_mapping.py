"""Benchmark: a Stripe customer list through an inbound payload, against the bare stack.

Runs a body of N customers (default 1,000) through `InboundProcessor.run_body` with an
upsert on `Account.stripe_id` (9 mapped fields incl. cents_to_decimal, to_iso, lookup):
once into an empty store (all inserts), once again (all updates). Parse, map and write
are timed separately (the processor's own timings). In the same run, the bare cost:
`json.loads` + a plain-Python loop building the same dicts + one TinyDB
`insert_multiple`, with TinyDB's default JSON storage and with our AtomicJSONStorage.

    .venv/bin/python bench/inbound_mapping.py [--count 1000] [--repeat 5]

Prints a markdown table of medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import JSONStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from payloads_tui.domain.models import (  # noqa: E402
    FieldMapping,
    FieldSpec,
    InboundPayload,
    Integration,
    ObjectSchema,
    Target,
)
from payloads_tui.domain.validation import validate_integration  # noqa: E402
from payloads_tui.engine.inbound import InboundOutcome, InboundProcessor  # noqa: E402
from payloads_tui.store.records import RecordStore  # noqa: E402
from payloads_tui.store.storage import AtomicJSONStorage  # noqa: E402

FIRST = ["Ann", "Bo", "Chen", "Dana", "Emeka", "Freya", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lea", "Mateo", "Nia"]
LAST = ["Lee", "Okafor", "Schmidt", "Tanaka", "Rossi", "Dubois", "Silva", "Novak", "Haddad", "Berg", "Kim"]
CITIES = [("Paris", "fr"), ("Berlin", "de"), ("Austin", "us"), ("Osaka", "jp"), ("Lagos", "ng"), ("Lima", "pe")]
STATUSES = ["active", "active", "active", "past_due", "canceled", "trialing"]
STATUS_MAP = {"active": "Customer", "past_due": "At Risk", "canceled": "Churned", "trialing": "Prospect"}


def stripe_customers(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` customers shaped like Stripe's `GET /v1/customers` items."""
    rng = random.Random(seed)
    customers = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country = rng.choice(CITIES)
        customers.append({
            "id": "cus_" + "".join(rng.choices(string.ascii_letters + string.digits, k=14)),
            "object": "customer",
            "address": {"city": city, "country": country.upper(), "line1": f"{rng.randint(1, 200)} Main St",
                        "line2": None, "postal_code": f"{rng.randint(10000, 99999)}", "state": None},
            "balance": rng.randint(-50000, 500000),
            "created": 1764000000 + rng.randint(0, 40_000_000),
            "currency": rng.choice(["usd", "eur", "gbp"]),
            "default_source": None,
            "delinquent": rng.random() < 0.1,
            "description": f"{first} {last} — account {n}",
            "discount": None,
            "email": f"{first}.{last}.{n}@Example.com",
            "invoice_prefix": "".join(rng.choices(string.ascii_uppercase, k=8)),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False,
            "metadata": {"status": rng.choice(STATUSES), "crm_owner": rng.choice(FIRST)},
            "name": f"{first} {last}",
            "phone": f"+1555{rng.randint(1000000, 9999999)}" if rng.random() < 0.7 else None,
            "preferred_locales": ["en"],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        })
    return customers


def customer_list_body(customers: list[dict[str, Any]]) -> bytes:
    return json.dumps({"object": "list", "url": "/v1/customers", "has_more": False, "data": customers}).encode()


ACCOUNT = ObjectSchema(name="Account", external_id="stripe_id", fields=[
    FieldSpec(name="stripe_id", required=True),
    FieldSpec(name="name"),
    FieldSpec(name="email"),
    FieldSpec(name="phone"),
    FieldSpec(name="balance", type="number"),
    FieldSpec(name="created", type="datetime"),
    FieldSpec(name="status", picklist=sorted(set(STATUS_MAP.values()))),
    FieldSpec(name="city"),
    FieldSpec(name="country", max_length=2),
])

PAYLOAD = InboundPayload(name="Customers: List (Response)", targets=[Target(
    name="Account", object="Account", items="data", operation="upsert", match_key=["stripe_id"], mappings=[
        FieldMapping(field="stripe_id", expression="id"),
        FieldMapping(field="name", expression="name"),
        FieldMapping(field="email", expression="lower(email)"),
        FieldMapping(field="phone", expression="default(phone, '')"),
        FieldMapping(field="balance", expression="cents_to_decimal(balance)"),
        FieldMapping(field="created", expression="to_iso(created)"),
        FieldMapping(field="status", expression=f"lookup(metadata.status, `{json.dumps(STATUS_MAP)}`, 'Prospect')"),
        FieldMapping(field="city", expression="address.city"),
        FieldMapping(field="country", expression="upper(address.country)"),
    ],
)])
INTEGRATION = Integration(slug="stripe", name="Stripe", inbound=[PAYLOAD])


def bare_dicts(body: bytes) -> list[dict[str, Any]]:
    """The same records as the payload, built by hand: the floor for parse + map."""
    rows = []
    for c in json.loads(body)["data"]:
        rows.append({
            "stripe_id": c["id"],
            "name": c["name"],
            "email": c["email"].lower(),
            "phone": c["phone"] or "",
            "balance": round(c["balance"] / 100, 2),
            "created": datetime.fromtimestamp(c["created"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STATUS_MAP.get(c["metadata"]["status"], "Prospect"),
            "city": c["address"]["city"],
            "country": c["address"]["country"].upper(),
        })
    return rows


def time_bare(body: bytes, storage: Callable[[Path], TinyDB]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rows = bare_dicts(body)
        built = time.perf_counter()
        db = storage(Path(tmp) / "Account.json")
        db.table("records").insert_multiple(rows)
        db.close()
        written = time.perf_counter()
    return {"parse+map": built - started, "write": written - built}


def time_ours(body: bytes) -> tuple[dict[str, float], dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = RecordStore(Path(tmp))
        processor = InboundProcessor(store, {"Account": ACCOUNT}.get)
        first = processor.run_body(INTEGRATION, PAYLOAD, body, content_type="application/json")
        second = processor.run_body(INTEGRATION, PAYLOAD, body, content_type="application/json")
        check(first, "insert")
        check(second, "update")
        assert store.count("Account") == len(first.results)
    return first.timings, second.timings


def check(outcome: InboundOutcome, operation: str) -> None:
    if outcome.status != "Completed" or {r.operation for r in outcome.results} != {operation}:
        raise SystemExit(f"benchmark run went wrong: {outcome.status} {outcome.error}")


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run.get(key, 0.0) for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    validate_integration(INTEGRATION)
    body = customer_list_body(stripe_customers(args.count))

    inserts, updates, bare_default, bare_atomic = [], [], [], []
    for _ in range(args.repeat):
        first, second = time_ours(body)
        inserts.append(first)
        updates.append(second)
        bare_default.append(time_bare(body, lambda p: TinyDB(p, storage=JSONStorage)))
        bare_atomic.append(time_bare(body, lambda p: TinyDB(p, storage=AtomicJSONStorage)))

    def total(run: dict[str, float]) -> float:
        return sum(run.values())

    floor = statistics.median(total(r) for r in bare_atomic)
    print(f"{args.count} Stripe customers ({len(body) / 1024:.0f} KiB body), median of {args.repeat} runs\n")
    print("| run | parse ms | map ms | write ms | total ms | records/s | total vs bare (atomic) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = [
        ("ours: upsert into empty store (inserts)", inserts, ("parse", "map", "write")),
        ("ours: same body again (updates)", updates, ("parse", "map", "write")),
        ("bare: json + dict loop + TinyDB default JSONStorage", bare_default, ("parse+map", None, "write")),
        ("bare: json + dict loop + TinyDB AtomicJSONStorage", bare_atomic, ("parse+map", None, "write")),
    ]
    for label, runs, (parse_key, map_key, write_key) in rows:
        seconds = statistics.median(total(r) for r in runs)
        parse_ms = median(runs, parse_key) * 1000
        map_ms = f"{median(runs, map_key) * 1000:.1f}" if map_key else "(in parse)"
        print(
            f"| {label} | {parse_ms:.1f} | {map_ms} | {median(runs, write_key) * 1000:.1f} | {seconds * 1000:.1f} "
            f"| {args.count / seconds:,.0f} | {seconds / floor:.2f}× |"
        )


if __name__ == "__main__":
    main()
