"""Bundles: one integration (with the object schemas it uses) exported to JSON and imported elsewhere.

A bundle moves an integration between data directories ("environments"):

    {"format": "payloads-bundle", "version": 1, "exported_at": "2025-01-31T12:00:00Z",
     "integration": {...}, "schemas": [{...}], "secrets": null | {...},
     "secrets_left_out": ["credentials[Stripe Secret Key].token", "apis[POST customers].token_hash"]}

Secrets. Without a passphrase every secret is left out: credential secrets, API
signing secrets and API token hashes are removed and listed in `secrets_left_out`.
With a passphrase, `secrets` holds scrypt parameters and a check token, and each
secret is decrypted with the source vault and stored as `bundle:<fernet token>` under
the passphrase key; import decrypts it and re-encrypts it with the target's vault.
Token hashes are not vault ciphertext, but they travel encrypted the same way.

Imported APIs without their secret. An external API with `token`, `stripe` or `hmac`
authentication that arrives without its token hash or signing secret is kept, but
saved **inactive** (`active=False`, listed in `ImportResult.deactivated`): it cannot
answer until someone sets its secret and activates it. No placeholder secret is
invented. This needs `validate_integration` to require the token hash / signing
secret only of *active* APIs. Credentials simply arrive without their secrets
(`ImportResult.secrets_missing`).

Imported Email Services whose address is already an active Email Service of another
integration here are saved inactive too (`ImportResult.emails_deactivated`): mail to
an address reaches one integration only.

Import. The format and version are checked first, then every field is converted
(`from_data`, errors name the field as `integration.inbound[0].targets[1].object`),
the passphrase is checked, and the integration and schemas are validated — all
before anything is written, so a failed import changes nothing. Every part gets a
fresh id. A slug that already exists is handled by `on_conflict`:

- `skip`: nothing changes;
- `replace`: the stored integration is replaced but keeps its id, and its parts
  matched by name keep theirs, so history shows field changes. Its variable values
  win over the bundle's (new names take the bundle's value), and when the bundle
  carries no secrets the stored secrets of matching credentials and APIs are kept;
- `rename`: imported as `<slug>-2` / `<name> (2)` (then `-3`, ...).

Object schemas missing in the target are created; one that exists with the same
name is kept as it is, since every integration here shares it (those whose fields
differ from the bundle's are named in `ImportResult.schemas_kept`). The integration
and the new schemas are written in one write.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from msgspec import structs
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from payloads_tui.domain.errors import BundleError, PayloadsError, ValidationError, VaultError
from payloads_tui.domain.models import (
    REQUIRED_FIELDS,
    SECRET_FIELDS,
    SLUG_RE,
    ExternalApi,
    Integration,
    ObjectSchema,
    from_data,
    new_id,
    to_data,
)
from payloads_tui.domain.validation import validate_integration, validate_schema
from payloads_tui.store.config import TOKEN_HASH_PREFIX, ConfigStore
from payloads_tui.store.storage import atomic_write
from payloads_tui.store.vault import Vault, is_encrypted

BUNDLE_FORMAT = "payloads-bundle"
BUNDLE_VERSION = 1
BUNDLE_PREFIX = "bundle:"
CHECK_TEXT = b"payloads-bundle passphrase check"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
#: Largest scrypt memory (128 * n * r bytes) an imported bundle may ask for.
MAX_SCRYPT_BYTES = 256 * 1024 * 1024
MAX_SCRYPT_P = 16
#: How many `-2`, `-3`, ... suffixes `rename` tries before giving up.
MAX_RENAME_TRIES = 1000
#: Stands in for a secret until the import is validated and the target vault encrypts it.
PENDING_SECRET = "enc:pending-import"
#: Bookkeeping fields that do not travel between environments.
UNEXPORTED_FIELDS = ("created_at", "updated_at")

ConflictPolicy = Literal["skip", "replace", "rename"]
CONFLICT_POLICIES: tuple[str, ...] = ("skip", "replace", "rename")
SIGNED_AUTH = ("stripe", "hmac")

P = TypeVar("P")


def _same_schema(here: ObjectSchema, bundled: ObjectSchema) -> bool:
    """Whether a stored schema says what the bundle's does (ids differ between data directories)."""
    return to_data(structs.replace(here, id=bundled.id)) == to_data(bundled)


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    #: The stored integration; None when skipped.
    integration: Integration | None
    action: Literal["created", "replaced", "skipped"]
    #: The new slug when `rename` had to pick one.
    renamed_to: str | None = None
    schemas_created: list[str] = field(default_factory=list)
    #: Schemas of the bundle that exist here with other fields, left as they are (shared by every integration).
    schemas_kept: list[str] = field(default_factory=list)
    #: Secrets decrypted with the passphrase and re-encrypted with this vault (token hashes included).
    secrets_imported: int = 0
    #: Secrets the bundle left out that this environment does not have either: set them.
    secrets_missing: list[str] = field(default_factory=list)
    #: Secrets the bundle left out that a replaced integration had: kept.
    secrets_kept: list[str] = field(default_factory=list)
    #: Variables whose value here differs from the bundle's: a replace keeps this environment's value.
    variables_kept: list[str] = field(default_factory=list)
    #: External APIs saved inactive because they arrived without their token or signing secret.
    deactivated: list[str] = field(default_factory=list)
    #: Email Services saved inactive because another integration here has their address active.
    emails_deactivated: list[str] = field(default_factory=list)


@dataclass
class _SecretSlot:
    """One secret field of an integration: a readable label, its field path, value and setter."""

    label: str
    where: str
    value: str
    put: Callable[[str | None], None]

    @property
    def is_token_hash(self) -> bool:
        return self.where.endswith(".token_hash")


def _put_item(mapping: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _put_attr(holder: Any, attr: str, value: str | None) -> None:
    setattr(holder, attr, value or "")


def _api_label(api: ExternalApi) -> str:
    return f"apis[{api.method} {api.path}]"


def _secret_slots(integration: Integration) -> list[_SecretSlot]:
    slots: list[_SecretSlot] = []
    for i, credential in enumerate(integration.credentials):
        for key, value in list(credential.secrets.items()):
            slots.append(
                _SecretSlot(
                    f"credentials[{credential.name}].{key}",
                    f"credentials[{i}].secrets.{key}",
                    value,
                    partial(_put_item, credential.secrets, key),
                )
            )
    for i, api in enumerate(integration.apis):
        for attr in ("secret", "token_hash"):
            if value := getattr(api, attr):
                slots.append(
                    _SecretSlot(f"{_api_label(api)}.{attr}", f"apis[{i}].{attr}", value, partial(_put_attr, api, attr))
                )
    return slots


def _unset_secrets(integration: Integration) -> list[str]:
    """Labels of the secrets a credential needs and does not have (a bundle exported from a
    directory where they were never set passes the need on: `Secrets to set` on import)."""
    return [f"credentials[{credential.name}].{name}"
            for credential in integration.credentials
            for name in REQUIRED_FIELDS.get(credential.kind, ())
            if name in SECRET_FIELDS.get(credential.kind, ()) and name not in credential.secrets]


# --- passphrase ------------------------------------------------------------------------


def _derive_fernet(passphrase: str, salt: bytes, n: int, r: int, p: int) -> Fernet:
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def _check_passphrase(passphrase: str) -> None:
    if not passphrase:
        raise BundleError("the passphrase is empty; give a passphrase, or export without secrets")


def _new_passphrase_key(passphrase: str) -> tuple[dict[str, Any], Fernet]:
    _check_passphrase(passphrase)
    salt = os.urandom(SALT_BYTES)
    fernet = _derive_fernet(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    header = {
        "kdf": "scrypt",
        "salt": base64.b64encode(salt).decode("ascii"),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "check": fernet.encrypt(CHECK_TEXT).decode("ascii"),
    }
    return header, fernet


def _header_int(header: dict[str, Any], name: str) -> int:
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BundleError(f"secrets.{name}: expected a positive whole number, got {value!r}")
    return value


def _bundle_fernet(header: Any, passphrase: str | None) -> Fernet | None:
    """The passphrase key of a bundle's `secrets` header (None when it carries no secrets)."""
    if header is None:
        return None
    if not isinstance(header, dict):
        raise BundleError("secrets: expected the passphrase parameters (an object) or null")
    if header.get("kdf") != "scrypt":
        raise BundleError(
            f"secrets.kdf: {header.get('kdf')!r} is not a key derivation this version knows; expected 'scrypt'"
        )
    try:
        salt = base64.b64decode(header.get("salt") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BundleError("secrets.salt: not base64") from None
    if not salt:
        raise BundleError("secrets.salt: missing")
    n, r, p = (_header_int(header, name) for name in ("n", "r", "p"))
    if n < 2 or n & (n - 1) or 128 * n * r > MAX_SCRYPT_BYTES or p > MAX_SCRYPT_P:
        raise BundleError(
            f"secrets: scrypt parameters n={n}, r={r}, p={p} are out of range (n a power of 2, at most 256 MiB)"
        )
    check = header.get("check")
    if not isinstance(check, str) or not check:
        raise BundleError("secrets.check: missing")
    if passphrase is None:
        raise BundleError("this bundle's secrets are protected by a passphrase; give it to import the bundle")
    _check_passphrase(passphrase)
    fernet = _derive_fernet(passphrase, salt, n, r, p)
    try:
        opened = fernet.decrypt(check.encode("ascii")) == CHECK_TEXT
    except (InvalidToken, UnicodeEncodeError):
        opened = False
    if not opened:
        raise BundleError("wrong passphrase: it does not open this bundle's secrets; nothing was changed")
    return fernet


# --- export ----------------------------------------------------------------------------


def _objects_used(integration: Integration) -> set[str]:
    used = {target.object for payload in integration.inbound for target in payload.targets}
    for payload in integration.outbound:
        for source in payload.sources:
            used.add(source.object)
            used.update(child.object for child in source.children)
    return used


def export_bundle(config: ConfigStore, vault: Vault, slug: str, *, passphrase: str | None = None) -> dict[str, Any]:
    """The bundle of integration `slug`: secrets left out, or encrypted under `passphrase`."""
    integration = config.get(slug)
    header, fernet = _new_passphrase_key(passphrase) if passphrase is not None else (None, None)
    unset = _unset_secrets(integration)  # never set here: whoever imports the bundle must set them too
    left_out: list[str] = []
    for slot in _secret_slots(integration):
        if fernet is None:
            slot.put(None)
            left_out.append(slot.label)
            continue
        if slot.is_token_hash or not is_encrypted(slot.value):
            plaintext = slot.value
        else:
            try:
                plaintext = vault.decrypt(slot.value)
            except VaultError as exc:
                raise BundleError(f"cannot export {slot.label}: {exc}") from None
        slot.put(BUNDLE_PREFIX + fernet.encrypt(plaintext.encode("utf-8")).decode("ascii"))
    left_out += unset
    data = to_data(integration)
    for name in UNEXPORTED_FIELDS:
        data.pop(name, None)
    for credential in data.get("credentials", []):
        credential.pop("last_used", None)
    used = _objects_used(integration)
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "integration": data,
        "schemas": [to_data(schema) for schema in config.schemas() if schema.name in used],
        "secrets": header,
        "secrets_left_out": left_out,
    }


def write_bundle(path: Path, bundle: dict[str, Any]) -> None:
    """Write `bundle` to `path` as indented JSON, atomically, mode 0600."""
    data = bundle_text(bundle).encode("utf-8")
    try:
        atomic_write(Path(path), data)
    except OSError as exc:
        raise BundleError(f"cannot write the bundle to {path}: {exc.strerror or exc}") from None


def read_bundle(path: Path) -> dict[str, Any]:
    """The bundle in `path`; `BundleError` (with line and column for bad JSON) if it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise BundleError(f"{path} is not UTF-8 text; a bundle is a JSON file") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_bundle(text, str(path))


def parse_bundle(text: str, where: str) -> dict[str, Any]:
    """The bundle in `text` (read from `where`, named in errors); `BundleError` if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{where} is not a bundle: expected a JSON object with \"format\": \"{BUNDLE_FORMAT}\"")
    return data


def bundle_text(bundle: dict[str, Any]) -> str:
    """A bundle as it is written: indented JSON, UTF-8 characters as they are."""
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


# --- import ----------------------------------------------------------------------------


def _check_format(bundle: Any) -> None:
    if not isinstance(bundle, dict):
        raise BundleError(f"not a bundle: expected a JSON object with \"format\": \"{BUNDLE_FORMAT}\"")
    kind = bundle.get("format")
    if kind != BUNDLE_FORMAT:
        shown = "no format" if kind is None else f"format {kind!r}"
        raise BundleError(f"this file is not a Payloads bundle: it has {shown}, expected {BUNDLE_FORMAT!r}")
    version = bundle.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > BUNDLE_VERSION:
        raise BundleError(
            f"this bundle is version {version}, made by a newer Payloads; this one reads version "
            f"{BUNDLE_VERSION}: upgrade to import it"
        )
    if isinstance(version, bool) or version != BUNDLE_VERSION:
        raise BundleError(f"bundle version {version!r} is not supported; expected version {BUNDLE_VERSION}")


def _bundle_error(exc: ValidationError, prefix: str) -> BundleError:
    where = f"{prefix}.{exc.field}" if exc.field else prefix
    return BundleError(f"{where}: {exc.reason}")


def _parse(bundle: dict[str, Any]) -> tuple[Integration, list[ObjectSchema], list[str]]:
    try:
        integration = from_data(Integration, bundle.get("integration"), "integration")
    except ValidationError as exc:
        raise BundleError(str(exc)) from None
    raw_schemas = bundle.get("schemas") or []
    if not isinstance(raw_schemas, list):
        raise BundleError("schemas: expected a list of object schemas")
    schemas: list[ObjectSchema] = []
    for i, data in enumerate(raw_schemas):
        try:
            schemas.append(from_data(ObjectSchema, data, f"schemas[{i}]"))
        except ValidationError as exc:
            raise BundleError(str(exc)) from None
    left_out = bundle.get("secrets_left_out") or []
    if not isinstance(left_out, list) or not all(isinstance(item, str) for item in left_out):
        raise BundleError("secrets_left_out: expected a list of names")
    return integration, schemas, left_out


def _open_secrets(integration: Integration, fernet: Fernet | None) -> list[tuple[_SecretSlot, str]]:
    """Decrypt every `bundle:` secret; vault secrets become placeholders until the import is checked."""
    pending: list[tuple[_SecretSlot, str]] = []
    for slot in _secret_slots(integration):
        where = f"integration.{slot.where}"
        if not slot.value.startswith(BUNDLE_PREFIX):
            raise BundleError(
                f"{where}: a secret in a bundle must be passphrase-encrypted (bundle:...); export it again"
            )
        if fernet is None:
            raise BundleError(f"{where}: an encrypted secret, but the bundle has no passphrase parameters ('secrets')")
        try:
            plaintext = fernet.decrypt(slot.value[len(BUNDLE_PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise BundleError(f"{where}: cannot be decrypted with this passphrase; the bundle is damaged") from None
        if slot.is_token_hash:
            if not plaintext.startswith(TOKEN_HASH_PREFIX):
                raise BundleError(f"{where}: is not a token hash (sha256:<hex>)")
            slot.put(plaintext)
        else:
            slot.put(PENDING_SECRET)
        pending.append((slot, plaintext))
    return pending


def _holds(vault: Vault, ciphertext: str | None, plaintext: str) -> bool:
    """Whether stored `ciphertext` is already the secret `plaintext`."""
    if not ciphertext or not is_encrypted(ciphertext):
        return False
    try:
        return hmac.compare_digest(vault.decrypt(ciphertext).encode("utf-8"), plaintext.encode("utf-8"))
    except VaultError:
        return False


def _unsecured(api: ExternalApi) -> bool:
    return (api.auth == "token" and not api.token_hash) or (api.auth in SIGNED_AUTH and not api.secret)


def _validate(integration: Integration, schemas: list[ObjectSchema]) -> None:
    try:
        validate_integration(integration)
    except ValidationError as exc:
        raise _bundle_error(exc, "integration") from None
    seen: set[str] = set()
    for i, schema in enumerate(schemas):
        try:
            validate_schema(schema)
        except ValidationError as exc:
            raise _bundle_error(exc, f"schemas[{i}]") from None
        if schema.name in seen:
            raise BundleError(f"schemas[{i}].name: object schema {schema.name!r} is in the bundle twice")
        seen.add(schema.name)


def _adopt(old_parts: Iterable[P], new_parts: Iterable[P], key: Callable[[P], str]) -> list[tuple[P | None, P]]:
    """Give each new part the id of the old part with the same key, else a fresh id; (old or None, new) pairs."""
    old_by_key = {key(part): part for part in old_parts}
    pairs: list[tuple[P | None, P]] = []
    for part in new_parts:
        match = old_by_key.get(key(part))
        part.id = match.id if match is not None else new_id()  # type: ignore[attr-defined]
        pairs.append((match, part))
    return pairs


def _assign_ids(incoming: Integration, existing: Integration | None, *, keep_secrets: bool) -> set[str]:
    """Ids for `incoming`: fresh, or those of `existing` parts of the same name; returns the secrets kept.

    With `existing` (replace), its variable values win and, when `keep_secrets`, its
    secrets fill the ones the bundle left out.
    """
    incoming.id = existing.id if existing is not None else new_id()

    def stored(attr: str) -> list[Any]:
        return getattr(existing, attr) if existing is not None else []

    for before, after in _adopt(stored("inbound"), incoming.inbound, lambda p: p.name):
        _adopt(before.targets if before else [], after.targets, lambda t: t.name)
    for before, after in _adopt(stored("outbound"), incoming.outbound, lambda p: p.name):
        _adopt(before.sources if before else [], after.sources, lambda s: s.name)
    credentials = _adopt(stored("credentials"), incoming.credentials, lambda c: c.name)
    apis = _adopt(stored("apis"), incoming.apis, lambda a: f"{a.method} {a.path}")
    _adopt(stored("emails"), incoming.emails, lambda e: e.key)
    if existing is None:
        return set()
    incoming.variables = {name: existing.variables.get(name, value) for name, value in incoming.variables.items()}
    kept: set[str] = set()
    if not keep_secrets:
        return kept
    for before, after in credentials:
        if before is None or before.kind != after.kind:
            continue
        for key, value in before.secrets.items():
            if key not in after.secrets:
                after.secrets[key] = value
                kept.add(f"credentials[{after.name}].{key}")
    for before, after in apis:
        if before is None or before.auth != after.auth:
            continue
        for attr in ("secret", "token_hash"):
            if not getattr(after, attr) and getattr(before, attr):
                setattr(after, attr, getattr(before, attr))
                kept.add(f"{_api_label(after)}.{attr}")
    return kept


def _free_identity(config: ConfigStore, slug: str, name: str) -> tuple[str, str]:
    """The first `<slug>-n` / `<name> (n)` (n = 2, 3, ...) that no integration uses."""
    stored = config.integrations()
    slugs = {i.slug for i in stored}
    names = {i.name.strip().casefold() for i in stored}
    for n in range(2, 2 + MAX_RENAME_TRIES):
        suffix = f"-{n}"
        new_slug = slug[: 63 - len(suffix)] + suffix
        new_name = f"{name} ({n})"
        if new_slug not in slugs and new_name.casefold() not in names and SLUG_RE.match(new_slug):
            return new_slug, new_name
    raise BundleError(f"no free slug for {slug!r} after {MAX_RENAME_TRIES} tries; delete some copies first")


def _name_taken_by(config: ConfigStore, name: str, slug: str) -> Integration | None:
    folded = name.strip().casefold()
    return next((i for i in config.integrations() if i.slug != slug and i.name.strip().casefold() == folded), None)


def import_bundle(
    config: ConfigStore,
    vault: Vault,
    bundle: dict[str, Any],
    *,
    on_conflict: ConflictPolicy = "skip",
    passphrase: str | None = None,
) -> ImportResult:
    """Import `bundle` into `config`, re-encrypting its secrets with `vault`; all or nothing."""
    if on_conflict not in CONFLICT_POLICIES:
        raise BundleError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}, not {on_conflict!r}")
    _check_format(bundle)
    incoming, schemas, left_out = _parse(bundle)
    fernet = _bundle_fernet(bundle.get("secrets"), passphrase)
    opened = _open_secrets(incoming, fernet)
    switched_off = [api for api in incoming.apis if api.active and _unsecured(api)]
    for api in switched_off:
        api.active = False
    _validate(incoming, schemas)

    existing = config.find(incoming.slug)
    if existing is not None and on_conflict == "skip":
        return ImportResult(integration=None, action="skipped")
    renamed_to: str | None = None
    clash = _name_taken_by(config, incoming.name, incoming.slug)
    if on_conflict == "rename" and (existing is not None or clash is not None):
        incoming.slug, incoming.name = _free_identity(config, incoming.slug, incoming.name)
        renamed_to, existing = incoming.slug, None
    elif clash is not None:
        raise BundleError(
            f"an integration named {clash.name!r} already exists (slug {clash.slug!r}); "
            "import with on_conflict='rename', or rename one of them"
        )
    bundled_values = dict(incoming.variables)
    kept_secrets = _assign_ids(incoming, existing, keep_secrets=fernet is None)
    variables_kept = sorted(name for name, value in bundled_values.items() if incoming.variables[name] != value)
    for api in switched_off:
        api.active = not _unsecured(api)
    taken = config.active_addresses(besides=incoming.id)
    addresses_taken = [email for email in incoming.emails
                       if email.active and email.key in taken]
    for email in addresses_taken:  # another integration here receives that address's mail
        email.active = False
    _validate(incoming, schemas)

    existing_schemas = {s.name: config.schema(s.name) for s in schemas}
    new_schemas = [s for s in schemas if existing_schemas[s.name] is None]
    kept_schemas = [s.name for s in schemas
                    if (here := existing_schemas[s.name]) is not None and not _same_schema(here, s)]
    for schema in new_schemas:
        schema.id = new_id()
    current = {slot.label: slot.value for slot in _secret_slots(existing)} if existing is not None else {}
    for slot, plaintext in opened:
        if slot.is_token_hash:
            continue
        if _holds(vault, current.get(slot.label), plaintext):
            slot.put(current[slot.label])  # same secret: keep its ciphertext, so history shows no change
            continue
        try:
            slot.put(vault.encrypt(plaintext))
        except VaultError as exc:
            raise BundleError(f"cannot store {slot.label}: {exc}") from None
    try:
        if existing is not None:
            stored = config.save(incoming, schemas=new_schemas)
        else:
            stored = config.create(incoming, schemas=new_schemas)
    except PayloadsError as exc:
        raise BundleError(f"the bundle cannot be imported: {exc}") from None
    return ImportResult(
        integration=stored,
        action="replaced" if existing is not None else "created",
        renamed_to=renamed_to,
        schemas_created=[s.name for s in new_schemas],
        schemas_kept=kept_schemas,
        secrets_imported=len(opened),
        secrets_missing=[label for label in left_out if label not in kept_secrets],
        secrets_kept=sorted(kept_secrets),
        variables_kept=variables_kept,
        deactivated=[f"{api.method} {api.path}" for api in switched_off if not api.active],
        emails_deactivated=[f"{email.address} (active in {taken[email.key][0]})"
                            for email in addresses_taken],
    )
