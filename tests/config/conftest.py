"""Fixtures for the configuration store, history and bundles: a Stripe-like integration with secrets.

The plaintext secrets below are test values; tests grep files for them and never print them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payloads_tui.domain.models import (
    ChildSource,
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
from payloads_tui.store.config import ConfigStore
from payloads_tui.store.history import HistoryLog
from payloads_tui.store.vault import Vault

STRIPE_KEY = "sk_test_fixture_9a8b7c6d5e4f3a2b1c0d"
BASIC_PASSWORD = "basic-password-fixture-71f3"
WEBHOOK_SECRET = "whsec_fixture_4d2c8e0a6b1f"
HMAC_SECRET = "hmac-fixture-secret-55ab19"
API_TOKEN = "pl_fixture_token_3c1e9b7a5d"
#: Every plaintext secret of the fixture; none may ever appear in a file.
PLAINTEXT_SECRETS = (STRIPE_KEY, BASIC_PASSWORD, WEBHOOK_SECRET, HMAC_SECRET, API_TOKEN)

WEBHOOK = "Customer: Created / Updated (Webhook)"
CREATED_RESPONSE = "Customer: Created (Response)"
SUPPORT_EMAIL = "Support Case (Email)"
CREATE_CUSTOMER = "Customer: Create (Request)"
GET_ALL = "Customer: Get All (Request)"
EXPOSE_ORDERS = "Orders: Export (API)"
STRIPE_CREDENTIAL = "Stripe Secret Key"
BASIC_CREDENTIAL = "Legacy Basic"


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def stripe_schemas() -> list[ObjectSchema]:
    return [
        ObjectSchema(
            name="Account",
            external_id="stripe_id",
            fields=[
                FieldSpec(name="stripe_id", required=True),
                FieldSpec(name="name", required=True, max_length=200),
                FieldSpec(name="email"),
                FieldSpec(name="currency", picklist=["USD", "EUR"]),
            ],
        ),
        ObjectSchema(name="Contact", fields=[FieldSpec(name="email", required=True), FieldSpec(name="account_id")]),
        ObjectSchema(name="Order", fields=[FieldSpec(name="total", type="number")]),
        ObjectSchema(name="Unused", fields=[FieldSpec(name="x")]),
    ]


def stripe_integration(encrypt: Callable[[str], str], slug: str = "stripe", name: str = "Stripe") -> Integration:
    """A Stripe-like integration: webhook with two targets, outbound with sources, credentials, APIs, email."""
    webhook = InboundPayload(
        name=WEBHOOK,
        description="customer.created / customer.updated events",
        targets=[
            Target(
                name="Account",
                object="Account",
                items="data.object",
                match_key=["stripe_id"],
                mappings=[
                    FieldMapping(field="stripe_id", expression="id"),
                    FieldMapping(field="name", expression="default(name, email)"),
                    FieldMapping(field="email", expression="email"),
                    FieldMapping(field="currency", source="variable", expression="currency"),
                ],
            ),
            Target(
                name="Contact",
                object="Contact",
                items="data.object",
                match_key=["email"],
                mappings=[
                    FieldMapping(field="email", expression="email"),
                    FieldMapping(field="account_id", source="target", target="Account", expression="id"),
                    FieldMapping(
                        field="api_user", source="credential", credential=BASIC_CREDENTIAL, expression="username"
                    ),
                ],
            ),
        ],
    )
    created_response = InboundPayload(
        name=CREATED_RESPONSE,
        targets=[
            Target(
                name="Account",
                object="Account",
                operation="update",
                match_key=["id"],
                mappings=[
                    FieldMapping(field="id", source="context", expression="record.id"),
                    FieldMapping(field="stripe_id", expression="id"),
                ],
            )
        ],
    )
    support = InboundPayload(
        name=SUPPORT_EMAIL,
        content_type="email",
        targets=[
            Target(
                name="Case",
                object="Case",
                operation="insert",
                mappings=[
                    FieldMapping(field="subject", expression="subject"),
                    FieldMapping(field="sender", expression="from"),
                ],
            )
        ],
    )
    create_customer = OutboundPayload(
        name=CREATE_CUSTOMER,
        content_type="form",
        method="POST",
        endpoint="https://api.stripe.com/v1/customers",
        credential=STRIPE_CREDENTIAL,
        headers={"Stripe-Version": "2024-06-20"},
        sources=[Source(name="accounts", object="Account", filter="stripe_id == null", limit=10)],
        elements=[
            Element(path="name", expression="name"),
            Element(path="email", expression="email"),
            Element(path="metadata.account_id", expression="id"),
        ],
        request_per_record=True,
        response_handler=CREATED_RESPONSE,
    )
    get_all = OutboundPayload(
        name=GET_ALL,
        endpoint="https://api.stripe.com/v1/customers",
        credential=STRIPE_CREDENTIAL,
        query={"limit": "100"},
        pagination="stripe",
        response_handler=WEBHOOK,
    )
    expose_orders = OutboundPayload(
        name=EXPOSE_ORDERS,
        initiated="api",
        sources=[
            Source(
                name="orders",
                object="Order",
                sort="created",
                descending=True,
                children=[ChildSource(name="contacts", object="Contact", parent_field="account_id")],
            )
        ],
        elements=[Element(path="data", each="orders", elements=[Element(path="total", expression="total")])],
    )
    return Integration(
        slug=slug,
        name=name,
        description="Customers and payments from Stripe",
        variables={"currency": "USD", "stripe_account": "acct_fixture"},
        inbound=[webhook, created_response, support],
        outbound=[create_customer, get_all, expose_orders],
        credentials=[
            Credential(name=STRIPE_CREDENTIAL, kind="bearer", secrets={"token": encrypt(STRIPE_KEY)}),
            Credential(
                name=BASIC_CREDENTIAL,
                kind="basic",
                fields={"username": "legacy-user"},
                secrets={"password": encrypt(BASIC_PASSWORD)},
            ),
        ],
        apis=[
            ExternalApi(path="stripe/webhook", payload=WEBHOOK, auth="stripe", secret=encrypt(WEBHOOK_SECRET)),
            ExternalApi(path="customers", payload=WEBHOOK, auth="token", token_hash=token_hash(API_TOKEN)),
            ExternalApi(
                path="orders",
                method="GET",
                payload=EXPOSE_ORDERS,
                auth="hmac",
                secret=encrypt(HMAC_SECRET),
                hmac_header="X-Orders-Signature",
            ),
            ExternalApi(path="ping", payload=CREATED_RESPONSE, auth="none", description="open on purpose"),
        ],
        emails=[EmailService(address="support@payloads.localhost", payload=SUPPORT_EMAIL)],
    )


@dataclass
class Env:
    """One data directory opened: its vault, history and configuration store."""

    home: Path
    vault: Vault
    history: HistoryLog
    config: ConfigStore

    def reopen(self) -> Env:
        self.close()
        return open_env(self.home)

    def close(self) -> None:
        self.config.close()
        self.history.close()


def open_env(home: Path) -> Env:
    history = HistoryLog(home, durable=False)
    return Env(home, Vault(home, env_key=""), history, ConfigStore(home, history, user="tester", durable=False))


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path → bytes)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def env_factory(tmp_path: Path) -> Iterator[Callable[[str], Env]]:
    opened: list[Env] = []

    def make(name: str) -> Env:
        env = open_env(tmp_path / name)
        opened.append(env)
        return env

    yield make
    for env in opened:
        env.close()


@pytest.fixture
def env(env_factory: Callable[[str], Env]) -> Env:
    return env_factory("home")


@pytest.fixture
def stored(env: Env) -> Integration:
    """The Stripe integration, created (with its schemas) in `env`."""
    for schema in stripe_schemas():
        env.config.save_schema(schema)
    return env.config.create(stripe_integration(env.vault.encrypt))
