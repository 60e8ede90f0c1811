"""Bundles: secrets never leak, round trips, conflict policies, and bad bundles change nothing."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from payloads_tui.domain.errors import BundleError
from payloads_tui.domain.models import FieldSpec, Integration, ObjectSchema, to_data
from payloads_tui.store import bundles
from payloads_tui.store.bundles import (
    BUNDLE_FORMAT,
    BUNDLE_PREFIX,
    BUNDLE_VERSION,
    export_bundle,
    import_bundle,
    read_bundle,
    write_bundle,
)
from tests.config.conftest import (
    API_TOKEN,
    PLAINTEXT_SECRETS,
    STRIPE_CREDENTIAL,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    Env,
    snapshot,
    stripe_integration,
    stripe_schemas,
    token_hash,
)

PASSPHRASE = "correct horse battery staple"
LEFT_OUT = [
    "credentials[Stripe Secret Key].token",
    "credentials[Legacy Basic].password",
    "apis[POST stripe/webhook].secret",
    "apis[POST customers].token_hash",
    "apis[GET orders].secret",
]
SECURED_APIS = ["POST stripe/webhook", "POST customers", "GET orders"]

EnvFactory = Callable[[str], Env]
REAL_SCRYPT_N = bundles.SCRYPT_N


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Export with a small scrypt cost to keep tests fast; imports read the cost from the bundle."""
    monkeypatch.setattr(bundles, "SCRYPT_N", 2**10)


@functools.lru_cache(maxsize=8)
def passphrase_fernet(salt: str, n: int, r: int, p: int, passphrase: str) -> Fernet:
    key = Scrypt(salt=base64.b64decode(salt), length=32, n=n, r=r, p=p).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def open_bundle_value(bundle: dict[str, Any], value: str, passphrase: str = PASSPHRASE) -> str:
    """Decrypt one `bundle:` value the way an independent reader would (scrypt → Fernet)."""
    header = bundle["secrets"]
    fernet = passphrase_fernet(header["salt"], header["n"], header["r"], header["p"], passphrase)
    return fernet.decrypt(value[len(BUNDLE_PREFIX) :].encode()).decode()


def normalize_with(bundle: dict[str, Any], passphrase: str) -> Any:
    """The bundle without ids, export time and passphrase randomness; secrets as hashes of their plaintext."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if k != "id"}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith(BUNDLE_PREFIX):
            return "secret:" + hashlib.sha256(open_bundle_value(bundle, value, passphrase).encode()).hexdigest()
        return value

    return walk({k: v for k, v in bundle.items() if k not in ("exported_at", "secrets")})


def ids_of(value: Any) -> set[str]:
    """Every `id` inside plain data or a model."""
    if isinstance(value, Integration):
        value = to_data(value)
    if isinstance(value, dict):
        own = {value["id"]} if isinstance(value.get("id"), str) else set()
        return own.union(*(ids_of(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(ids_of(v) for v in value))
    return set()


def with_schemas(env: Env) -> Env:
    for schema in stripe_schemas():
        env.config.save_schema(schema)
    return env


@pytest.fixture
def source(env_factory: EnvFactory) -> Env:
    env = with_schemas(env_factory("source"))
    env.config.create(stripe_integration(env.vault.encrypt))
    return env


@pytest.fixture
def target(env_factory: EnvFactory) -> Env:
    """A second environment that already holds another integration (with a secret, so its key file exists)."""
    env = env_factory("target")
    other = stripe_integration(env.vault.encrypt, slug="shop", name="Shop")
    env.config.create(other)
    return env


# --- secrets never leak ----------------------------------------------------------------


def test_no_plaintext_secret_in_any_file(source: Env, env_factory: EnvFactory, tmp_path: Path) -> None:
    plain_path, protected_path = tmp_path / "plain.json", tmp_path / "protected.json"
    write_bundle(plain_path, export_bundle(source.config, source.vault, "stripe"))
    write_bundle(protected_path, export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE))
    stored = source.config.get("stripe")  # a secret change goes through history too
    stored.credential(STRIPE_CREDENTIAL).secrets["token"] = source.vault.encrypt(STRIPE_KEY + "-v2")
    source.config.save(stored)
    imported = env_factory("imported")
    import_bundle(imported.config, imported.vault, read_bundle(protected_path), passphrase=PASSPHRASE)

    files = [p for home in (source.home, imported.home) for p in sorted(home.rglob("*")) if p.is_file()]
    files += [plain_path, protected_path]
    data_files = ["config.json", "history.json", "secret.key"]
    assert [p.name for p in files] == [*data_files, *data_files, "plain.json", "protected.json"]
    ciphertexts = source.config.ciphertexts()
    for path in files:
        content = path.read_bytes()
        for secret in (*PLAINTEXT_SECRETS, STRIPE_KEY + "-v2"):
            assert secret.encode() not in content, f"a plaintext secret is in {path}"
        if path != source.home / "config.json":
            assert not any(c.encode() in content for c in ciphertexts), f"vault ciphertext is in {path}"
    for path in (plain_path, source.home / "history.json", imported.home / "history.json"):
        text = path.read_text()
        assert "enc:" not in text and "sha256:" not in text and BUNDLE_PREFIX not in text, path
    assert "enc:" not in protected_path.read_text()


def test_export_without_passphrase_leaves_every_secret_out(source: Env) -> None:
    bundle = export_bundle(source.config, source.vault, "stripe")
    assert bundle["format"] == BUNDLE_FORMAT and bundle["version"] == BUNDLE_VERSION
    assert bundle["secrets"] is None
    assert bundle["secrets_left_out"] == LEFT_OUT
    data = bundle["integration"]
    assert all("secrets" not in c for c in data["credentials"])
    assert all("secret" not in a and "token_hash" not in a for a in data["apis"])
    assert "created_at" not in data and "updated_at" not in data
    assert [s["name"] for s in bundle["schemas"]] == ["Account", "Contact", "Order"]


def test_export_with_passphrase_encrypts_each_secret_under_it(source: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundles, "SCRYPT_N", REAL_SCRYPT_N)
    bundle = export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE)
    header = bundle["secrets"]
    assert (header["kdf"], header["n"], header["r"], header["p"]) == ("scrypt", 2**15, 8, 1)
    assert bundle["secrets_left_out"] == []
    credential = bundle["integration"]["credentials"][0]
    assert open_bundle_value(bundle, credential["secrets"]["token"]) == STRIPE_KEY
    apis = bundle["integration"]["apis"]
    assert open_bundle_value(bundle, apis[0]["secret"]) == WEBHOOK_SECRET
    assert open_bundle_value(bundle, apis[1]["token_hash"]) == token_hash(API_TOKEN)


def test_write_and_read_bundle(source: Env, tmp_path: Path) -> None:
    bundle = export_bundle(source.config, source.vault, "stripe")
    path = tmp_path / "stripe.bundle.json"
    write_bundle(path, bundle)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_bundle(path) == bundle
    with pytest.raises(BundleError, match="does not exist"):
        read_bundle(tmp_path / "missing.json")
    with pytest.raises(BundleError, match="cannot write"):
        write_bundle(tmp_path / "no" / "such" / "dir.json", bundle)


# --- round trips -----------------------------------------------------------------------


def test_round_trip_with_passphrase_is_identical_but_for_ids(source: Env, env_factory: EnvFactory) -> None:
    first = export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE)
    second_env = env_factory("second")
    result = import_bundle(second_env.config, second_env.vault, json.loads(json.dumps(first)), passphrase=PASSPHRASE)
    assert (result.action, result.renamed_to, result.secrets_imported) == ("created", None, 5)
    assert result.schemas_created == ["Account", "Contact", "Order"] and result.deactivated == []
    second = export_bundle(second_env.config, second_env.vault, "stripe", passphrase="another passphrase")
    assert normalize_with(first, PASSPHRASE) == normalize_with(second, "another passphrase")
    assert first != second
    assert ids_of(first["integration"]).isdisjoint(ids_of(result.integration))
    imported = second_env.config.get("stripe")
    assert sorted(second_env.vault.decrypt(c) for c in second_env.config.ciphertexts()) == sorted(PLAINTEXT_SECRETS[:4])
    assert imported.api("customers", "POST").token_hash == token_hash(API_TOKEN)
    assert all(a.active for a in imported.apis)



def test_round_trip_without_passphrase(source: Env, env_factory: EnvFactory) -> None:
    first = export_bundle(source.config, source.vault, "stripe")
    second_env = env_factory("second")
    result = import_bundle(second_env.config, second_env.vault, first)
    assert result.action == "created" and result.secrets_imported == 0
    assert result.secrets_missing == LEFT_OUT
    assert result.deactivated == SECURED_APIS
    imported = second_env.config.get("stripe")
    assert [a.active for a in imported.apis] == [False, False, False, True]
    assert second_env.config.ciphertexts() == []
    assert not (second_env.home / "secret.key").exists()
    second = export_bundle(second_env.config, second_env.vault, "stripe")
    expected = copy.deepcopy(first)
    for api in expected["integration"]["apis"][:3]:
        api["active"] = False
    # a secret a credential needs and never got here is passed on, so the next import asks for it too
    expected["secrets_left_out"] = ["credentials[Stripe Secret Key].token"]
    assert normalize_with(second, "") == normalize_with(expected, "")
    third_env = env_factory("third")
    assert import_bundle(third_env.config, third_env.vault, second).secrets_missing == [
        "credentials[Stripe Secret Key].token"]


# --- conflicts -------------------------------------------------------------------------


@pytest.fixture
def protected(source: Env) -> dict[str, Any]:
    return export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE)


def test_skip_changes_nothing(source: Env, target: Env, protected: dict[str, Any]) -> None:
    first = import_bundle(target.config, target.vault, protected, passphrase=PASSPHRASE)
    before = snapshot(target.home)
    again = import_bundle(target.config, target.vault, protected, passphrase=PASSPHRASE)
    assert (again.action, again.integration) == ("skipped", None)
    assert snapshot(target.home) == before
    assert first.integration == target.config.get("stripe")


def test_rename_picks_the_next_free_slug_and_name(source: Env, target: Env, protected: dict[str, Any]) -> None:
    first = import_bundle(target.config, target.vault, protected, passphrase=PASSPHRASE)
    second = import_bundle(target.config, target.vault, protected, on_conflict="rename", passphrase=PASSPHRASE)
    third = import_bundle(target.config, target.vault, protected, on_conflict="rename", passphrase=PASSPHRASE)
    assert (second.action, second.renamed_to, second.integration.name) == ("created", "stripe-2", "Stripe (2)")
    assert (third.renamed_to, third.integration.name) == ("stripe-3", "Stripe (3)")
    assert second.schemas_created == [] and second.schemas_kept == []  # the same schemas: nothing to say
    assert ids_of(second.integration).isdisjoint(ids_of(target.config.get("stripe")))
    assert [i.slug for i in target.config.integrations()] == ["shop", "stripe", "stripe-2", "stripe-3"]
    # the Email Service of each copy has an address the target's shop receives: it stays with the shop
    assert first.emails_deactivated == second.emails_deactivated == ["support@payloads.localhost (active in shop)"]
    assert not second.integration.emails[0].active and target.config.get("shop").emails[0].active


def test_replace_keeps_ids_and_local_variable_values_and_shows_field_changes(
    source: Env, target: Env, env_factory: EnvFactory
) -> None:
    first = export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE)
    import_bundle(target.config, target.vault, first, passphrase=PASSPHRASE)
    local = target.config.get("stripe")
    local.variables["stripe_account"] = "acct_local"
    local = target.config.save(local)
    changed = source.config.get("stripe")
    changed.variables["currency"] = "EUR"
    changed.variables["region"] = "eu"
    changed.inbound[0].targets[0].items = "data"
    changed.outbound[1].query["limit"] = "50"
    source.config.save(changed)
    bundle = export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE)
    history_before = len(target.history.entries(integration="stripe", limit=10_000))

    result = import_bundle(target.config, target.vault, bundle, on_conflict="replace", passphrase=PASSPHRASE)

    replaced = result.integration
    assert result.action == "replaced" and replaced.id == local.id
    assert ids_of(replaced) == ids_of(local)
    assert replaced.variables == {"currency": "USD", "stripe_account": "acct_local", "region": "eu"}
    assert result.variables_kept == ["currency", "stripe_account"]  # said, not silently kept
    assert replaced.inbound[0].targets[0].items == "data"
    entries = target.history.entries(integration="stripe", limit=10_000)
    new_entries = {(e.action, e.kind, e.name): e for e in entries[: len(entries) - history_before]}
    assert sorted(new_entries) == [
        ("update", "inbound payload", "Customer: Created / Updated (Webhook)"),
        ("update", "integration", "Stripe"),
        ("update", "outbound payload", "Customer: Get All (Request)"),
    ]
    assert {c.field for c in new_entries[("update", "integration", "Stripe")].changes} == {"variables.region"}


def test_replace_without_secrets_keeps_the_local_secrets(source: Env, target: Env) -> None:
    import_bundle(target.config, target.vault,
                  export_bundle(source.config, source.vault, "stripe", passphrase=PASSPHRASE), passphrase=PASSPHRASE)
    local_secrets = sorted(target.config.ciphertexts())
    plain = export_bundle(source.config, source.vault, "stripe")
    result = import_bundle(target.config, target.vault, plain, on_conflict="replace")
    assert result.action == "replaced"
    assert result.secrets_missing == [] and result.deactivated == []
    assert result.secrets_kept == ["apis[GET orders].secret", "apis[POST customers].token_hash",
                                   "apis[POST stripe/webhook].secret", "credentials[Legacy Basic].password",
                                   "credentials[Stripe Secret Key].token"]  # said, not silently kept
    assert all(a.active for a in result.integration.apis)
    assert sorted(target.config.ciphertexts()) == local_secrets
    assert result.integration.api("customers", "POST").token_hash == token_hash(API_TOKEN)


def test_existing_schemas_are_kept(source: Env, env_factory: EnvFactory, protected: dict[str, Any]) -> None:
    second_env = env_factory("second")
    local_account = ObjectSchema(name="Account", fields=[FieldSpec(name="local_only")])
    second_env.config.save_schema(local_account)
    result = import_bundle(second_env.config, second_env.vault, protected, passphrase=PASSPHRASE)
    assert result.schemas_kept == ["Account"] and result.schemas_created == ["Contact", "Order"]
    assert [f.name for f in second_env.config.schema("Account").fields] == ["local_only"]


def test_a_name_taken_under_another_slug_needs_rename(source: Env, target: Env, protected: dict[str, Any]) -> None:
    target.config.create(Integration(slug="stripe-live", name="STRIPE"))
    before = snapshot(target.home)
    with pytest.raises(BundleError, match="named 'STRIPE' already exists.*rename"):
        import_bundle(target.config, target.vault, protected, passphrase=PASSPHRASE)
    assert snapshot(target.home) == before
    result = import_bundle(target.config, target.vault, protected, on_conflict="rename", passphrase=PASSPHRASE)
    assert (result.renamed_to, result.integration.name) == ("stripe-2", "Stripe (2)")


# --- bad bundles -----------------------------------------------------------------------


def _deep_bad_field(bundle: dict[str, Any]) -> None:
    bundle["integration"]["inbound"][0]["targets"][1]["object"] = 42


def _bad_object_name(bundle: dict[str, Any]) -> None:
    bundle["integration"]["inbound"][0]["targets"][1]["object"] = "contact"


def _plaintext_secret(bundle: dict[str, Any]) -> None:
    bundle["integration"]["credentials"][0]["secrets"]["token"] = STRIPE_KEY


def _tampered_secret(bundle: dict[str, Any]) -> None:
    bundle["integration"]["apis"][0]["secret"] = BUNDLE_PREFIX + Fernet(Fernet.generate_key()).encrypt(b"x").decode()


@pytest.mark.parametrize(
    ("damage", "passphrase", "message"),
    [
        (lambda b: b.update(format="zip"), PASSPHRASE, "format 'zip', expected 'payloads-bundle'"),
        (lambda b: b.pop("format"), PASSPHRASE, "no format, expected 'payloads-bundle'"),
        (lambda b: b.update(version=2), PASSPHRASE, "version 2, made by a newer Payloads.*reads version 1"),
        (lambda b: b.update(version="1"), PASSPHRASE, "version '1' is not supported; expected version 1"),
        (_deep_bad_field, PASSPHRASE, r"^integration\.inbound\[0\]\.targets\[1\]\.object: Expected `str`, got `int`"),
        (_bad_object_name, PASSPHRASE, r"^integration\.inbound\[0\]\.targets\[1\]\.object: 'contact' is not a valid"),
        (lambda b: b["schemas"][0].update(fields="none"), PASSPHRASE, r"^schemas\[0\]\.fields: Expected `array`"),
        (lambda b: None, "wrong passphrase!", "wrong passphrase"),
        (lambda b: None, None, "protected by a passphrase"),
        (lambda b: None, "", "passphrase is empty"),
        (_plaintext_secret, PASSPHRASE, r"integration\.credentials\[0\]\.secrets\.token: .*passphrase-encrypted"),
        (_tampered_secret, PASSPHRASE, r"integration\.apis\[0\]\.secret: cannot be decrypted"),
        (lambda b: b["secrets"].update(n=2**30), PASSPHRASE, "out of range"),
    ],
    ids=[
        "wrong-format",
        "no-format",
        "newer-version",
        "version-not-int",
        "bad-field-deep-inside",
        "invalid-object-name",
        "bad-schema",
        "wrong-passphrase",
        "missing-passphrase",
        "empty-passphrase",
        "plaintext-secret",
        "tampered-secret",
        "absurd-scrypt-cost",
    ],
)
def test_bad_bundles_are_refused_and_change_nothing(
    source: Env,
    target: Env,
    env_factory: EnvFactory,
    protected: dict[str, Any],
    damage: Callable[[dict[str, Any]], None],
    passphrase: str | None,
    message: str,
) -> None:
    bundle = copy.deepcopy(protected)
    damage(bundle)
    empty = env_factory("empty")
    for env in (target, empty):
        before = snapshot(env.home)
        with pytest.raises(BundleError, match=message) as caught:
            import_bundle(env.config, env.vault, bundle, on_conflict="replace", passphrase=passphrase)
        assert STRIPE_KEY not in str(caught.value)
        assert snapshot(env.home) == before
        assert [i.slug for i in env.config.integrations()] == (["shop"] if env is target else [])


def test_a_file_that_is_not_json_says_where(tmp_path: Path, source: Env) -> None:
    path = tmp_path / "broken.json"
    good = json.dumps(export_bundle(source.config, source.vault, "stripe"), indent=2)
    path.write_text(good[:200] + "}," + good[200:])
    with pytest.raises(BundleError, match=r"broken\.json is not valid JSON: .* at line \d+, column \d+"):
        read_bundle(path)
    path.write_text("[1, 2]")
    with pytest.raises(BundleError, match="not a bundle"):
        read_bundle(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(BundleError, match="not UTF-8"):
        read_bundle(path)


def test_unknown_conflict_policy(source: Env, target: Env, protected: dict[str, Any]) -> None:
    with pytest.raises(BundleError, match="on_conflict must be one of skip, replace, rename"):
        import_bundle(
            target.config, target.vault, protected, on_conflict="merge", passphrase=PASSPHRASE  # type: ignore[arg-type]
        )
