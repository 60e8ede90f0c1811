"""The Stripe demo: one integration, its object schemas and a few records.

`seed_demo()` fills an *empty* data directory; it is also the main test fixture. The
documented demo secrets (`whsec_demo`, `demo-token`, the `sk_test_demo_…` key) are
public on purpose: they only work against the local sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from payloads_tui.domain.models import (
    Credential,
    Element,
    EmailService,
    ExternalApi,
    FieldMapping,
    FieldSpec,
    InboundPayload,
    Integration,
    ObjectSchema,
    OutboundPayload,
    Source,
    Target,
)
from payloads_tui.domain.signatures import hash_token
from payloads_tui.store.config import ConfigStore
from payloads_tui.store.records import RecordStore, RecordWrite
from payloads_tui.store.vault import Vault

DEMO_SLUG = "stripe"
DEMO_WEBHOOK_SECRET = "whsec_demo"
DEMO_API_TOKEN = "demo-token"
DEMO_STRIPE_KEY = "sk_test_demo_4eC39HqLyjWDarjtT1zdp7dc"
DEMO_EMAIL = "billing@payloads.localhost"
DEMO_SANDBOX_URL = "http://127.0.0.1:12111"

CUSTOMER_WEBHOOK = "Customer: Created / Updated (Webhook)"
CHECKOUT_WEBHOOK = "Checkout Session Completed (Webhook)"
BILLING_EMAIL = "Billing Notification (Email)"
CUSTOMER_LIST_RESPONSE = "Customer: List (Response)"
CUSTOMER_CREATED_RESPONSE = "Customer: Created (Response)"
CUSTOMER_GET_ALL = "Customer: Get All (Request)"
CUSTOMER_CREATE = "Customer: Create"
EXPOSE_ACCOUNTS = "Expose Account Status"
STRIPE_KEY_CREDENTIAL = "Stripe Secret Key"


def _m(field: str, expression: str = "", **kw: object) -> FieldMapping:
    return FieldMapping(field=field, expression=expression or field, **kw)  # type: ignore[arg-type]


def _customer_mappings() -> list[FieldMapping]:
    """Stripe customer object → Account fields (shared by the webhook and the list handler)."""
    return [
        _m("stripe_id", "id"),
        _m("name", "default(name, email)"),
        _m("email"),
        _m("phone"),
        _m("description"),
        _m("balance", "cents_to_decimal(default(balance, `0`))"),
        _m("currency", "upper(default(currency, 'usd'))"),
        _m("status", "lookup(to_string(default(delinquent, `false`)), `{\"true\": \"At Risk\", \"false\": \"Customer\"}`)"),
        _m("stripe_created", "to_iso(created)"),
    ]


def demo_schemas() -> list[ObjectSchema]:
    """Account, Order, OrderLine and Task."""
    return [
        ObjectSchema(
            name="Account",
            description="Customers of the business; Stripe customers map here.",
            external_id="stripe_id",
            fields=[
                FieldSpec(name="name", required=True, max_length=200),
                FieldSpec(name="email", max_length=254),
                FieldSpec(name="phone", max_length=40),
                FieldSpec(name="description", max_length=2000),
                FieldSpec(name="stripe_id", max_length=64),
                FieldSpec(name="balance", type="number"),
                FieldSpec(name="currency", max_length=3),
                FieldSpec(name="status", picklist=["Prospect", "Customer", "At Risk", "Churned"]),
                FieldSpec(name="stripe_created", type="datetime"),
            ],
        ),
        ObjectSchema(
            name="Order",
            description="Orders placed locally; Stripe Checkout pays them.",
            external_id="number",
            fields=[
                FieldSpec(name="number", required=True, max_length=32),
                FieldSpec(name="account_id", max_length=64),
                FieldSpec(name="status", required=True, picklist=["Open", "Paid", "Cancelled"]),
                FieldSpec(name="stripe_session_id", max_length=128),
                FieldSpec(name="amount_total", type="number"),
                FieldSpec(name="currency", max_length=3),
                FieldSpec(name="customer_email", max_length=254),
                FieldSpec(name="paid_at", type="datetime"),
            ],
        ),
        ObjectSchema(
            name="OrderLine",
            description="One line item of an Order.",
            fields=[
                FieldSpec(name="order_id", required=True, max_length=64),
                FieldSpec(name="description", max_length=500),
                FieldSpec(name="quantity", type="integer", required=True),
                FieldSpec(name="unit_amount", type="number"),
                FieldSpec(name="amount", type="number"),
                FieldSpec(name="price_id", max_length=64),
            ],
        ),
        ObjectSchema(
            name="Task",
            description="Work for a person, e.g. from a billing email.",
            external_id="message_id",
            fields=[
                FieldSpec(name="subject", required=True, max_length=300),
                FieldSpec(name="description"),
                FieldSpec(name="sender", max_length=254),
                FieldSpec(name="status", required=True, picklist=["Open", "Done"]),
                FieldSpec(name="source", max_length=40),
                FieldSpec(name="attachments", type="integer"),
                FieldSpec(name="message_id", max_length=300),
            ],
        ),
    ]


def demo_integration(encrypt: Callable[[str], str]) -> Integration:
    """The Stripe integration; `encrypt` turns the demo secrets into vault ciphertext."""
    inbound = [
        InboundPayload(
            name=CUSTOMER_WEBHOOK,
            description="Stripe customer.created / customer.updated events upsert an Account.",
            content_type="json",
            allow_partial_success=False,
            targets=[
                Target(
                    name="Account",
                    object="Account",
                    items="data.object",
                    operation="upsert",
                    match_key=["stripe_id"],
                    mappings=_customer_mappings(),
                )
            ],
        ),
        InboundPayload(
            name=CHECKOUT_WEBHOOK,
            description="checkout.session.completed marks the local Order paid and adds its lines.",
            content_type="json",
            allow_partial_success=False,
            targets=[
                Target(
                    name="Order",
                    object="Order",
                    items="data.object",
                    operation="update",
                    match_key=["number"],
                    mappings=[
                        _m("number", "client_reference_id"),
                        _m("status", source="static", value="Paid"),
                        _m("stripe_session_id", "id"),
                        _m("amount_total", "cents_to_decimal(amount_total)"),
                        _m("currency", "upper(currency)"),
                        _m("customer_email", "customer_details.email"),
                        _m("paid_at", "to_iso(created)"),
                    ],
                ),
                Target(
                    name="Lines",
                    object="OrderLine",
                    items="data.object.line_items.data",
                    operation="insert",
                    mappings=[
                        _m("order_id", "id", source="target", target="Order"),
                        _m("description"),
                        _m("quantity"),
                        _m("unit_amount", "cents_to_decimal(price.unit_amount)"),
                        _m("amount", "cents_to_decimal(amount_total)"),
                        _m("price_id", "price.id"),
                    ],
                ),
            ],
        ),
        InboundPayload(
            name=BILLING_EMAIL,
            description="An email to billing@ becomes an open Task.",
            content_type="email",
            allow_partial_success=False,
            targets=[
                Target(
                    name="Task",
                    object="Task",
                    items="@",
                    operation="upsert",
                    match_key=["message_id"],
                    mappings=[
                        _m("subject", "default(subject, '(no subject)')"),
                        _m("description", "text"),
                        _m("sender", "from"),
                        _m("status", source="static", value="Open"),
                        _m("source", source="static", value="Email"),
                        _m("attachments", "length(attachments)"),
                        _m("message_id"),
                    ],
                )
            ],
        ),
        InboundPayload(
            name=CUSTOMER_LIST_RESPONSE,
            description="Response handler of Customer: Get All — upserts every customer of the page.",
            content_type="json",
            allow_partial_success=True,
            targets=[
                Target(
                    name="Account",
                    object="Account",
                    items="data",
                    operation="upsert",
                    match_key=["stripe_id"],
                    mappings=_customer_mappings(),
                )
            ],
        ),
        InboundPayload(
            name=CUSTOMER_CREATED_RESPONSE,
            description="Response handler of Customer: Create — writes the Stripe id back to the Account.",
            content_type="json",
            targets=[
                Target(
                    name="Account",
                    object="Account",
                    items="@",
                    operation="update",
                    match_key=["id"],
                    mappings=[
                        _m("id", "record.id", source="context"),
                        _m("stripe_id", "id"),
                        _m("stripe_created", "to_iso(created)"),
                    ],
                )
            ],
        ),
    ]
    stripe_headers = {"Stripe-Version": "{api_version}"}
    outbound = [
        OutboundPayload(
            name=CUSTOMER_GET_ALL,
            description="Lists every Stripe customer (paged) and upserts them as Accounts.",
            initiated="local",
            content_type="json",
            method="GET",
            endpoint="{base_url}/v1/customers",
            credential=STRIPE_KEY_CREDENTIAL,
            headers=dict(stripe_headers),
            query={"limit": "100"},
            response_handler=CUSTOMER_LIST_RESPONSE,
            pagination="stripe",
        ),
        OutboundPayload(
            name=CUSTOMER_CREATE,
            description="Creates a Stripe customer for each Account without one.",
            initiated="local",
            content_type="form",
            method="POST",
            endpoint="{base_url}/v1/customers",
            credential=STRIPE_KEY_CREDENTIAL,
            headers=dict(stripe_headers),
            sources=[Source(name="accounts", object="Account", filter="!stripe_id", sort="name", limit=50)],
            request_per_record=True,
            elements=[
                Element(path="name", expression="name"),
                Element(path="email", expression="email"),
                Element(path="phone", expression="phone"),
                Element(path="description", expression="description"),
                Element(path="metadata.local_id", expression="id"),
            ],
            response_handler=CUSTOMER_CREATED_RESPONSE,
        ),
        OutboundPayload(
            name=EXPOSE_ACCOUNTS,
            description="Other systems GET the status of every Account.",
            initiated="api",
            content_type="json",
            method="GET",
            sources=[Source(name="accounts", object="Account", sort="name", limit=500)],
            elements=[
                Element(
                    path="accounts",
                    each="accounts",
                    elements=[
                        Element(path="id", expression="id"),
                        Element(path="name", expression="name"),
                        Element(path="status", expression="status"),
                        Element(path="stripe_id", expression="stripe_id"),
                        Element(path="balance", expression="balance"),
                    ],
                ),
            ],
        ),
    ]
    return Integration(
        slug=DEMO_SLUG,
        name="Stripe",
        description="Payments and customers from Stripe (demo against a local sandbox).",
        variables={"base_url": DEMO_SANDBOX_URL, "api_version": "2024-06-20"},
        inbound=inbound,
        outbound=outbound,
        credentials=[
            Credential(
                name=STRIPE_KEY_CREDENTIAL,
                kind="bearer",
                secrets={"token": encrypt(DEMO_STRIPE_KEY)},
            )
        ],
        apis=[
            ExternalApi(
                path="customers",
                method="POST",
                payload=CUSTOMER_WEBHOOK,
                auth="stripe",
                secret=encrypt(DEMO_WEBHOOK_SECRET),
                description="Stripe webhook endpoint for customer events.",
            ),
            ExternalApi(
                path="checkout",
                method="POST",
                payload=CHECKOUT_WEBHOOK,
                auth="stripe",
                secret=encrypt(DEMO_WEBHOOK_SECRET),
                description="Stripe webhook endpoint for checkout.session.completed.",
            ),
            ExternalApi(
                path="accounts",
                method="GET",
                payload=EXPOSE_ACCOUNTS,
                auth="token",
                token_hash=hash_token(DEMO_API_TOKEN),
                description="Account status for other systems.",
            ),
        ],
        emails=[EmailService(address=DEMO_EMAIL, payload=BILLING_EMAIL, description="Billing notifications.")],
    )


DEMO_RECORDS: dict[str, list[dict[str, object]]] = {
    "Account": [
        {"id": "acc_acme", "name": "Acme Corp", "email": "billing@acme.example", "stripe_id": "cus_demo_acme",
         "status": "Customer", "balance": 0.0, "currency": "USD"},
        {"id": "acc_globex", "name": "Globex", "email": "ap@globex.example", "stripe_id": "cus_demo_globex",
         "status": "At Risk", "balance": 120.5, "currency": "USD"},
        {"id": "acc_initech", "name": "Initech", "email": "finance@initech.example", "status": "Prospect",
         "description": "Not yet in Stripe: run 'Customer: Create'."},
    ],
    "Order": [
        {"id": "ord_1001", "number": "ORD-1001", "account_id": "acc_acme", "status": "Open", "currency": "USD"},
        {"id": "ord_1002", "number": "ORD-1002", "account_id": "acc_globex", "status": "Open", "currency": "USD"},
        {"id": "ord_2024_0042", "number": "ORD-2024-0042", "account_id": "acc_acme", "status": "Open",
         "currency": "USD"},
    ],
    "Task": [
        {"subject": "Welcome to the Payloads demo", "description": "Send a webhook or an email and watch it land.",
         "status": "Open", "source": "Console", "attachments": 0, "message_id": "<welcome@payloads.localhost>"},
    ],
}


@dataclass(frozen=True)
class DemoSeed:
    """What `seed_demo` did."""

    seeded: bool
    integration: Integration | None
    records: int


def seed_demo(config: ConfigStore, records: RecordStore, vault: Vault) -> DemoSeed:
    """Seed the Stripe example if the data directory holds no integration yet."""
    if config.integrations():
        return DemoSeed(seeded=False, integration=None, records=0)
    for schema in demo_schemas():
        if config.schema(schema.name) is None:
            config.save_schema(schema)
    integration = config.create(demo_integration(vault.encrypt))
    writes = [
        RecordWrite(op="insert", object=obj, values=dict(values))
        for obj, rows in DEMO_RECORDS.items()
        for values in rows
        if not (values.get("id") and records.get(obj, str(values["id"])))
    ]
    records.apply(writes)
    return DemoSeed(seeded=True, integration=integration, records=len(writes))
