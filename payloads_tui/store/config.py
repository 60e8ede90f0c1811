"""The configuration store: integrations and object schemas in `<data_dir>/config.json`.

The file is a TinyDB database with the tables `integrations` and `schemas` (documents
are `to_data(model)`). The store keeps every model parsed in memory and writes the
whole file in one atomic write per change (configuration is small), so a change that
touches several documents — a save with new schemas, a key rotation — is all or
nothing. Callers get copies and may mutate them freely; the store is thread-safe.

Every change is validated (`domain.validation`) and recorded in the history, field by
field (`domain.diff`). Renaming a part of an integration updates the references to it
by name inside that integration (see `_cascade_renames`).

The store does not encrypt: callers put vault ciphertext (`enc:...`) into
`Credential.secrets` and `ExternalApi.secret`, and a `sha256:` hash into
`ExternalApi.token_hash`. As a safety net, anything else in those fields is refused,
so plaintext can never reach the disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from payloads_tui.domain.diff import Change, diff_integration, diff_schema
from payloads_tui.domain.errors import ConflictError, NotFoundError, StoreError, ValidationError
from payloads_tui.domain.models import (
    Element,
    HistoryEntry,
    Integration,
    ObjectSchema,
    Source,
    from_data,
    now,
    to_data,
)
from payloads_tui.domain.validation import validate_integration, validate_schema
from payloads_tui.store.history import HistoryLog, current_user
from payloads_tui.store.storage import AtomicJSONStorage
from payloads_tui.store.vault import is_encrypted

CONFIG_FILE = "config.json"
INTEGRATIONS_TABLE = "integrations"
SCHEMAS_TABLE = "schemas"
TOKEN_HASH_PREFIX = "sha256:"
#: History entries of global things (object schemas) name this integration.
GLOBAL = ""

M = TypeVar("M", bound=msgspec.Struct)


def copy_model(model: M) -> M:
    """A deep copy of a model, safe to mutate."""
    return msgspec.convert(msgspec.to_builtins(model), type(model))


def _folded(text: str) -> str:
    return text.strip().casefold()


def refuse_plaintext_secrets(integration: Integration) -> None:
    """Raise `ValidationError` naming any secret field that does not hold vault ciphertext."""
    for i, credential in enumerate(integration.credentials):
        for key, value in credential.secrets.items():
            if not is_encrypted(value):
                raise ValidationError(
                    "is not vault ciphertext (enc:...); encrypt secrets with the vault before saving them",
                    f"credentials[{i}].secrets.{key}",
                )
    for i, api in enumerate(integration.apis):
        if api.secret and not is_encrypted(api.secret):
            raise ValidationError(
                "is not vault ciphertext (enc:...); encrypt the signing secret with the vault before saving it",
                f"apis[{i}].secret",
            )
        if api.token_hash and not api.token_hash.startswith(TOKEN_HASH_PREFIX):
            raise ValidationError(
                "is not a token hash (sha256:<hex>); store the token's hash, never the token", f"apis[{i}].token_hash"
            )


def _renames(old_parts: Iterable[Any], new_parts: Iterable[Any]) -> dict[str, str]:
    """{old name: new name} of the parts (matched by id) whose name changed."""
    old_names = {part.id: part.name for part in old_parts}
    return {
        old_names[part.id]: part.name
        for part in new_parts
        if part.id in old_names and old_names[part.id] != part.name
    }


def _follow(reference: str, renames: dict[str, str], existing: set[str]) -> str:
    """The new name of a renamed reference; a name that still exists is left as it is."""
    if reference in renames and reference not in existing:
        return renames[reference]
    return reference


def _child_renames(old_sources: list[Source], new_sources: list[Source]) -> dict[str, str]:
    """{old name: new name} of renamed child sources: matched by position under the same source (they have no id)."""
    old_by_id = {source.id: source for source in old_sources}
    renames: dict[str, str] = {}
    for source in new_sources:
        before = old_by_id.get(source.id)
        if before is None or len(before.children) != len(source.children):
            continue  # children added or removed: positions say nothing
        renames |= {old.name: new.name for old, new in zip(before.children, source.children) if old.name != new.name}
    return renames


def _follow_each(elements: list[Element], renames: dict[str, str], existing: set[str]) -> None:
    """Point array elements (`each`, at any depth) at the new names of renamed sources."""
    for element in elements:
        if element.each:
            element.each = _follow(element.each, renames, existing)
        _follow_each(element.elements, renames, existing)


def _cascade_renames(stored: Integration, new: Integration) -> None:
    """Point references by name in `new` at the new names of parts renamed since `stored`."""
    inbound = _renames(stored.inbound, new.inbound)
    outbound = _renames(stored.outbound, new.outbound)
    credentials = _renames(stored.credentials, new.credentials)
    inbound_names = {p.name for p in new.inbound}
    outbound_names = {p.name for p in new.outbound}
    credential_names = {c.name for c in new.credentials}
    for api in new.apis:
        if api.method == "POST":
            api.payload = _follow(api.payload, inbound, inbound_names)
        else:
            api.payload = _follow(api.payload, outbound, outbound_names)
    for email in new.emails:
        email.payload = _follow(email.payload, inbound, inbound_names)
    stored_outbound = {p.id: p for p in stored.outbound}
    for payload in new.outbound:
        if payload.response_handler:
            payload.response_handler = _follow(payload.response_handler, inbound, inbound_names)
        if payload.credential:
            payload.credential = _follow(payload.credential, credentials, credential_names)
        before_out = stored_outbound.get(payload.id)
        if before_out is None:
            continue
        sources = _renames(before_out.sources, payload.sources) | _child_renames(before_out.sources, payload.sources)
        if sources:
            _follow_each(payload.elements, sources, payload.each_names())
    stored_inbound = {p.id: p for p in stored.inbound}
    for payload in new.inbound:
        before = stored_inbound.get(payload.id)
        targets = _renames(before.targets, payload.targets) if before is not None else {}
        target_names = {t.name for t in payload.targets}
        for target in payload.targets:
            for mapping in target.mappings:
                if mapping.credential:
                    mapping.credential = _follow(mapping.credential, credentials, credential_names)
                if mapping.target:
                    mapping.target = _follow(mapping.target, targets, target_names)


def _object_users(integrations: Iterable[Integration], name: str) -> list[str]:
    """Where the object `name` is used: targets and sources (and child sources) of any integration."""
    users: list[str] = []
    for integration in integrations:
        for payload in integration.inbound:
            users += [
                f"{integration.slug}: inbound payload {payload.name!r}, target {t.name!r}"
                for t in payload.targets
                if t.object == name
            ]
        for payload in integration.outbound:
            for source in payload.sources:
                if source.object == name or any(child.object == name for child in source.children):
                    users.append(f"{integration.slug}: outbound payload {payload.name!r}, source {source.name!r}")
    return users


class ConfigStore:
    """Integrations and object schemas of one data directory: validated, versioned in history."""

    def __init__(
        self, data_dir: Path, history: HistoryLog, *, user: str | None = None, durable: bool = True
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / CONFIG_FILE
        self._history = history
        self._user = user or current_user()
        self._lock = threading.Lock()
        self._storage = AtomicJSONStorage(self.path, durable=durable)
        self._integrations: dict[str, Integration] = {}
        self._schemas: dict[str, ObjectSchema] = {}
        self._doc_ids: dict[str, dict[str, int]] = {INTEGRATIONS_TABLE: {}, SCHEMAS_TABLE: {}}
        self._load()

    # --- reading ---------------------------------------------------------------------

    def _load(self) -> None:
        data = self._storage.read() or {}
        self._integrations = self._load_table(data, INTEGRATIONS_TABLE, Integration, "integration")
        self._schemas = self._load_table(data, SCHEMAS_TABLE, ObjectSchema, "object schema")

    def _load_table(self, data: dict[str, Any], table: str, kind: type[M], what: str) -> dict[str, M]:
        documents = data.get(table, {})
        if not isinstance(documents, dict):
            raise StoreError(f"{self.path}: table {table!r} is not a TinyDB table; restore the file from a backup")
        models: dict[str, M] = {}
        for doc_id, document in documents.items():
            label = (document.get("slug") or document.get("name")) if isinstance(document, dict) else None
            where = f"{what} {label!r}" if isinstance(label, str) else f"{what} document {doc_id}"
            try:
                model = from_data(kind, document)
                number = int(doc_id)
            except (ValidationError, ValueError) as exc:
                raise StoreError(
                    f"{self.path}: {where} is damaged ({exc}); fix that document or restore the file from a backup"
                ) from None
            models[model.id] = model  # type: ignore[attr-defined]
            self._doc_ids[table][model.id] = number  # type: ignore[attr-defined]
        return models

    def integrations(self) -> list[Integration]:
        """Every integration, sorted by name."""
        with self._lock:
            found = sorted(self._integrations.values(), key=lambda i: (_folded(i.name), i.slug))
            return [copy_model(i) for i in found]

    def _by_slug(self, slug: str) -> Integration | None:
        return next((i for i in self._integrations.values() if i.slug == slug), None)

    def find(self, slug: str) -> Integration | None:
        """The integration with `slug`, or None."""
        with self._lock:
            found = self._by_slug(slug)
            return copy_model(found) if found is not None else None

    def get(self, slug: str) -> Integration:
        """The integration with `slug`; `NotFoundError` (listing the known slugs) if there is none."""
        with self._lock:
            found = self._by_slug(slug)
            if found is None:
                known = ", ".join(sorted(i.slug for i in self._integrations.values()))
                hint = f"known integrations: {known}" if known else "there are no integrations yet; create one first"
                raise NotFoundError(f"no integration with slug {slug!r}; {hint}")
            return copy_model(found)

    def schemas(self) -> list[ObjectSchema]:
        """Every object schema, sorted by name."""
        with self._lock:
            return [copy_model(s) for s in sorted(self._schemas.values(), key=lambda s: s.name)]

    def schema(self, name: str) -> ObjectSchema | None:
        """The object schema named `name`, or None."""
        with self._lock:
            found = self._schema_named(name)
            return copy_model(found) if found is not None else None

    def _schema_named(self, name: str) -> ObjectSchema | None:
        return next((s for s in self._schemas.values() if s.name == name), None)

    def ciphertexts(self) -> list[str]:
        """Every stored vault ciphertext (credential secrets, API signing secrets)."""
        with self._lock:
            found: list[str] = []
            for integration in self._integrations.values():
                for credential in integration.credentials:
                    found += [v for v in credential.secrets.values() if is_encrypted(v)]
                found += [api.secret for api in integration.apis if is_encrypted(api.secret)]
            return found

    # --- integrations ------------------------------------------------------------------

    def create(self, integration: Integration, *, schemas: Sequence[ObjectSchema] = ()) -> Integration:
        """Add a new integration (and, in the same write, new object `schemas`); returns the stored copy.

        `ConflictError` if its slug, name (ignoring case) or id is taken.
        """
        candidate = copy_model(integration)
        candidate.created_at = candidate.updated_at = now()
        with self._lock:
            self._check_integration(candidate)
            if candidate.id in self._integrations:
                raise ConflictError(f"integration {candidate.name!r} already exists; save it instead of creating it")
            new_schemas = self._check_new_schemas(schemas)
            integrations = {**self._integrations, candidate.id: candidate}
            self._commit(integrations, {**self._schemas, **{s.id: s for s in new_schemas}})
            changes = diff_integration(None, candidate)
            self._record(candidate.slug, changes, new_schemas)
            return copy_model(candidate)

    def save(
        self, integration: Integration, *, schemas: Sequence[ObjectSchema] = (), history: bool = True
    ) -> Integration:
        """Update an existing integration (matched by id); returns the stored copy.

        References to renamed parts follow them; then the result is validated. Adds new
        object `schemas` in the same write. `history=False` is for the service's own
        bookkeeping (an OAuth token it refreshed), which is not a user's change.
        """
        candidate = copy_model(integration)
        with self._lock:
            stored = self._integrations.get(candidate.id)
            if stored is None:
                raise NotFoundError(
                    f"integration {candidate.name!r} is not stored (it may have been deleted); create it instead"
                )
            _cascade_renames(stored, candidate)
            candidate.created_at = stored.created_at
            candidate.updated_at = stored.updated_at
            self._check_integration(candidate)
            new_schemas = self._check_new_schemas(schemas)
            if to_data(candidate) == to_data(stored) and not new_schemas:
                return copy_model(stored)
            changes = diff_integration(stored, candidate)
            if changes:  # bookkeeping alone (a credential's `last_used`) is saved without history
                candidate.updated_at = now()
            integrations = {**self._integrations, candidate.id: candidate}
            self._commit(integrations, {**self._schemas, **{s.id: s for s in new_schemas}})
            if history:
                self._record(candidate.slug, changes, new_schemas)
            return copy_model(candidate)

    def delete(self, slug: str) -> Integration:
        """Remove the integration with `slug`; returns what was removed."""
        with self._lock:
            stored = self._by_slug(slug)
            if stored is None:
                raise NotFoundError(f"no integration with slug {slug!r}; nothing was deleted")
            integrations = {key: i for key, i in self._integrations.items() if key != stored.id}
            self._commit(integrations, self._schemas)
            self._record(stored.slug, diff_integration(stored, None))
            return copy_model(stored)

    def _check_integration(self, candidate: Integration) -> None:
        validate_integration(candidate)
        refuse_plaintext_secrets(candidate)
        for other in self._integrations.values():
            if other.id == candidate.id:
                continue
            if other.slug == candidate.slug:
                raise ConflictError(f"the slug {candidate.slug!r} is taken by {other.name!r}; choose another slug")
            if _folded(other.name) == _folded(candidate.name):
                raise ConflictError(
                    f"an integration named {other.name!r} already exists (slug {other.slug!r}); choose another name"
                )
        taken = self._active_addresses(candidate.id)
        for index, email in enumerate(candidate.emails):
            owner = taken.get(email.key)
            if email.active and owner is not None:
                raise ValidationError(
                    f"{email.address} is already an active Email Service of {owner[1]!r} (slug {owner[0]!r}); "
                    "mail to an address reaches one integration: deactivate one of the two",
                    f"emails[{index}].address",
                )

    def active_addresses(self, *, besides: str | None = None) -> dict[str, tuple[str, str]]:
        """Active Email Service addresses (`EmailService.key`) → (slug, name) of their integration, but `besides`'s."""
        with self._lock:
            return self._active_addresses(besides)

    def _active_addresses(self, besides: str | None) -> dict[str, tuple[str, str]]:
        return {email.key: (integration.slug, integration.name)
                for integration in self._integrations.values() if integration.id != besides
                for email in integration.emails if email.active}

    # --- object schemas --------------------------------------------------------------

    def _check_new_schemas(self, schemas: Sequence[ObjectSchema]) -> list[ObjectSchema]:
        checked: list[ObjectSchema] = []
        for schema in schemas:
            candidate = copy_model(schema)
            validate_schema(candidate)
            if self._schema_named(candidate.name) is not None or any(s.name == candidate.name for s in checked):
                raise ConflictError(f"an object schema named {candidate.name!r} already exists")
            if candidate.id in self._schemas:
                raise ConflictError(f"object schema {candidate.name!r} already exists; save it instead")
            checked.append(candidate)
        return checked

    def save_schema(self, schema: ObjectSchema) -> ObjectSchema:
        """Create or update an object schema (matched by id, else by name); returns the stored copy."""
        candidate = copy_model(schema)
        validate_schema(candidate)
        with self._lock:
            stored = self._schemas.get(candidate.id) or self._schema_named(candidate.name)
            if stored is not None:
                candidate.id = stored.id
            same_name = self._schema_named(candidate.name)
            if same_name is not None and same_name.id != candidate.id:
                raise ConflictError(f"an object schema named {candidate.name!r} already exists; choose another name")
            if stored is not None and stored.name != candidate.name:
                if users := _object_users(self._integrations.values(), stored.name):
                    raise ConflictError(
                        f"object {stored.name!r} is used by {'; '.join(users)}; "
                        "point those at the new name before renaming its schema"
                    )
            changes = diff_schema(stored, candidate)
            if not changes:
                return copy_model(stored) if stored is not None else candidate
            self._commit(self._integrations, {**self._schemas, candidate.id: candidate})
            self._record(GLOBAL, changes)
            return copy_model(candidate)

    def delete_schema(self, name: str) -> None:
        """Remove the object schema `name`; `ConflictError` while a target or source uses the object."""
        with self._lock:
            stored = self._schema_named(name)
            if stored is None:
                raise NotFoundError(f"no object schema named {name!r}; nothing was deleted")
            if users := _object_users(self._integrations.values(), name):
                raise ConflictError(
                    f"object {name!r} is used by {'; '.join(users)}; remove or change those before deleting its schema"
                )
            self._commit(self._integrations, {key: s for key, s in self._schemas.items() if key != stored.id})
            self._record(GLOBAL, diff_schema(stored, None))

    # --- secrets -----------------------------------------------------------------------

    def reencrypt(self, convert: Callable[[str], str]) -> int:
        """Apply `convert` to every stored ciphertext and persist them in one write; returns how many.

        For key rotation (`Vault.rotate(config.reencrypt)`): no value changes, so no history.
        """
        with self._lock:
            integrations = {key: copy_model(i) for key, i in self._integrations.items()}
            count = 0

            def converted(value: str) -> str:
                nonlocal count
                result = convert(value)
                if not is_encrypted(result):
                    raise StoreError("re-encryption produced a value that is not vault ciphertext; nothing was saved")
                count += 1
                return result

            for integration in integrations.values():
                for credential in integration.credentials:
                    for key, value in list(credential.secrets.items()):
                        if is_encrypted(value):
                            credential.secrets[key] = converted(value)
                for api in integration.apis:
                    if is_encrypted(api.secret):
                        api.secret = converted(api.secret)
            if count:
                self._commit(integrations, self._schemas)
            return count

    # --- writing -----------------------------------------------------------------------

    def _documents(self, table: str, models: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        """TinyDB documents of `models` keyed by doc id (kept for known models), and the id map."""
        known = self._doc_ids[table]
        next_id = max(known.values(), default=0) + 1
        documents: dict[str, Any] = {}
        doc_ids: dict[str, int] = {}
        for key, model in models.items():
            number = known.get(key)
            if number is None:
                number, next_id = next_id, next_id + 1
            doc_ids[key] = number
            documents[str(number)] = to_data(model)
        return documents, doc_ids

    def _commit(self, integrations: dict[str, Integration], schemas: dict[str, ObjectSchema]) -> None:
        """Write the whole file with these integrations and schemas, then make them current."""
        data = dict(self._storage.read() or {})  # keep any table this store does not own
        data[INTEGRATIONS_TABLE], integration_ids = self._documents(INTEGRATIONS_TABLE, integrations)
        data[SCHEMAS_TABLE], schema_ids = self._documents(SCHEMAS_TABLE, schemas)
        self._storage.write(data)
        self._integrations = dict(integrations)
        self._schemas = dict(schemas)
        self._doc_ids = {INTEGRATIONS_TABLE: integration_ids, SCHEMAS_TABLE: schema_ids}

    def _record(self, slug: str, changes: list[Change], new_schemas: Sequence[ObjectSchema] = ()) -> None:
        for schema in new_schemas:
            changes = [*changes, *diff_schema(None, schema)]
        at = now()
        entries = [
            HistoryEntry(
                at=at,
                user=self._user,
                action=change.action,
                integration=GLOBAL if change.kind == "object schema" else slug,
                kind=change.kind,
                name=change.name,
                changes=change.changes,
            )
            for change in changes
        ]
        self._history.record(entries)

    def close(self) -> None:
        with self._lock:
            self._storage.close()
