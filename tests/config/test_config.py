"""The configuration store: CRUD, conflicts, history per change, rename cascade, secrets, rotation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from payloads_tui.domain.diff import MASK
from payloads_tui.domain.errors import ConflictError, NotFoundError, StoreError, ValidationError
from payloads_tui.domain.models import (
    Element,
    EmailService,
    FieldChange,
    FieldMapping,
    FieldSpec,
    HistoryEntry,
    InboundPayload,
    Integration,
    ObjectSchema,
    Target,
    to_data,
)
from payloads_tui.store.config import ConfigStore
from payloads_tui.store.vault import Vault
from tests.config.conftest import (
    BASIC_CREDENTIAL,
    CREATE_CUSTOMER,
    CREATED_RESPONSE,
    EXPOSE_ORDERS,
    GET_ALL,
    PLAINTEXT_SECRETS,
    STRIPE_CREDENTIAL,
    STRIPE_KEY,
    SUPPORT_EMAIL,
    WEBHOOK,
    Env,
    open_env,
    snapshot,
    stripe_integration,
)


def saved_with(env: Env, slug: str, change: Callable[[Integration], None]) -> tuple[Integration, list[HistoryEntry]]:
    """Apply `change` to a fresh copy of `slug`, save it; the stored result and the new history entries."""
    before = len(env.history.entries(limit=10_000))
    integration = env.config.get(slug)
    change(integration)
    saved = env.config.save(integration)
    entries = env.history.entries(limit=10_000)
    return saved, list(reversed(entries[: len(entries) - before]))


def summary(entries: list[HistoryEntry]) -> list[tuple[str, str, str]]:
    return [(e.action, e.kind, e.name) for e in entries]


def fields(entry: HistoryEntry) -> dict[str, tuple[str | None, str | None]]:
    return {c.field: (c.old, c.new) for c in entry.changes}


# --- reading and writing ---------------------------------------------------------------


def test_create_get_and_reopen(env: Env, stored: Integration) -> None:
    assert env.config.get("stripe") == stored
    assert env.config.find("nope") is None
    assert stored.created_at == stored.updated_at > 0
    reopened = env.reopen()
    assert to_data(reopened.config.get("stripe")) == to_data(stored)
    assert [s.name for s in reopened.config.schemas()] == ["Account", "Contact", "Order", "Unused"]
    reopened.close()
    data = json.loads((env.home / "config.json").read_text())
    assert set(data) == {"integrations", "schemas"}
    assert [doc["slug"] for doc in data["integrations"].values()] == ["stripe"]


def test_integrations_are_sorted_by_name_and_unknown_slugs_listed(env: Env, stored: Integration) -> None:
    env.config.create(Integration(slug="acme", name="acme"))
    env.config.create(Integration(slug="zeta", name="Beta"))
    assert [i.name for i in env.config.integrations()] == ["acme", "Beta", "Stripe"]
    with pytest.raises(NotFoundError, match="'nope'.*acme, stripe, zeta"):
        env.config.get("nope")


def test_returned_copies_can_be_mutated_freely(env: Env, stored: Integration) -> None:
    stored.inbound[0].targets[0].mappings.clear()
    got = env.config.get("stripe")
    got.variables["currency"] = "EUR"
    got.credentials[0].secrets.clear()
    again = env.config.get("stripe")
    assert again.variables["currency"] == "USD"
    assert again.credentials[0].secrets and again.inbound[0].targets[0].mappings


def test_conflicts_on_slug_name_and_id(env: Env, stored: Integration) -> None:
    with pytest.raises(ConflictError, match="slug 'stripe' is taken"):
        env.config.create(Integration(slug="stripe", name="Another"))
    with pytest.raises(ConflictError, match="named 'Stripe' already exists"):
        env.config.create(Integration(slug="stripe-2", name="  STRIPE "))
    with pytest.raises(ConflictError, match="already exists"):
        env.config.create(Integration(id=stored.id, slug="other", name="Other"))
    other = env.config.create(Integration(slug="other", name="Other"))
    other.slug = "stripe"
    with pytest.raises(ConflictError, match="slug 'stripe' is taken"):
        env.config.save(other)


def test_invalid_integrations_are_refused_and_nothing_is_written(env: Env, stored: Integration) -> None:
    before = snapshot(env.home)
    with pytest.raises(ValidationError, match="slug"):
        env.config.create(Integration(slug="Not A Slug", name="X"))
    broken = env.config.get("stripe")
    broken.apis[0].payload = "no such payload"
    with pytest.raises(ValidationError) as caught:
        env.config.save(broken)
    assert caught.value.field == "apis[0].payload"
    assert snapshot(env.home) == before


def test_save_needs_a_stored_integration(env: Env) -> None:
    with pytest.raises(NotFoundError, match="create it instead"):
        env.config.save(Integration(slug="new", name="New"))


def test_save_keeps_created_at_bumps_updated_at_and_skips_no_op_writes(env: Env, stored: Integration) -> None:
    config_file = env.home / "config.json"
    unchanged = env.config.save(env.config.get("stripe"))
    assert unchanged.updated_at == stored.updated_at
    written = config_file.read_bytes()
    changed = env.config.get("stripe")
    changed.description = "new"
    changed.created_at = 1.0
    saved = env.config.save(changed)
    assert saved.created_at == stored.created_at
    assert saved.updated_at > stored.updated_at
    assert config_file.read_bytes() != written


def test_bookkeeping_alone_is_saved_without_history(env: Env, stored: Integration) -> None:
    saved, entries = saved_with(env, "stripe", lambda i: setattr(i.credentials[0], "last_used", 1234.5))
    assert entries == []
    assert env.reopen().config.get("stripe").credentials[0].last_used == 1234.5


def test_a_damaged_document_names_its_integration(env: Env, stored: Integration) -> None:
    env.close()
    path = env.home / "config.json"
    data = json.loads(path.read_text())
    document = next(iter(data["integrations"].values()))
    document["inbound"][0]["targets"][1]["operation"] = "merge"
    path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r"integration 'stripe' is damaged.*inbound\[0\]\.targets\[1\]\.operation"):
        open_env(env.home)


def test_delete(env: Env, stored: Integration) -> None:
    deleted = env.config.delete("stripe")
    assert deleted.id == stored.id
    assert env.config.find("stripe") is None
    assert env.reopen().config.integrations() == []
    with pytest.raises(NotFoundError):
        env.config.delete("stripe")


def test_concurrent_creates_all_land(env: Env) -> None:
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            env.config.create(Integration(slug=f"shop-{n}", name=f"Shop {n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(env.reopen().config.integrations()) == 8


# --- history ---------------------------------------------------------------------------


def test_create_records_the_integration_and_each_part(env: Env, stored: Integration) -> None:
    entries = list(reversed(env.history.entries(integration="stripe")))
    assert summary(entries) == (
        [("create", "integration", "Stripe")]
        + [("create", "inbound payload", p.name) for p in stored.inbound]
        + [("create", "outbound payload", p.name) for p in stored.outbound]
        + [("create", "credential", c.name) for c in stored.credentials]
        + [("create", "external API", f"{a.method} {a.path}") for a in stored.apis]
        + [("create", "email service", "support@payloads.localhost")]
    )
    assert {e.user for e in entries} == {"tester"}
    assert fields(entries[0])["variables.currency"] == (None, "USD")
    schema_entries = env.history.entries(integration="")
    assert summary(schema_entries)[-1] == ("create", "object schema", "Account")


def test_history_of_integration_fields_and_variables(env: Env, stored: Integration) -> None:
    def change(i: Integration) -> None:
        i.name = "Stripe Payments"
        i.description = "changed"
        i.variables["currency"] = "EUR"
        i.variables["region"] = "eu"
        del i.variables["stripe_account"]

    _, entries = saved_with(env, "stripe", change)
    assert summary(entries) == [("update", "integration", "Stripe Payments")]
    assert fields(entries[0]) == {
        "name": ("Stripe", "Stripe Payments"),
        "description": ("Customers and payments from Stripe", "changed"),
        "variables.currency": ("USD", "EUR"),
        "variables.region": (None, "eu"),
        "variables.stripe_account": ("acct_fixture", None),
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda i: i.inbound.append(InboundPayload(name="Refunds", targets=[])),
            [("create", "inbound payload", "Refunds")],
        ),
        (
            lambda i: setattr(i.inbound_payload(WEBHOOK), "allow_partial_success", True),
            [("update", "inbound payload", WEBHOOK)],
        ),
        (
            lambda i: setattr(i.outbound_payload(GET_ALL), "timeout", 10.0),
            [("update", "outbound payload", GET_ALL)],
        ),
        (
            lambda i: i.outbound.remove(i.outbound_payload(CREATE_CUSTOMER)),
            [("delete", "outbound payload", CREATE_CUSTOMER)],
        ),
        (
            lambda i: setattr(i.credential(BASIC_CREDENTIAL), "fields", {"username": "someone"}),
            [("update", "credential", BASIC_CREDENTIAL)],
        ),
        (
            lambda i: i.apis.pop(),
            [("delete", "external API", "POST ping")],
        ),
        (
            lambda i: setattr(i.apis[3], "active", False),
            [("update", "external API", "POST ping")],
        ),
        (
            lambda i: i.emails.append(EmailService(address="billing@payloads.localhost", payload=SUPPORT_EMAIL)),
            [("create", "email service", "billing@payloads.localhost")],
        ),
        (
            lambda i: i.emails.clear(),
            [("delete", "email service", "support@payloads.localhost")],
        ),
    ],
    ids=[
        "inbound-create",
        "inbound-update",
        "outbound-update",
        "outbound-delete",
        "credential-update",
        "api-delete",
        "api-update",
        "email-create",
        "email-delete",
    ],
)
def test_history_entry_for_each_kind_of_change(
    env: Env, stored: Integration, change: Callable[[Integration], None], expected: list[tuple[str, str, str]]
) -> None:
    _, entries = saved_with(env, "stripe", change)
    assert summary(entries) == expected
    assert all(e.integration == "stripe" and e.changes for e in entries)


def test_credential_create_and_delete(env: Env, stored: Integration) -> None:
    def add(i: Integration) -> None:
        from payloads_tui.domain.models import Credential

        i.credentials.append(Credential(name="HubSpot", kind="api_key", fields={"placement": "header", "name": "X-Key"},
                                        secrets={"value": env.vault.encrypt("hubspot-secret")}))

    _, entries = saved_with(env, "stripe", add)
    assert summary(entries) == [("create", "credential", "HubSpot")]
    assert fields(entries[0])["secrets.value"] == (None, MASK)
    _, entries = saved_with(env, "stripe", lambda i: i.credentials.pop())
    assert summary(entries) == [("delete", "credential", "HubSpot")]
    assert fields(entries[0])["secrets.value"] == (MASK, None)


def test_a_secret_change_shows_only_the_mask(env: Env, stored: Integration) -> None:
    old_ciphertext = stored.credential(STRIPE_CREDENTIAL).secrets["token"]
    new_ciphertext = env.vault.encrypt("sk_test_rotated_0000")
    _, entries = saved_with(
        env, "stripe", lambda i: i.credential(STRIPE_CREDENTIAL).secrets.__setitem__("token", new_ciphertext)
    )
    assert summary(entries) == [("update", "credential", STRIPE_CREDENTIAL)]
    assert entries[0].changes == [FieldChange(field="secrets.token", old=MASK, new=MASK)]
    history_file = (env.home / "history.json").read_bytes()
    for value in (old_ciphertext, new_ciphertext, "enc:", STRIPE_KEY, "sk_test_rotated_0000"):
        assert value.encode() not in history_file


def test_a_rename_is_one_update(env: Env, stored: Integration) -> None:
    _, entries = saved_with(env, "stripe", lambda i: setattr(i.credential(BASIC_CREDENTIAL), "name", "Basic Auth"))
    credential_entries = [e for e in entries if e.kind == "credential"]
    assert summary(credential_entries) == [("update", "credential", "Basic Auth")]
    assert fields(credential_entries[0]) == {"name": (BASIC_CREDENTIAL, "Basic Auth")}


def test_delete_records_the_integration_and_its_parts(env: Env, stored: Integration) -> None:
    env.config.delete("stripe")
    newest = env.history.entries(integration="stripe", limit=14)
    assert {e.action for e in newest} == {"delete"}
    assert ("delete", "integration", "Stripe") in summary(newest)


def test_schema_history_is_global(env: Env, stored: Integration) -> None:
    account = env.config.schema("Account")
    account.fields.append(FieldSpec(name="phone", max_length=40))
    env.config.save_schema(account)
    env.config.delete_schema("Unused")
    newest = env.history.entries(integration="", limit=2)
    assert summary(newest) == [("delete", "object schema", "Unused"), ("update", "object schema", "Account")]
    assert fields(newest[1]) == {"fields[phone].name": (None, "phone"), "fields[phone].type": (None, "string"),
                                 "fields[phone].required": (None, "false"), "fields[phone].max_length": (None, "40")}


# --- rename cascade --------------------------------------------------------------------


def test_renaming_an_inbound_payload_updates_apis_emails_and_response_handlers(env: Env, stored: Integration) -> None:
    def rename(i: Integration) -> None:
        i.inbound_payload(WEBHOOK).name = "Customer Events"
        i.inbound_payload(CREATED_RESPONSE).name = "Created"
        i.inbound_payload(SUPPORT_EMAIL).name = "Support"

    saved, entries = saved_with(env, "stripe", rename)
    assert [a.payload for a in saved.apis] == ["Customer Events", "Customer Events", EXPOSE_ORDERS, "Created"]
    assert saved.emails[0].payload == "Support"
    assert saved.outbound_payload(CREATE_CUSTOMER).response_handler == "Created"
    assert saved.outbound_payload(GET_ALL).response_handler == "Customer Events"
    api_entry = next(e for e in entries if e.name == "POST stripe/webhook")
    assert fields(api_entry) == {"payload": (WEBHOOK, "Customer Events")}


def test_renaming_an_outbound_payload_updates_get_apis(env: Env, stored: Integration) -> None:
    saved, _ = saved_with(env, "stripe", lambda i: setattr(i.outbound_payload(EXPOSE_ORDERS), "name", "Orders"))
    assert saved.api("orders", "GET").payload == "Orders"


def test_renaming_a_credential_updates_payloads_and_mappings(env: Env, stored: Integration) -> None:
    def rename(i: Integration) -> None:
        i.credential(STRIPE_CREDENTIAL).name = "Stripe Key"
        i.credential(BASIC_CREDENTIAL).name = "Basic"

    saved, _ = saved_with(env, "stripe", rename)
    assert saved.outbound_payload(CREATE_CUSTOMER).credential == "Stripe Key"
    assert saved.outbound_payload(GET_ALL).credential == "Stripe Key"
    contact = saved.inbound_payload(WEBHOOK).targets[1]
    assert [m.credential for m in contact.mappings if m.source == "credential"] == ["Basic"]


def test_renaming_a_target_updates_mappings_of_that_payload(env: Env, stored: Integration) -> None:
    saved, _ = saved_with(env, "stripe", lambda i: setattr(i.inbound_payload(WEBHOOK).targets[0], "name", "Customer"))
    contact = saved.inbound_payload(WEBHOOK).targets[1]
    assert [m.target for m in contact.mappings if m.source == "target"] == ["Customer"]
    assert saved.inbound_payload(CREATED_RESPONSE).targets[0].name == "Account"


def test_renaming_a_source_or_child_source_updates_the_arrays_that_name_it(env: Env, stored: Integration) -> None:
    def rename(i: Integration) -> None:
        payload = i.outbound_payload(EXPOSE_ORDERS)
        payload.sources[0].name = "recent_orders"
        payload.sources[0].children[0].name = "people"
        payload.elements[0].elements.append(Element(path="contacts", each="contacts"))

    saved, _ = saved_with(env, "stripe", rename)
    [data] = saved.outbound_payload(EXPOSE_ORDERS).elements
    assert data.each == "recent_orders"
    assert [e.each for e in data.elements] == ["", "people"]


def test_an_array_naming_no_source_is_refused(env: Env, stored: Integration) -> None:
    def break_it(i: Integration) -> None:
        i.outbound_payload(EXPOSE_ORDERS).elements[0].each = "invoices"

    with pytest.raises(ValidationError) as caught:
        saved_with(env, "stripe", break_it)
    assert caught.value.field.endswith("].elements[0].each") and "'invoices' is neither" in caught.value.reason
    assert env.config.get("stripe").outbound_payload(EXPOSE_ORDERS).elements[0].each == "orders"


def test_a_reference_to_a_name_that_still_exists_is_left_alone(env: Env, stored: Integration) -> None:
    def rename_and_reuse(i: Integration) -> None:
        i.inbound_payload(SUPPORT_EMAIL).name = "Old Support"
        i.inbound.append(
            InboundPayload(
                name=SUPPORT_EMAIL,
                content_type="email",
                targets=[Target(name="Task", object="Task", operation="insert",
                                mappings=[FieldMapping(field="subject", expression="subject")])],
            )
        )

    saved, _ = saved_with(env, "stripe", rename_and_reuse)
    assert saved.emails[0].payload == SUPPORT_EMAIL


# --- secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plant", "field"),
    [
        (
            lambda i: i.credential(STRIPE_CREDENTIAL).secrets.__setitem__("token", STRIPE_KEY),
            "credentials[0].secrets.token",
        ),
        (lambda i: setattr(i.apis[0], "secret", STRIPE_KEY), "apis[0].secret"),
        (lambda i: setattr(i.apis[1], "token_hash", STRIPE_KEY), "apis[1].token_hash"),
    ],
    ids=["credential-secret", "api-secret", "token-hash"],
)
def test_plaintext_secrets_are_refused(
    env: Env, stored: Integration, plant: Callable[[Integration], None], field: str
) -> None:
    before = snapshot(env.home)
    integration = env.config.get("stripe")
    plant(integration)
    with pytest.raises(ValidationError) as caught:
        env.config.save(integration)
    assert caught.value.field == field
    assert STRIPE_KEY not in str(caught.value)
    fresh = stripe_integration(env.vault.encrypt, slug="stripe-b", name="Stripe B")
    plant(fresh)
    with pytest.raises(ValidationError):
        env.config.create(fresh)
    assert snapshot(env.home) == before


def test_ciphertexts_lists_every_stored_secret(env: Env, stored: Integration) -> None:
    ciphertexts = env.config.ciphertexts()
    assert len(ciphertexts) == 4
    assert sorted(env.vault.decrypt(c) for c in ciphertexts) == sorted(PLAINTEXT_SECRETS[:4])


def test_reencrypt_after_rotation_keeps_secrets_readable(env: Env, stored: Integration) -> None:
    before = env.config.ciphertexts()
    entries_before = len(env.history.entries(limit=10_000))
    old_key = (env.home / "secret.key").read_bytes()
    assert env.vault.rotate(env.config.reencrypt) == 4
    after = env.config.ciphertexts()
    assert set(before).isdisjoint(after)
    assert (env.home / "secret.key").read_bytes() != old_key
    assert len(env.history.entries(limit=10_000)) == entries_before
    reopened = env.reopen()
    fresh_vault = Vault(env.home, env_key="")
    assert sorted(fresh_vault.decrypt(c) for c in reopened.config.ciphertexts()) == sorted(PLAINTEXT_SECRETS[:4])
    reopened.close()


def test_reencrypt_is_all_or_nothing(env: Env, stored: Integration) -> None:
    before = snapshot(env.home)
    calls = 0

    def failing(ciphertext: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")
        return env.vault.encrypt("x")

    with pytest.raises(RuntimeError):
        env.config.reencrypt(failing)
    with pytest.raises(StoreError, match="not vault ciphertext"):
        env.config.reencrypt(lambda ciphertext: "plaintext")
    assert snapshot(env.home) == before
    assert env.config.ciphertexts() == ConfigStore(env.home, env.history).ciphertexts()


# --- object schemas ------------------------------------------------------------------


def test_save_schema_creates_and_updates_by_id_or_name(env: Env) -> None:
    created = env.config.save_schema(ObjectSchema(name="Account", fields=[FieldSpec(name="name")]))
    two_fields = [FieldSpec(name="name"), FieldSpec(name="email")]
    by_name = env.config.save_schema(ObjectSchema(name="Account", fields=two_fields))
    assert by_name.id == created.id
    renamed = env.config.save_schema(ObjectSchema(id=created.id, name="Customer", fields=by_name.fields))
    assert [s.name for s in env.config.schemas()] == ["Customer"]
    assert renamed.id == created.id
    env.config.save_schema(ObjectSchema(name="Account"))
    with pytest.raises(ConflictError, match="'Account' already exists"):
        env.config.save_schema(ObjectSchema(id=created.id, name="Account"))
    with pytest.raises(ValidationError, match="external_id"):
        env.config.save_schema(ObjectSchema(name="Order", external_id="nope"))


def test_a_schema_in_use_cannot_be_deleted_or_renamed(env: Env, stored: Integration) -> None:
    before = snapshot(env.home)
    with pytest.raises(ConflictError, match="'Account' is used by stripe: inbound payload"):
        env.config.delete_schema("Account")
    with pytest.raises(ConflictError, match="source 'orders'"):
        env.config.delete_schema("Contact")  # a child source of the orders source
    account = env.config.schema("Account")
    account.name = "Customer"
    with pytest.raises(ConflictError, match="used by"):
        env.config.save_schema(account)
    assert snapshot(env.home) == before
    env.config.delete_schema("Unused")
    assert env.config.schema("Unused") is None
    with pytest.raises(NotFoundError):
        env.config.delete_schema("Unused")


def test_an_active_address_belongs_to_one_integration(env: Env, stored: Integration) -> None:
    """Mail to an address reaches one integration: a second active Email Service of it is refused at its field."""
    other = stripe_integration(env.vault.encrypt, slug="other", name="Other")
    other.emails[0].address = "Support@Payloads.localhost"
    with pytest.raises(ValidationError) as refused:
        env.config.create(other)
    assert refused.value.field == "emails[0].address"
    assert refused.value.reason.startswith(
        "Support@Payloads.localhost is already an active Email Service of 'Stripe' (slug 'stripe')")
    other.emails[0].active = False
    created = env.config.create(other)  # an inactive twin may wait
    created.emails[0].active = True
    with pytest.raises(ValidationError):
        env.config.save(created)
    stored.emails[0].active = False
    env.config.save(stored)
    assert env.config.save(created).emails[0].active  # once the first is off, the twin may take over
    assert env.config.active_addresses() == {"support@payloads.localhost": ("other", "Other")}
