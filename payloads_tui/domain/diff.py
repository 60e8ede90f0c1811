"""Field-by-field differences between two versions of an integration or object schema, for history.

`diff_integration(old, new)` returns one `Change` per part that changed: the
integration's own fields (name, slug, description, `variables.<name>`), then each
inbound payload, outbound payload, credential, external API and email service.
Parts are matched by `id`, so a rename is an update of the field `name`, never a
delete plus a create. `None` on either side means the whole thing was created or
deleted; such a change lists every non-empty field.

Nested fields get readable paths: list items are labelled by their name (or `field`
for mappings) when that is unique in the list, otherwise by their index, e.g.
`targets[Account].mappings[stripe_id].expression`, `headers.Stripe-Version`,
`elements[2].path`. Values are short strings (JSON for non-strings, cut at
`MAX_VALUE_CHARS`).

Secrets never reach a change: credential secrets, API signing secrets and token
hashes show as `MASK` (or `None` when absent), and so does any value that looks like
vault ciphertext. Bookkeeping fields (`id`, `created_at`, `updated_at`,
`last_used`) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgspec

from payloads_tui.domain.models import FieldChange, Integration, Model, ObjectSchema

MASK = "••••"
MAX_VALUE_CHARS = 200
CIPHERTEXT_PREFIX = "enc:"

#: Fields no change is reported for: identity and bookkeeping.
IGNORED_FIELDS = frozenset({"id", "created_at", "updated_at", "last_used"})
#: Fields compared and shown whole even when they hold a dict or a list.
WHOLE_VALUE_FIELDS = frozenset({"value"})
#: Fields that label the items of a list, in order of preference.
ITEM_KEYS = ("name", "field")
#: The integration's own fields (its parts are diffed separately).
INTEGRATION_FIELDS = ("name", "slug", "description", "variables")

ChangeAction = Literal["create", "update", "delete"]
IsSecret = Callable[[str], bool]


class Change(Model, kw_only=True):
    """What happened to one part (an integration, a payload, a credential...) and its field changes."""

    action: ChangeAction
    kind: str
    name: str
    changes: list[FieldChange] = msgspec.field(default_factory=list)


class _Missing:
    """A value absent on one side of a comparison."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _no_secrets(path: str) -> bool:
    return False


def _credential_secret(path: str) -> bool:
    return path.startswith("secrets.")


def _api_secret(path: str) -> bool:
    return path in ("secret", "token_hash")


#: (attribute of Integration, kind shown in history, name of a part, which paths are secret)
_PARTS: tuple[tuple[str, str, Callable[[Any], str], IsSecret], ...] = (
    ("inbound", "inbound payload", lambda p: p.name, _no_secrets),
    ("outbound", "outbound payload", lambda p: p.name, _no_secrets),
    ("credentials", "credential", lambda c: c.name, _credential_secret),
    ("apis", "external API", lambda a: f"{a.method} {a.path}", _api_secret),
    ("emails", "email service", lambda e: e.address, _no_secrets),
)


def render_value(value: Any) -> str | None:
    """A value as a short string for history: text as is, anything else as JSON."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if CIPHERTEXT_PREFIX in text:  # vault ciphertext, even nested in a static value
        return MASK
    if len(text) > MAX_VALUE_CHARS:
        return text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _plain(value: Any) -> Any:
    """Builtins of a model with *every* field (defaults included), so both sides compare alike."""
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _is_empty(value: Any) -> bool:
    return value is MISSING or value is None or (isinstance(value, (str, list, dict)) and not value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item_key(items: list[dict[str, Any]]) -> str | None:
    for key in ITEM_KEYS:
        if items and all(isinstance(item.get(key), str) for item in items):
            return key
    return None


def _labels(items: list[dict[str, Any]], key: str | None) -> list[str]:
    """Each item's label: its key value when non-empty and unique in the list, else its index."""
    if key is None:
        return [str(index) for index in range(len(items))]
    values = [item[key] for item in items]
    return [
        value if value and values.count(value) == 1 else str(index) for index, value in enumerate(values)
    ]


def _pair_items(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Iterator[tuple[str, Any, Any]]:
    """(label, old item, new item) for two lists of records: by id, else by unique key, else by index."""
    key = _item_key(old + new)
    old_labels, new_labels = _labels(old, key), _labels(new, key)
    if all(isinstance(item.get("id"), str) for item in old + new):
        match = "id"
    elif key and all(label == item[key] for label, item in zip(old_labels + new_labels, old + new)):
        match = key
    else:
        match = None
    if match is None:
        for index in range(max(len(old), len(new))):
            label = new_labels[index] if index < len(new) else old_labels[index]
            yield (
                label,
                old[index] if index < len(old) else MISSING,
                new[index] if index < len(new) else MISSING,
            )
        return
    old_by_match = {item[match]: item for item in old}
    new_matches = {item[match] for item in new}
    for label, item in zip(new_labels, new):
        yield label, old_by_match.get(item[match], MISSING), item
    for label, item in zip(old_labels, old):
        if item[match] not in new_matches:
            yield label, item, MISSING


def _as_dicts(old: Any, new: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both sides as dicts when they are dicts (or one is missing), else None."""
    sides = (old, new)
    if all(side is MISSING or isinstance(side, dict) for side in sides) and any(isinstance(s, dict) for s in sides):
        return (old if isinstance(old, dict) else {}), (new if isinstance(new, dict) else {})
    return None


def _as_records(old: Any, new: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Both sides as lists of records when they are (or one is missing), else None."""
    sides = (old, new)
    if all(
        side is MISSING or (isinstance(side, list) and all(isinstance(item, dict) for item in side)) for side in sides
    ) and any(isinstance(side, list) for side in sides):
        return (old if isinstance(old, list) else []), (new if isinstance(new, list) else [])
    return None


def _walk(old: Any, new: Any, path: str, out: list[FieldChange], is_secret: IsSecret) -> None:
    if path.rpartition(".")[2] not in WHOLE_VALUE_FIELDS:
        if (maps := _as_dicts(old, new)) is not None:
            old_map, new_map = maps
            for key in [*new_map, *(key for key in old_map if key not in new_map)]:
                if key not in IGNORED_FIELDS:
                    _walk(old_map.get(key, MISSING), new_map.get(key, MISSING), _join(path, key), out, is_secret)
            return
        if (records := _as_records(old, new)) is not None:
            for label, old_item, new_item in _pair_items(*records):
                _walk(old_item, new_item, f"{path}[{label}]", out, is_secret)
            return
    _leaf(old, new, path, out, is_secret)


def _leaf(old: Any, new: Any, path: str, out: list[FieldChange], is_secret: IsSecret) -> None:
    if (old is MISSING and _is_empty(new)) or (new is MISSING and _is_empty(old)) or old == new:
        return
    if is_secret(path):
        out.append(
            FieldChange(field=path, old=None if _is_empty(old) else MASK, new=None if _is_empty(new) else MASK)
        )
    else:
        out.append(FieldChange(field=path, old=render_value(old), new=render_value(new)))


def _field_changes(old: Any, new: Any, is_secret: IsSecret = _no_secrets) -> list[FieldChange]:
    out: list[FieldChange] = []
    _walk(MISSING if old is None else _plain(old), MISSING if new is None else _plain(new), "", out, is_secret)
    return out


def _action(old: Any, new: Any) -> ChangeAction:
    return "create" if old is None else "delete" if new is None else "update"


def _own_fields(integration: Integration | None) -> dict[str, Any] | None:
    if integration is None:
        return None
    return {name: getattr(integration, name) for name in INTEGRATION_FIELDS}


def diff_integration(old: Integration | None, new: Integration | None) -> list[Change]:
    """The changes from `old` to `new` (either may be `None`: created / deleted), part by part."""
    if old is None and new is None:
        return []
    result: list[Change] = []
    action = _action(old, new)
    own = _field_changes(_own_fields(old), _own_fields(new))
    if own or action != "update":
        name = new.name if new is not None else old.name  # type: ignore[union-attr]
        result.append(Change(action=action, kind="integration", name=name, changes=own))
    for attr, kind, name_of, is_secret in _PARTS:
        old_parts = getattr(old, attr) if old is not None else []
        new_parts = getattr(new, attr) if new is not None else []
        old_by_id = {part.id: part for part in old_parts}
        new_ids = {part.id for part in new_parts}
        for part in new_parts:
            before = old_by_id.get(part.id)
            changes = _field_changes(before, part, is_secret)
            if before is None or changes:
                result.append(Change(action=_action(before, part), kind=kind, name=name_of(part), changes=changes))
        for part in old_parts:
            if part.id not in new_ids:
                changes = _field_changes(part, None, is_secret)
                result.append(Change(action="delete", kind=kind, name=name_of(part), changes=changes))
    return result


def diff_schema(old: ObjectSchema | None, new: ObjectSchema | None) -> list[Change]:
    """The change from `old` to `new` object schema: at most one `Change` of kind "object schema"."""
    if old is None and new is None:
        return []
    action = _action(old, new)
    changes = _field_changes(old, new)
    if action == "update" and not changes:
        return []
    name = new.name if new is not None else old.name  # type: ignore[union-attr]
    return [Change(action=action, kind="object schema", name=name, changes=changes)]
