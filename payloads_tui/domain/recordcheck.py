"""Check a record's values against its object's schema, coercing what is safe to coerce.

Coercions (text arrives as text from form, CSV and email bodies, so numbers and
booleans written as text are accepted):
- `string`: text; numbers become their decimal text (`12` → `"12"`); booleans,
  objects and arrays are errors.
- `integer`: integers, integral floats (`12.0`) and integer text (`" 12 "`);
  `12.5` / `"12.5"` are errors, never silently truncated.
- `number`: integers and finite floats, and numeric text (`"19.99"`).
- `boolean`: booleans, `0`/`1`, and text true/false, 1/0, yes/no, on/off, t/f, y/n.
- `datetime`: ISO 8601 text or epoch seconds (number or numeric text) → ISO UTC
  text such as `2026-11-27T07:13:00Z`.
- `date`: a `YYYY-MM-DD` date, or a datetime as above → its UTC date.
- `object`, `array`: only that JSON type; `any`: anything.

Null is a value's absence: allowed unless the field is required. `max_length` counts
characters of text (and items of an array); a picklist value must match exactly.
The unique external id needs the store and is checked by the inbound engine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from payloads_tui.domain.errors import SchemaError
from payloads_tui.domain.functions import (
    CANONICAL_ISO_RE,
    FALSE_WORDS,
    TRUE_WORDS,
    date_text,
    datetime_from_value,
    describe,
    format_iso,
    is_number,
    number_from_text,
)
from payloads_tui.domain.models import FieldSpec, ObjectSchema

#: Fields every record may carry whatever the schema says (the store sets the others).
ALWAYS_ALLOWED = frozenset({"id"})


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if is_number(value) and not (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    raise ValueError("expected text")


def _integer(value: Any) -> int:
    if isinstance(value, str):
        number = number_from_text(value)
        if isinstance(number, int):
            return number
        raise ValueError("expected an integer")
    if is_number(value) and math.isfinite(value) and value == int(value):
        return int(value)
    raise ValueError("expected an integer")


def _number(value: Any) -> int | float:
    if is_number(value) and math.isfinite(value):
        return value
    if isinstance(value, str):
        number = number_from_text(value)
        if number is not None:
            return number
    raise ValueError("expected a number")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if is_number(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS and word:
            return False
    raise ValueError("expected a boolean (true/false, 1/0, yes/no)")


def _datetime(value: Any) -> str:
    try:
        if isinstance(value, str) and CANONICAL_ISO_RE.fullmatch(value):
            datetime.fromisoformat(value)  # a real date and time? then it is already normal
            return value
        return format_iso(datetime_from_value(value))
    except (TypeError, ValueError):
        raise ValueError("expected a date-time (ISO 8601 text or epoch seconds)") from None


def _date(value: Any) -> str:
    try:
        return date_text(value)
    except (TypeError, ValueError):
        raise ValueError("expected a date (YYYY-MM-DD, ISO 8601 or epoch seconds)") from None


def _of_type(kind: type, label: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        raise ValueError(f"expected {label}")

    return check


_COERCE: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "datetime": _datetime,
    "date": _date,
    "object": _of_type(dict, "an object"),
    "array": _of_type(list, "an array"),
    "any": lambda value: value,
}


def check_field(spec: FieldSpec, value: Any) -> Any:
    """The value of one field coerced to its type; `SchemaError` naming the field if it cannot be."""
    if value is None:
        if spec.required:
            raise SchemaError("is required but has no value", spec.name)
        return None
    if spec.required and is_blank(value):
        raise SchemaError("is required but has no value (an empty string)", spec.name)
    try:
        coerced = _COERCE[spec.type](value)
    except ValueError as exc:
        raise SchemaError(f"{exc}, got {describe(value)}", spec.name) from None
    if spec.max_length is not None and isinstance(coerced, str | list) and len(coerced) > spec.max_length:
        unit = "characters" if isinstance(coerced, str) else "items"
        raise SchemaError(f"has {len(coerced)} {unit}; at most {spec.max_length} are allowed", spec.name)
    if spec.picklist is not None and _picklist_text(coerced) not in spec.picklist:
        allowed = ", ".join(spec.picklist[:10]) + (", …" if len(spec.picklist) > 10 else "")
        raise SchemaError(f"{describe(coerced)} is not in the picklist ({allowed})", spec.name)
    return coerced


class RecordChecker:
    """`check_record` for one schema, with its field lookup built once (for many records)."""

    def __init__(self, schema: ObjectSchema | None) -> None:
        self.schema = schema
        self.specs = {spec.name: spec for spec in schema.fields} if schema else {}
        self.required = [spec.name for spec in schema.fields if spec.required] if schema else []

    def check(self, values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        """See `check_record`."""
        schema = self.schema
        if schema is None:  # any fields go, but the id must still be one the store accepts
            checked = dict(values)
            if "id" in checked:
                checked["id"] = _record_id(checked["id"])
            return checked
        checked: dict[str, Any] = {}
        for name, value in values.items():
            spec = self.specs.get(name)
            if spec is not None:
                checked[name] = check_field(spec, value)
            elif name == "id":
                checked[name] = _record_id(value)
            elif schema.strict:
                raise SchemaError(f"is not a field of {schema.name}; add it to the schema or remove the mapping", name)
            else:
                checked[name] = value
        if not partial:
            self.check_required(checked)
        return checked

    def check_required(self, values: dict[str, Any]) -> None:
        """`SchemaError` for the first required field `values` lacks (or holds as null)."""
        for name in self.required:
            if values.get(name) is None:
                raise SchemaError("is required but has no value", name)
            if is_blank(values[name]):
                raise SchemaError("is required but has no value (an empty string)", name)


def is_blank(value: Any) -> bool:
    """An empty or all-whitespace string: no value for a required field or an external id."""
    return isinstance(value, str) and not value.strip()


def check_record(schema: ObjectSchema | None, values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """`values` coerced to `schema`, or `SchemaError(reason, field)` for the first bad field.

    `partial=True` checks an update: required fields may be absent (they keep their
    stored value) but not present as null. Without a schema, values pass unchanged.
    """
    return RecordChecker(schema).check(values, partial=partial)


def _picklist_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _record_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value
    if is_number(value) and not isinstance(value, float):
        return str(value)
    raise SchemaError(f"a record id must be non-empty text, got {describe(value)}", "id")
