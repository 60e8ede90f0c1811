"""Field-by-field diffs for history: readable paths, parts matched by id, secrets masked."""

from __future__ import annotations

import msgspec
import pytest

from payloads_tui.domain.diff import MASK, MAX_VALUE_CHARS, Change, diff_integration, diff_schema
from payloads_tui.domain.models import (
    Element,
    FieldMapping,
    FieldSpec,
    InboundPayload,
    Integration,
    ObjectSchema,
    Target,
)
from tests.config.conftest import (
    BASIC_CREDENTIAL,
    CREATE_CUSTOMER,
    STRIPE_CREDENTIAL,
    WEBHOOK,
    stripe_integration,
)


def fake_encrypt(plaintext: str) -> str:
    """Stands in for the vault in pure tests: looks like ciphertext, is not the plaintext."""
    return "enc:" + plaintext[::-1].upper()


@pytest.fixture
def old() -> Integration:
    return stripe_integration(fake_encrypt)


@pytest.fixture
def new(old: Integration) -> Integration:
    return msgspec.convert(msgspec.to_builtins(old), Integration)


def fields_of(change: Change) -> dict[str, tuple[str | None, str | None]]:
    return {c.field: (c.old, c.new) for c in change.changes}


def only(changes: list[Change], kind: str) -> Change:
    found = [c for c in changes if c.kind == kind]
    assert len(found) == 1, found
    return found[0]


def test_create_lists_every_part_as_its_own_change(old: Integration) -> None:
    changes = diff_integration(None, old)
    assert all(c.action == "create" for c in changes)
    assert [(c.kind, c.name) for c in changes] == (
        [("integration", "Stripe")]
        + [("inbound payload", p.name) for p in old.inbound]
        + [("outbound payload", p.name) for p in old.outbound]
        + [("credential", c.name) for c in old.credentials]
        + [("external API", f"{a.method} {a.path}") for a in old.apis]
        + [("email service", "support@payloads.localhost")]
    )
    own = fields_of(changes[0])
    assert own["slug"] == (None, "stripe")
    assert own["variables.currency"] == (None, "USD")
    assert "id" not in own and "created_at" not in own and "inbound" not in own
    webhook = fields_of(changes[1])
    assert webhook["targets[Account].mappings[stripe_id].expression"] == (None, "id")
    assert webhook["targets[Account].match_key"] == (None, '["stripe_id"]')
    assert webhook["allow_partial_success"] == (None, "false")
    assert not any(path.endswith(".id") or path == "id" for path in webhook)


def test_delete_lists_the_old_values(old: Integration) -> None:
    changes = diff_integration(old, None)
    assert {c.action for c in changes} == {"delete"}
    assert fields_of(changes[0])["name"] == ("Stripe", None)
    assert len(changes) == 1 + 3 + 3 + 2 + 4 + 1


def test_nothing_changed_gives_no_changes(old: Integration, new: Integration) -> None:
    new.updated_at += 100
    new.created_at -= 100
    new.credentials[0].last_used = 12345.0
    assert diff_integration(old, new) == []


def test_nested_fields_get_readable_paths(old: Integration, new: Integration) -> None:
    webhook = new.inbound_payload(WEBHOOK)
    webhook.targets[0].mappings[0].expression = "data.object.id"
    create = new.outbound_payload(CREATE_CUSTOMER)
    create.sources[0].filter = "stripe_id == `null`"
    create.headers["Stripe-Version"] = "2025-01-27"
    create.elements[2].path = "metadata.record_id"
    changes = diff_integration(old, new)
    assert fields_of(only(changes, "inbound payload")) == {
        "targets[Account].mappings[stripe_id].expression": ("id", "data.object.id")
    }
    assert fields_of(only(changes, "outbound payload")) == {
        "headers.Stripe-Version": ("2024-06-20", "2025-01-27"),
        "sources[accounts].filter": ("stripe_id == null", "stripe_id == `null`"),
        "elements[2].path": ("metadata.account_id", "metadata.record_id"),
    }


def test_renaming_a_part_is_one_update_of_its_name(old: Integration, new: Integration) -> None:
    new.inbound[0].name = "Customer Events"
    new.inbound[0].targets[0].name = "Customer"
    changes = diff_integration(old, new)
    change = only(changes, "inbound payload")
    assert (change.action, change.name) == ("update", "Customer Events")
    assert fields_of(change) == {
        "name": (WEBHOOK, "Customer Events"),
        "targets[Customer].name": ("Account", "Customer"),
    }


def test_added_and_removed_parts(old: Integration, new: Integration) -> None:
    new.emails = []
    refund = Target(name="Refund", object="Refund", operation="insert")
    new.inbound.append(InboundPayload(name="Refunds", targets=[refund]))
    new.variables = {"currency": "EUR", "region": "eu"}
    changes = diff_integration(old, new)
    assert [(c.action, c.kind, c.name) for c in changes] == [
        ("update", "integration", "Stripe"),
        ("create", "inbound payload", "Refunds"),
        ("delete", "email service", "support@payloads.localhost"),
    ]
    assert fields_of(changes[0]) == {
        "variables.currency": ("USD", "EUR"),
        "variables.region": (None, "eu"),
        "variables.stripe_account": ("acct_fixture", None),
    }
    assert fields_of(changes[1])["targets[Refund].operation"] == (None, "insert")
    assert fields_of(changes[2])["address"] == ("support@payloads.localhost", None)


def test_secret_fields_are_masked(old: Integration, new: Integration) -> None:
    stripe_key = new.credential(STRIPE_CREDENTIAL)
    stripe_key.secrets["token"] = fake_encrypt("rotated")
    basic = new.credential(BASIC_CREDENTIAL)
    basic.fields["username"] = "new-user"
    del basic.secrets["password"]
    new.apis[0].secret = fake_encrypt("new webhook secret")
    new.apis[1].token_hash = ""
    new.apis[3].auth = "token"
    new.apis[3].token_hash = "sha256:" + "ab" * 32
    changes = diff_integration(old, new)
    by_name = {c.name: fields_of(c) for c in changes}
    assert by_name[STRIPE_CREDENTIAL] == {"secrets.token": (MASK, MASK)}
    assert by_name[BASIC_CREDENTIAL] == {
        "fields.username": ("legacy-user", "new-user"),
        "secrets.password": (MASK, None),
    }
    assert by_name["POST stripe/webhook"] == {"secret": (MASK, MASK)}
    assert by_name["POST customers"] == {"token_hash": (MASK, None)}
    assert by_name["POST ping"] == {"auth": ("none", "token"), "token_hash": (None, MASK)}
    every_value = [v for c in diff_integration(None, old) + changes for fc in c.changes for v in (fc.old, fc.new)]
    assert not any(v and (v.startswith("enc:") or v.startswith("sha256:")) for v in every_value)


def test_ciphertext_is_masked_wherever_it_appears(old: Integration, new: Integration) -> None:
    new.variables["leaked"] = fake_encrypt("a secret")
    new.inbound[0].targets[0].mappings[0].value = {"nested": [fake_encrypt("another")]}
    changes = diff_integration(old, new)
    assert fields_of(only(changes, "integration")) == {"variables.leaked": (None, MASK)}
    assert fields_of(only(changes, "inbound payload")) == {"targets[Account].mappings[stripe_id].value": (None, MASK)}


def test_long_values_are_cut_and_non_strings_are_json(old: Integration, new: Integration) -> None:
    new.description = "x" * 1000
    new.outbound[0].timeout = 12.5
    new.outbound[0].elements[0].value = {"nested": [1, 2]}
    changes = diff_integration(old, new)
    description = fields_of(only(changes, "integration"))["description"][1]
    assert description is not None and len(description) == MAX_VALUE_CHARS and description.endswith("…")
    outbound = fields_of(only(changes, "outbound payload"))
    assert outbound["timeout"] == ("30.0", "12.5")
    assert outbound["elements[0].value"] == (None, '{"nested": [1, 2]}')


def test_items_without_a_unique_name_are_labelled_by_index() -> None:
    before = Target(
        name="Account",
        object="Account",
        mappings=[FieldMapping(field="tag", expression="a"), FieldMapping(field="tag", expression="b")],
    )
    after = msgspec.structs.replace(
        before, mappings=[FieldMapping(field="tag", expression="a"), FieldMapping(field="tag", expression="c")]
    )
    old = Integration(slug="x", name="X", inbound=[InboundPayload(name="P", targets=[before])])
    new = msgspec.convert(msgspec.to_builtins(old), Integration)
    new.inbound[0].targets = [after]
    new.inbound[0].targets[0].id = before.id
    change = only(diff_integration(old, new), "inbound payload")
    assert fields_of(change) == {"targets[Account].mappings[1].expression": ("b", "c")}


def test_nested_elements_have_index_paths() -> None:
    old = stripe_integration(fake_encrypt)
    new = msgspec.convert(msgspec.to_builtins(old), Integration)
    new.outbound[2].elements[0].elements.append(Element(path="currency", expression="currency"))
    change = only(diff_integration(old, new), "outbound payload")
    assert fields_of(change) == {
        "elements[0].elements[1].path": (None, "currency"),
        "elements[0].elements[1].placement": (None, "body"),
        "elements[0].elements[1].source": (None, "record"),
        "elements[0].elements[1].expression": (None, "currency"),
    }


def test_schema_diff() -> None:
    schema = ObjectSchema(name="Account", fields=[FieldSpec(name="email"), FieldSpec(name="name")])
    created = diff_schema(None, schema)
    assert [(c.action, c.kind, c.name) for c in created] == [("create", "object schema", "Account")]
    assert fields_of(created[0])["fields[email].type"] == (None, "string")
    changed = msgspec.convert(msgspec.to_builtins(schema), ObjectSchema)
    changed.fields[0].max_length = 254
    changed.external_id = "email"
    assert diff_schema(schema, schema) == []
    assert fields_of(diff_schema(schema, changed)[0]) == {
        "fields[email].max_length": (None, "254"),
        "external_id": (None, "email"),
    }
    assert diff_schema(schema, None)[0].action == "delete"
