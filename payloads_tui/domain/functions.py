"""Transform functions for mapping expressions: JMESPath builtins plus ours.

Every function of ours takes any JSON type and checks its arguments itself, so a
wrong type raises `MappingError` naming the function and what it got (never a raw
jmespath exception). A null argument where a value is transformed gives null back
(`upper(missing_field)` is null, not an error): a missing value stays a missing value.

Dates: values that are "epoch or ISO" accept epoch seconds (number or numeric
string) and ISO 8601 strings; naive times are UTC. ISO results are UTC with a `Z`
suffix (`2026-11-27T07:13:00Z`), with milliseconds only when they are not zero.

JMESPath literals: a map for `lookup` can be a JSON literal in backticks,
`` lookup(status, `{"active": "Customer"}`) ``, or a multi-select hash with raw
strings, `lookup(status, {"active": 'Customer'})` (that form is null when the
current item is null, so prefer the backtick literal).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jmespath import functions as jp_functions

from payloads_tui.domain.errors import MappingError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y", "on"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "off", ""})
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
#: What `format_iso` writes: such a string is already a normal ISO UTC time.
CANONICAL_ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


# --- helpers shared with recordcheck ---------------------------------------------------


def type_name(value: Any) -> str:
    """The JSON type name of a Python value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def describe(value: Any, limit: int = 40) -> str:
    """`string 'abc'`, `number 12`, `null`: what a function got, shortened for messages."""
    if value is None:
        return "null"
    shown = repr(value) if isinstance(value, str) else _json_text(value)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f"{type_name(value)} {shown}"


def _json_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_number(value: Any) -> bool:
    """A JSON number (bools are not numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_from_text(text: str) -> int | float | None:
    """`"12"` → 12, `" 19.99 "` → 19.99; None if `text` is not a plain decimal number."""
    text = text.strip()
    if not _NUMBER_RE.match(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else None


def format_iso(moment: datetime) -> str:
    """`2026-11-27T07:13:00Z` (milliseconds only when not zero)."""
    m = moment.astimezone(UTC)
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    if m.microsecond:
        text += f".{m.microsecond // 1000:03d}"
    return text + "Z"


def datetime_from_epoch(seconds: float) -> datetime:
    """A UTC datetime from epoch seconds; ValueError when out of range."""
    if not math.isfinite(seconds):
        raise ValueError(f"{seconds} is not a time")
    try:
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{seconds} seconds is out of range for a date") from None


def datetime_from_iso(text: str) -> datetime:
    """A UTC datetime from an ISO 8601 string (date only = midnight, naive = UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def datetime_from_value(value: Any) -> datetime:
    """A UTC datetime from epoch seconds (number or numeric string) or an ISO string."""
    if is_number(value):
        return datetime_from_epoch(float(value))
    if isinstance(value, str):
        number = number_from_text(value)
        if number is not None:
            return datetime_from_epoch(float(number))
        return datetime_from_iso(value)
    raise TypeError(f"expected epoch seconds or an ISO 8601 string, got {describe(value)}")


def epoch_of(moment: datetime) -> int | float:
    """Epoch seconds of a datetime: an int when whole."""
    seconds = (moment - EPOCH) / timedelta(seconds=1)
    return int(seconds) if seconds == int(seconds) else seconds


def date_text(value: Any) -> str:
    """`YYYY-MM-DD` of an epoch / ISO value; a bare ISO date is kept as written."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        return date.fromisoformat(value.strip()).isoformat()
    return datetime_from_value(value).date().isoformat()


# --- the registry ----------------------------------------------------------------------


def transform(min_args: int, max_args: int | None = -1) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `_func_<name>` with an arity (max None = variadic, -1 = exactly min).

    The wrapper turns any type or value error inside the function into a
    `MappingError` that names the function, so evaluation never leaks Python errors.
    """
    upper_bound = min_args if max_args == -1 else max_args

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        name = func.__name__.removeprefix("_func_")

        def call(self: TransformFunctions, *args: Any) -> Any:
            if upper_bound is not None and len(args) > upper_bound:
                raise MappingError(f"{name}() takes at most {upper_bound} arguments, got {len(args)}")
            try:
                return func(self, *args)
            except MappingError:
                raise
            except InvalidOperation:
                shown = ", ".join(describe(a) for a in args)
                raise MappingError(f"{name}(): cannot compute with {shown}; the number is too large") from None
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise MappingError(f"{name}(): {exc}") from None

        params: list[dict[str, Any]] = [{"types": []} for _ in range(min_args)]
        if upper_bound != min_args and params:
            params[-1] = {"types": [], "variadic": True}
        call.signature = tuple(params)  # type: ignore[attr-defined]
        call.arity = (min_args, upper_bound)  # type: ignore[attr-defined]
        call.__name__ = func.__name__
        call.__doc__ = func.__doc__
        return call

    return register


def _bad(name: str, wanted: str, got: Any) -> MappingError:
    return MappingError(f"{name}() expects {wanted}, got {describe(got)}")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(name, "a string", value)
    return value


def _number(name: str, value: Any) -> int | float:
    """A number, or a numeric string read as one."""
    if is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad(name, "a finite number", value)
        return value
    if isinstance(value, str):
        number = number_from_text(value)
        if number is not None:
            return number
    raise _bad(name, "a number or a numeric string", value)


def _integer(name: str, value: Any) -> int:
    if is_number(value) and value == int(value):
        return int(value)
    raise _bad(name, "an integer", value)


def _decimal(value: int | float) -> Decimal:
    # str() gives the shortest repr, so 0.29 becomes Decimal("0.29"), not 0.28999…
    return Decimal(str(value))


def _scalar_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return str(value)
    raise _bad(name, "strings, numbers or booleans", value)


class TransformFunctions(jp_functions.Functions):
    """JMESPath functions with our transforms; `now` fixes the time `now_iso()` returns."""

    def __init__(self, now: str | None = None) -> None:
        self._now = now

    # --- money ---------------------------------------------------------------------

    @transform(1)
    def _func_cents_to_decimal(self, amount: Any) -> float | None:
        """Minor units to a decimal amount: `cents_to_decimal(amount)` → 1999 → 19.99."""
        if amount is None:
            return None
        cents = _number("cents_to_decimal", amount)
        return float((_decimal(cents) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))

    @transform(1)
    def _func_decimal_to_cents(self, amount: Any) -> int | None:
        """A decimal amount to minor units: `decimal_to_cents(price)` → 19.99 → 1999."""
        if amount is None:
            return None
        value = _number("decimal_to_cents", amount)
        return int((_decimal(value) * 100).quantize(Decimal("1"), ROUND_HALF_UP))

    @transform(2)
    def _func_round_to(self, value: Any, digits: Any) -> int | float | None:
        """Round half up: `round_to(total, `2`)` → 2.675 → 2.68; digits ≤ 0 gives an int."""
        if value is None:
            return None
        number = _number("round_to", value)
        places = _integer("round_to", digits)
        if not -20 <= places <= 20:
            raise _bad("round_to", "digits between -20 and 20", digits)
        rounded = _decimal(number).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        return int(rounded) if places <= 0 else float(rounded)

    # --- dates ---------------------------------------------------------------------

    @transform(1)
    def _func_to_iso(self, value: Any) -> str | None:
        """Epoch seconds (or ISO) to ISO UTC: `to_iso(created)` → "2026-11-27T07:13:00Z"."""
        if value is None:
            return None
        return format_iso(_moment("to_iso", value))

    @transform(1)
    def _func_from_iso(self, value: Any) -> int | float | None:
        """ISO 8601 to epoch seconds: `from_iso(paid_at)` → "1970-01-01T00:01:00Z" → 60."""
        if value is None:
            return None
        return epoch_of(datetime_from_iso(_text("from_iso", value)))

    @transform(2)
    def _func_parse_date(self, value: Any, fmt: Any) -> str | None:
        """Parse with a strptime format to ISO UTC: `parse_date(d, '%d/%m/%Y')` → "2026-11-27T00:00:00Z"."""
        if value is None:
            return None
        text, pattern = _text("parse_date", value), _text("parse_date", fmt)
        try:
            moment = datetime.strptime(text.strip(), pattern)
        except ValueError:
            raise MappingError(f"parse_date(): {text!r} does not match the format {pattern!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_iso(moment)

    @transform(2)
    def _func_format_date(self, value: Any, fmt: Any) -> str | None:
        """Format an epoch / ISO value in UTC with strftime: `format_date(created, '%d %b %Y')` → "27 Nov 2026"."""
        if value is None:
            return None
        return _moment("format_date", value).strftime(_text("format_date", fmt))

    @transform(1)
    def _func_date_only(self, value: Any) -> str | None:
        """The UTC date of an epoch / ISO value: `date_only(created)` → "2026-11-27"."""
        if value is None:
            return None
        try:
            return date_text(value)
        except (TypeError, ValueError) as exc:
            raise MappingError(f"date_only(): {exc}") from None

    @transform(0)
    def _func_now_iso(self) -> str:
        """The job's current time, ISO UTC: `now_iso()` → "2026-11-27T07:13:00Z"."""
        return self._now or format_iso(datetime.now(UTC))

    # --- text ----------------------------------------------------------------------

    @transform(1)
    def _func_upper(self, value: Any) -> str | None:
        """Upper case: `upper(currency)` → "usd" → "USD"."""
        return None if value is None else _text("upper", value).upper()

    @transform(1)
    def _func_lower(self, value: Any) -> str | None:
        """Lower case: `lower(email)` → "Ann@X.COM" → "ann@x.com"."""
        return None if value is None else _text("lower", value).lower()

    @transform(1)
    def _func_trim(self, value: Any) -> str | None:
        """Strip surrounding whitespace: `trim(name)` → "  Ann " → "Ann"."""
        return None if value is None else _text("trim", value).strip()

    @transform(1)
    def _func_title(self, value: Any) -> str | None:
        """Capitalise each word: `title(name)` → "ann o'neil" → "Ann O'neil"."""
        if value is None:
            return None
        return _WORD_RE.sub(lambda m: m.group(0).capitalize(), _text("title", value))

    @transform(2)
    def _func_split(self, value: Any, sep: Any) -> list[str] | None:
        """Split on a separator: `split(tags, ',')` → "a,b" → ["a", "b"]."""
        if value is None:
            return None
        separator = _text("split", sep)
        if not separator:
            raise MappingError("split() needs a non-empty separator")
        return _text("split", value).split(separator)

    @transform(3)
    def _func_replace(self, value: Any, old: Any, new: Any) -> str | None:
        """Replace every occurrence: `replace(phone, '-', '')` → "555-01" → "55501"."""
        if value is None:
            return None
        old_text, new_text = _text("replace", old), _text("replace", new)
        if not old_text:
            raise MappingError("replace() needs a non-empty text to replace")
        return _text("replace", value).replace(old_text, new_text)

    @transform(2, 3)
    def _func_substring(self, value: Any, start: Any, length: Any = None) -> str | None:
        """Characters from `start` (0-based), `length` of them or to the end: `substring(id, `4`, `3`)` → "cus_123" → "123"."""
        if value is None:
            return None
        text = _text("substring", value)
        begin = _integer("substring", start)
        if begin < 0:
            raise _bad("substring", "a start of 0 or more", start)
        if length is None:
            return text[begin:]
        count = _integer("substring", length)
        if count < 0:
            raise _bad("substring", "a length of 0 or more", length)
        return text[begin : begin + count]

    @transform(1, None)
    def _func_concat(self, *values: Any) -> str:
        """Join values as text, nulls as "": `concat(first_name, ' ', last_name)` → "Ann Lee"."""
        return "".join(_scalar_text("concat", v) for v in values)

    # --- defaults and lookups ------------------------------------------------------

    @transform(2)
    def _func_default(self, value: Any, fallback: Any) -> Any:
        """`fallback` when `value` is null or "": `default(phone, 'n/a')` → null → "n/a"."""
        return fallback if value is None or value == "" else value

    @transform(1, None)
    def _func_coalesce(self, *values: Any) -> Any:
        """The first value that is neither null nor "": `coalesce(name, email)` → null, "a@x" → "a@x"."""
        return next((v for v in values if v is not None and v != ""), None)

    @transform(2, 3)
    def _func_lookup(self, value: Any, table: Any, fallback: Any = None) -> Any:
        """Translate through a map: `lookup(status, `{"active": "Customer"}`, 'Other')` → "active" → "Customer"."""
        if not isinstance(table, dict):
            raise _bad("lookup", "an object as its map", table)
        if value is None:
            return fallback
        key = _scalar_text("lookup", value)
        return table.get(key, fallback)

    # --- conversions ---------------------------------------------------------------

    @transform(1)
    def _func_to_int(self, value: Any) -> int | None:
        """An integer, truncating decimals: `to_int(quantity)` → "12" → 12, 12.7 → 12."""
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        return int(_number("to_int", value))

    @transform(1)
    def _func_to_float(self, value: Any) -> float | None:
        """A floating-point number: `to_float(price)` → "19.99" → 19.99."""
        if value is None:
            return None
        if isinstance(value, bool):
            return float(value)
        return float(_number("to_float", value))

    @transform(1)
    def _func_to_bool(self, value: Any) -> bool | None:
        """A boolean from true/false, 1/0, yes/no, on/off: `to_bool(livemode)` → "yes" → true."""
        if value is None or isinstance(value, bool):
            return value
        if is_number(value):
            return value != 0
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise _bad("to_bool", "true/false, 1/0, yes/no or on/off", value)


def _moment(name: str, value: Any) -> datetime:
    try:
        return datetime_from_value(value)
    except (TypeError, ValueError) as exc:
        raise MappingError(f"{name}(): {exc}") from None


def function_arity() -> dict[str, tuple[int, int | None]]:
    """(min, max) arguments of every function expressions may call; max None = any number."""
    arity: dict[str, tuple[int, int | None]] = {}
    for name, spec in TransformFunctions.FUNCTION_TABLE.items():
        declared = getattr(spec["function"], "arity", None)
        if declared is not None:
            arity[name] = declared
            continue
        signature = spec["signature"]
        variadic = bool(signature) and signature[-1].get("variadic", False)
        arity[name] = (len(signature), None if variadic else len(signature))
    return arity


FUNCTION_ARITY: dict[str, tuple[int, int | None]] = function_arity()

#: Our functions (not JMESPath's builtins) by name: `function(functions_instance, *args)`.
OUR_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: spec["function"]
    for name, spec in TransformFunctions.FUNCTION_TABLE.items()
    if hasattr(spec["function"], "arity")
}
